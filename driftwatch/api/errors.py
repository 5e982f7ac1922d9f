"""The one handler that renders every :class:`DriftwatchError` as ``{"error", "detail"}``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from driftwatch.api.routes.ingest import protobuf_error_response, wants_protobuf_error
from driftwatch.errors import DriftwatchError


def error_response(
    status_code: int, error: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status_code, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DriftwatchError)
    async def _driftwatch_error(request: Request, error: DriftwatchError) -> Response:
        # Errors raised before the route runs (authentication) still owe an exporter its protobuf Status.
        if wants_protobuf_error(request):
            return protobuf_error_response(error)
        return error_response(error.status_code, error.error, error.detail, error.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
            for problem in error.errors()
        )
        return error_response(422, "invalid_request", problems)

    @app.exception_handler(HTTPException)
    async def _http_error(_request: Request, error: HTTPException) -> JSONResponse:
        return error_response(error.status_code, "http_error", str(error.detail), dict(error.headers or {}))
