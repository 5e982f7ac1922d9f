"""With auth on, every route of the real app but the public ones answers 401 without a key, with a wrong
key and with a revoked key, 403 naming the scope to a valid key without the route's scope, and a refused
write changes nothing in the store.

The routes come from the app itself (its route table and its OpenAPI document), so a route added later
is covered without touching this file but for two tables: ``SCOPES`` says which scope each route needs,
and a new write route must add a valid request to ``WRITES``, which the positive control sends with a
key of exactly that scope to prove the refused request was a real attempt.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from driftwatch.api.openapi import SCOPE_EXTENSION
from driftwatch.auth.keys import create_key, revoke_key
from driftwatch.auth.scopes import ALL_SCOPES, Scope
from driftwatch.db.engine import session_factory
from driftwatch.db.models import WebhookDelivery
from driftwatch.events.outbox import emit
from driftwatch.notify.delivery import fan_out
from tests.conftest import StartServer
from tests.fakes.webhook_receiver import LOOPBACK_RECEIVERS
from tests.policy.control_support import POLICY, recommend
from tests.reliability.routes import PUBLIC, PUBLIC_MOUNTS, app_routes
from tests.reliability.store_contents import store_snapshot, stored_text
from tests.support.otlp import export_request, logs_request, make_log_record, make_span
from tests.support.server import ServerThread

pytestmark = pytest.mark.timeout(120)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SPAN = make_span()
LOG_RECORD = make_log_record("gen_ai.user.message", {"content": "hello"}, span=make_span())
PROTOBUF = {"content-type": "application/x-protobuf"}
OTLP = {"/v1/traces", "/v1/logs"}  # refusals are a protobuf google.rpc.Status, checked in tests/api


@dataclass(frozen=True)
class Write:
    path: str
    body: bytes | None = None
    json: Any = None
    headers: dict[str, str] | None = None


WRITES: dict[tuple[str, str], Write] = {
    ("POST", "/v1/traces"): Write("/v1/traces", export_request([SPAN]).SerializeToString(), headers=PROTOBUF),
    ("POST", "/v1/logs"): Write("/v1/logs", logs_request([LOG_RECORD]).SerializeToString(), headers=PROTOBUF),
    ("POST", "/v1/evaluations"): Write(
        "/v1/evaluations",
        json={
            "evaluations": [
                {"id": "r-1", "source": "human-review", "task_class": "summaries", "outcome": "acceptable"}
            ]
        },
    ),
    ("POST", "/v1/policy/classes/{task_class}/pin"): Write(
        "/v1/policy/classes/summaries/pin", json={"tier": "mid"}
    ),
    ("DELETE", "/v1/policy/classes/{task_class}/pin"): Write("/v1/policy/classes/extraction/pin"),
    ("POST", "/v1/recommendations/{recommendation_id}/accept"): Write(
        "/v1/recommendations/{accept_id}/accept"
    ),
    ("POST", "/v1/recommendations/{recommendation_id}/reject"): Write(
        "/v1/recommendations/{reject_id}/reject", json={"reason": "not now"}
    ),
    ("POST", "/v1/webhooks"): Write("/v1/webhooks", json={"url": "https://hooks.example.com/new"}),
    ("DELETE", "/v1/webhooks/{webhook_id}"): Write("/v1/webhooks/{webhook_id}"),
    ("POST", "/v1/webhooks/{webhook_id}/test"): Write("/v1/webhooks/{webhook_id}/test"),
    ("POST", "/v1/webhooks/deliveries/{delivery_id}/redeliver"): Write(
        "/v1/webhooks/deliveries/{delivery_id}/redeliver"
    ),
    ("POST", "/v1/webhooks/{webhook_id}/recover"): Write("/v1/webhooks/{webhook_id}/recover"),
}
READS_WITH_REQUIRED_PARAMETERS = {("GET", "/v1/plan"): "/v1/plan?baseline=0.95&drop=0.05&within=7d"}
WRITES_THAT_STORE_NOTHING = {("POST", "/v1/webhooks/{webhook_id}/test")}  # answers with the receiver's reply

INGEST, EVALUATIONS, READ, ADMIN = Scope.INGEST, Scope.EVALUATIONS, Scope.READ, Scope.ADMIN
SCOPES: dict[tuple[str, str], Scope] = {
    ("POST", "/v1/traces"): INGEST,
    ("POST", "/v1/logs"): INGEST,
    ("POST", "/v1/evaluations"): EVALUATIONS,
    ("GET", "/v1/evaluations"): READ,
    ("GET", "/v1/calls"): READ,
    ("GET", "/v1/classes"): READ,
    ("GET", "/v1/decisions"): READ,
    ("GET", "/v1/plan"): READ,
    ("GET", "/v1/dashboard"): READ,
    ("GET", "/v1/savings"): READ,
    ("GET", "/metrics"): READ,
    ("GET", "/v1/policy"): READ,
    ("GET", "/v1/recommendations"): READ,
    ("POST", "/v1/policy/classes/{task_class}/pin"): ADMIN,
    ("DELETE", "/v1/policy/classes/{task_class}/pin"): ADMIN,
    ("POST", "/v1/recommendations/{recommendation_id}/accept"): ADMIN,
    ("POST", "/v1/recommendations/{recommendation_id}/reject"): ADMIN,
    # Webhooks, listing included: a URL (a Slack incoming webhook) is itself a credential.
    ("POST", "/v1/webhooks"): ADMIN,
    ("GET", "/v1/webhooks"): ADMIN,
    ("DELETE", "/v1/webhooks/{webhook_id}"): ADMIN,
    ("POST", "/v1/webhooks/{webhook_id}/test"): ADMIN,
    ("GET", "/v1/webhooks/deliveries"): ADMIN,
    ("GET", "/v1/webhooks/{webhook_id}/deliveries"): ADMIN,
    ("POST", "/v1/webhooks/{webhook_id}/recover"): ADMIN,
    ("POST", "/v1/webhooks/deliveries/{delivery_id}/redeliver"): ADMIN,
}


@dataclass(frozen=True)
class Seeded:
    key: str
    wrong_keys: tuple[str, ...]
    ids: dict[str, int | str]
    scoped: dict[Scope, str]  # a key holding only that scope


def _seed(server: ServerThread, engine: Engine) -> Seeded:
    """A store with something in every table a write could touch, a key with every scope, one with each
    scope alone, a wrong and a revoked key."""
    with session_factory(engine).begin() as session:
        key = create_key(session, "admin", scopes=ALL_SCOPES).key
        revoked = create_key(session, "old", scopes=ALL_SCOPES)
        revoke_key(session, revoked.id)
        scoped = {scope: create_key(session, f"only-{scope}", scopes={scope}).key for scope in Scope}
    with httpx.Client(base_url=server.base_url, headers={"authorization": f"Bearer {key}"}) as client:
        spans = export_request([make_span()]).SerializeToString()
        assert client.post("/v1/traces", content=spans, headers=PROTOBUF).is_success
        webhook = client.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "name": "oncall"})
        assert webhook.is_success, webhook.text
        assert client.post("/v1/policy/classes/extraction/pin", json={"tier": "premium"}).is_success
    ids: dict[str, int | str] = {
        "task_class": "summaries",
        "webhook_id": webhook.json()["id"],
        "delivery_id": _failed_delivery(engine),
        "accept_id": recommend(engine),  # summaries: on premium in POLICY
        "reject_id": recommend(engine, "rejected-class"),
    }
    ids["recommendation_id"] = ids["accept_id"]
    wrong = ("dw_not-a-real-key", key[:-1] + ("A" if key[-1] != "A" else "B"), revoked.key)
    return Seeded(key, wrong, ids, scoped)


def _failed_delivery(engine: Engine) -> int:
    """A delivery to the seeded webhook that was given up on, for the routes that send one again."""
    now = datetime.now(UTC)
    with session_factory(engine).begin() as session:
        emit(session, "class.degraded", "summaries", {}, now, dedupe="seeded")
    with session_factory(engine).begin() as session:
        fan_out(session, now)
        delivery = session.scalars(select(WebhookDelivery)).one()
        delivery.status, delivery.finished_at = "failed", now
        return delivery.id


def _send(
    server: ServerThread, method: str, path: str, key: str | None, write: Write | None
) -> httpx.Response:
    headers = dict(write.headers or {}) if write else {}
    if key is not None:
        headers["authorization"] = f"Bearer {key}"
    return httpx.request(
        method,
        f"{server.base_url}{path}",
        content=write.body if write else None,
        json=write.json if write else None,
        headers=headers,
    )


def _concrete(method: str, template: str, ids: dict[str, int | str]) -> tuple[str, Write | None]:
    write = WRITES.get((method, template))
    path = write.path if write else template
    return path.format(**ids), write


@pytest.fixture
def secured(start_server: StartServer) -> ServerThread:
    return start_server(policy=POLICY, require_auth=True, webhook_allowed_networks=LOOPBACK_RECEIVERS)


def test_the_walk_finds_the_routes_and_every_write_route_has_a_request(secured: ServerThread) -> None:
    endpoints, mounts = app_routes(secured.app)

    assert {("POST", "/v1/traces"), ("GET", "/v1/calls"), ("GET", "/metrics")} <= endpoints
    assert len(endpoints) >= 25
    assert mounts <= set(PUBLIC_MOUNTS), "a new mount: is it public? say so in PUBLIC_MOUNTS"
    missing = {endpoint for endpoint in endpoints if endpoint[0] in WRITE_METHODS} - set(WRITES)
    assert not missing, f"add a valid request for each new write route to WRITES: {sorted(missing)}"
    assert endpoints - set(PUBLIC) == set(SCOPES), "say which scope each new route needs in SCOPES"


def test_the_openapi_document_names_each_operations_scope(secured: ServerThread) -> None:
    document = httpx.get(f"{secured.base_url}/openapi.json").json()
    found = {}

    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            scope = operation.get(SCOPE_EXTENSION)
            found[(method.upper(), path)] = scope
            if scope is not None:
                assert operation["security"] == [{"HTTPBearer": [scope]}]
                assert f"`{scope}` scope" in operation["description"]
                assert f"`{scope}` scope" in operation["responses"]["403"]["description"]

    assert {route: scope for route, scope in found.items() if scope is not None} == SCOPES
    assert {route for route, scope in found.items() if scope is None} <= set(PUBLIC)


def test_every_route_refuses_a_key_of_every_other_scope_with_403_naming_the_one_it_needs(
    secured: ServerThread, engine: Engine
) -> None:
    seeded = _seed(secured, engine)
    before = store_snapshot(engine)
    failures = []

    for (method, template), needed in sorted(SCOPES.items()):
        path, write = _concrete(method, template, seeded.ids)
        for scope in set(Scope) - {needed}:
            response = _send(secured, method, path, seeded.scoped[scope], write)
            if response.status_code != 403:
                failures.append(f"{method} {path} with a {scope} key: {response.status_code}")
            elif template not in OTLP and f"'{needed}' scope" not in response.json()["detail"]:
                failures.append(f"{method} {path}: 403 does not name {needed}: {response.text}")

    assert failures == []
    assert store_snapshot(engine) == before  # no refused write changed a row of any table


def test_every_read_route_answers_a_key_of_its_scope_alone(secured: ServerThread, engine: Engine) -> None:
    seeded = _seed(secured, engine)

    for (method, template), needed in sorted(SCOPES.items()):
        if method in WRITE_METHODS:
            continue  # test_each_write_request_works_with_a_key_of_its_scope_alone
        path = READS_WITH_REQUIRED_PARAMETERS.get((method, template), template).format(**seeded.ids)
        response = _send(secured, method, path, seeded.scoped[needed], None)
        assert response.status_code == 200, f"{method} {path}: {response.status_code} {response.text}"


def test_every_protected_route_refuses_missing_wrong_and_revoked_keys(
    secured: ServerThread, engine: Engine
) -> None:
    seeded = _seed(secured, engine)
    endpoints, _ = app_routes(secured.app)
    before = store_snapshot(engine)
    failures = []

    for method, template in sorted(endpoints - set(PUBLIC)):
        path, write = _concrete(method, template, seeded.ids)
        for key in (None, *seeded.wrong_keys):
            response = _send(secured, method, path, key, write)
            if response.status_code != 401:
                failures.append(f"{method} {path} with key {key!r}: {response.status_code}")
            elif response.headers.get("www-authenticate") != "Bearer":
                failures.append(f"{method} {path}: 401 without WWW-Authenticate: Bearer")

    assert failures == []
    assert store_snapshot(engine) == before  # no refused write changed a row of any table


def test_the_public_routes_answer_without_a_key(secured: ServerThread) -> None:
    for method, path in PUBLIC:
        assert httpx.request(method, f"{secured.base_url}{path}").status_code == 200, path
    assert httpx.get(f"{secured.base_url}/dashboard/dashboard.js").status_code == 200


@pytest.mark.parametrize(("method", "template"), sorted(WRITES), ids=[f"{m} {p}" for m, p in sorted(WRITES)])
def test_each_write_request_works_with_a_key_of_its_scope_alone(
    secured: ServerThread, engine: Engine, method: str, template: str
) -> None:
    # The positive control: the request refused above is one the server takes (and stores) with a key
    # holding nothing but the scope the route needs.
    seeded = _seed(secured, engine)
    path, write = _concrete(method, template, seeded.ids)
    before = store_snapshot(engine)

    response = _send(secured, method, path, seeded.scoped[SCOPES[(method, template)]], write)

    assert response.is_success, response.text
    if (method, template) not in WRITES_THAT_STORE_NOTHING:
        assert store_snapshot(engine) != before


def test_no_key_is_stored_in_plaintext_anywhere(secured: ServerThread, engine: Engine) -> None:
    # Keys hashed at rest, checked over the whole store after they were used for writes (the audit log
    # names the key, the verifier caches it) rather than over the api_key table alone.
    seeded = _seed(secured, engine)
    everything = stored_text(engine)

    for key in (seeded.key, *seeded.wrong_keys, *seeded.scoped.values()):
        assert key not in everything
        assert key.removeprefix("dw_") not in everything
    assert hashlib.sha256(seeded.key.encode()).hexdigest() in everything
