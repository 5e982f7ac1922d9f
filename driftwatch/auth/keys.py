"""API keys: random, shown once, stored only as a SHA-256 digest.

Keys carry 256 bits of randomness, so a plain SHA-256 digest is enough: a slow password hash protects
low-entropy secrets, which these are not, and would cost milliseconds on every OTLP request.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from driftwatch.auth.scopes import Scope, from_text, to_text
from driftwatch.clock import Clock, utc_now
from driftwatch.db.models import ApiKey
from driftwatch.errors import NotFound, Unprocessable

KEY_PREFIX = "dw_"
_SHOWN_PREFIX_LENGTH = 12


@dataclass(frozen=True, slots=True)
class CreatedKey:
    id: int
    name: str
    key: str
    scopes: frozenset[Scope]


@dataclass(frozen=True, slots=True)
class KeyHolder:
    """Who a valid key belongs to (named in the audit log) and what it may do."""

    name: str
    scopes: frozenset[Scope]


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(session: Session, name: str, *, scopes: Iterable[Scope], clock: Clock = utc_now) -> CreatedKey:
    """A new key holding ``scopes`` (at least one; a key's scopes never change: create another)."""
    granted = frozenset(scopes)
    if not granted:
        raise Unprocessable("a key needs at least one scope")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        name=name,
        prefix=key[:_SHOWN_PREFIX_LENGTH],
        digest=digest(key),
        created_at=clock(),
        revoked_at=None,
        scopes=to_text(granted),
    )
    session.add(row)
    session.flush()
    return CreatedKey(id=row.id, name=name, key=key, scopes=granted)


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def revoke_key(session: Session, key_id: int, *, clock: Clock = utc_now) -> None:
    result = session.execute(
        update(ApiKey).where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None)).values(revoked_at=clock())
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound(f"no active API key with id {key_id}")


class KeyVerifier:
    """Checks bearer keys against the store, remembering answers for ``ttl_seconds``.

    The cache keeps the database off the ingest hot path; a revocation therefore takes effect on every
    replica within ``ttl_seconds``.
    """

    def __init__(self, engine: Engine, ttl_seconds: float = 10.0) -> None:
        self._engine = engine
        self._ttl = ttl_seconds
        self._cache: dict[str, tuple[KeyHolder | None, float]] = {}
        self._lock = threading.Lock()

    def is_valid(self, key: str) -> bool:
        return self.holder(key) is not None

    def holder(self, key: str) -> KeyHolder | None:
        """The name and scopes of the active key ``key``, or None when it is not one."""
        key_digest = digest(key)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key_digest)
        if cached and cached[1] > now:
            return cached[0]
        with Session(self._engine) as session:
            found = session.execute(
                select(ApiKey.name, ApiKey.scopes).where(
                    ApiKey.digest == key_digest, ApiKey.revoked_at.is_(None)
                )
            ).first()
        holder = KeyHolder(found.name, from_text(found.scopes)) if found else None
        with self._lock:
            if len(self._cache) > 10_000:  # invalid keys from a scanner must not grow memory
                self._cache.clear()
            self._cache[key_digest] = (holder, now + self._ttl)
        return holder
