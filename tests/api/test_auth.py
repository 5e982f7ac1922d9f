"""API keys over real HTTP: every endpoint but /healthz needs one when auth is on."""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from typing import Any

import httpx
import pytest
from google.rpc.status_pb2 import Status
from sqlalchemy import Engine, select

from driftwatch.auth.keys import CreatedKey, KeyHolder, KeyVerifier, create_key, revoke_key
from driftwatch.auth.scopes import ALL_SCOPES, Scope
from driftwatch.config import Settings
from driftwatch.db.engine import session_factory
from driftwatch.db.models import ApiKey, Call
from tests.conftest import StartServer
from tests.support.otlp import export_request, make_span
from tests.support.server import ServerThread

PROTOBUF = {"content-type": "application/x-protobuf"}
UNAUTHENTICATED = 16  # google.rpc.Code


def _create(engine: Engine, name: str = "router", scopes: Collection[Scope] = ALL_SCOPES) -> CreatedKey:
    with session_factory(engine).begin() as session:
        return create_key(session, name, scopes=scopes)


def _revoke(engine: Engine, key_id: int) -> None:
    with session_factory(engine).begin() as session:
        revoke_key(session, key_id)


def _request(server: ServerThread, method: str, path: str, key: str | None) -> httpx.Response:
    headers = {"authorization": f"Bearer {key}"} if key is not None else {}
    if method == "POST":
        body = export_request([make_span()]).SerializeToString()
        return httpx.post(f"{server.base_url}{path}", content=body, headers={**PROTOBUF, **headers})
    return httpx.get(f"{server.base_url}{path}", headers=headers)


ENDPOINTS = [("POST", "/v1/traces"), ("GET", "/v1/calls"), ("GET", "/v1/classes"), ("GET", "/metrics")]
ENDPOINT_IDS = [path for _, path in ENDPOINTS]


@pytest.fixture
def secured(start_server: StartServer) -> ServerThread:
    return start_server(require_auth=True)


@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=ENDPOINT_IDS)
def test_every_endpoint_is_401_without_a_key(secured: ServerThread, method: str, path: str) -> None:
    response = _request(secured, method, path, key=None)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=ENDPOINT_IDS)
def test_every_endpoint_is_401_with_a_wrong_key(
    secured: ServerThread, engine: Engine, method: str, path: str
) -> None:
    real = _create(engine)

    for wrong in ("dw_not-a-real-key", real.key[:-1], real.key + "x"):
        assert _request(secured, method, path, key=wrong).status_code == 401


@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=ENDPOINT_IDS)
def test_every_endpoint_works_with_a_bearer_key(
    secured: ServerThread, engine: Engine, method: str, path: str
) -> None:
    key = _create(engine).key

    assert _request(secured, method, path, key=key).status_code == 200


def test_a_json_error_says_what_to_send(secured: ServerThread) -> None:
    response = httpx.get(f"{secured.base_url}/v1/calls")

    assert response.json()["error"] == "unauthorized"
    assert "Authorization: Bearer" in response.json()["detail"]


def test_an_unauthenticated_protobuf_export_is_answered_with_a_status_message(secured: ServerThread) -> None:
    # OTLP/HTTP: every 4xx/5xx answer to a protobuf request carries a protobuf google.rpc.Status.
    response = _request(secured, "POST", "/v1/traces", key="dw_wrong")

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/x-protobuf"
    status = Status.FromString(response.content)
    assert status.code == UNAUTHENTICATED
    assert "API key" in status.message


def test_an_authenticated_export_is_stored(secured: ServerThread, engine: Engine) -> None:
    key = _create(engine).key
    span = make_span()

    response = httpx.post(
        f"{secured.base_url}/v1/traces",
        content=export_request([span]).SerializeToString(),
        headers={**PROTOBUF, "authorization": f"Bearer {key}"},
    )

    assert response.status_code == 200
    with engine.connect() as connection:
        assert connection.scalars(select(Call.span_id)).all() == [span.span_id.hex()]


def test_a_rejected_export_stores_nothing(secured: ServerThread, engine: Engine) -> None:
    assert _request(secured, "POST", "/v1/traces", key=None).status_code == 401

    with engine.connect() as connection:
        assert connection.scalars(select(Call.id)).all() == []


@pytest.mark.parametrize(
    "header",
    ["Basic dXNlcjpwYXNz", "Bearer", "{key}", "Token {key}"],
    ids=["basic", "bearer-without-key", "key-without-scheme", "other-scheme"],
)
def test_anything_but_a_bearer_key_is_401(secured: ServerThread, engine: Engine, header: str) -> None:
    key = _create(engine).key

    response = httpx.get(f"{secured.base_url}/v1/calls", headers={"authorization": header.format(key=key)})

    assert response.status_code == 401


def test_the_bearer_scheme_is_case_insensitive(secured: ServerThread, engine: Engine) -> None:
    key = _create(engine).key

    response = httpx.get(f"{secured.base_url}/v1/calls", headers={"authorization": f"bearer {key}"})

    assert response.status_code == 200


def test_a_key_revoked_before_its_first_use_is_refused(secured: ServerThread, engine: Engine) -> None:
    revoked, kept = _create(engine, "old"), _create(engine, "new")
    _revoke(engine, revoked.id)

    assert _request(secured, "GET", "/v1/calls", key=revoked.key).status_code == 401
    assert _request(secured, "GET", "/v1/calls", key=kept.key).status_code == 200


