"""The README is the manual: every setting and every command is in it, and it opens with the two commands."""

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

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "driftwatch") -> list[str]:
    names = []
    for name, command in group.commands.items():
        names.append(f"{prefix} {name}")
        if isinstance(command, click.Group):
            names.extend(_commands(command, f"{prefix} {name}"))
    return names


def test_every_setting_is_documented() -> None:
    missing = [
        f"DRIFTWATCH_{name.upper()}"
        for name in Settings.model_fields
        if f"DRIFTWATCH_{name.upper()}" not in README
    ]

    assert missing == []


def test_every_command_is_documented() -> None:
    documented = README.replace("`keys list`", "`driftwatch keys list`").replace(
        "`keys revoke", "`driftwatch keys revoke"
    )

    missing = [command for command in _commands(main) if command not in documented]

    assert missing == []


def test_readme_opens_with_the_serve_command_then_the_test_command_that_ci_runs() -> None:
    first_blocks = re.findall(r"```bash\n(.*?)\n```", README, flags=re.DOTALL)[:2]

    assert first_blocks[0] == "pip install -e . && driftwatch serve"
    assert "pytest" in first_blocks[1]
    assert first_blocks[1] in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_every_policy_example_in_the_readme_is_a_valid_policy_file() -> None:
    examples = re.findall(r"```yaml\n(.*?)```", README, flags=re.DOTALL)
    # "{...}" marks a section summarised in place, described in full elsewhere in the README.
    complete = [
        example
        for example in examples
        if "{...}" not in example and not example.startswith("# config.yaml of a LiteLLM proxy")
    ]

    assert complete
    for example in complete:
        Policy.model_validate(yaml.safe_load(example) or {})


INIT_EXAMPLES = [
    line.split("#", 1)[0].strip()
    for block in re.findall(r"```bash\n(.*?)```", README, flags=re.DOTALL)
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
