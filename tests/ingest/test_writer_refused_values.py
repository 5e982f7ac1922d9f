"""A request whose values the store refuses is refused alone, with a 400 its exporter will not retry;
the requests committed in the same group get in.  Store failures that are not the data's fault stay
503s (see ``test_overload.py``).

The mapper keeps every value it produces within the store's types (the fuzz tests in
``tests/reliability`` send hostile spans through it), so the refused row here is built past it: a
token count beyond a 64-bit integer, which both stores refuse.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select

from driftwatch.config import Policy
from driftwatch.db.models import Call
from driftwatch.errors import BadRequest
from driftwatch.ingest.classify import Classifier
from driftwatch.ingest.metrics import Metrics
from driftwatch.ingest.otlp import iter_spans
from driftwatch.ingest.records import CallMapper, CallRow
from driftwatch.ingest.writer import CallWriter
from driftwatch.prices.pricing import PriceTable
from tests.support.otlp import export_request, make_span

WAIT_SECONDS = 30


@pytest.fixture
def writer(engine: Engine) -> Iterator[CallWriter]:
    writer = CallWriter(
        engine, Metrics(), queue_limit=10_000, batch_limit=10_000, threads=1, retry_after_seconds=1
    )
    yield writer
    writer.stop()


def _rows(count: int) -> list[CallRow]:
    policy = Policy()
    mapper = CallMapper(
        Classifier.from_policy(policy), PriceTable(policy.price_table()), capture_content=True
    )
    return mapper.map(iter_spans(export_request([make_span() for _ in range(count)]))).rows


def _stored(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(Call)).scalar_one())


def test_a_request_with_values_the_store_refuses_does_not_take_its_group_down(
    engine: Engine, writer: CallWriter
) -> None:
    before, poisoned, after = _rows(3), _rows(2), _rows(4)
    poisoned[1]["input_tokens"] = 2**70
    # Submitted before the writer thread starts, the three requests are written as one group.
    futures = [writer.submit(rows) for rows in (before, poisoned, after)]
    writer.start()

    futures[0].result(WAIT_SECONDS)
    futures[2].result(WAIT_SECONDS)
    with pytest.raises(BadRequest, match="the store refused this request's values") as refusal:
        futures[1].result(WAIT_SECONDS)
    assert refusal.value.status_code == 400
    assert _stored(engine) == 7  # the other requests' rows, and none of the refused one's


def test_a_refused_request_alone_is_a_400_not_a_retry_forever(engine: Engine, writer: CallWriter) -> None:
    poisoned = _rows(1)
    poisoned[0]["output_tokens"] = -(2**70)
    writer.start()
    with pytest.raises(BadRequest):
        writer.submit(poisoned).result(WAIT_SECONDS)
    writer.submit(_rows(2)).result(WAIT_SECONDS)  # the writer goes on
    assert _stored(engine) == 2
