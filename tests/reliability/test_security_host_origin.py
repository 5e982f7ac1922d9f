"""Browser safety of the loopback default: a page on another site cannot read the API through DNS
rebinding (``Host`` is checked) nor change anything through CSRF (``Origin`` and ``Sec-Fetch-Site`` are
checked on POST, PUT, PATCH and DELETE). OTLP exporters and CLI clients send neither and are
unaffected. Real servers on SQLite and PostgreSQL; the rule itself, pure, below them."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine

from driftwatch.api.browser_rules import BrowserRules, default_hosts, host_name
from tests.conftest import StartServer
from tests.fakes.webhook_receiver import LOOPBACK_RECEIVERS, WebhookReceiver
from tests.reliability.routes import app_routes
from tests.support.otlp import export_request, llm_attributes, make_span
from tests.support.server import ServerThread

EVIL = "http://evil.example"
IDS = {"webhook_id": "1", "delivery_id": "1", "recommendation_id": "1", "task_class": "faq"}


def _port(server: ServerThread) -> int:
    return int(server.base_url.rsplit(":", 1)[1])


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:{port}", "127.0.0.1.nip.io:{port}"])
def test_a_rebound_name_cannot_read_the_api(server: ServerThread, host: str) -> None:
    response = httpx.get(f"{server.base_url}/v1/calls", headers={"host": host.format(port=_port(server))})

    assert response.status_code == 400
    assert (
        response.json()["error"] == "bad_request" and "DRIFTWATCH_ALLOWED_HOSTS" in response.json()["detail"]
    )


@pytest.mark.parametrize(
    "host", ["127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}", "LOCALHOST", "dw.example"]
)
def test_the_names_the_server_is_known_by_are_answered(start_server: StartServer, host: str) -> None:
    server = start_server(public_url="https://dw.example/driftwatch")

    response = httpx.get(f"{server.base_url}/v1/calls", headers={"host": host.format(port=_port(server))})

    assert response.status_code == 200, response.text


def test_allowed_hosts_replace_the_default(start_server: StartServer) -> None:
    server = start_server(allowed_hosts=("dw.internal", "*.corp.example"))

    def status(host: str) -> int:
        return httpx.get(f"{server.base_url}/healthz", headers={"host": host}).status_code

    assert (status("dw.internal"), status("a.b.corp.example"), status("corp.example")) == (200, 200, 400)
    assert status(f"127.0.0.1:{_port(server)}") == 400


def test_on_a_non_loopback_address_any_host_is_answered_and_every_request_needs_a_key(
    start_server: StartServer,
) -> None:
    server = start_server(host="0.0.0.0")  # the setting only: the test server listens on loopback

    response = httpx.get(f"{server.base_url}/v1/calls", headers={"host": "driftwatch.monitoring.svc:4318"})

    assert response.status_code == 401


def test_every_state_changing_route_refuses_another_origin(server: ServerThread) -> None:
    endpoints, _ = app_routes(server.app)
    changing = sorted(
        (method, path) for method, path in endpoints if method in {"POST", "PUT", "PATCH", "DELETE"}
    )
    assert ("POST", "/v1/webhooks/{webhook_id}/test") in changing and len(changing) >= 10

    for method, path in changing:
        url = server.base_url + path.format(**IDS)
        for headers in ({"origin": EVIL}, {"origin": "null"}, {"sec-fetch-site": "cross-site"}):
            response = httpx.request(method, url, headers=headers, json={})
            assert response.status_code == 403, (method, path, headers, response.text)
            assert response.json()["error"] == "forbidden"


def test_a_cross_origin_test_send_reaches_no_receiver_and_changes_nothing(
    start_server: StartServer, engine: Engine
) -> None:
    server = start_server(webhook_allowed_networks=LOOPBACK_RECEIVERS)
    with WebhookReceiver() as receiver:
        hook = httpx.post(f"{server.base_url}/v1/webhooks", json={"url": receiver.url}).json()

        tested = httpx.post(f"{server.base_url}/v1/webhooks/{hook['id']}/test", headers={"origin": EVIL})
        removed = httpx.delete(f"{server.base_url}/v1/webhooks/{hook['id']}", headers={"origin": EVIL})

        assert (tested.status_code, removed.status_code) == (403, 403)
        assert receiver.received == []
        listed = httpx.get(f"{server.base_url}/v1/webhooks").json()["items"]
        assert [item["id"] for item in listed] == [hook["id"]]
        same_origin = {"origin": server.base_url, "sec-fetch-site": "same-origin"}
        assert httpx.post(f"{server.base_url}/v1/webhooks/{hook['id']}/test", headers=same_origin).json()[
            "delivered"
        ]
        assert len(receiver.received) == 1


def test_the_public_urls_origin_may_change_state(start_server: StartServer) -> None:
    server = start_server(public_url="https://dw.example/driftwatch")
    headers = {"origin": "https://dw.example", "host": "dw.example"}

    response = httpx.post(f"{server.base_url}/v1/policy/classes/faq/pin", headers=headers, json={"tier": "x"})

    assert response.status_code != 403, response.text


def test_exporters_and_cli_clients_send_neither_header_and_are_unaffected(server: ServerThread) -> None:
    body = export_request([make_span(llm_attributes())]).SerializeToString()

    response = httpx.post(
        f"{server.base_url}/v1/traces", content=body, headers={"content-type": "application/x-protobuf"}
    )

    assert response.status_code == 200, response.text
    assert "origin" not in httpx.Request("POST", server.base_url).headers


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("127.0.0.1:4318", "127.0.0.1"),
        ("[::1]:4318", "::1"),
        ("[::1]", "::1"),
        ("Example.COM.", "example.com"),
    ],
)
def test_host_names_are_read_without_their_port(header: str, name: str) -> None:
    assert host_name(header) == name


def test_the_rule_lets_safe_methods_through_from_anywhere_on_a_known_host() -> None:
    rules = BrowserRules.build(default_hosts("127.0.0.1", None), None)

    assert rules.refusal("GET", "127.0.0.1:4318", EVIL, "cross-site") is None
    assert rules.refusal("OPTIONS", "localhost", EVIL, None) is None
    refused = rules.refusal("POST", "127.0.0.1:4318", "http://127.0.0.1:4319", None)
    assert refused is not None and refused.status_code == 403  # another port is another origin
    assert rules.refusal("POST", "127.0.0.1:4318", "http://127.0.0.1:4318", "same-origin") is None
    assert rules.refusal("POST", None, None, None) is None
