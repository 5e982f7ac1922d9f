"""``driftwatch import langfuse`` and the scheduled ``import-langfuse`` job, against a fake Langfuse on a
real socket: summary and --quiet output, the progress line, clear errors, and the job inside serve."""

from __future__ import annotations

import io
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result
from rich.console import Console
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from driftwatch.cli.root import main
from driftwatch.config import Policy, Settings
from driftwatch.db.models import Call, JobState
from driftwatch.importers.langfuse_client import LangfuseImportError
from driftwatch.importers.langfuse_import import ImportProgress
from driftwatch.importers.progress import progress_display
from driftwatch.scheduler.jobs import JobContext, job_intervals, run_job
from tests.fakes.langfuse_server import PUBLIC_KEY, SECRET_KEY, FakeLangfuseServer
from tests.importers.support import finished
from tests.support.patience import deadline, patient
from tests.support.processes import start_serve, wait_healthy

pytestmark = pytest.mark.timeout(90)
NOW = datetime.now(UTC)


@pytest.fixture
def recent_langfuse() -> Iterator[FakeLangfuseServer]:
    with FakeLangfuseServer() as server:
        # Half an hour before now, so a run whose window ends now reads them all.
        server.add(*(finished(f"obs-{index}", -30 - index, base=NOW) for index in range(3)))
        yield server


def _import(database_url: str, *args: str, env: dict[str, str | None] | None = None) -> Result:
    environment: dict[str, str | None] = {
        "DRIFTWATCH_DATABASE_URL": database_url,
        "LANGFUSE_PUBLIC_KEY": PUBLIC_KEY,
        "LANGFUSE_SECRET_KEY": SECRET_KEY,
        "LANGFUSE_HOST": None,
        "LANGFUSE_BASE_URL": None,
        **(env or {}),
    }
    return CliRunner().invoke(main, ["import", "langfuse", *args], env=environment, catch_exceptions=False)


def _call_count(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(Call)) or 0


def test_the_command_imports_and_prints_a_summary_then_a_rerun_finds_nothing_new(
    engine: Engine, database_url: str, recent_langfuse: FakeLangfuseServer
) -> None:
    first = _import(database_url, "--host", recent_langfuse.url)
    again = _import(database_url, "--quiet", env={"LANGFUSE_BASE_URL": recent_langfuse.url})

    assert first.exit_code == 0, first.output
    assert "imported 3 new calls from 3 generations" in first.stdout
    assert again.exit_code == 0, again.output
    assert again.stderr == ""
    assert again.stdout.count("\n") == 1  # cron gets one line
    assert "imported 0 new calls" in again.stdout
    assert _call_count(engine) == 3


def test_refused_keys_exit_1_with_one_line_naming_the_host(
    engine: Engine, database_url: str, recent_langfuse: FakeLangfuseServer
) -> None:
    result = _import(
        database_url,
        "--quiet",
        env={"LANGFUSE_HOST": recent_langfuse.url, "LANGFUSE_SECRET_KEY": "sk-lf-wrong"},
    )

    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: Langfuse at {recent_langfuse.url} refused the API keys (HTTP 401); "
        "check the public and secret key\n"
    )
    assert _call_count(engine) == 0


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (
            (),
            {"LANGFUSE_PUBLIC_KEY": None},
            "no Langfuse public key: pass --public-key or set LANGFUSE_PUBLIC_KEY",
        ),
        (("--host", "ftp://example.org"), {}, "Langfuse host 'ftp://example.org' is not an http(s) URL"),
        (("--project", "someone-else"), {}, "give no access to project 'someone-else'"),
    ],
)
def test_unusable_options_get_a_clear_error(
    engine: Engine,
    database_url: str,
    recent_langfuse: FakeLangfuseServer,
    args: tuple[str, ...],
    env: dict[str, str | None],
    message: str,
) -> None:
    result = _import(database_url, *args, env={"LANGFUSE_HOST": recent_langfuse.url, **env})

    assert result.exit_code == 1
    assert message in result.stderr


def test_a_since_that_is_not_a_time_is_a_usage_error(engine: Engine, database_url: str) -> None:
    result = _import(database_url, "--since", "last tuesday")

    assert result.exit_code == 2
    assert "is not an ISO 8601 date or time" in result.stderr


def test_rate_limiting_is_waited_out_for_real(
    engine: Engine, database_url: str, recent_langfuse: FakeLangfuseServer
) -> None:
    recent_langfuse.fail_next(429, retry_after=1)
    started = time.monotonic()

    result = _import(database_url, "--host", recent_langfuse.url)

    assert result.exit_code == 0, result.output
    assert time.monotonic() - started >= 1.0
    assert "imported 3 new calls" in result.stdout
    assert "waited 1 s over 1 rate-limit or retry pauses" in result.stdout


def test_the_progress_line_shows_counts_and_rate_on_a_terminal() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=160)

    with progress_display(console) as on_page:
        on_page(ImportProgress(pages=2, read=150, imported=120, already_stored=25, skipped=5))
        time.sleep(0.2)  # rich redraws ten times a second

    drawn = screen.getvalue()
    assert "2 pages · 150 read · 120 new · 25 already stored · 5 skipped" in drawn
    assert "generations/s" in drawn


def test_the_job_imports_with_the_langfuse_variables_and_is_scheduled_only_when_asked(
    engine: Engine, database_url: str, recent_langfuse: FakeLangfuseServer
) -> None:
    settings = Settings(database_url=database_url)
    environ = {"LANGFUSE_BASE_URL": recent_langfuse.url, "LANGFUSE_PUBLIC_KEY": PUBLIC_KEY}
    context = JobContext(engine, settings, Policy(), environ={**environ, "LANGFUSE_SECRET_KEY": SECRET_KEY})

    summary = run_job("import-langfuse", context)
    with pytest.raises(LangfuseImportError, match="no Langfuse secret key"):
        run_job("import-langfuse", JobContext(engine, settings, Policy(), environ=environ))

    assert "imported 3 new calls" in summary
    with Session(engine) as session:
        state = session.get(JobState, "import-langfuse")
    assert state is not None and (state.runs, state.last_status) == (2, "error")
    assert "import-langfuse" not in job_intervals(settings)
    scheduled = Settings(database_url=database_url, langfuse_import_interval=300)
    assert job_intervals(scheduled)["import-langfuse"] == 300


def test_serve_runs_the_scheduled_import(tmp_path: Path, recent_langfuse: FakeLangfuseServer) -> None:
    settings = {
        "DRIFTWATCH_LANGFUSE_IMPORT_INTERVAL": "0.5",
        "LANGFUSE_HOST": recent_langfuse.url,
        "LANGFUSE_PUBLIC_KEY": PUBLIC_KEY,
        "LANGFUSE_SECRET_KEY": SECRET_KEY,
    }
    process, base_url = start_serve(tmp_path, settings)
    try:
        wait_healthy(process, base_url)
        give_up = deadline(30)
        calls: list[dict[str, object]] = []
        while len(calls) < 3 and time.monotonic() < give_up:
            time.sleep(0.2)
            calls = httpx.get(f"{base_url}/v1/calls").json()["items"]
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=patient(20))
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert sorted(str(call["task_class"]) for call in calls) == ["faq"] * 3
