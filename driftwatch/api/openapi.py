"""The OpenAPI document says what errors look like: every JSON error is ``{"error", "detail"}``.

FastAPI documents only what a route declares, plus its own validation error, which driftwatch does not
send.  A client generated from the document would otherwise not know the 401 of a missing key, the 400
of a malformed URL, or the shape of any error body.  Each protected operation also says which key scope
it needs: in its bearer security requirement (OpenAPI 3.1 role names), in ``x-driftwatch-scope``, in
its description, and with a 403 answer for a key without it.  OTLP routes keep their own descriptions: their
errors are a protobuf ``google.rpc.Status`` for protobuf requests.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from driftwatch.api.routes.ingest import OTLP_PATHS

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string", "description": "Machine-readable kind, e.g. `not_found`"},
        "detail": {"type": "string", "description": "What was wrong, for a person"},
    },
}
_ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
_ANY_ROUTE = {"400": "Malformed request: a control character in the URL, or an opaque cursor that is not one"}
_PROTECTED_ROUTE = {"401": "No API key, or a wrong or revoked one (`WWW-Authenticate: Bearer`)"}
_WRONG_SCOPE = "The API key lacks the `{scope}` scope this operation needs (`detail` names it)"
SCOPE_EXTENSION = "x-driftwatch-scope"
_VALIDATION = "Invalid parameters or body; `detail` names each problem"
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def document_errors(app: FastAPI) -> None:
    """Build ``app``'s OpenAPI document once, with every operation's error answers and their body."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            app.openapi_schema = with_error_answers(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise it


def with_error_answers(document: dict[str, Any]) -> dict[str, Any]:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            answers = {**_ANY_ROUTE, **(_PROTECTED_ROUTE if operation.get("security") else {})}
            if scope := _scope(operation):
                operation[SCOPE_EXTENSION] = scope
                needs = f"Needs an API key with the `{scope}` scope (when auth is on)."
                operation["description"] = f"{needs}\n\n{operation.get('description', '')}".strip()
                answers["403"] = _WRONG_SCOPE.format(scope=scope)
            for status, description in answers.items():
                responses.setdefault(status, {"description": description})
            if "422" in responses:
                responses["422"] = {"description": _VALIDATION}
            if path in OTLP_PATHS:
                continue
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    response["content"] = _ERROR_CONTENT
    return document


def _scope(operation: dict[str, Any]) -> str | None:
    """The one scope an operation's bearer requirement names (each route declares exactly one)."""
    named = {
        scope for requirement in operation.get("security", ()) for scope in requirement.get("HTTPBearer", ())
    }
    if len(named) > 1:
        raise ValueError(f"{operation.get('operationId')} needs several scopes: {sorted(named)}")
    return next(iter(named), None)
