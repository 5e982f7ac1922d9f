"""``GET /v1/calls`` and ``GET /v1/classes``: what has been received, for people and for other stages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from driftwatch.api.deps import SessionDep
from driftwatch.api.schemas import CallOut, CallPage, ClassList, ClassOut
from driftwatch.calls import repository
from driftwatch.calls.repository import CallFilter
from driftwatch.errors import Unprocessable
from driftwatch.ingest.class_cap import OVERFLOW
from driftwatch.overview.classes import CLASSES_PER_PAGE, MAX_CLASSES_PER_PAGE, class_overview

router = APIRouter(tags=["calls"])


def as_utc(moment: datetime | None) -> datetime | None:
    # A timestamp without an offset is read as UTC, the only zone driftwatch stores.
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        # e.g. 9999-12-31T23:00:00-05:00 lies past the last representable instant.
        raise Unprocessable(f"timestamp {moment.isoformat()} is out of range") from None


class Listing:
    """The query of a newest-first list: task class, tier, a time window, and which page of it."""

    def __init__(
        self,
        task_class: str | None = None,
        tier: str | None = None,
        since: Annotated[datetime | None, Query(description="Inclusive, ISO 8601 (UTC if no offset)")] = None,
        until: Annotated[datetime | None, Query(description="Exclusive, ISO 8601 (UTC if no offset)")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: str | None = None,
    ) -> None:
        self.where = CallFilter(task_class, tier, as_utc(since), as_utc(until))
        self.limit = limit
        self.cursor = cursor


ListingDep = Annotated[Listing, Depends()]


@router.get("/v1/calls", response_model=CallPage, summary="List stored calls, newest first")
def list_calls(session: SessionDep, listing: ListingDep) -> CallPage:
    calls, next_cursor = repository.list_calls(session, listing.where, listing.limit, listing.cursor)
    return CallPage(items=[CallOut.from_row(call) for call in calls], next_cursor=next_cursor)


@router.get(
    "/v1/classes",
    response_model=ClassList,
    summary="Volume, tokens and spend per task class and tier; evaluation outcomes and shadow state per class",
)
def list_classes(
    request: Request,
    session: SessionDep,
    since: Annotated[
        datetime | None, Query(description="Inclusive; hour granularity for volume, exact for evaluations")
    ] = None,
    until: Annotated[
        datetime | None, Query(description="Exclusive; hour granularity for volume, exact for evaluations")
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_CLASSES_PER_PAGE, description="Classes per page, busiest first")
    ] = CLASSES_PER_PAGE,
    offset: Annotated[int, Query(ge=0, description="Classes to skip: next_offset of the previous page")] = 0,
) -> ClassList:
    """A page of classes, busiest first (calls in the window, then name); ``next_offset`` and a notice
    say when there are more, so a store of tens of thousands of classes answers quickly and small."""
    overview = class_overview(
        session,
        request.app.state.policy,
        as_utc(since),
        as_utc(until),
        datetime.now(UTC),
        offset=offset,
        limit=limit,
    )
    items = [ClassOut.model_validate(summary, from_attributes=True) for summary in overview.volume]
    return ClassList(
        items=items,
        notices=overview.notices(offset)
        + overflow_notices(items, request.app.state.settings.max_task_classes),
        classes=overview.quality,
        total_classes=overview.total,
        next_offset=overview.next_offset(offset),
    )


def overflow_notices(items: list[ClassOut], cap: int) -> list[str]:
    overflowed = sum(item.calls for item in items if item.task_class == OVERFLOW)
    if not overflowed:
        return []
    return [
        f"{overflowed} calls in this window are stored under the class {OVERFLOW!r}: their task classes "
        f"were first seen after {cap} distinct classes (DRIFTWATCH_MAX_TASK_CLASSES). A client that "
        "puts ids into the task class makes a class per call; fix its classification or raise the cap."
    ]
