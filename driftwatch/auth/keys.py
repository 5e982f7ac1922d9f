"""API keys: random, shown once, stored only as a SHA-256 digest.

Keys carry 256 bits of randomness, so a plain SHA-256 digest is enough: a slow password hash protects
low-entropy secrets, which these are not, and would cost milliseconds on every OTLP request.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from driftwatch.db.models import ApiKey
from driftwatch.errors import NotFound

KEY_PREFIX = "dw_"
_SHOWN_PREFIX_LENGTH = 12


@dataclass(frozen=True, slots=True)
class CreatedKey:
    id: int
    name: str
    key: str


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(session: Session, name: str) -> CreatedKey:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        name=name,
        prefix=key[:_SHOWN_PREFIX_LENGTH],
        digest=digest(key),
        created_at=datetime.now(UTC),
        revoked_at=None,
    )
    session.add(row)
    session.flush()
    return CreatedKey(id=row.id, name=name, key=key)


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def revoke_key(session: Session, key_id: int) -> None:
    result = session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
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
        self._cache: dict[str, tuple[str | None, float]] = {}
        self._lock = threading.Lock()

    def is_valid(self, key: str) -> bool:
        return self.key_name(key) is not None

    def key_name(self, key: str) -> str | None:
        """The name of the active key ``key`` (who acts, in the audit log), or None when it is not one."""
        key_digest = digest(key)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key_digest)
        if cached and cached[1] > now:
            return cached[0]
        with Session(self._engine) as session:
            name = session.scalar(
                select(ApiKey.name).where(ApiKey.digest == key_digest, ApiKey.revoked_at.is_(None))
            )
        with self._lock:
            if len(self._cache) > 10_000:  # invalid keys from a scanner must not grow memory
                self._cache.clear()
            self._cache[key_digest] = (name, now + self._ttl)
        return name
