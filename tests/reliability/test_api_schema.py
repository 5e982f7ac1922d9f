"""Schemathesis against the REST API's own OpenAPI document, served by a real server on SQLite and
PostgreSQL: generated requests for every operation get no 5xx, and every answer matches the documented
status codes, content types and response schemas (``call_and_validate`` runs schemathesis' checks).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case, checks
from schemathesis.schemas import APIOperation, BaseSchema
from sqlalchemy import Engine

from driftwatch.auth.keys import create_key
from driftwatch.auth.scopes import ALL_SCOPES
from driftwatch.config import ClassConfig, Policy
from driftwatch.db.engine import session_factory
from tests.conftest import StartServer

EXAMPLES_PER_OPERATION = 25

# Checks left out because the spec is known to under-document the API (found by this test; listed in
# docs/reliability.md, "Hostile input"); every other check of schemathesis runs, not_a_server_error included:
# - positive_data_acceptance: a schema-valid but forged cursor, or /v1/plan arguments out of the range
#   the route checks itself, are rightly refused with 400/422;
# - negative_data_rejection: a number for a date-time query parameter (``until=0.5``) is taken as a
#   Unix time by pydantic, which the spec's ``format: date-time`` does not say;
# - allow_header_conformance: Starlette's 405 lists only the methods of the route it matched, not
#   every method on the path (GET and POST /v1/evaluations are two routes);
# - unsupported_method: DELETE /v1/webhooks/deliveries matches DELETE /v1/webhooks/{webhook_id} and
#   answers 422 (not an integer id), not 405.
KNOWN_SPEC_GAPS = [
    checks.unsupported_method,
    checks.positive_data_acceptance,
    checks.negative_data_rejection,
    checks.allow_header_conformance,
]


@pytest.fixture
def api_key(engine: Engine) -> str:
    with session_factory(engine).begin() as session:
        return create_key(session, "schemathesis", scopes=ALL_SCOPES).key


@pytest.fixture
def api_schema(start_server: StartServer) -> BaseSchema:
    # Auth on, as any server off loopback runs: the spec documents the key as required, and
    # schemathesis checks that a request without it is refused.
    server = start_server(require_auth=True)
    # Excluded, and only this: it sends a real HTTP request to the URL a registered webhook names, so
    # generated webhooks would send CI traffic to arbitrary hosts (tests/notify/ covers it against a
    # local receiver).
    return schemathesis.openapi.from_url(f"{server.base_url}/openapi.json").exclude(
        method="POST", path="/v1/webhooks/{webhook_id}/test"
    )


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_api_answers_as_documented_and_never_with_a_5xx(
    case: Case[APIOperation[Any, Any, Any, Any]], api_key: str
) -> None:
    response = case.call(headers={"Authorization": f"Bearer {api_key}"})
    case.validate_response(response, excluded_checks=KNOWN_SPEC_GAPS)


@pytest.mark.parametrize("text", ["a\\u0000b", "\\udaa0x"])  # JSON escapes: a NUL, a lone surrogate
def test_an_evaluation_with_unstorable_text_is_rejected_not_a_500(
    start_server: StartServer, text: str
) -> None:
    """Regression (found by schemathesis): either one failed the insert and answered 500."""
    server = start_server(policy=Policy(classes={"faq": ClassConfig()}))  # a class driftwatch knows
    item = '{"id": "1", "source": "s", "task_class": "faq", "outcome": "acceptable", "model": "%s"}'
    body = '{"evaluations": [' + item % text + ", " + item.replace('"1"', '"2"') % "fine" + "]}"

    response = httpx.post(
        f"{server.base_url}/v1/evaluations", content=body, headers={"content-type": "application/json"}
    )

    assert response.status_code == 200
    assert response.json()["accepted"] == 1
    assert [rejection["index"] for rejection in response.json()["rejected"]] == [0]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/calls?task_class=a%00b"), ("GET", "/v1/evaluations?task_class=%00"),
     ("POST", "/v1/policy/classes/fa%00q/pin"), ("DELETE", "/v1/policy/classes/%60%0A%C3%8B71/pin"),
     ("POST", "/v1/policy/classes/tab%09bed/pin")],
)  # fmt: skip
def test_a_nul_in_the_url_is_a_400_not_a_500(start_server: StartServer, method: str, path: str) -> None:
    """Regressions (found by schemathesis): a NUL reached PostgreSQL and answered 500; a line break in
    a task class in the path matched no route and answered an undocumented bare 404."""
    server = start_server()

    response = httpx.request(method, f"{server.base_url}{path}", json={"tier": "premium"})

    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"
