"""The command line starts at once: loading it (what ``driftwatch --help`` does) imports no store,
web, HTTP or statistics library; each command imports those when it runs (bench/startup.py times it).
A fresh interpreter, since this test process has long imported them all."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("sqlalchemy", "httpx", "fastapi", "scipy", "numpy", "openai", "anthropic", "alembic")


def test_loading_the_command_line_imports_no_heavy_library() -> None:
    probe = (
        "import json, sys; import driftwatch.cli.root; "
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({list(HEAVY)!r}))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )

    assert json.loads(loaded.stdout) == []
