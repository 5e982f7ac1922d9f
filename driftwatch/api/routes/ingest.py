"""``POST /v1/traces`` and ``POST /v1/logs``: OTLP/HTTP export. The routes only validate and hand over.

Status codes follow the OTLP/HTTP spec: 200 (with ``partial_success`` when some spans or log records
were unusable) only after the rows are committed; 400 undecodable; 413 too large; 415 wrong content
type or encoding; 503 + ``Retry-After`` when the write queue is full, so exporters retry.  A protobuf
request gets its error as a protobuf ``google.rpc.Status``, as the spec asks; others get driftwatch's
JSON error.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from google.rpc.status_pb2 import Status

from driftwatch.errors import DriftwatchError, PayloadTooLarge
from driftwatch.ingest.otlp import Encoding, Signal, encode_response, request_encoding
from driftwatch.ingest.service import IngestService

router = APIRouter(tags=["ingest"])

OTLP_PATHS = frozenset({"/v1/traces", "/v1/logs"})

_MEDIA_TYPES: dict[Encoding, str] = {"protobuf": "application/x-protobuf", "json": "application/json"}


def _otlp_route(response: str) -> dict[str, Any]:
    return {
        "responses": {
            200: {"description": f"{response}, with partial_success when some items were rejected"},
            400: {"description": "Undecodable body"},
            413: {"description": "Body over the configured limit"},
            415: {"description": "Content type is not application/x-protobuf or application/json"},
            503: {"description": "Write queue full; retry after Retry-After seconds"},
        },
        "openapi_extra": {
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
                    "application/json": {"schema": {"type": "object"}},
                },
            }
        },
    }


@router.post("/v1/traces", summary="Receive OTLP/HTTP spans", **_otlp_route("ExportTraceServiceResponse"))
async def export_traces(request: Request) -> Response:
    """Every LLM-call span becomes a ``call``; other spans are counted, not stored."""
    return await _export("traces", request)


@router.post("/v1/logs", summary="Receive OTLP/HTTP log records", **_otlp_route("ExportLogsServiceResponse"))
async def export_logs(request: Request) -> Response:
    """GenAI content events (``gen_ai.user.message``, ``gen_ai.choice``,
    ``gen_ai.client.inference.operation.details`` …) fill the prompt and completion of the call whose span
    they name, whether they arrive before or after it; other log records are counted, not stored."""
    return await _export("logs", request)


async def _export(signal: Signal, request: Request) -> Response:
    ingest: IngestService = request.app.state.ingest
    encoding = request_encoding(request.headers.get("content-type"))
    try:
        ingest.admit()
        try:
            body = await _read_body(request, ingest.max_request_bytes)
            result = await ingest.export(signal, body, encoding, request.headers.get("content-encoding"))
        finally:
            ingest.release()
    except DriftwatchError as error:
        request.app.state.metrics.requests_refused.labels(status=str(error.status_code)).inc()
        if encoding != "protobuf":
            raise
        return protobuf_error_response(error)
    return Response(
        encode_response(signal, result.rejected, result.errors, encoding), media_type=_MEDIA_TYPES[encoding]
    )


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body of {declared} bytes exceeds the limit of {limit} bytes")
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > limit:
            raise PayloadTooLarge(f"body exceeds the limit of {limit} bytes")
    return bytes(chunks)


def wants_protobuf_error(request: Request) -> bool:
    """An OTLP export sent as protobuf expects its error as a protobuf ``google.rpc.Status``."""
    media_type = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    return request.url.path in OTLP_PATHS and media_type == _MEDIA_TYPES["protobuf"]


def protobuf_error_response(error: DriftwatchError) -> Response:
    status = Status(code=_grpc_code(error.status_code), message=error.detail)
    return Response(
        status.SerializeToString(),
        status_code=error.status_code,
        media_type=_MEDIA_TYPES["protobuf"],
        headers=error.headers,
    )


def _grpc_code(status_code: int) -> int:
    # google.rpc.Code: INVALID_ARGUMENT 3, PERMISSION_DENIED 7, RESOURCE_EXHAUSTED 8, UNAVAILABLE 14,
    # UNAUTHENTICATED 16; the OTLP/HTTP spec maps its HTTP answers onto these.
    return {400: 3, 403: 7, 413: 8, 415: 3, 429: 8, 401: 16, 503: 14}.get(status_code, 2)
