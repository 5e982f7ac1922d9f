"""The web dashboard: the page at ``/`` with its static files (public: they hold no data) and
``GET /v1/dashboard``, the document it draws (behind the API key like every other endpoint)."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from driftwatch.api.deps import SessionDep
from driftwatch.dashboard import service
from driftwatch.dashboard.schemas import Dashboard
from driftwatch.dashboard.window import TimeRange
from driftwatch.overview.classes import CLASSES_PER_PAGE, MAX_CLASSES_PER_PAGE

STATIC_PACKAGE = ("driftwatch.dashboard", "static")

router = APIRouter(tags=["dashboard"])


@router.get(
    "/v1/dashboard",
    response_model=Dashboard,
    summary="What the dashboard at / draws: per class acceptance over time, decisions, tiers, spend, savings",
)
def get_dashboard(
    request: Request,
    session: SessionDep,
    time_range: Annotated[
        TimeRange | None,
        Query(
            alias="range",
            description="15m in 10-second buckets, 1h in minute ones, 24h and 7d in hourly ones, 30d in "
            "daily ones; default: the shortest that holds the last 30 days' evaluations (or calls)",
        ),
    ] = None,
    task_class: Annotated[
        str | None, Query(min_length=1, max_length=255, description="Only this class; default: all")
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_CLASSES_PER_PAGE, description="Class panels per page, busiest first")
    ] = CLASSES_PER_PAGE,
    offset: Annotated[int, Query(ge=0, description="Classes to skip: next_offset of the previous page")] = 0,
) -> Dashboard:
    """Every figure is aggregated in the database (hourly rollup, evaluations counted per bucket),
    and the class panels are a page of the busiest classes, so the answer stays small and quick
    however many calls and classes the store holds."""
    return service.build(
        session,
        request.app.state.policy,
        time_range,
        task_class,
        datetime.now(UTC),
        offset=offset,
        limit=limit,
    )


def install_page(app: FastAPI) -> None:
    """Serve the page at ``/`` and its script, styles and vendored uPlot under ``/dashboard/``."""
    page = resources.files(STATIC_PACKAGE[0]).joinpath(STATIC_PACKAGE[1], "index.html").read_text("utf-8")

    @app.get("/", include_in_schema=False)
    def dashboard_page() -> HTMLResponse:
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    app.mount("/dashboard", StaticFiles(packages=[STATIC_PACKAGE]), name="dashboard")
