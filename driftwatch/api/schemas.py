"""Pydantic shapes of the REST API's responses (the OpenAPI document is generated from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, Field

from driftwatch.db.models import Call
from driftwatch.overview.quality import ClassQuality


class Message(BaseModel):
    role: str
    content: str


class CallOut(BaseModel):
    trace_id: str = Field(description="32 hex digits")
    span_id: str = Field(description="16 hex digits")
    parent_span_id: str | None
    start_time: datetime
    end_time: datetime | None
    service: str | None
    scope: str | None = Field(description="The instrumentation scope of the call's outermost span")
    response_id: str | None = Field(description="The provider's response id, as the span reported it")
    task_class: str
    tier: str | None
    operation: str | None
    provider: str | None
    model: str | None
    system_fingerprint: str | None = Field(
        description="The backend configuration that answered (OpenAI's system_fingerprint), where reported"
    )
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: float | None = Field(description="From the price table; null when the model's price is unknown")
    prompt: list[Message] | None = Field(description="Input messages; null when no content was captured")
    completion: str | None
    status: str = Field(description="ok or error")
    status_message: str | None
    source: str

    @classmethod
    def from_row(cls, call: Call) -> CallOut:
        fields: dict[str, Any] = {name: getattr(call, name) for name in cls.model_fields if name != "prompt"}
        return cls(**fields, prompt=orjson.loads(call.prompt) if call.prompt else None)


class CallPage(BaseModel):
    items: list[CallOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next (older) page; null at the end")


class ClassOut(BaseModel):
    task_class: str
    tier: str | None
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float = Field(description="Spend of the calls whose model has a price")
    unpriced_calls: int = Field(description="Calls whose model is not in the price table (not in cost_usd)")
    first_seen: datetime
    last_seen: datetime


class ClassList(BaseModel):
    items: list[ClassOut] = Field(description="Volume per task class and tier (hour granularity)")
    notices: list[str] = Field(
        default_factory=list,
        description="What the user should know about the list, e.g. that calls of classes beyond "
        "DRIFTWATCH_MAX_TASK_CLASSES are stored under `overflow`",
    )
    classes: list[ClassQuality] = Field(
        description="Per task class: evaluation outcomes in the window and the state of its shadow "
        "evaluation; also classes that so far only have evaluations from elsewhere"
    )
    total_classes: int = Field(description="Classes in the whole list, of which this page shows some")
    next_offset: int | None = Field(description="offset of the next page; null on the last page")
