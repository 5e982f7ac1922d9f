"""The import against the real ``langfuse`` SDK and a fake Langfuse on a real socket, on SQLite and
PostgreSQL: pages, cursor, idempotency, late and running generations, interruption, 429s, bad input."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from driftwatch.config import Policy, ShadowConfig
from driftwatch.db.models import Call, ClassHour, ImportCursor, ShadowSample
from driftwatch.importers.cursor import CursorState, ImportBusy
from driftwatch.importers.langfuse_client import LangfuseImportError
from driftwatch.importers.langfuse_import import (
    ImportOptions,
    ImportProgress,
    import_generations,
    source_name,
)
from driftwatch.sampling.service import run_sampling
from tests.fakes.langfuse_server import PROJECT_ID, FakeLangfuseServer
from tests.importers.support import T0, Clock, Sleeps, client_for, finished, mapper

pytestmark = pytest.mark.timeout(60)


class Interrupted(Exception):
    """Stands for the process dying (Ctrl-C, a kill) right after a page was committed."""


@pytest.fixture
def langfuse() -> Iterator[FakeLangfuseServer]:
    with FakeLangfuseServer() as server:
        yield server


def _run(
    engine: Engine,
    langfuse: FakeLangfuseServer,
    clock: Clock,
    *,
    sleep: Sleeps | None = None,
    on_page: object = None,
    **options: object,
) -> ImportProgress:
    chosen = ImportOptions(**{"page_size": 3, **options})  # type: ignore[arg-type]
    with client_for(langfuse, sleep=sleep) as client:
        return import_generations(engine, client, mapper(), chosen, clock, on_page)  # type: ignore[arg-type]


def _calls(engine: Engine) -> list[Call]:
    with Session(engine) as session:
        return list(session.scalars(select(Call).order_by(Call.start_time)))


def _cursor(engine: Engine, langfuse: FakeLangfuseServer) -> ImportCursor:
    with Session(engine) as session:
        row = session.get(ImportCursor, source_name(langfuse.url, PROJECT_ID))
        assert row is not None
        return row


def test_every_generation_is_imported_page_by_page_into_calls_and_the_rollup(
    engine: Engine, langfuse: FakeLangfuseServer
) -> None:
    langfuse.add(*(finished(f"obs-{index}", index) for index in range(7)))
    clock = Clock(T0 + timedelta(hours=1))

    done = _run(engine, langfuse, clock)

    assert (done.pages, done.read, done.imported, done.skipped) == (3, 7, 7, 0)
    calls = _calls(engine)
    assert [call.task_class for call in calls] == ["faq"] * 7
    assert {call.source for call in calls} == {"langfuse"}
    with Session(engine) as session:
        hour = session.scalars(select(ClassHour)).one()
    assert (hour.task_class, hour.tier, hour.calls, hour.input_tokens) == ("faq", "cheap", 7, 7000)
    assert hour.cost_usd == pytest.approx(7 * 0.002)
    cursor = _cursor(engine, langfuse)
    assert (cursor.imported, cursor.skipped) == (7, 0)
    assert CursorState.from_text(cursor.cursor) == CursorState(read_until=clock.now)
    assert "imported 7 new calls from 7 generations in 3 pages" in done.summary()


def test_a_rerun_reads_from_the_overlap_and_stores_nothing_twice(
    engine: Engine, langfuse: FakeLangfuseServer
) -> None:
    langfuse.add(*(finished(f"obs-{index}", index) for index in range(4)))
    first_end = T0 + timedelta(minutes=10)
    _run(engine, langfuse, Clock(first_end), overlap=timedelta(minutes=8))
    langfuse.add(finished("late", 5), finished("new", 30))  # "late": stored after the first run passed it

    done = _run(engine, langfuse, Clock(T0 + timedelta(hours=1)), overlap=timedelta(minutes=8))

    assert (done.imported, done.already_stored) == (2, 2)  # obs-2 and obs-3 were read again
    assert len(_calls(engine)) == 6
    assert langfuse.observation_requests()[-1].query["fromStartTime"].startswith("2026-03-02T09:02:00")
    assert _cursor(engine, langfuse).imported == 6


def test_a_generation_still_running_is_imported_by_the_run_after_it_ended(
    engine: Engine, langfuse: FakeLangfuseServer
) -> None:
    langfuse.add(finished("obs-1", 0), finished("running", 50, end=None, output=None))
    first = _run(engine, langfuse, Clock(T0 + timedelta(hours=1)))
    langfuse.replace(finished("running", 50, end=T0 + timedelta(minutes=61)))

    second = _run(engine, langfuse, Clock(T0 + timedelta(hours=2)))

    assert (first.imported, first.unfinished, second.imported) == (1, 1, 1)
    assert [call.completion for call in _calls(engine)] == ["Yes.", "Yes."]


def test_an_interrupted_import_resumes_at_the_page_it_had_not_committed(
    engine: Engine, langfuse: FakeLangfuseServer
) -> None:
    langfuse.add(*(finished(f"obs-{index}", index) for index in range(8)))
    end = T0 + timedelta(hours=1)

    def die_after_two_pages(progress: ImportProgress) -> None:
        if progress.pages == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        _run(engine, langfuse, Clock(end), on_page=die_after_two_pages)
    assert len(_calls(engine)) == 6
    saved = CursorState.from_text(_cursor(engine, langfuse).cursor)
    assert saved.window is not None and saved.window.end == end and saved.window.page

    done = _run(engine, langfuse, Clock(end + timedelta(hours=3)))

    resumed = langfuse.observation_requests()[2].query
    assert (resumed["cursor"], resumed["toStartTime"]) == (saved.window.page, "2026-03-02T10:00:00Z")
    assert (done.pages, done.imported, done.already_stored) == (1, 2, 0)
    assert len(_calls(engine)) == 8
    assert CursorState.from_text(_cursor(engine, langfuse).cursor) == CursorState(read_until=end)


def test_rate_limited_pages_are_retried_after_the_retry_after_pause(
    engine: Engine, langfuse: FakeLangfuseServer
) -> None:
    langfuse.add(*(finished(f"obs-{index}", index) for index in range(5)))
    sleeps = Sleeps()

    def rate_limit_the_next_page(progress: ImportProgress) -> None:
        if progress.pages == 1:
            langfuse.fail_next(429, times=2, retry_after=7)

    done = _run(
        engine, langfuse, Clock(T0 + timedelta(hours=1)), sleep=sleeps, on_page=rate_limit_the_next_page
    )

    assert sleeps.seconds == [7.0, 7.0]
    assert (done.imported, done.rate_limit_waits) == (5, 2)
    assert "waited 14 s over 2 rate-limit or retry pauses" in done.summary()


def test_a_failure_that_outlasts_the_retries_stops_with_the_host_and_keeps_the_pages_done(
    engine: Engine, langfuse: FakeLangfuseServer
) -> None:
    langfuse.add(*(finished(f"obs-{index}", index) for index in range(5)))

    def break_langfuse(progress: ImportProgress) -> None:
        langfuse.fail_next(503, times=10)

    with pytest.raises(LangfuseImportError) as raised:
        _run(engine, langfuse, Clock(T0 + timedelta(hours=1)), on_page=break_langfuse)

    assert raised.value.detail.startswith(f"Langfuse at {langfuse.url} answered HTTP 503")
    assert len(_calls(engine)) == 3


def test_refused_keys_stop_the_import_before_anything_is_written(
    engine: Engine, langfuse: FakeLangfuseServer
) -> None:
    with (
        client_for(langfuse, secret_key="sk-lf-wrong") as client,
        pytest.raises(LangfuseImportError) as raised,
    ):
        import_generations(engine, client, mapper(), ImportOptions(), Clock(T0))

    assert raised.value.detail == (
        f"Langfuse at {langfuse.url} refused the API keys (HTTP 401); check the public and secret key"
    )
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(ImportCursor)) == 0


def test_malformed_observations_are_skipped_counted_and_named(
    engine: Engine, langfuse: FakeLangfuseServer
) -> None:
    no_start = finished("no-start", 1)
    del no_start["startTime"]
    wrong_usage = finished("wrong-usage", 2, usage={"input": "lots"})
    bad_metadata = finished("bad-metadata", 3, metadata=["not", "an", "object"])
    no_trace = finished("no-trace", 4, trace_id="  ")
    langfuse.add(finished("good-1", 0), finished("good-2", 5), wrong_usage, bad_metadata, no_trace)
    langfuse.add(no_start, "not an object", start="2026-03-02T09:01:00.000Z")

    done = _run(engine, langfuse, Clock(T0 + timedelta(hours=1)), page_size=10)

    assert (done.read, done.imported, done.skipped) == (7, 2, 5)
    assert _cursor(engine, langfuse).skipped == 5
    reasons = "\n".join(done.skip_reasons)
    for expected in (
        "'no-start': start_time",
        "'wrong-usage': usage_details.input",
        "'no-trace': no trace id",
    ):
        assert expected in reasons
    assert "an observation: item: Input should be a valid dictionary" in reasons  # not even an object


@pytest.mark.parametrize(
    ("body", "complaint"),
    [("<html>Bad gateway</html>", "not JSON"), ({"data": "nothing"}, "not a page of observations")],
)
def test_an_answer_that_is_not_a_page_stops_the_import_with_a_clear_error(
    engine: Engine, langfuse: FakeLangfuseServer, body: object, complaint: str
) -> None:
    langfuse.add(finished("obs-1", 0))

    def garble_the_next_page(progress: ImportProgress) -> None:
        langfuse.respond_next(200, body)  # type: ignore[arg-type]

    langfuse.add(*(finished(f"more-{index}", 10 + index) for index in range(3)))
    with pytest.raises(LangfuseImportError, match=complaint):
        _run(engine, langfuse, Clock(T0 + timedelta(hours=1)), on_page=garble_the_next_page)
    assert len(_calls(engine)) == 3


def test_a_second_importer_of_the_same_project_stops_and_rolls_its_page_back(
    engine: Engine, langfuse: FakeLangfuseServer
) -> None:
    langfuse.add(*(finished(f"obs-{index}", index) for index in range(6)))

    def another_importer_moves_the_cursor(progress: ImportProgress) -> None:
        with engine.begin() as connection:
            connection.execute(update(ImportCursor).values(cursor=CursorState(read_until=T0).to_text()))

    with pytest.raises(ImportBusy):
        _run(engine, langfuse, Clock(T0 + timedelta(hours=1)), on_page=another_importer_moves_the_cursor)
    assert len(_calls(engine)) == 3  # the first page only: the second was rolled back with its cursor


def test_since_starts_a_new_window_there(engine: Engine, langfuse: FakeLangfuseServer) -> None:
    langfuse.add(*(finished(f"obs-{index}", index * 10) for index in range(5)))
    since = T0 + timedelta(minutes=25)

    done = _run(engine, langfuse, Clock(T0 + timedelta(hours=1)), since=since)

    assert done.imported == 2
    assert langfuse.observation_requests()[0].query["fromStartTime"].startswith("2026-03-02T09:25:00")


def test_imported_calls_are_sampled_for_shadow_replay_like_ingested_ones(
    engine: Engine, langfuse: FakeLangfuseServer
) -> None:
    langfuse.add(*(finished(f"obs-{index}", index) for index in range(3)))
    _run(engine, langfuse, Clock(T0 + timedelta(hours=1)))
    policy = Policy(shadow=ShadowConfig(rate=1.0))

    with Session(engine) as session, session.begin():
        result = run_sampling(session, policy, datetime.now(T0.tzinfo))
        prompts = session.scalars(
            select(Call.prompt).join(ShadowSample, ShadowSample.call_id == Call.id)
        ).all()

    assert result.sampled == 3
    assert all(prompt and "Is the sky blue?" in prompt for prompt in prompts)
