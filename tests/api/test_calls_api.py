"""GET /v1/calls and GET /v1/classes over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import orjson
import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.conftest import StartServer
from tests.support.otlp import START_NS, export_request, llm_attributes, make_span
from tests.support.server import ServerThread

PROTOBUF = {"content-type": "application/x-protobuf"}
START = datetime(2025, 11, 22, 8, 26, 40, tzinfo=UTC)  # START_NS
SECOND_NS = 1_000_000_000


def _at(seconds: float) -> int:
    """A span start ``seconds`` after START, in nanoseconds."""
    return START_NS + int(seconds * SECOND_NS)


def _post(server: ServerThread, spans: list[Span], resource: dict[str, Any] | None = None) -> None:
    body = export_request(spans, resource).SerializeToString()
    response = httpx.post(f"{server.base_url}/v1/traces", content=body, headers=PROTOBUF)
    assert response.status_code == 200, response.content


def _calls(server: ServerThread, **params: Any) -> list[dict[str, Any]]:
    response = httpx.get(f"{server.base_url}/v1/calls", params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _span_ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["span_id"] for item in items]


def _walk(server: ServerThread, limit: int, **params: Any) -> tuple[list[str], int]:
    """Follow next_cursor to the end; returns span ids in the order returned and the number of pages."""
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = {"limit": limit, **params, **({"cursor": cursor} if cursor else {})}
        page = httpx.get(f"{server.base_url}/v1/calls", params=query).json()
        pages += 1
        seen += _span_ids(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return seen, pages


class _ErrorLogged(logging.Handler):
    """Set once uvicorn has logged an unhandled exception (after its own handler printed it)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.logged = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.logged.set()


@pytest.fixture
def get_settled(server: ServerThread) -> Iterator[Callable[..., httpx.Response]]:
    """GET that, on a 500, waits until the server thread has finished printing the traceback.

    CPython 3.11's traceback printing runs ``ast.parse``, and so does pytest's failure report; run
    concurrently in two threads they can crash pytest ("AST constructor recursion depth mismatch").
    """
    handler = _ErrorLogged()
    uvicorn_logger = logging.getLogger("uvicorn")  # after its own handler, which prints the traceback
    uvicorn_logger.addHandler(handler)

    def get(path: str, **params: Any) -> httpx.Response:
        response = httpx.get(f"{server.base_url}{path}", params=params)
        if response.status_code == 500:
            handler.logged.wait(10)
        return response

    yield get
    uvicorn_logger.removeHandler(handler)


