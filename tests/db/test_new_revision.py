"""``alembic.ini`` at the repository root is how a developer writes a new migration
(``alembic revision -m "…" --rev-id 0012``, docs/development.md): the file it writes is named and
chained the way ``driftwatch migrate`` reads it."""

from __future__ import annotations

import shutil
from pathlib import Path

from alembic import command
from alembic.config import Config

import driftwatch
from driftwatch.db import migrate

ROOT = Path(driftwatch.__file__).parent.parent


def test_alembic_ini_writes_the_next_revision_on_top_of_head(tmp_path: Path) -> None:
    config = Config(str(ROOT / "alembic.ini"))
    assert Path(config.get_main_option("script_location") or "") == ROOT / "driftwatch" / "migrations"
    # The same configuration, pointed at a copy of the migrations so the repository stays as it is.
    copy = tmp_path / "migrations"
    shutil.copytree(ROOT / "driftwatch" / "migrations", copy, ignore=shutil.ignore_patterns("__pycache__"))
    config.set_main_option("script_location", str(copy))
    head = migrate.head_revision()

    command.revision(config, message="what it changes", rev_id="9999")

    written = copy / "versions" / "9999_what_it_changes.py"
    source = written.read_text(encoding="utf-8")
    assert migrate._REVISION.findall(source) == ["9999"]
    assert migrate._DOWN_REVISION.findall(source) == [head]
