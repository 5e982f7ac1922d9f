"""Crash under load: ``kill -9`` a real ``driftwatch serve`` while exporters send, a few times over, each
time moving the load to a new process on the same store; every span that got a 200 is stored, and none
twice (neither the call row nor its count in the hourly rollup).

The senders re-send a batch that got no answer, as OTel exporters do, so batches committed just before
a kill (whose 200 never left the process) arrive a second time at the next process.

A process takes seconds to start on a busy 2-core machine, so the replacements for the first kills are
started up front (standbys taking over, as behind a load balancer); the last kill is followed by a
cold restart, which opens the store only after the crash.
"""

from __future__ import annotations

import time
from itertools import pairwise
from pathlib import Path

from sqlalchemy import Engine

from tests.reliability.load import SpanLoad, assert_stored_once
from tests.reliability.serve import Serve
from tests.support.patience import deadline

KILLS = 3  # the last one is followed by a cold restart, the others by a standby taking over
SENDERS = 4
BATCH = 50
LOAD_SECONDS_BEFORE_KILL = 1.0


def test_spans_acknowledged_before_a_kill_9_are_stored_exactly_once(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    # Launched together: on 2 cores, starting them one after another would take most of the test.
    launched = [Serve(tmp_path, database_url).launch() for _ in range(KILLS - 1)]
    serves = list(launched)
    acked_at_kill: list[int] = []
    try:
        serves.append(current := Serve(tmp_path, database_url).start())
        standbys = [standby.wait_healthy() for standby in launched]
        with SpanLoad(lambda: current.base_url, senders=SENDERS, batch=BATCH) as load:
            for standby in [*standbys, None]:
                _wait_for_flow(load)
                time.sleep(LOAD_SECONDS_BEFORE_KILL)
                acked_at_kill.append(load.acked_count())
                current.kill()
                if standby is None:  # the last kill: a cold restart
                    serves.append(current := Serve(tmp_path, database_url).start())
                else:
                    current = standby
            _wait_for_flow(load)  # the re-sent batches get through
            tally = load.stop()
        stderr = current.stop()
    finally:
        for serve in serves:
            serve.kill()

    assert all(later > earlier for earlier, later in pairwise([0, *acked_at_kill]))  # load flowed
    stored = assert_stored_once(engine, tally.acked)
    # Stored beyond the acknowledged spans: batches committed whose 200 was lost in a kill and whose
    # sender stopped before re-sending them; at most one batch per sender.
    assert len(stored) - len(tally.acked) <= SENDERS * BATCH
    assert tally.statuses["200"] > 0
    assert "Traceback" not in stderr


def _wait_for_flow(load: SpanLoad, spans: int = 4 * BATCH) -> None:
    """Kill only while spans are flowing, not in a lull after a restart."""
    started = load.acked_count()
    give_up = deadline(30)
    while load.acked_count() < started + spans:
        assert time.monotonic() < give_up, "the load did not resume after the restart"
        time.sleep(0.05)
