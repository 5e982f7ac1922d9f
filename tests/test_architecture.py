"""The house: driftwatch's packages import each other one way, along the pipeline, and each table that
several stages care about has one writer.

Every module is parsed (no import is executed), and every import it makes, at the top, inside a
function or under ``TYPE_CHECKING``, is mapped to the top-level package (or module) of driftwatch it
reaches.  A package may import only packages listed before it in :data:`STAGES`, so the graph is
acyclic by construction and a new edge against the pipeline fails here with the file that makes it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import driftwatch

PACKAGE = Path(driftwatch.__file__).parent

STAGES = (
    # Foundations: shared by every stage, importing nothing of driftwatch's but each other.
    "driftwatch",  # the package itself: __version__
    "errors",
    "clock",  # where time comes from
    "stats",  # pure statistics
    "db",  # the store: models, engine, migration runner
    "migrations",
    "prices",  # what models cost and are
    "events",  # event names and the outbox every stage writes to; notify delivers it
    "config",  # settings and the policy file
    "auth",
    # The pipeline, in the order the data flows.
    "ingest",
    "calls",
    "routing",  # the tier each class is on, and the decision log
    "sampling",
    "evaluations",  # the evaluation store and its one writer, which shadow writes through
    "shadow",
    "detection",
    "policy",  # decisions
    "notify",
    "importers",
    "scheduler",
    # Read models and surfaces, on top.
    "overview",
    "ledger",  # the savings ledger: per class and day, what tiering earned
    "dashboard",
    "observability",
    "api",
    "demo",
    "cli",
)


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _imported(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """Every driftwatch module ``path`` imports, with the line, lazy and relative imports included."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                names = [".".join([*base, *([node.module] if node.module else [])])]
            else:
                names = [node.module or ""]
        else:
            continue
        for name in names:
            if name == "driftwatch" or name.startswith("driftwatch."):
                yield name, node.lineno


def _edges() -> list[tuple[str, str, str]]:
    """(importing stage, imported stage, where) for every import that crosses a stage."""
    edges = []
    for module, path in _modules():
        source = _stage(module)
        for name, line in _imported(module, path):
            target = _stage(name)
            if target != source:
                edges.append((source, target, f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}"))
    return edges


def test_every_package_of_driftwatch_has_a_place_in_the_pipeline() -> None:
    found = {_stage(module) for module, _ in _modules()}
    assert found - set(STAGES) == set(), "add the new package to STAGES, where its imports put it"
    assert set(STAGES) - found == set(), "a package in STAGES no longer exists"


def test_packages_import_only_packages_earlier_in_the_pipeline() -> None:
    position = {stage: index for index, stage in enumerate(STAGES)}
    against = [
        where
        for source, target, where in _edges()
        if source in position and target in position and position[target] >= position[source]
    ]
    assert against == [], (
        "imports against the pipeline (STAGES in tests/test_architecture.py):\n" + "\n".join(against)
    )


def test_the_package_import_graph_is_acyclic() -> None:
    graph: dict[str, set[str]] = {}
    for source, target, _ in _edges():
        graph.setdefault(source, set()).add(target)
    done: set[str] = set()

    def visit(stage: str, path: tuple[str, ...]) -> None:
        assert stage not in path, "import cycle: " + " -> ".join([*path, stage])
        if stage in done:
            return
        for target in sorted(graph.get(stage, ())):
            visit(target, (*path, stage))
        done.add(stage)

    for stage in sorted(graph):
        visit(stage, ())


def test_the_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "late.py"
    module.write_text("def later():\n    from driftwatch.cli.root import main\n    return main\n")
    assert [name for name, _ in _imported("driftwatch.ingest.late", module)] == ["driftwatch.cli.root"]


_EVALUATION_TABLES = {"Evaluation", "EvaluationHour"}
_WRITERS = {"driftwatch/evaluations/writer.py", "driftwatch/evaluations/rollup.py"}


def test_only_the_evaluation_writer_inserts_evaluations_or_their_rollup() -> None:
    inserting = []
    for _, path in _modules():
        where = str(path.relative_to(PACKAGE.parent))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and "insert" in ast.unparse(node.func).lower():
                tables = {arg.id for arg in node.args if isinstance(arg, ast.Name)} & _EVALUATION_TABLES
                if tables and where not in _WRITERS:
                    inserting.append(f"{where}:{node.lineno} inserts into {sorted(tables)}")
            if (
                isinstance(node, ast.ImportFrom)
                and node.module == "driftwatch.evaluations.rollup"
                and any(alias.name == "add_to_rollup" for alias in node.names)
                and where not in _WRITERS
            ):
                inserting.append(f"{where}:{node.lineno} imports add_to_rollup")
    assert inserting == [], "evaluations are written by driftwatch.evaluations.writer only:\n" + "\n".join(
        inserting
    )


def test_commands_live_in_the_cli_package() -> None:
    elsewhere = [
        str(path.relative_to(PACKAGE.parent))
        for module, path in _modules()
        if _stage(module) != "cli"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Import | ast.ImportFrom)
        and any(
            (getattr(node, "module", None) or alias.name).split(".")[0] == "click" for alias in node.names
        )
    ]
    assert elsewhere == []


def _sources() -> Iterator[tuple[str, str]]:
    for _, path in _modules():
        yield str(path.relative_to(PACKAGE.parent)), path.read_text(encoding="utf-8")


def test_time_of_day_comes_from_the_injected_clock() -> None:
    reading = [
        f"{where}:{number}"
        for where, source in _sources()
        if where != "driftwatch/clock.py"
        for number, line in enumerate(source.splitlines(), 1)
        if any(call in line for call in ("datetime.now(", "datetime.utcnow(", "date.today(", "time.time("))
    ]
    assert reading == [], "take a driftwatch.clock.Clock instead:\n" + "\n".join(reading)


def test_routes_declare_the_state_they_need_instead_of_reading_app_state() -> None:
    reading = [
        f"{where}:{number}"
        for where, source in _sources()
        if where != "driftwatch/api/state.py"
        for number, line in enumerate(source.splitlines(), 1)
        if "app.state" in line
    ]
    assert reading == [], "declare a dependency from driftwatch.api.state:\n" + "\n".join(reading)
