"""Request dependencies: the request's session (the one owner of its transaction) and auth."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request, params
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes
from sqlalchemy.orm import Session

from driftwatch.api.state import StateDep
from driftwatch.auth.scopes import Scope
from driftwatch.errors import Forbidden, Unauthorized


def get_session(state: StateDep) -> Iterator[Session]:
    """Commit when the route returns, roll back when it raises; services and repositories only flush."""
    with state.sessions() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


_bearer = HTTPBearer(auto_error=False, description="An API key from `driftwatch keys create`.")


def require_api_key(
    request: Request,
    state: StateDep,
    required: SecurityScopes,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """401 without a valid key; 403, naming the scope, when the key lacks the one the route needs."""
    verifier = state.key_verifier
    if verifier is None:
        return
    if credentials is None or not credentials.credentials.strip():
        raise Unauthorized("this server requires an API key: send 'Authorization: Bearer <key>'")
    holder = verifier.holder(credentials.credentials.strip())
    if holder is None:
        raise Unauthorized("unknown or revoked API key")
    if missing := [scope for scope in required.scopes if scope not in holder.scopes]:
        held = ", ".join(sorted(holder.scopes)) or "none"
        raise Forbidden(
            f"this needs an API key with the '{missing[0]}' scope; key '{holder.name}' has: {held} "
            f"(create one with `driftwatch keys create NAME --scope {missing[0]}`)"
        )
    request.state.api_key_name = holder.name


def requires(scope: Scope) -> params.Security:
    """The dependency of a route (or a router) that needs ``scope``; the OpenAPI document shows it as
    the role of the bearer security requirement (OpenAPI 3.1) and as ``x-driftwatch-scope``."""
    return params.Security(require_api_key, scopes=[scope.value])


def request_actor(request: Request) -> str:
    """Who acts, for the audit log: the API key's name when auth is on, else "api"."""
    name: str | None = getattr(request.state, "api_key_name", None)
    return name or "api"


ActorDep = Annotated[str, Depends(request_actor)]


# scope="function": commit before the response is sent, so a 200 always means the write is durable
# (the default "request" scope would run the commit after the client already has its answer).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
