"""Pure mapping: Langfuse generations (as the SDK parses them) → call rows, as OTLP spans would give."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from langfuse.api import ObservationV2
from langfuse.api.core.pydantic_utilities import parse_obj_as

from driftwatch.config import Policy
from driftwatch.importers.langfuse_mapping import MappedGenerations, map_generations, stable_id
from driftwatch.ingest.otlp import iter_spans
from driftwatch.ingest.records import CallRow
from tests.fakes._http import JsonObject
from tests.importers.support import MESSAGES, T0, finished, mapper
from tests.support.otlp import export_request, make_span

OTEL_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
OTEL_SPAN_ID = "00f067aa0ba902b7"
LATER = T0 + timedelta(hours=1)


def _map(*items: JsonObject, capture_content: bool = True, policy: Policy | None = None) -> MappedGenerations:
    observations = [parse_obj_as(ObservationV2, item) for item in items]
    return map_generations(
        observations, mapper(capture_content=capture_content, policy=policy), unfinished_after=LATER
    )


def _row(item: JsonObject, **options: Any) -> CallRow:
    mapped = _map(item, **options)
    assert (mapped.rejected, mapped.errors, len(mapped.rows)) == (0, [], 1)
    return mapped.rows[0]


def test_a_generation_becomes_a_call_classified_priced_and_with_its_content() -> None:
    row = _row(finished("obs-1", 0, metadata={"task_class": "faq", "tier": "cheap"}))

    assert row["task_class"] == "faq"
    assert row["tier"] == "cheap"
    assert row["model"] == "claude-haiku-4-5"
    assert (row["input_tokens"], row["output_tokens"]) == (1000, 200)
    assert row["cost_usd"] == pytest.approx((1000 * 1 + 200 * 5) / 1_000_000)  # the policy's price table
    assert json.loads(row["prompt"]) == MESSAGES
    assert row["completion"] == "Yes."
    assert (row["start_time"], row["end_time"]) == (T0, T0 + timedelta(seconds=2))
    assert (row["source"], row["status"], row["operation"]) == ("langfuse", "ok", "generation")


def test_an_imported_call_is_the_row_the_same_call_sent_over_otlp_makes() -> None:
    """Langfuse's OTel attributes on a span sent to /v1/traces, and the generation Langfuse stored from
    the same span, give the same row: only ``source`` says where it came from."""
    usage = {"input": 1000, "output": 200, "total": 1200}
    start_ns = int((T0 - T0.replace(year=1970, month=1, day=1, hour=0)).total_seconds()) * 10**9
    span = make_span(
        {
            "langfuse.observation.type": "generation",
            "langfuse.observation.model.name": "claude-haiku-4-5",
            "langfuse.observation.input": json.dumps(MESSAGES),
            "langfuse.observation.output": json.dumps("Yes."),
            "langfuse.observation.usage_details": json.dumps(usage),
            "langfuse.observation.metadata.task_class": "faq",
        },
        trace_id=bytes.fromhex(OTEL_TRACE_ID),
        span_id=bytes.fromhex(OTEL_SPAN_ID),
        start_ns=start_ns,
    )
    sent = mapper().map(iter_spans(export_request([span]))).rows[0]
    imported = _row(
        finished(
            OTEL_SPAN_ID,
            0,
            trace_id=OTEL_TRACE_ID,
            end=T0 + timedelta(milliseconds=500),
            output=json.dumps("Yes."),
            usage=usage,
            metadata={"task_class": "faq", "resourceAttributes": {"service.name": "router-app"}},
        )
    )

    assert imported == {**sent, "source": "langfuse", "scope": "langfuse"}


def test_otel_ids_are_kept_and_other_ids_become_stable_digests_per_project() -> None:
    otel = _row(finished(OTEL_SPAN_ID, 0, trace_id=OTEL_TRACE_ID.upper()))
    uuid_trace = "9d1c4a1e-4e8a-4a5f-9f0e-3b0f2c9c1d7a"
    first = _row(finished("gen-1", 0, trace_id=uuid_trace, parent="span-root"))
    again = _row(finished("gen-1", 0, trace_id=uuid_trace, parent="span-root"))

    assert (otel["trace_id"], otel["span_id"]) == (OTEL_TRACE_ID, OTEL_SPAN_ID)
    assert (first["trace_id"], first["span_id"]) == (again["trace_id"], again["span_id"])
    assert len(first["trace_id"]) == 32 and len(first["span_id"]) == 16
    assert first["parent_span_id"] == stable_id("span-root", 8, "observation:cm-project-1").hex()
    assert stable_id("gen-1", 8, "observation:other-project") != bytes.fromhex(first["span_id"])


def test_task_class_and_tier_come_from_tags_then_the_model_map() -> None:
    tagged = _row(finished("obs-1", 0, metadata={}, tags=["prod", "task_class:extraction", "tier=mid"]))
    untagged = _row(finished("obs-2", 0, metadata={}, tags=["prod"], model="gpt-4o-mini"))

    assert (tagged["task_class"], tagged["tier"]) == ("extraction", "mid")
    assert (untagged["task_class"], untagged["tier"]) == ("unclassified", "cheap")


def test_the_otel_attributes_langfuse_kept_in_metadata_are_read_as_the_span_and_resource() -> None:
    attributes = {"driftwatch.task_class": "summarize", "gen_ai.provider.name": "anthropic"}
    row = _row(
        finished(
            "obs-1",
            0,
            metadata={
                "task_class": "faq",  # driftwatch's own attribute is more specific than metadata
                "attributes": json.dumps(attributes),
                "resourceAttributes": json.dumps({"service.name": "checkout"}),
            },
        )
    )

    assert (row["task_class"], row["provider"], row["service"]) == ("summarize", "anthropic", "checkout")


def test_errors_unknown_models_and_switched_off_content() -> None:
    failed = _row(finished("obs-1", 0, level="ERROR"))
    unpriced = _row(finished("obs-2", 0, model="in-house-7b", total_cost=0.0123))
    priced = _row(finished("obs-3", 0, total_cost=99.0))
    private = _row(finished("obs-4", 0), capture_content=False)

    assert (failed["status"], failed["status_message"]) == ("error", "provider failed")
    assert unpriced["cost_usd"] == pytest.approx(0.0123)  # Langfuse's cost when the table has no price
    assert priced["cost_usd"] == pytest.approx(0.002)  # the table's, as for calls sent over OTLP
    assert (private["prompt"], private["completion"]) == (None, None)


def test_a_running_generation_waits_for_the_next_run_unless_it_is_old() -> None:
    running = finished("obs-1", 61, end=None)  # started within the overlap before the window's end
    abandoned = finished("obs-2", 0, end=None)

    mapped = _map(running, abandoned)

    assert mapped.unfinished == 1
    assert [(row["end_time"], row["task_class"]) for row in mapped.rows] == [(None, "faq")]


def test_unusable_generations_are_counted_with_a_reason_and_the_rest_kept() -> None:
    no_trace = finished("obs-1", 0, trace_id=None)
    ancient = finished("obs-2", 0)
    ancient["startTime"] = "1969-07-20T20:17:00.000Z"
    good = finished("obs-3", 0)

    mapped = _map(no_trace, ancient, good)

    assert mapped.rejected == 2
    assert mapped.errors[0] == "observation 'obs-1': no trace id"
    assert "start time out of range" in mapped.errors[1]
    assert [row["task_class"] for row in mapped.rows] == ["faq"]


def test_what_is_not_a_call_is_counted_not_stored() -> None:
    span = finished("obs-1", 0, type="SPAN")
    shadow = finished("obs-2", 0, metadata={"attributes": {"driftwatch.shadow": True}})
    outer = finished("obs-3", 0, trace_id="trace-x")
    inner = finished("obs-4", 0, trace_id="trace-x", parent="obs-3")

    mapped = _map(span, shadow, outer, inner)

    assert mapped.not_calls == 2
    # A generation nested in another is the same call reported twice: the store merges the two rows
    # (driftwatch.ingest.merging), whichever page or run brings each.
    assert [row["span_id"] for row in mapped.rows] == [
        stable_id("obs-3", 8, "observation:cm-project-1").hex(),
        stable_id("obs-4", 8, "observation:cm-project-1").hex(),
    ]