def test_the_verifier_sees_a_revocation_once_its_cache_expires(engine: Engine) -> None:
    key = _create(engine)
    uncached = KeyVerifier(engine, ttl_seconds=0)
    cached = KeyVerifier(engine, ttl_seconds=3600)
    assert uncached.is_valid(key.key)
    assert cached.is_valid(key.key)

    _revoke(engine, key.id)

    assert not uncached.is_valid(key.key)
    assert cached.is_valid(key.key)  # documented: revocation takes effect within the cache's lifetime
    assert not KeyVerifier(engine).is_valid(key.key)


def test_the_verifier_does_not_cache_a_miss_for_a_key_created_later(engine: Engine) -> None:
    verifier = KeyVerifier(engine, ttl_seconds=0)
    assert not verifier.is_valid("dw_unknown")

    key = _create(engine).key

    assert verifier.is_valid(key)


def test_revoking_twice_or_an_unknown_key_is_not_found(engine: Engine) -> None:
    key = _create(engine)
    _revoke(engine, key.id)

    for key_id in (key.id, key.id + 1000):
        with pytest.raises(Exception, match=f"no active API key with id {key_id}"):
            _revoke(engine, key_id)


def test_keys_are_stored_only_as_a_digest(engine: Engine) -> None:
    key = _create(engine, "billing-service")

    with engine.connect() as connection:
        row = connection.execute(select(ApiKey)).one()
    stored: dict[str, Any] = dict(row._mapping)

    assert stored["digest"] == hashlib.sha256(key.key.encode()).hexdigest()
    assert stored["prefix"] == key.key[:12]
    assert all(key.key not in str(value) for value in stored.values())
    assert key.key.startswith("dw_")
    assert len(key.key) >= 3 + 43  # 32 random bytes, URL-safe base64


def test_two_keys_are_different(engine: Engine) -> None:
    assert _create(engine, "a").key != _create(engine, "b").key


def test_an_ingest_key_exports_but_reads_nothing_back(secured: ServerThread, engine: Engine) -> None:
    key = _create(engine, "checkout-app", {Scope.INGEST}).key

    exported = _request(secured, "POST", "/v1/traces", key=key)
    refused = _request(secured, "GET", "/v1/calls", key=key)

    assert exported.status_code == 200
    assert refused.status_code == 403
    assert refused.json() == {
        "error": "forbidden",
        "detail": "this needs an API key with the 'read' scope; key 'checkout-app' has: ingest "
        "(create one with `driftwatch keys create NAME --scope read`)",
    }


def test_a_read_key_cannot_export_and_the_exporter_gets_a_status_message(
    secured: ServerThread, engine: Engine
) -> None:
    key = _create(engine, "grafana", {Scope.READ}).key

    response = _request(secured, "POST", "/v1/traces", key=key)

    assert response.status_code == 403  # OTLP exporters do not retry it
    assert response.headers["content-type"] == "application/x-protobuf"
    assert "'ingest' scope" in Status.FromString(response.content).message
    with engine.connect() as connection:
        assert connection.scalars(select(Call.id)).all() == []


def test_a_key_with_several_scopes_holds_each(secured: ServerThread, engine: Engine) -> None:
    key = _create(engine, "ops", {Scope.INGEST, Scope.READ}).key

    assert _request(secured, "POST", "/v1/traces", key=key).status_code == 200
    assert _request(secured, "GET", "/v1/calls", key=key).status_code == 200
    assert (
        httpx.get(f"{secured.base_url}/v1/webhooks", headers={"authorization": f"Bearer {key}"}).status_code
        == 403
    )


def test_the_verifier_knows_a_keys_name_and_scopes(engine: Engine) -> None:
    key = _create(engine, "reviews", {Scope.EVALUATIONS, Scope.READ})

    assert KeyVerifier(engine).holder(key.key) == KeyHolder(
        "reviews", frozenset({Scope.EVALUATIONS, Scope.READ})
    )
    assert KeyVerifier(engine).holder("dw_unknown") is None


def test_a_key_needs_a_scope(engine: Engine) -> None:
    with pytest.raises(Exception, match="a key needs at least one scope"):
        _create(engine, "nothing", set())


def test_healthz_and_docs_stay_open(secured: ServerThread) -> None:
    assert httpx.get(f"{secured.base_url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{secured.base_url}/docs").status_code == 200


def test_without_auth_a_loopback_server_needs_no_key(server: ServerThread) -> None:
    assert httpx.get(f"{server.base_url}/v1/calls").status_code == 200


@pytest.mark.parametrize(
    ("host", "required"),
    [
        ("0.0.0.0", True),
        ("::", True),
        ("192.168.1.20", True),
        ("10.0.0.5", True),
        ("driftwatch.internal", True),
        ("127.0.0.1", False),
        ("127.0.0.2", False),
        ("::1", False),
        ("localhost", False),
    ],
)
def test_auth_is_required_whenever_the_server_is_reachable_from_another_machine(
    host: str, required: bool
) -> None:
    assert Settings(host=host).auth_required() is required


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_require_auth_turns_auth_on_for_loopback_too(host: str) -> None:
    assert Settings(host=host, require_auth=True).auth_required() is True
