"""A fake Langfuse public API: the project of the keys and the v2 observations list.

The wire shapes are the ones the ``langfuse`` SDK's own pydantic models read (``Projects``,
``ObservationsV2Response`` / ``ObservationV2``, camelCase keys) and Langfuse's API reference describes:
Basic auth with the public and secret key, generations filtered by ``type``, ``fromStartTime``
(inclusive) and ``toStartTime`` (exclusive), newest first, and an opaque base64 cursor in
``meta.cursor`` holding the last item's position (``lastStartTimeTo``, ``lastTraceId``, ``lastId``),
as Langfuse's own cursor does. Observations are stored as raw JSON objects, so a test can serve
malformed ones; ``respond_next`` / ``fail_next`` script 429s and other failures::

    with FakeLangfuseServer() as langfuse:
        langfuse.add(generation("obs-1", trace_id="t-1", start=moment))
        LangfuseAPI(base_url=langfuse.url, username="pk-lf-test", password="sk-lf-test") ...
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tests.fakes._http import FakeLLMServer, JsonObject, RecordedRequest, _Response

PUBLIC_KEY = "pk-lf-test"
SECRET_KEY = "sk-lf-test"
PROJECT_ID = "cm-project-1"
_MAX_LIMIT = 1000


def wire_time(moment: datetime) -> str:
    """Langfuse's timestamps: ISO 8601 in UTC with milliseconds and a ``Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def generation(
    observation_id: str,
    *,
    trace_id: str,
    start: datetime,
    end: datetime | None = None,
    model: str | None = "claude-haiku-4-5",
    input: Any = None,
    output: Any = None,
    usage: dict[str, int] | None = None,
    metadata: dict[str, Any] | None = None,
    tags: list[str] | None = None,
    parent: str | None = None,
    level: str = "DEFAULT",
    total_cost: float | None = None,
    type: str = "GENERATION",
) -> JsonObject:
    """One observation as ``GET /api/public/v2/observations`` returns it with every field group; input
    and output are raw strings, as the v2 endpoint always sends them."""
    return {
        "id": observation_id,
        "traceId": trace_id,
        "startTime": wire_time(start),
        "endTime": wire_time(end) if end is not None else None,
        "projectId": PROJECT_ID,
        "parentObservationId": parent,
        "type": type,
        "name": "chat",
        "level": level,
        "statusMessage": "provider failed" if level == "ERROR" else None,
        "version": None,
        "environment": "default",
        "input": input if input is None or isinstance(input, str) else json.dumps(input),
        "output": output if output is None or isinstance(output, str) else json.dumps(output),
        "metadata": metadata or {},
        "model": model,
        "modelParameters": {"temperature": 0},
        "usageDetails": usage if usage is not None else {"input": 1000, "output": 200, "total": 1200},
        "costDetails": {"total": total_cost} if total_cost is not None else {},
        "totalCost": total_cost,
        "tags": tags or [],
        "traceName": "support-bot",
        "release": None,
    }


@dataclass(frozen=True)
class _Stored:
    start: str
    observation_id: str
    kind: str
    body: object


class FakeLangfuseServer(FakeLLMServer):
    """Serves the observations added with :meth:`add`; ``requests`` records every call the SDK made."""

    def __init__(self, *, project_name: str = "support", delay: float = 0.0) -> None:
        super().__init__(delay=delay)
        self.project_name = project_name
        self._store_lock = threading.Lock()
        self._observations: list[_Stored] = []

    def add(self, *observations: object, start: str | None = None, kind: str = "GENERATION") -> None:
        """Store raw observations. Their position is read from ``startTime``/``id``/``type`` unless
        ``start`` is given (for malformed items that lack a usable one)."""
        with self._store_lock:
            for body in observations:
                fields = body if isinstance(body, dict) else {}
                self._observations.append(
                    _Stored(
                        start or str(fields.get("startTime")),
                        str(fields.get("id")),
                        str(fields.get("type", kind)),
                        body,
                    )
                )

    def replace(self, *observations: JsonObject) -> None:
        """Langfuse updated these observations (same ids): serve the new versions instead."""
        ids = {observation["id"] for observation in observations}
        with self._store_lock:
            self._observations = [item for item in self._observations if item.observation_id not in ids]
        self.add(*observations)

    def observation_requests(self) -> list[RecordedRequest]:
        return [request for request in self.requests if request.path == "/api/public/v2/observations"]

    def _answer(self, request: RecordedRequest, scripted: _Response | None) -> _Response:
        if request.method != "GET":
            return _Response(405, self._error_body(405, "method not allowed"))
        if scripted is not None:
            return scripted
        expected = "Basic " + base64.b64encode(f"{PUBLIC_KEY}:{SECRET_KEY}".encode()).decode()
        if request.headers.get("authorization") != expected:
            return _Response(401, self._error_body(401, "Invalid credentials"))
        if request.path == "/api/public/projects":
            organization = {"id": "org-1", "name": "Acme"}
            project = {"id": PROJECT_ID, "name": self.project_name, "organization": organization}
            return _Response(200, {"data": [{**project, "metadata": {}}]})
        if request.path == "/api/public/v2/observations":
            return self._observations_page(request.query)
        return _Response(404, self._error_body(404, f"no route {request.path}"))

    def _observations_page(self, query: dict[str, str] | Any) -> _Response:
        limit = int(query.get("limit", 50))
        if not 0 < limit <= _MAX_LIMIT:
            return _Response(400, self._error_body(400, "limit must be between 1 and 1000"))
        try:
            after = _decode_cursor(query.get("cursor"))
        except (ValueError, KeyError, TypeError):
            return _Response(400, self._error_body(400, "Invalid cursor format"))
        with self._store_lock:
            stored = list(self._observations)
        chosen = [
            item
            for item in stored
            if item.kind == query.get("type", item.kind)
            and _time(item.start) >= _time(query.get("fromStartTime"), datetime.min.replace(tzinfo=UTC))
            and _time(item.start) < _time(query.get("toStartTime"), datetime.max.replace(tzinfo=UTC))
            and (after is None or (_time(item.start), item.observation_id) < after)
        ]
        chosen.sort(key=lambda item: (_time(item.start), item.observation_id), reverse=True)
        page = chosen[:limit]
        meta: JsonObject = {}
        if len(chosen) > limit:
            last = page[-1]
            position = {"lastStartTimeTo": last.start, "lastTraceId": "", "lastId": last.observation_id}
            meta["cursor"] = base64.b64encode(json.dumps(position).encode()).decode()
        return _Response(200, {"data": [item.body for item in page], "meta": meta})

    def _error_body(self, status: int, message: str) -> JsonObject:
        return {"message": message}


def _time(text: str | None, default: datetime | None = None) -> datetime:
    if text is None:
        assert default is not None
        return default
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _decode_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    if cursor is None:
        return None
    position = json.loads(base64.b64decode(cursor))
    return _time(position["lastStartTimeTo"]), position["lastId"]
