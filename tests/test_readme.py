"""The manual (README.md and docs/*.md) documents every setting and every command, its policy examples are
valid policy files, and the README opens with the two commands."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from driftwatch.cli.root import main
from driftwatch.config import Policy, Settings, load_policy
from tests.support.manual import README as README_PATH
from tests.support.manual import ROOT, doc, fenced_blocks, pages, read, section

README = read(README_PATH)
OPERATIONS = doc("operations.md")


def _commands(group: click.Group, prefix: str = "driftwatch") -> list[str]:
    names = []
    for name, command in group.commands.items():
        names.append(f"{prefix} {name}")
        if isinstance(command, click.Group):
            names.extend(_commands(command, f"{prefix} {name}"))
    return names


def test_the_settings_table_has_a_row_for_every_setting_and_for_nothing_else() -> None:
    rows = re.findall(
        r"^\| `(DRIFTWATCH_[A-Z0-9_]+)` \|", section(OPERATIONS, "Settings"), flags=re.MULTILINE
    )

    assert sorted(rows) == sorted(f"DRIFTWATCH_{name.upper()}" for name in Settings.model_fields)


def test_every_command_is_in_the_commands_table() -> None:
    documented = (
        section(OPERATIONS, "Commands")
        .replace("`keys list`", "`driftwatch keys list`")
        .replace("`keys revoke", "`driftwatch keys revoke")
    )

    missing = [command for command in _commands(main) if command not in documented]

    assert missing == []


def test_readme_opens_with_the_serve_command_then_the_test_command_that_ci_runs() -> None:
    first_blocks = [block.rstrip("\n") for block in fenced_blocks(README, "bash")[:2]]

    assert first_blocks[0] == "pip install -e . && driftwatch serve"
    assert "pytest" in first_blocks[1]
    assert first_blocks[1] in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


POLICY_EXAMPLES = [
    pytest.param(example, id=f"{page.name}:{number}")
    for page in pages()
    for number, example in enumerate(fenced_blocks(read(page), "yaml"), start=1)
    # "{...}" marks a section summarised in place, described in full elsewhere in the manual.
    if "{...}" not in example and not example.startswith("# config.yaml of a LiteLLM proxy")
]


def test_the_manual_has_policy_examples_on_every_topic_that_takes_one() -> None:
    pages_with_examples = {str(example.id).split(":")[0] for example in POLICY_EXAMPLES}

    assert {"shadow.md", "decisions.md", "policy.md", "webhooks.md", "ingest.md"} <= pages_with_examples


@pytest.mark.parametrize("example", POLICY_EXAMPLES)
def test_every_policy_example_in_the_manual_is_a_valid_policy_file(example: str) -> None:
    Policy.model_validate(yaml.safe_load(example) or {})


INIT_EXAMPLES = [
    line.split("#", 1)[0].strip()
    for block in fenced_blocks(README, "bash")
    for line in block.splitlines()
    if line.startswith("driftwatch init")
]


def test_the_readme_shows_driftwatch_init() -> None:
    assert len(INIT_EXAMPLES) >= 2


@pytest.mark.parametrize("example", INIT_EXAMPLES)
def test_every_driftwatch_init_example_in_the_readme_writes_a_valid_policy_file(
    example: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    arguments = shlex.split(example)[1:]

    result = CliRunner().invoke(main, arguments, catch_exceptions=False)

    assert result.exit_code == 0, result.output
    [written] = list(tmp_path.iterdir())
    policy = load_policy(written)
    assert policy.reference_tier in policy.providers
    assert f"DRIFTWATCH_POLICY_FILE={written.name} driftwatch serve" in result.stdout
