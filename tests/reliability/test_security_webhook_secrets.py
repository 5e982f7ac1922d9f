"""Webhook signing secrets are shown once, in the answer that creates the webhook, and never again: no
GET endpoint of the real app (found from the app, so new ones are covered) returns one, whatever the
webhooks' state (delivered, tested, removed). Secrets inside webhook URLs are masked wherever they
are shown."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from driftwatch.auth.keys import create_key
from driftwatch.auth.scopes import ALL_SCOPES
from driftwatch.cli.root import main
from driftwatch.db.engine import session_factory
from tests.conftest import StartServer
from tests.fakes.webhook_receiver import LOOPBACK_RECEIVERS, Answer, WebhookReceiver
from tests.notify.support import Clock, deliver, queue_event
from tests.reliability.routes import PUBLIC, app_routes

pytestmark = pytest.mark.timeout(120)

GIVEN_SECRET = "whsec_" + base64.b64encode(b"a-secret-of-32-bytes-for-signing").decode()


def _forms(secret: str) -> list[str]:
    """The secret as shown, and its key material alone (base64, and as the bytes' hex)."""
    material = secret.removeprefix("whsec_")
    return [secret, material, base64.b64decode(material).hex()]


def test_no_get_endpoint_returns_a_webhook_secret(start_server: StartServer, engine: Engine) -> None:
    server = start_server(require_auth=True, webhook_allowed_networks=LOOPBACK_RECEIVERS)
    with session_factory(engine).begin() as session:
        key = create_key(session, "admin", scopes=ALL_SCOPES).key
    with (
        httpx.Client(base_url=server.base_url, headers={"authorization": f"Bearer {key}"}) as client,
        WebhookReceiver(lambda _request: Answer(200, b"ok")) as receiver,
    ):
        given = client.post(
            "/v1/webhooks", json={"url": receiver.url, "name": "given", "secret": GIVEN_SECRET}
        )
        generated = client.post("/v1/webhooks", json={"url": receiver.url, "name": "generated"})
        removed = client.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/gone", "name": "removed"})
        assert {given.status_code, generated.status_code, removed.status_code} == {201}
        secrets = [GIVEN_SECRET, generated.json()["secret"], removed.json()["secret"]]
        assert given.json()["secret"] == GIVEN_SECRET  # shown once, on creation
        assert client.post(f"/v1/webhooks/{given.json()['id']}/test").is_success
        clock = Clock(datetime.now(UTC))  # events from after the webhooks were added reach them
        queue_event(engine, clock, "class.degraded", "faq", 1)
        deliver(engine, clock)
        deleted = client.delete(f"/v1/webhooks/{removed.json()['id']}")
        assert deleted.is_success
        ids = {"webhook_id": given.json()["id"], "task_class": "faq", "recommendation_id": 1}
        assert len(receiver.received) >= 3  # the test message and the event to both live endpoints

        endpoints, _ = app_routes(server.app)
        answers = {}
        for method, template in sorted(endpoints):
            if method == "GET":
                path = template.format(**ids)
                answer = client.get(path, params={"include_removed": "true"})
                answers[path] = answer.text
        answers["DELETE /v1/webhooks/{webhook_id}"] = deleted.text

    assert "/v1/webhooks/{webhook_id}/deliveries".format(**ids) in answers
    assert "/v1/webhooks" in answers and "given" in answers["/v1/webhooks"]
    leaks = [
        (path, form)
        for path, text in answers.items()
        for secret in secrets
        for form in _forms(secret)
        if form in text
    ]
    assert leaks == []
    assert set(PUBLIC) & {("GET", path) for path in answers}  # the open ones were read too


SLACK_URL = "https://hooks.slack.com/services/T0A1B2C3D/B0E4F5G6H/aBcDeFgHiJkLmNoPqRsTuVwX"
PASSWORD_URL = "https://ops:hunter2-s3cret@hooks.example.com/driftwatch?token=tok-s3cret"
URL_SECRETS = ("aBcDeFgHiJkLmNoPqRsTuVwX", "hunter2-s3cret", "tok-s3cret")


def test_secrets_in_webhook_urls_are_masked_wherever_a_webhook_is_shown(
    start_server: StartServer, database_url: str
) -> None:
    """Slack URLs are secrets themselves; other URLs can carry a password or a token."""
    server = start_server()
    slack = httpx.post(f"{server.base_url}/v1/webhooks", json={"url": SLACK_URL, "format": "slack"})
    standard = httpx.post(f"{server.base_url}/v1/webhooks", json={"url": PASSWORD_URL, "name": "ops"})
    env = {"DRIFTWATCH_DATABASE_URL": database_url, "DRIFTWATCH_POLICY_FILE": None}
    cli = CliRunner().invoke(main, ["webhooks", "list"], env=env).stdout
    cli_json = CliRunner().invoke(main, ["webhooks", "list", "--json"], env=env).stdout
    listed = httpx.get(f"{server.base_url}/v1/webhooks").text
    removed = httpx.delete(f"{server.base_url}/v1/webhooks/{standard.json()['id']}").text

    shown = {"create slack": slack.text, "create": standard.text, "list": listed, "delete": removed}
    shown |= {"cli list": cli, "cli list --json": cli_json}
    assert [
        (where, secret) for where, text in shown.items() for secret in URL_SECRETS if secret in text
    ] == []
    assert (
        "https://hooks.slack.com/services/***" in listed and "https://***@hooks.example.com/driftwatch" in cli
    )
