"""Evaluations in and out of the API: one item as a client sends it, one row as it is listed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from driftwatch.db.models import Evaluation
from driftwatch.db.models.evaluation import SHADOW_SOURCE

MAX_BATCH = 1000
MAX_RATIONALE_CHARS = 4000
FUTURE_TOLERANCE = timedelta(days=1)  # clock skew between the client and us, not results from tomorrow

Outcome = Literal["acceptable", "unacceptable"]
StoredOutcome = Literal["acceptable", "unacceptable", "undecided"]


class EvaluationIn(BaseModel):
    """One quality verdict from outside driftwatch: a human review, a downstream task's success, a
    user's thumbs-down, a Langfuse score turned into a verdict.

    Validate with ``context={"now": datetime, "tiers": tuple[str, ...]}``: a timestamp more than a day
    ahead of ``now`` and a tier outside ``tiers`` are refused.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    id: str = Field(
        min_length=1,
        max_length=255,
        description="Your id for this verdict, unique within its source: re-sending it is a no-op.",
    )
    source: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$",
        description="Where the verdict comes from, e.g. human-review, user-feedback, task-success, "
        f"langfuse. {SHADOW_SOURCE!r} is reserved for driftwatch's own shadow evaluations.",
    )
    task_class: str = Field(min_length=1, max_length=255)
    tier: str | None = Field(
        None,
        description="One of the policy's tiers; when absent, the linked call's tier, else the tier the "
        "class was routed to at the verdict's timestamp.",
    )
    model: str | None = Field(
        None, min_length=1, max_length=255, description="When absent, the linked call's model (if any)."
    )
    outcome: Outcome = Field(description="Was the answer acceptable for its purpose.")
    score: float | None = Field(None, ge=0, le=1, strict=True, description="Optional grade in [0, 1].")
    trace_id: str | None = Field(None, pattern=r"^[0-9a-fA-F]{32}$", description="32 hex digits.")
    span_id: str | None = Field(
        None,
        pattern=r"^[0-9a-fA-F]{16}$",
        description="16 hex digits; with trace_id, links the verdict to that stored call.",
    )
    timestamp: datetime | None = Field(
        None, description="When the verdict was made: ISO 8601, UTC if no offset; default: now."
    )
    rationale: str | None = Field(None, max_length=MAX_RATIONALE_CHARS, description="Why, for people.")

    @field_validator("source")
    @classmethod
    def _not_reserved(cls, source: str) -> str:
        if source.casefold() == SHADOW_SOURCE:
            raise PydanticCustomError(
                "reserved_source", "'shadow' is reserved for driftwatch's own shadow evaluations"
            )
        return source

    @field_validator("id", "source", "task_class", "tier", "model", "rationale")
    @classmethod
    def _storable_text(cls, value: str | None) -> str | None:
        # JSON can spell a NUL or a lone surrogate; neither can be stored (PostgreSQL text, UTF-8).
        if value is not None and ("\x00" in value or (not value.isascii() and _has_surrogate(value))):
            raise PydanticCustomError("unstorable_text", "text with a NUL character or a lone surrogate")
        return value

    @field_validator("tier")
    @classmethod
    def _known_tier(cls, tier: str | None, info: ValidationInfo) -> str | None:
        tiers: tuple[str, ...] = (info.context or {}).get("tiers", ())
        if tier is not None and tier not in tiers:
            raise PydanticCustomError(
                "unknown_tier",
                "unknown tier '{tier}'; the policy's tiers are {tiers}",
                {"tier": tier, "tiers": list(tiers)},
            )
        return tier

    @field_validator("trace_id", "span_id")
    @classmethod
    def _lower_hex(cls, value: str | None) -> str | None:
        return value.lower() if value is not None else None

    @field_validator("timestamp", mode="before")
    @classmethod
    def _iso_8601(cls, value: Any) -> Any:
        # Only text: a bare number would otherwise pass as Unix seconds, and a typo as 1970.
        if value is None:
            return None
        if not isinstance(value, str):
            raise PydanticCustomError("iso_8601", "give an ISO 8601 date and time, e.g. 2025-11-22T08:26:40Z")
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError(
                "iso_8601", "not an ISO 8601 date and time: '{value}'", {"value": value}
            ) from None

    @field_validator("timestamp")
    @classmethod
    def _utc_and_not_ahead(cls, moment: datetime | None, info: ValidationInfo) -> datetime | None:
        if moment is None:
            return None
        try:
            moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
        except OverflowError:
            raise PydanticCustomError("out_of_range", "out of range once in UTC") from None
        now: datetime | None = (info.context or {}).get("now")
        if now is not None and moment > now + FUTURE_TOLERANCE:
            raise PydanticCustomError("future", "more than a day in the future")
        return moment

    @model_validator(mode="after")
    def _span_needs_trace(self) -> EvaluationIn:
        if self.span_id is not None and self.trace_id is None:
            raise PydanticCustomError("span_without_trace", "span_id needs trace_id")
        return self


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class EvaluationBatch(BaseModel):
    """Items are checked one by one, so one bad item does not cost the others their place."""

    model_config = ConfigDict(extra="forbid")

    evaluations: Annotated[
        list[Any],
        WithJsonSchema({"type": "array", "items": EvaluationIn.model_json_schema(), "maxItems": MAX_BATCH}),
    ] = Field(description=f"At most {MAX_BATCH} per request (413 above).")


class Rejection(BaseModel):
    index: int = Field(description="Position in the request's evaluations list, from 0.")
    id: str | None = Field(description="The item's id, when it had a usable one.")
    error: str


class EvaluationReceipt(BaseModel):
    accepted: int = Field(description="Stored by this request.")
    duplicates: int = Field(description="Already stored (same source and id): ignored, not an error.")
    rejected: list[Rejection]


class EvaluationOut(BaseModel):
    id: int
    source: str
    external_id: str | None = Field(description="The client's id; null for shadow evaluations.")
    sample_id: int | None = Field(description="The shadow sample it concludes; null for external ones.")
    call_id: int | None = Field(description="The stored call it judges, when known.")
    trace_id: str | None
    span_id: str | None
    task_class: str
    tier: str | None
    model: str | None
    reference_tier: str | None = Field(description="Shadow: the tier the call was replayed on.")
    reference_model: str | None
    outcome: StoredOutcome = Field(description="undecided: no judge in the chain could decide.")
    score: float | None
    judge: str | None = Field(description="Shadow: the judge that decided.")
    rationale: str | None
    shadow_cost_usd: float
    judge_cost_usd: float
    cost_usd: float = Field(description="shadow_cost_usd + judge_cost_usd")
    evaluated_at: datetime

    @classmethod
    def from_row(cls, row: Evaluation) -> EvaluationOut:
        outcome: StoredOutcome = (
            "undecided" if row.acceptable is None else "acceptable" if row.acceptable else "unacceptable"
        )
        copied = {
            name: getattr(row, name) for name in cls.model_fields if name not in {"outcome", "cost_usd"}
        }
        return cls(**copied, outcome=outcome, cost_usd=row.shadow_cost_usd + row.judge_cost_usd)


class EvaluationPage(BaseModel):
    items: list[EvaluationOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next (older) page; null at the end")
