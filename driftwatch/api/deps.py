"""Request dependencies: the request's session (the one owner of its transaction) and auth."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from driftwatch.auth.keys import KeyVerifier
from driftwatch.errors import Unauthorized


def get_session(request: Request) -> Iterator[Session]:
    """Commit when the route returns, roll back when it raises; services and repositories only flush."""
    with request.app.state.sessions() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


_bearer = HTTPBearer(auto_error=False, description="An API key from `driftwatch keys create`.")


def require_api_key(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    verifier: KeyVerifier | None = request.app.state.key_verifier
    if verifier is None:
        return
    if credentials is None or not credentials.credentials.strip():
        raise Unauthorized("this server requires an API key: send 'Authorization: Bearer <key>'")
    name = verifier.key_name(credentials.credentials.strip())
    if name is None:
        raise Unauthorized("unknown or revoked API key")
    request.state.api_key_name = name


def request_actor(request: Request) -> str:
    """Who acts, for the audit log: the API key's name when auth is on, else "api"."""
    name: str | None = getattr(request.state, "api_key_name", None)
    return name or "api"


ActorDep = Annotated[str, Depends(request_actor)]


# scope="function": commit before the response is sent, so a 200 always means the write is durable
# (the default "request" scope would run the commit after the client already has its answer).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
