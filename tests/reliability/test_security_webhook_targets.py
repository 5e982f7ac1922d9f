"""Webhooks cannot reach internal addresses (SSRF): refused when added, by the API and the CLI, and
again at every send, by the deliver job and by ``POST /v1/webhooks/{id}/test``, including a name whose
DNS answer turns to loopback after it was added. Only a network allowed explicitly is reachable, and
the connection goes to the address that was checked, with the URL's own Host header. SQLite and
PostgreSQL."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import trustme
from click.testing import CliRunner
from sqlalchemy import Engine

from driftwatch.cli.root import main
from driftwatch.config import load_settings
from driftwatch.db.engine import session_factory
from driftwatch.db.models import WebhookEndpoint
from tests.conftest import StartServer
from tests.fakes.resolver import TableResolver
from tests.fakes.webhook_receiver import LOOPBACK_RECEIVERS, WebhookReceiver
from tests.notify.support import Clock, attempts, deliver, options, queue_event

PUBLIC = "93.184.215.14"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
# The spellings the issue found accepted, and more of the same kind: (URL host, the rule it breaks).
INTERNAL_HOSTS = [
    ("127.0.0.1", "loopback"),
    ("169.254.169.254", "link-local"),
    ("metadata.google.internal", "link-local"),
    ("10.0.0.1", "private"),
    ("[::1]", "loopback"),
    ("0.0.0.0", "unspecified"),
    ("127.1", "loopback"),
    ("2130706433", "loopback"),
    ("[::ffff:127.0.0.1]", "loopback"),
    ("0x7f.0.0.1", "loopback"),
    ("100.64.0.1", "shared"),
    ("[fd00::1]", "private"),
    ("[fe80::1]", "link-local"),
    ("239.1.2.3", "multicast"),
    ("hooks.localhost", "loopback"),
    ("internal.example", "private"),  # a name whose DNS answer is internal
]
# The receiver's address spelled every way a URL can: each reaches it once its network is allowed.
RECEIVER_SPELLINGS = ["127.0.0.1", "127.1", "2130706433", "0x7f.0.0.1", "017700000001", "rebound.example"]


def _resolver() -> TableResolver:
    return TableResolver({"internal.example": ["10.20.30.40"], "rebound.example": [PUBLIC]})


@pytest.mark.parametrize(("host", "rule"), INTERNAL_HOSTS)
def test_the_api_refuses_an_internal_webhook_naming_the_rule(
    start_server: StartServer, host: str, rule: str
) -> None:
    server = start_server(resolver=_resolver())

    created = httpx.post(f"{server.base_url}/v1/webhooks", json={"url": f"http://{host}/latest/meta-data/"})

    assert created.status_code == 422, created.text
    assert created.json()["error"] == "unprocessable"
    assert (
        rule in created.json()["detail"] and "DRIFTWATCH_WEBHOOK_ALLOWED_NETWORKS" in created.json()["detail"]
    )
    assert httpx.get(f"{server.base_url}/v1/webhooks").json()["items"] == []


def test_the_cli_refuses_an_internal_webhook(database_url: str, engine: Engine) -> None:
    env = {"DRIFTWATCH_DATABASE_URL": database_url, "DRIFTWATCH_POLICY_FILE": None}

    added = CliRunner().invoke(main, ["webhooks", "add", "http://169.254.169.254/latest/"], env=env)

    assert added.exit_code == 1
    assert "169.254.169.254 is link-local" in added.output
    assert CliRunner().invoke(main, ["webhooks", "list"], env=env).stdout == ""


def test_an_allowed_network_is_reachable_and_its_neighbours_are_not(start_server: StartServer) -> None:
    server = start_server(webhook_allowed_networks=("10.20.0.0/16",), resolver=_resolver())

    inside = httpx.post(f"{server.base_url}/v1/webhooks", json={"url": "http://internal.example/hooks"})
    outside = httpx.post(f"{server.base_url}/v1/webhooks", json={"url": "http://10.21.0.1/hooks"})

    assert inside.status_code == 201, inside.text
    assert outside.status_code == 422 and "10.21.0.1 is private" in outside.text


@pytest.mark.parametrize("spelling", RECEIVER_SPELLINGS)
def test_every_send_refuses_an_internal_target_that_got_into_the_store(engine: Engine, spelling: str) -> None:
    """Rows added before the rules (or before an allowed network was taken away) are checked when sent."""
    resolver = TableResolver({"rebound.example": ["127.0.0.1"]})
    clock = Clock()
    with WebhookReceiver() as receiver:
        _store_endpoint(engine, receiver.url.replace("127.0.0.1", spelling), clock)
        queue_event(engine, clock, "class.degraded", "faq", 1)

        refused = deliver(engine, clock, worker=options(resolver=resolver, webhook_allowed_networks=()))
        clock.advance(hours=1)
        allowed = deliver(engine, clock, worker=options(resolver=resolver))

    (first, second) = attempts(engine)
    assert refused.retrying == 1 and first.status_code is None
    assert first.error is not None and "is loopback (127.0.0.0/8)" in first.error
    assert allowed.delivered == 1 and second.status_code == 200  # the refusal was all that stopped it
    assert len(receiver.received) == 1


@pytest.mark.parametrize(("host", "rule"), INTERNAL_HOSTS)
def test_every_internal_spelling_that_got_into_the_store_is_refused_when_sent_naming_the_rule(
    engine: Engine, host: str, rule: str
) -> None:
    clock = Clock()
    _store_endpoint(engine, f"http://{host}/latest/meta-data/", clock)
    queue_event(engine, clock, "class.degraded", "faq", 1)

    summary = deliver(engine, clock, worker=options(resolver=_resolver(), webhook_allowed_networks=()))

    (attempt,) = attempts(engine)
    assert summary.retrying == 1 and attempt.status_code is None and attempt.response_excerpt is None
    assert attempt.error is not None and f"is {rule}" in attempt.error, attempt.error


def test_a_name_that_resolves_to_loopback_only_when_sent_is_refused(
    start_server: StartServer, engine: Engine
) -> None:
    resolver = TableResolver({"rebound.example": [PUBLIC]})
    server = start_server(resolver=resolver)
    with WebhookReceiver() as receiver:
        url = receiver.url.replace("127.0.0.1", "rebound.example")
        created = httpx.post(f"{server.base_url}/v1/webhooks", json={"url": url})
        assert created.status_code == 201, created.text
        clock = Clock(datetime.now(UTC))  # events from after the webhook was added
        resolver.answers["rebound.example"] = ["127.0.0.1"]  # the attacker's DNS changes its answer

        tested = httpx.post(f"{server.base_url}/v1/webhooks/{created.json()['id']}/test", timeout=30).json()
        queue_event(engine, clock, "class.degraded", "faq", 1)
        summary = deliver(engine, clock, worker=options(resolver=resolver, webhook_allowed_networks=()))

        assert receiver.received == [], summary
    assert tested["delivered"] is False and tested["response_excerpt"] is None
    assert "'rebound.example' resolves to 127.0.0.1, which is loopback" in tested["error"]
    assert summary.retrying == 1, summary
    (attempt,) = attempts(engine)
    assert attempt.error == tested["error"]


def test_one_internal_answer_among_public_ones_is_refused_when_sent(engine: Engine) -> None:
    resolver = TableResolver({"split.example": [PUBLIC, "127.0.0.1"]})
    clock = Clock()
    _store_endpoint(engine, "http://split.example/hooks", clock)
    queue_event(engine, clock, "class.degraded", "faq", 1)

    deliver(engine, clock, worker=options(resolver=resolver, webhook_allowed_networks=()))

    (attempt,) = attempts(engine)
    assert attempt.error is not None and "resolves to 127.0.0.1, which is loopback" in attempt.error


def test_the_connection_goes_to_the_checked_address_with_the_urls_own_host(engine: Engine) -> None:
    """The system resolver does not know this name: only the checked answer can have been used."""
    resolver = TableResolver({"receiver.example": ["127.0.0.1"]})
    clock = Clock()
    with WebhookReceiver() as receiver:
        url = receiver.url.replace("127.0.0.1", "receiver.example")
        _store_endpoint(engine, url, clock)
        queue_event(engine, clock, "class.degraded", "faq", 1)

        summary = deliver(engine, clock, worker=options(resolver=resolver))

    assert summary.delivered == 1
    (request,) = receiver.received
    assert request.headers["host"] == httpx.URL(url).netloc.decode()
    assert resolver.asked == ["receiver.example"]


def test_https_keeps_the_name_for_sni_and_the_certificate_while_connecting_to_the_checked_address(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))  # the client trusts this CA only
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("receiver.example").configure_cert(tls)
    resolver = TableResolver({"receiver.example": ["127.0.0.1"], "impostor.example": ["127.0.0.1"]})
    clock = Clock()
    with WebhookReceiver(tls=tls) as receiver:
        _store_endpoint(engine, receiver.url.replace("127.0.0.1", "receiver.example"), clock)
        _store_endpoint(engine, receiver.url.replace("127.0.0.1", "impostor.example"), clock)
        queue_event(engine, clock, "class.degraded", "faq", 1)

        summary = deliver(engine, clock, worker=options(resolver=resolver))

    assert (summary.delivered, summary.retrying) == (1, 1)
    assert len(receiver.received) == 1 and receiver.received[0].headers["host"].startswith(
        "receiver.example:"
    )
    assert sorted(name or "" for name in receiver.server_names) == ["impostor.example", "receiver.example"]
    (refused,) = [attempt for attempt in attempts(engine) if attempt.status_code is None]
    assert refused.error is not None and "CERTIFICATE_VERIFY_FAILED" in refused.error


def test_localhost_from_the_system_resolver_is_refused_when_sent(engine: Engine) -> None:
    clock = Clock()
    with WebhookReceiver() as receiver:
        _store_endpoint(engine, receiver.url.replace("127.0.0.1", "localhost"), clock)
        queue_event(engine, clock, "class.degraded", "faq", 1)

        deliver(engine, clock, worker=options(webhook_allowed_networks=()))
        clock.advance(hours=1)
        deliver(engine, clock, worker=options(webhook_allowed_networks=(*LOOPBACK_RECEIVERS, "::1/128")))

    first, second = attempts(engine)
    assert first.error is not None and "'localhost' resolves to" in first.error and "loopback" in first.error
    assert second.status_code == 200 and len(receiver.received) == 1


def test_serve_refuses_an_internal_webhook_in_the_policy_file(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("webhooks:\n  - name: metadata\n    url: http://169.254.169.254/latest/\n")
    env = {"DRIFTWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "DRIFTWATCH_POLICY_FILE": str(policy)}

    served = CliRunner().invoke(main, ["serve", "--port", "0"], env=env)

    assert served.exit_code == 1
    assert "webhook 'metadata' in the policy file: webhook target refused: 169.254.169.254" in served.output


def _store_endpoint(engine: Engine, url: str, clock: Clock) -> None:
    """An endpoint row as an older version (or a wider allowed network) could have left it."""
    with session_factory(engine).begin() as session:
        session.add(
            WebhookEndpoint(
                name=url, url=url, format="standard", secret=SECRET, source="api", created_at=clock()
            )
        )


@pytest.mark.parametrize(
    "value",
    ["10.20.0.0/16, fd12:3456::/48", '["10.20.0.0/16", "fd12:3456::/48"]', "10.20.0.0/16,fd12:3456::/48,"],
)
def test_allowed_networks_are_a_comma_separated_or_json_list(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("DRIFTWATCH_WEBHOOK_ALLOWED_NETWORKS", value)

    assert load_settings().webhook_allowed_networks == ("10.20.0.0/16", "fd12:3456::/48")


@pytest.mark.parametrize(
    ("value", "problem"), [("10.20.0.1/16", "has host bits set"), ("intranet", "not a network")]
)
def test_serve_refuses_an_unusable_allowed_network_with_the_reason(
    tmp_path: Path, value: str, problem: str
) -> None:
    env = {
        "DRIFTWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "DRIFTWATCH_POLICY_FILE": None,
        "DRIFTWATCH_WEBHOOK_ALLOWED_NETWORKS": value,
    }

    served = CliRunner().invoke(main, ["serve", "--port", "0"], env=env)

    assert served.exit_code == 1 and problem in served.output and value in served.output
    assert not (tmp_path / "x.db").exists()
