"""The application's state, typed, and the FastAPI dependencies routes declare to get parts of it.

``create_app`` builds one :class:`AppState` and stores it on the app; routes never read
``app.state`` themselves but declare what they need (``PolicyDep``, ``NowDep``, …), so what a route
depends on is in its signature and a test can hand the app a :class:`~driftwatch.clock.FixedClock`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from driftwatch.auth.keys import KeyVerifier
from driftwatch.clock import Clock
from driftwatch.config import Policy, Settings
from driftwatch.ingest.metrics import Metrics
from driftwatch.ingest.service import IngestService
from driftwatch.notify.delivery import DeliveryOptions
from driftwatch.policy.snapshot import PolicyDocuments


@dataclass(frozen=True, slots=True)
class AppState:
    settings: Settings
    policy: Policy
    engine: Engine
    sessions: sessionmaker[Session]
    metrics: Metrics
    key_verifier: KeyVerifier | None  # None: auth is off
    webhook_options: DeliveryOptions
    policy_documents: PolicyDocuments  # GET /v1/policy, rebuilt on change
    ingest: IngestService
    clock: Clock


def install_state(app: FastAPI, state: AppState) -> None:
    app.state.driftwatch = state


def state_of(app: FastAPI) -> AppState:
    """The state ``create_app`` installed (``driftwatch serve`` reads the metrics its jobs report to)."""
    state = app.state.driftwatch
    if not isinstance(state, AppState):
        raise TypeError("the app was not built by driftwatch.api.app.create_app")
    return state


async def _state(request: Request) -> AppState:
    return state_of(request.app)


# Dependencies that only read are ``async``: FastAPI runs them on the event loop, not in a thread.
StateDep = Annotated[AppState, Depends(_state)]


async def _policy(state: StateDep) -> Policy:
    return state.policy


async def _settings(state: StateDep) -> Settings:
    return state.settings


async def _now(state: StateDep) -> datetime:
    return state.clock()


PolicyDep = Annotated[Policy, Depends(_policy)]
SettingsDep = Annotated[Settings, Depends(_settings)]
NowDep = Annotated[datetime, Depends(_now)]
"""The request's time, read once from the app's clock."""
