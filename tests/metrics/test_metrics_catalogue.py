"""The metrics table of docs/operations.md, the Grafana dashboards and a real ``/metrics`` agree with each other."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from tests.conftest import StartServer
from tests.metrics.support import POLICY, seed_store
from tests.support.manual import ROOT, doc, section

METRICS_SECTION = section(doc("operations.md"), "Metrics")
DASHBOARDS = sorted((ROOT / "dashboards").glob("*.json"))
# Series a family of each type adds to its own name in the text exposition.
SERIES_SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}
PROMQL_WORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "and",
    "or",
    "unless",
}


def _documented() -> dict[str, str]:
    rows = re.findall(
        r"^\| `(driftwatch_[a-z0-9_]+)` \| (counter|gauge|histogram) \|", METRICS_SECTION, flags=re.MULTILINE
    )
    return dict(rows)


def _exposed(text: str) -> dict[str, str]:
    """``# TYPE`` lines, without the ``_created`` gauges prometheus_client adds beside its own counters."""
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, flags=re.MULTILINE))
    return {name: kind for name, kind in types.items() if not (name.endswith("_created") and kind == "gauge")}


def _series_names(text: str) -> set[str]:
    """Every name a PromQL selector can match: sample lines, and each family's own series names (so a
    histogram nobody has observed yet still offers ``_bucket``, ``_sum`` and ``_count``)."""
    names = {
        line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")
    }
    for name, kind in _exposed(text).items():
        names |= {name, *(name + suffix for suffix in SERIES_SUFFIXES.get(kind, ()))}
    return names


def promql_metric_names(expression: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers left once strings, label matchers, ranges,
    grouping clauses, Grafana variables, function calls and keywords are taken out."""
    stripped = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expression)
    stripped = re.sub(r"\{[^}]*\}", " ", stripped)
    stripped = re.sub(r"\[[^\]]*\]", " ", stripped)
    stripped = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", stripped)
    stripped = re.sub(r"\$\{?\w+\}?", " ", stripped)
    identifiers = re.finditer(r"(?<![\w.])([a-zA-Z_:][\w:]*)(\s*\()?", stripped)
    return {
        match.group(1)
        for match in identifiers
        if match.group(2) is None
        and match.group(1) not in PROMQL_WORDS
        and not re.fullmatch(r"\d\w*", match.group(1))
    }


def _expressions(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target (rows' nested panels included) and query variable."""
    found = []
    panels = list(dashboard["panels"])
    while panels:
        panel = panels.pop()
        panels.extend(panel.get("panels", []))
        found += [(panel["title"], target["expr"]) for target in panel.get("targets", [])]
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        text = query.get("query", "") if isinstance(query, dict) else str(query or "")
        found += [(f"${variable['name']}", inner) for inner in re.findall(r"label_values\((.*?),", text)]
    return found


@pytest.fixture
def exposition(engine: Engine, start_server: StartServer) -> str:
    """``/metrics`` of a server on a store seeded with calls, evaluations, decisions and deliveries."""
    seed_store(engine)
    server = start_server(policy=POLICY)
    response = httpx.get(f"{server.base_url}/metrics", timeout=30)
    assert response.status_code == 200
    return response.text


def test_the_manual_documents_exactly_the_metrics_served(exposition: str) -> None:
    assert _documented() == _exposed(exposition)


@pytest.mark.parametrize("path", DASHBOARDS, ids=[path.name for path in DASHBOARDS])
def test_every_dashboard_query_names_metrics_the_server_exposes(path: Path, exposition: str) -> None:
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    available = _series_names(exposition)

    expressions = _expressions(dashboard)
    unknown = {
        (where, name)
        for where, expression in expressions
        for name in promql_metric_names(expression)
        if name not in available
    }

    assert expressions and unknown == set()
    assert all(promql_metric_names(expression) for _, expression in expressions)


@pytest.mark.parametrize("path", DASHBOARDS, ids=[path.name for path in DASHBOARDS])
def test_every_dashboard_imports_with_a_prometheus_data_source_input(path: Path) -> None:
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    inputs = {item["name"]: item for item in dashboard["__inputs"]}

    assert inputs["DS_PROMETHEUS"]["pluginId"] == "prometheus"
    assert dashboard["uid"] and dashboard["title"] and dashboard["id"] is None
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        sources = [panel["datasource"], *(target["datasource"] for target in panel["targets"])]
        assert all(source == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"} for source in sources), panel[
            "title"
        ]


def test_promql_names_come_out_of_functions_matchers_and_grouping() -> None:
    expression = (
        'histogram_quantile(0.99, sum by (le) (rate(driftwatch_ingest_write_seconds_bucket{job="a"}[5m]))) '
        '/ on(task_class) group_left(tier) max by (task_class) (driftwatch_class_tier{task_class=~"$task_class"}) '
        "> bool 0.5 or vector(1)"
    )

    assert promql_metric_names(expression) == {
        "driftwatch_ingest_write_seconds_bucket",
        "driftwatch_class_tier",
    }