def _parse_utc(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    assert moment.utcoffset() == timedelta(0), value
    return moment


def test_a_call_comes_back_with_every_documented_field(server: ServerThread) -> None:
    trace_id, span_id = bytes.fromhex("0af7651916cd43dd8448eb211c80319c"), bytes.fromhex("b7ad6b7169203331")
    span = make_span(
        llm_attributes(task_class="extraction", tier="cheap", input_tokens=1000, output_tokens=200),
        trace_id=trace_id,
        span_id=span_id,
        start_ns=_at(0),
    )

    _post(server, [span], resource={"service.name": "checkout-api"})
    [call] = _calls(server)

    assert call["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert call["span_id"] == "b7ad6b7169203331"
    assert call["parent_span_id"] is None
    assert _parse_utc(call["start_time"]) == START
    assert _parse_utc(call["end_time"]) == START + timedelta(milliseconds=500)
    assert call["service"] == "checkout-api"
    assert call["task_class"] == "extraction"
    assert call["tier"] == "cheap"
    assert call["operation"] == "chat"
    assert call["provider"] == "anthropic"
    assert call["model"] == "claude-haiku-4-5"
    assert call["input_tokens"] == 1000
    assert call["output_tokens"] == 200
    assert call["cost_usd"] == pytest.approx(0.002)  # $1 / $5 per million tokens
    assert call["prompt"] == [{"role": "user", "content": "What is the refund policy?"}]
    assert call["completion"] == "30 days."
    assert call["status"] == "ok"
    assert call["status_message"] is None
    assert call["source"] == "otlp"


def test_a_model_without_a_price_has_a_null_cost(server: ServerThread) -> None:
    _post(server, [make_span(llm_attributes(model="my-finetune-v3"))])

    [call] = _calls(server)

    assert call["model"] == "my-finetune-v3"
    assert call["input_tokens"] == 1000
    assert call["cost_usd"] is None


def test_an_error_span_is_stored_with_status_error(server: ServerThread) -> None:
    _post(server, [make_span(error=True), make_span()])

    statuses = sorted(call["status"] for call in _calls(server))

    assert statuses == ["error", "ok"]


def test_filters_by_task_class_and_tier(server: ServerThread) -> None:
    spans = {
        ("faq", "cheap"): make_span(llm_attributes(task_class="faq", tier="cheap")),
        ("faq", "premium"): make_span(llm_attributes(task_class="faq", tier="premium")),
        ("codegen", "cheap"): make_span(llm_attributes(task_class="codegen", tier="cheap")),
    }
    _post(server, list(spans.values()))

    def span_id(key: tuple[str, str]) -> str:
        return spans[key].span_id.hex()

    assert sorted(_span_ids(_calls(server, task_class="faq"))) == sorted(
        [span_id(("faq", "cheap")), span_id(("faq", "premium"))]
    )
    assert sorted(_span_ids(_calls(server, tier="cheap"))) == sorted(
        [span_id(("faq", "cheap")), span_id(("codegen", "cheap"))]
    )
    assert _span_ids(_calls(server, task_class="faq", tier="cheap")) == [span_id(("faq", "cheap"))]
    assert _calls(server, task_class="summarization") == []


def test_since_is_inclusive_and_until_exclusive(server: ServerThread) -> None:
    spans = [make_span(start_ns=_at(minute * 60)) for minute in range(5)]  # START + 0..4 minutes
    _post(server, spans)
    ids = [span.span_id.hex() for span in spans]

    window = _calls(
        server,
        since=(START + timedelta(minutes=1)).isoformat(),
        until=(START + timedelta(minutes=3)).isoformat(),
    )

    assert _span_ids(window) == [ids[2], ids[1]]  # newest first
    assert _span_ids(_calls(server, since=(START + timedelta(minutes=4)).isoformat())) == [ids[4]]
    assert _span_ids(_calls(server, until=(START + timedelta(minutes=1)).isoformat())) == [ids[0]]


def test_since_and_until_accept_any_offset_and_read_naive_times_as_utc(server: ServerThread) -> None:
    spans = [make_span(start_ns=_at(minute * 60)) for minute in range(3)]
    _post(server, spans)
    ids = [span.span_id.hex() for span in spans]
    one_minute_in = START + timedelta(minutes=1)

    in_paris = one_minute_in.astimezone(timezone(timedelta(hours=1))).isoformat()
    naive = one_minute_in.replace(tzinfo=None).isoformat()

    assert _span_ids(_calls(server, since=in_paris)) == [ids[2], ids[1]]
    assert _span_ids(_calls(server, since=naive)) == [ids[2], ids[1]]
    assert _span_ids(_calls(server, until=one_minute_in.strftime("%Y-%m-%dT%H:%M:%SZ"))) == [ids[0]]


def test_pagination_walks_every_call_newest_first_without_duplicates_or_gaps(server: ServerThread) -> None:
    # Several calls share a start time, some of them across page boundaries: the id breaks the tie.
    spans = [make_span(start_ns=_at(second // 3)) for second in range(23)]
    _post(server, spans)

    walked, pages = _walk(server, limit=4)

    assert pages == 6
    assert sorted(walked) == sorted(span.span_id.hex() for span in spans)
    assert len(set(walked)) == len(walked)
    assert walked == _span_ids(_calls(server))  # the same order as a single page


def test_pages_are_newest_first(server: ServerThread) -> None:
    spans = [make_span(start_ns=_at(seconds)) for seconds in (30, 10, 50, 20, 40)]
    _post(server, spans)

    walked, _ = _walk(server, limit=2)

    by_time = sorted(spans, key=lambda span: span.start_time_unix_nano, reverse=True)
    assert walked == [span.span_id.hex() for span in by_time]


def test_pagination_is_stable_while_new_calls_arrive(server: ServerThread) -> None:
    first = [make_span(start_ns=_at(seconds)) for seconds in range(12)]
    _post(server, first)
    walked: list[str] = []

    page = httpx.get(f"{server.base_url}/v1/calls", params={"limit": 5}).json()
    walked += _span_ids(page["items"])
    # Between pages: newer calls (would shift an offset-based page by 3), and one call that arrives
    # late with an old start time (it belongs further down the list and must be met exactly once).
    newer = [make_span(start_ns=_at(100 + seconds)) for seconds in range(3)]
    late = make_span(start_ns=_at(0.5))
    _post(server, [*newer, late])
    while page["next_cursor"] is not None:
        page = httpx.get(
            f"{server.base_url}/v1/calls", params={"limit": 5, "cursor": page["next_cursor"]}
        ).json()
        walked += _span_ids(page["items"])

    expected = sorted([*first, late], key=lambda span: span.start_time_unix_nano, reverse=True)
    assert walked == [span.span_id.hex() for span in expected]


def test_filters_apply_on_every_page(server: ServerThread) -> None:
    faq = [make_span(llm_attributes(task_class="faq"), start_ns=_at(seconds)) for seconds in range(0, 10, 2)]
    other = [
        make_span(llm_attributes(task_class="codegen"), start_ns=_at(seconds)) for seconds in range(1, 10, 2)
    ]
    _post(server, [*faq, *other])

    walked, pages = _walk(server, limit=2, task_class="faq")

    assert pages == 3
    assert walked == [span.span_id.hex() for span in reversed(faq)]


def test_the_last_page_has_no_cursor(server: ServerThread) -> None:
    _post(server, [make_span() for _ in range(3)])

    exact = httpx.get(f"{server.base_url}/v1/calls", params={"limit": 3}).json()
    empty = httpx.get(f"{server.base_url}/v1/calls", params={"task_class": "none-such"}).json()

    assert len(exact["items"]) == 3
    assert exact["next_cursor"] is None
    assert empty == {"items": [], "next_cursor": None}


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        "%%%",
        _b64(b"not json"),
        _b64(orjson.dumps({"start": "2025-11-22T08:26:40+00:00"})),
        _b64(orjson.dumps(["2025-11-22T08:26:40", 5])),  # naive time
        _b64(orjson.dumps(["yesterday", 5])),
        _b64(orjson.dumps(["2025-11-22T08:26:40+00:00", "5"])),
        _b64(orjson.dumps(["2025-11-22T08:26:40+00:00", 5, 6])),
        _b64(orjson.dumps(7)),
    ],
    ids=[
        "not-base64",
        "percent",
        "not-json",
        "object",
        "naive-time",
        "not-a-time",
        "string-id",
        "three",
        "number",
    ],
)
def test_an_invalid_cursor_is_400_with_a_json_error(server: ServerThread, cursor: str) -> None:
    response = httpx.get(f"{server.base_url}/v1/calls", params={"cursor": cursor})

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "bad_request"
    assert "cursor" in body["detail"]


@pytest.mark.parametrize(
    "cursor",
    [
        _b64(b'["2025-11-22T08:26:40+00:00", 9223372036854775808]'),  # id past a 64-bit integer
        _b64(orjson.dumps(["0001-01-01T00:00:00+14:00", 5])),  # before year 1 once in UTC
    ],
    ids=["id-past-int64", "time-before-year-1-in-utc"],
)
def test_a_crafted_cursor_out_of_range_is_400_not_500(
    get_settled: Callable[..., httpx.Response], cursor: str
) -> None:
    response = get_settled("/v1/calls", cursor=cursor)

    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"


@pytest.mark.parametrize("limit", [0, -1, 1001, 5000])
def test_limit_out_of_range_is_422(server: ServerThread, limit: int) -> None:
    response = httpx.get(f"{server.base_url}/v1/calls", params={"limit": limit})

    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_request"
    assert "limit" in body["detail"]


def test_an_unparseable_since_is_422(server: ServerThread) -> None:
    response = httpx.get(f"{server.base_url}/v1/calls", params={"since": "last tuesday"})

    assert response.status_code == 422
    assert "since" in response.json()["detail"]


@pytest.mark.parametrize("path", ["/v1/calls", "/v1/classes"])
def test_a_since_that_leaves_the_calendar_in_utc_is_a_4xx_not_500(
    get_settled: Callable[..., httpx.Response], path: str
) -> None:
    response = get_settled(path, since="0001-01-01T00:00:00+14:00")

    assert 400 <= response.status_code < 500
    assert set(response.json()) == {"error", "detail"}


def test_classes_sum_calls_tokens_and_cost_per_class_and_tier(server: ServerThread) -> None:
    _post(
        server,
        [
            # faq / cheap: two hours apart (two rollup rows, one summary)
            make_span(
                llm_attributes(task_class="faq", input_tokens=1000, output_tokens=200), start_ns=_at(0)
            ),
            make_span(
                llm_attributes(task_class="faq", input_tokens=3000, output_tokens=400), start_ns=_at(7200)
            ),
            # faq / cheap with a model that has no price: counted, tokens summed, cost not guessed
            make_span(
                llm_attributes(task_class="faq", model="my-finetune", input_tokens=10, output_tokens=5),
                start_ns=_at(60),
            ),
            # faq / premium
            make_span(
                llm_attributes(task_class="faq", tier="premium", model="gpt-4o", output_tokens=100),
                start_ns=_at(30),
            ),
            # codegen with no tier attribute and a model the tier map does not know: tier unknown
            make_span(
                llm_attributes(task_class="codegen", tier=None, model="llama-3-70b", output_tokens=50),
                start_ns=_at(90),
            ),
            # no tier attribute, but the model → tier map knows claude-haiku-*
            make_span(llm_attributes(task_class="codegen", tier=None), start_ns=_at(120)),
        ],
    )

    response = httpx.get(f"{server.base_url}/v1/classes")

    assert response.status_code == 200
    summaries = {(item["task_class"], item["tier"]): item for item in response.json()["items"]}
    assert set(summaries) == {("faq", "cheap"), ("faq", "premium"), ("codegen", None), ("codegen", "cheap")}

    faq_cheap = summaries[("faq", "cheap")]
    assert faq_cheap["calls"] == 3
    assert faq_cheap["input_tokens"] == 4010
    assert faq_cheap["output_tokens"] == 605
    assert faq_cheap["cost_usd"] == pytest.approx(0.002 + 0.005)  # (1000 + 3000) * $1 + (200 + 400) * $5
    assert faq_cheap["unpriced_calls"] == 1
    assert _parse_utc(faq_cheap["first_seen"]) == START
    assert _parse_utc(faq_cheap["last_seen"]) == START + timedelta(hours=2)

    faq_premium = summaries[("faq", "premium")]
    assert faq_premium["calls"] == 1
    assert faq_premium["cost_usd"] == pytest.approx((1000 * 2.5 + 100 * 10) / 1e6)
    assert faq_premium["unpriced_calls"] == 0

    unknown_tier = summaries[("codegen", None)]
    assert unknown_tier["calls"] == 1
    assert unknown_tier["output_tokens"] == 50
    assert unknown_tier["cost_usd"] == 0
    assert unknown_tier["unpriced_calls"] == 1
    assert _parse_utc(unknown_tier["first_seen"]) == _parse_utc(unknown_tier["last_seen"])

    assert summaries[("codegen", "cheap")]["calls"] == 1


def test_classes_can_be_limited_to_a_time_window_of_whole_hours(server: ServerThread) -> None:
    _post(server, [make_span(start_ns=_at(hours * 3600)) for hours in range(4)])  # 08:26, 09:26, …
    nine = START.replace(hour=9, minute=0, second=0)

    response = httpx.get(
        f"{server.base_url}/v1/classes",
        params={"since": nine.isoformat(), "until": (nine + timedelta(hours=2)).isoformat()},
    )

    [summary] = response.json()["items"]
    assert summary["calls"] == 2
    assert _parse_utc(summary["first_seen"]) == START + timedelta(hours=1)
    assert _parse_utc(summary["last_seen"]) == START + timedelta(hours=2)


def test_classes_since_counts_the_whole_hour_it_falls_in(server: ServerThread) -> None:
    _post(server, [make_span(start_ns=_at(0)), make_span(start_ns=_at(3600))])  # 08:26:40, 09:26:40

    response = httpx.get(
        f"{server.base_url}/v1/classes", params={"since": (START + timedelta(minutes=10)).isoformat()}
    )

    [summary] = response.json()["items"]
    assert summary["calls"] == 2  # documented: hour granularity, so 08:36 reaches back to 08:00


def test_with_content_capture_off_no_prompt_or_completion_is_stored(start_server: StartServer) -> None:
    server = start_server(capture_content=False)

    _post(server, [make_span(llm_attributes(prompt="my secret prompt", completion="my secret answer"))])
    [call] = _calls(server)

    assert call["prompt"] is None
    assert call["completion"] is None
    assert call["input_tokens"] == 1000
    assert call["cost_usd"] == pytest.approx(0.002)
    assert call["model"] == "claude-haiku-4-5"


def test_classes_come_in_pages_busiest_first_with_the_way_to_the_next(server: ServerThread) -> None:
    calls = {"a": 1, "b": 3, "c": 2, "d": 3, "e": 1}
    _post(server, [make_span(llm_attributes(task_class=name)) for name, n in calls.items() for _ in range(n)])

    first = httpx.get(f"{server.base_url}/v1/classes", params={"limit": 2}).json()
    last = httpx.get(f"{server.base_url}/v1/classes", params={"limit": 2, "offset": 4}).json()

    assert [entry["task_class"] for entry in first["classes"]] == ["b", "d"]
    assert [item["task_class"] for item in first["items"]] == ["b", "d"]
    assert (first["total_classes"], first["next_offset"]) == (5, 2)
    assert first["notices"] == [
        "showing classes 1 to 2 of 5, busiest first (calls in the window); ask with offset=2 for the next ones"
    ]
    assert [entry["task_class"] for entry in last["classes"]] == ["e"]
    assert last["next_offset"] is None
    assert last["notices"] == ["showing classes 5 to 5 of 5, busiest first (calls in the window)"]


def test_a_page_holds_at_most_a_thousand_classes(server: ServerThread) -> None:
    response = httpx.get(f"{server.base_url}/v1/classes", params={"limit": 1001})

    assert response.status_code == 422
    assert "limit" in response.json()["detail"]
