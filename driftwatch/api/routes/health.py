"""``GET /healthz``: liveness and store reachability, open without a key for load balancers."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from driftwatch.api.state import StateDep
from driftwatch.errors import DriftwatchError

router = APIRouter(tags=["health"])


class StoreUnavailable(DriftwatchError):
    status_code = 503
    error = "store_unavailable"


@router.get("/healthz", summary="Is the service up and its store reachable")
def health(state: StateDep) -> dict[str, str]:
    try:
        with state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:
        raise StoreUnavailable(f"store unreachable: {type(error).__name__}") from error
    return {"status": "ok"}
