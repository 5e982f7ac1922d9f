"""`driftwatch webhooks add|list|remove|test|deliveries` on the test store, and delivery from a running
`driftwatch serve` whose scheduler sends what the decision jobs queue."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, create_engine
from standardwebhooks.webhooks import Webhook

from driftwatch.cli.root import main
from driftwatch.db import migrate
from tests.fakes.webhook_receiver import ALLOW_LOOPBACK_RECEIVERS, Answer, WebhookReceiver
from tests.notify.support import Clock, deliver, queue_event
from tests.support.patience import deadline, patient
from tests.support.processes import start_serve, wait_healthy

Run = Callable[..., Result]


@pytest.fixture
def run(database_url: str, engine: Engine) -> Run:
    def invoke(*args: str) -> Result:
        env = {
            "DRIFTWATCH_DATABASE_URL": database_url,
            "DRIFTWATCH_POLICY_FILE": None,
            **ALLOW_LOOPBACK_RECEIVERS,
        }
        return CliRunner().invoke(main, list(args), env=env)

    return invoke


def _only_id(run: Run) -> str:
    (hook,) = json.loads(run("webhooks", "list", "--json").stdout)
    return str(hook["id"])


def test_add_prints_the_secret_once_and_list_never_shows_it(run: Run) -> None:
    added = run(
        "webhooks", "add", "https://hooks.example.com/x", "--events", "class.degraded, class.promoted"
    )
    listed = run("webhooks", "list")
    as_json = run("webhooks", "list", "--json")

    assert added.exit_code == 0, added.output
    secret = added.stdout.strip()
    assert secret.startswith("whsec_") and "shown only now" in added.stderr
    assert listed.stdout.startswith(
        f"{_only_id(run)}\thooks.example.com\tstandard\thttps://hooks.example.com/x\t"
    )
    assert "class.degraded,class.promoted\tdelivered 0, pending 0, failed 0" in listed.stdout
    assert secret not in listed.output + as_json.output and '"secret"' not in as_json.output


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["ftp://x.example"], "http"),
        (["https://x.example", "--events", "class.exploded"], "class.exploded"),
        (["https://x.example", "--secret", "hunter2"], "secret"),
        (["https://x.example", "--format", "teams"], "teams"),
    ],
)
def test_add_refuses_bad_input_with_the_reason(run: Run, args: list[str], problem: str) -> None:
    result = run("webhooks", "add", *args)

    assert result.exit_code == 2 if "--format" in args else result.exit_code == 1
    assert problem in result.output
    assert run("webhooks", "list").stdout == ""


def test_remove_then_remove_again(run: Run) -> None:
    run("webhooks", "add", "https://hooks.example.com/x")
    hook = _only_id(run)

    first, second = run("webhooks", "remove", hook), run("webhooks", "remove", hook)

    assert first.exit_code == 0 and first.stdout == f"removed webhook {hook} (https://hooks.example.com/x)\n"
    assert second.exit_code == 1 and f"no webhook with id {hook}" in second.output


def test_test_reports_the_answer_and_fails_on_a_refusal(run: Run) -> None:
    answers = iter([Answer(200, b"thanks"), Answer(401, b"bad signature")])
    with WebhookReceiver(lambda _request: next(answers)) as receiver:
        secret = run("webhooks", "add", receiver.url).stdout.strip()
        hook = _only_id(run)
        good, bad = run("webhooks", "test", hook), run("webhooks", "test", hook)

    assert good.exit_code == 0 and "answered HTTP 200" in good.stdout and "thanks" in good.stdout
    assert bad.exit_code == 1 and "answered HTTP 401" in bad.output and "bad signature" in bad.output
    assert (
        Webhook(secret).verify(receiver.received[0].body, receiver.received[0].headers)["type"]
        == "webhook.test"
    )


def test_deliveries_lists_what_was_sent(run: Run, engine: Engine) -> None:
    with WebhookReceiver() as receiver:
        run("webhooks", "add", receiver.url)
        clock = Clock(datetime.now(UTC))
        queue_event(engine, clock, "class.promoted", "summarize", 1)
        deliver(engine, clock)

    hook = _only_id(run)
    listed = run("webhooks", "deliveries")
    only_failed = run("webhooks", "deliveries", hook, "--status", "failed")

    assert listed.exit_code == 0
    assert f"\twebhook {hook}\tclass.promoted\tsummarize\tdelivered\t1 attempts\t" in listed.stdout
    assert only_failed.exit_code == 0 and only_failed.stdout == ""
    assert run("webhooks", "deliveries", str(int(hook) + 1)).exit_code == 1


def test_serve_delivers_queued_events_to_a_policy_file_webhook(tmp_path: Path) -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    with WebhookReceiver() as receiver:
        policy = tmp_path / "policy.yaml"
        policy.write_text(f"webhooks:\n  - name: ops\n    url: {receiver.url}\n    secret_env: OPS_SECRET\n")
        settings = {
            "DRIFTWATCH_POLICY_FILE": str(policy),
            "DRIFTWATCH_DELIVER_INTERVAL_SECONDS": "0.3",
            **ALLOW_LOOPBACK_RECEIVERS,
            "OPS_SECRET": secret,
        }
        process, base_url = start_serve(tmp_path, settings)
        try:
            wait_healthy(process, base_url)
            store = create_engine(f"sqlite:///{tmp_path / 'served.db'}")
            migrate.upgrade(store)
            give_up = deadline(20)  # the first deliver run registers the policy file's endpoint
            while not httpx.get(f"{base_url}/v1/webhooks").json()["items"] and time.monotonic() < give_up:
                time.sleep(0.1)
            queue_event(store, Clock(datetime.now(UTC)), "class.degraded", "summarize", 1)
            store.dispose()
            give_up = deadline(20)
            while not receiver.received and time.monotonic() < give_up:
                time.sleep(0.1)
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=patient(30))

    (request,) = receiver.received
    assert Webhook(secret).verify(request.body, request.headers)["data"]["task_class"] == "summarize"
    assert "Traceback" not in stderr
