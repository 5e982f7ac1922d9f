"""Langfuse's public API through the official SDK client (``langfuse.api.LangfuseAPI``): the project the
keys belong to, and pages of generation observations from the v2 observations endpoint.

Transport policy is ours, not the SDK's (built with ``max_retries=0``, as the shadow providers are):
429 and 5xx answers and lost connections are retried with backoff, honouring ``Retry-After``; 401/403
end the import with one line naming the host.  The SDK validates a whole page at once, so one malformed
observation would fail it: the raw body is kept by an httpx response hook, and such a page is validated
item by item instead, the bad items counted and named rather than aborting the import.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import orjson
import pydantic
from langfuse.api import LangfuseAPI, ObservationV2
from langfuse.api.core.api_error import ApiError
from langfuse.api.core.pydantic_utilities import parse_obj_as
from langfuse.api.core.request_options import RequestOptions

from driftwatch.errors import DriftwatchError
from driftwatch.ingest.otlp import Rejections
from driftwatch.shadow.providers.retry import RetryPolicy, is_retryable_status, retry_after_seconds

DEFAULT_HOST = "https://cloud.langfuse.com"  # the SDK's own default
# The v2 field groups a call is made of (core is always sent); metadata keys holding the OTel span and
# resource attributes Langfuse kept are asked for in full, since values over 200 characters are cut.
_FIELDS = "core,basic,io,metadata,model,usage,trace_context"
_EXPANDED_METADATA = "attributes,resourceAttributes"
_NO_SDK_RETRIES: RequestOptions = {"max_retries": 0}
DEFAULT_RETRY = RetryPolicy(
    max_retries=8, backoff_base_seconds=1.0, backoff_max_seconds=60.0, retry_after_max_seconds=300.0
)


class LangfuseImportError(DriftwatchError):
    """The import cannot go on (refused keys, unreachable host, an answer that is not the API's)."""

    error = "langfuse_import_failed"


@dataclass(frozen=True, slots=True)
class LangfuseCredentials:
    host: str
    public_key: str
    secret_key: str

    @classmethod
    def resolve(
        cls,
        environ: Mapping[str, str],
        *,
        host: str | None = None,
        public_key: str | None = None,
        secret_key: str | None = None,
    ) -> LangfuseCredentials:
        """Options first, then the Langfuse SDK's own variables: ``LANGFUSE_HOST`` (or
        ``LANGFUSE_BASE_URL``), ``LANGFUSE_PUBLIC_KEY``, ``LANGFUSE_SECRET_KEY``."""
        chosen_host = host or environ.get("LANGFUSE_HOST") or environ.get("LANGFUSE_BASE_URL") or DEFAULT_HOST
        public = public_key or environ.get("LANGFUSE_PUBLIC_KEY")
        secret = secret_key or environ.get("LANGFUSE_SECRET_KEY")
        if not public:
            raise LangfuseImportError("no Langfuse public key: pass --public-key or set LANGFUSE_PUBLIC_KEY")
        if not secret:
            raise LangfuseImportError("no Langfuse secret key: pass --secret-key or set LANGFUSE_SECRET_KEY")
        try:
            parsed = httpx.URL(chosen_host.strip())
        except httpx.InvalidURL:
            parsed = httpx.URL()
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise LangfuseImportError(f"Langfuse host {chosen_host!r} is not an http(s) URL")
        return cls(str(parsed).rstrip("/"), public, secret)


@dataclass(frozen=True, slots=True)
class LangfuseProject:
    id: str
    name: str


@dataclass(slots=True)
class ObservationPage:
    observations: list[ObservationV2]
    malformed: Rejections
    next_cursor: str | None


@dataclass(slots=True)
class RateLimitWaits:
    count: int = 0
    seconds: float = 0.0


@dataclass(slots=True)
class _LastBody:
    content: bytes = b""


class LangfuseClient:
    """One Langfuse host and key pair. ``sleep`` is injectable so tests can see the waits."""

    def __init__(
        self,
        credentials: LangfuseCredentials,
        *,
        retry: RetryPolicy = DEFAULT_RETRY,
        timeout_seconds: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.host = credentials.host
        self.waits = RateLimitWaits()
        self._retry = retry
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._last_body = _LastBody()
        self._http = httpx.Client(timeout=timeout_seconds, event_hooks={"response": [self._keep_body]})
        self._api = LangfuseAPI(
            base_url=credentials.host,
            username=credentials.public_key,
            password=credentials.secret_key,
            x_langfuse_public_key=credentials.public_key,
            x_langfuse_sdk_name="driftwatch-import",
            httpx_client=self._http,
        )

    def close(self) -> None:
        self._http.close()

    def project(self, wanted: str | None) -> LangfuseProject:
        """The project the keys belong to; ``wanted`` (an id or a name) must be it."""
        projects = self._call(lambda: self._api.projects.get(request_options=_NO_SDK_RETRIES)).data
        if wanted is not None:
            projects = [project for project in projects if wanted in (project.id, project.name)]
        if not projects:
            named = f" {wanted!r}" if wanted is not None else ""
            raise LangfuseImportError(f"the keys for {self.host} give no access to project{named}")
        if len(projects) > 1:
            raise LangfuseImportError(
                f"the keys for {self.host} reach {len(projects)} projects; name one with --project"
            )
        return LangfuseProject(projects[0].id, projects[0].name)

    def generations(
        self, *, start: datetime | None, end: datetime, cursor: str | None, limit: int
    ) -> ObservationPage:
        """One page of generations that started in ``[start, end)``, newest first."""
        try:
            response = self._call(
                lambda: self._api.observations.get_many(
                    fields=_FIELDS,
                    expand_metadata=_EXPANDED_METADATA,
                    type="GENERATION",
                    from_start_time=start,
                    to_start_time=end,
                    cursor=cursor,
                    limit=limit,
                    request_options=_NO_SDK_RETRIES,
                )
            )
        except pydantic.ValidationError:
            return self._page_item_by_item()
        return ObservationPage(list(response.data), Rejections(), response.meta.cursor)

    def _call(self, request: Callable[[], Any]) -> Any:
        for retry in range(self._retry.max_retries + 1):
            try:
                return request()
            except ApiError as error:
                status = error.status_code or 0
                if status in (401, 403):
                    raise LangfuseImportError(
                        f"Langfuse at {self.host} refused the API keys (HTTP {status}); check the "
                        "public and secret key"
                    ) from None
                if not is_retryable_status(status) or retry == self._retry.max_retries:
                    raise LangfuseImportError(_describe(self.host, status, error.body)) from None
                hint = retry_after_seconds(error.headers or {})
            except httpx.TransportError as error:
                if retry == self._retry.max_retries:
                    raise LangfuseImportError(
                        f"cannot reach Langfuse at {self.host}: {type(error).__name__}: {error}"
                    ) from None
                hint = None
            delay = self._retry.delay(retry, hint, self._rng)
            self.waits.count += 1
            self.waits.seconds += delay
            self._sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _keep_body(self, response: httpx.Response) -> None:
        self._last_body.content = response.read()

    def _page_item_by_item(self) -> ObservationPage:
        try:
            body = orjson.loads(self._last_body.content)
        except orjson.JSONDecodeError:
            body = None
        items = body.get("data") if isinstance(body, dict) else None
        meta = body.get("meta") if isinstance(body, dict) else None
        cursor = meta.get("cursor") if isinstance(meta, dict) else None
        if not isinstance(items, list) or not isinstance(cursor, str | None):
            raise LangfuseImportError(
                f"Langfuse at {self.host} answered with something that is not a page of observations"
            )
        page = ObservationPage([], Rejections(), cursor)
        for item in items:
            try:
                page.observations.append(parse_obj_as(ObservationV2, item))
            except pydantic.ValidationError as error:
                page.malformed.reject(_invalid_item(item, error))
        return page


def _describe(host: str, status: int, body: object) -> str:
    detail = orjson.dumps(body, default=str).decode()[:300] if body is not None else ""
    if status == 404:
        return f"Langfuse at {host} has no v2 observations API (HTTP 404); self-hosted Langfuse needs v4 or later"
    if status == 200:  # a 2xx body that is not JSON
        return f"Langfuse at {host} answered with a body that is not JSON: {detail}"
    return f"Langfuse at {host} answered HTTP {status}: {detail}"


def _invalid_item(item: object, error: pydantic.ValidationError) -> str:
    name = item.get("id") if isinstance(item, dict) else None
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "item"
    label = f"observation {str(name)[:80]!r}" if isinstance(name, str) else "an observation"
    return f"{label}: {where}: {first['msg']}"
