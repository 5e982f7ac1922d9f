"""One error base carrying its HTTP status; the API renders every one as ``{"error", "detail"}``.

Expected outcomes (bad input, overload, missing auth) are raised as a subclass of
:class:`DriftwatchError` and never surface as a 500.
"""

from __future__ import annotations


class DriftwatchError(Exception):
    """Base of every error driftwatch raises on purpose; ``status_code`` is what HTTP answers."""

    status_code = 500
    error = "internal_error"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}


class BadRequest(DriftwatchError):
    status_code = 400
    error = "bad_request"


class Unauthorized(DriftwatchError):
    status_code = 401
    error = "unauthorized"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(DriftwatchError):
    """A valid key without the scope the route needs."""

    status_code = 403
    error = "forbidden"


class NotFound(DriftwatchError):
    status_code = 404
    error = "not_found"


class Conflict(DriftwatchError):
    """The request clashes with the current state (e.g. a recommendation already decided)."""

    status_code = 409
    error = "conflict"


class PayloadTooLarge(DriftwatchError):
    status_code = 413
    error = "payload_too_large"


class UnsupportedMediaType(DriftwatchError):
    status_code = 415
    error = "unsupported_media_type"


class Unprocessable(DriftwatchError):
    status_code = 422
    error = "unprocessable"


class Overloaded(DriftwatchError):
    """The bounded write queue is full: OTLP exporters retry on 503 after ``Retry-After`` seconds."""

    status_code = 503
    error = "overloaded"

    def __init__(self, detail: str, *, retry_after_seconds: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_seconds)})


class ConfigError(DriftwatchError):
    """The settings or the policy file are unusable; raised at start-up, before anything listens."""

    error = "config_error"
