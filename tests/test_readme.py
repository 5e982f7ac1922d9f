"""The README is the manual: every setting and every command is in it, and it opens with the two commands."""

from __future__ import annotations

import re
from pathlib import Path

import click
import yaml

from driftwatch.cli import main
from driftwatch.config import Policy, Settings

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
