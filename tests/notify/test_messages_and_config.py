"""Slack messages a person can read, and endpoints declared in the policy file kept in step with it."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine
from standardwebhooks.webhooks import Webhook

from driftwatch.config import Policy, WebhookConfig
from driftwatch.db.engine import session_factory
from driftwatch.errors import ConfigError
from driftwatch.notify.delivery import run_delivery
from driftwatch.notify.endpoints import list_endpoints, sync_config_endpoints
from driftwatch.notify.messages import slack_body, standard_body
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.notify.support import Clock, deliver, options, queue_event

DEGRADED: dict[str, Any] = {
    "type": "class.degraded",
    "task_class": "summarize<&>",
    "occurred_at": "2026-11-25T12:00:00+00:00",
    "tier": "cheap",
    "reason": "acceptance fell",
    "evidence": {
        "acceptance_rate": 0.81,
        "acceptance_interval": [0.78, 0.84],
        "reference_rate": 0.93,
        "reference_source": "acceptance_floor",
        "samples": 640,
        "e_value": 412.0,
        "threshold": 100.0,
    },
}
RECOMMENDED: dict[str, Any] = {
    "type": "class.demotion_recommended",
    "task_class": "classify",
    "occurred_at": "2026-11-25T12:00:00+00:00",
    "recommendation_id": 7,
    "from_tier": "premium",
    "to_tier": "cheap",
    "acceptance": 0.985,
    "lower_bound": 0.962,
    "bar": 0.95,
    "counts": {"evaluations": 400},
    "savings": {"monthly_usd": 1234.5, "interval_usd": [1100.0, 1369.0]},
}


def _text(body: bytes) -> str:
    message = orjson.loads(body)
    blocks = " ".join(
        block["text"]["text"] if "text" in block else block["elements"][0]["text"]
        for block in message["blocks"]
    )
    return f"{message['text']} {blocks}"


def test_a_degradation_reads_with_its_rates_intervals_and_a_dashboard_link() -> None:
    text = _text(slack_body("evt_1", DEGRADED, "https://dw.example"))

    assert "quality degraded on tier `cheap`" in text
    assert "Acceptance 81.0% (95% CI 78.0% to 84.0%) over 640" in text and "reference of 93.0%" in text
    assert "<https://dw.example/?task_class=summarize%3C%26%3E|Open the driftwatch dashboard>" in text
    # Class names are user data: Slack control characters are escaped in the message text.
    assert "*summarize&lt;&amp;&gt;*" in text and "summarize<&>*" not in text


def test_a_recommendation_reads_with_the_savings_and_how_to_accept() -> None:
    text = _text(slack_body("evt_2", RECOMMENDED, "https://dw.example"))

    assert "can move from `premium` to `cheap`" in text
    assert "$1,234.50/month (95% CI $1,100.00 to $1,369.00)" in text
    assert "driftwatch policy accept 7" in text


@pytest.mark.parametrize(
    "event_type",
    [
        "class.promoted",
        "class.demoted",
        "budget.exhausted",
        "class.unevaluable",
        "class.unprotected",
        "model.changed",
        "webhook.test",
        "something.new",
    ],
)
def test_every_event_type_makes_a_message_even_with_fields_missing(event_type: str) -> None:
    message = orjson.loads(slack_body("evt_3", {"type": event_type}, "https://dw.example"))

    assert message["text"].startswith("driftwatch: ") and message["blocks"]


@pytest.mark.parametrize(
    "event_type", ["class.degraded", "class.promoted", "class.demoted", "class.unprotected", "something.new"]
)
def test_no_slack_control_sequence_goes_out_raw_in_the_text_or_the_blocks(event_type: str) -> None:
    hostile = "<!channel> <https://evil.example|click> &"
    payload = {
        "type": event_type,
        "task_class": hostile,
        **{field: hostile for field in ("tier", "from_tier", "to_tier", "model", "reason", "actor")},
    }

    message = orjson.loads(slack_body("evt_4", payload, "https://dw.example"))

    assert message["text"].startswith(
        "driftwatch: &lt;!channel&gt; &lt;https://evil.example|click&gt; &amp;: "
    )
    for text in (message["text"], _text(orjson.dumps(message)).replace("<https://dw.example/?", "")):
        assert "<!channel>" not in text and "<https://evil" not in text and "& " not in text


def test_a_model_change_reads_with_each_old_and_new_value_escaped() -> None:
    hostile = "<!channel> &"
    change = {
        "dimension": "model",
        "old": "gpt-4o-mini-2024-07-18",
        "new": hostile,
        "calls": 10,
        "window": 50,
    }
    payload = {"type": "model.changed", "task_class": "faq", "tier": "cheap", "changes": [change]}

    text = _text(slack_body("evt_5", payload, "https://dw.example"))

    assert "served model changed on tier `cheap`" in text
    assert "model: `gpt-4o-mini-2024-07-18` → `&lt;!channel&gt; &amp;` (10 of the last 50 calls)" in text
    assert "<!channel>" not in text


def test_the_standard_envelope_carries_the_event_as_data() -> None:
    envelope = orjson.loads(standard_body("evt_1", DEGRADED))

    assert envelope == {
        "id": "evt_1",
        "type": "class.degraded",
        "timestamp": DEGRADED["occurred_at"],
        "data": DEGRADED,
    }


def test_policy_file_webhooks_are_added_updated_and_retired(engine: Engine) -> None:
    clock = Clock()
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    environ = {"OPS_HOOK_SECRET": secret}
    first = [
        WebhookConfig(name="ops", url="https://ops.example/hook", secret_env="OPS_HOOK_SECRET"),
        WebhookConfig(
            name="chat", url="https://hooks.slack.example/x", format="slack", events=("class.promoted",)
        ),
    ]
    sessions = session_factory(engine)
    with sessions.begin() as session:
        sync_config_endpoints(session, first, environ, clock())
    with sessions.begin() as session:
        sync_config_endpoints(
            session, [first[0].model_copy(update={"url": "https://ops.example/v2"})], environ, clock()
        )
        current = list_endpoints(session)
        everything = list_endpoints(session, include_removed=True)

    assert [(hook.name, hook.url, hook.source) for hook in current] == [
        ("ops", "https://ops.example/v2", "config")
    ]
    assert [hook.name for hook in everything if hook.removed_at] == [f"chat (removed #{everything[1].id})"]


def test_a_policy_file_webhook_signs_with_the_secret_from_its_environment_variable(engine: Engine) -> None:
    clock = Clock()
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    with WebhookReceiver() as receiver:
        policy = Policy(webhooks=(WebhookConfig(name="ops", url=receiver.url, secret_env="OPS_HOOK_SECRET"),))
        asyncio.run(run_delivery(engine, policy, options(), clock, {"OPS_HOOK_SECRET": secret}))
        queue_event(engine, clock, "class.degraded", "summarize", 1)
        asyncio.run(run_delivery(engine, policy, options(), clock, {"OPS_HOOK_SECRET": secret}))

    (request,) = receiver.received
    assert Webhook(secret).verify(request.body, request.headers)["data"]["task_class"] == "summarize"


def test_a_missing_or_bad_secret_variable_is_a_clear_error(engine: Engine) -> None:
    declared = [WebhookConfig(name="ops", url="https://ops.example/hook", secret_env="OPS_HOOK_SECRET")]

    with (
        session_factory(engine).begin() as session,
        pytest.raises(ConfigError, match="OPS_HOOK_SECRET is not set"),
    ):
        sync_config_endpoints(session, declared, {}, Clock()())
    with session_factory(engine).begin() as session, pytest.raises(ConfigError, match="base64"):
        sync_config_endpoints(session, declared, {"OPS_HOOK_SECRET": "whsec_!!"}, Clock()())


@pytest.mark.parametrize(
    ("webhooks", "problem"),
    [
        ([{"name": "a", "url": "ftp://x"}], "http"),
        ([{"name": "a", "url": "https://x", "events": ["nope"]}], "nope"),
        ([{"name": "a", "url": "https://x"}, {"name": "a", "url": "https://y"}], "repeated"),
        ([{"name": "a", "url": "https://x", "secret": "inline"}], "secret"),
    ],
)
def test_bad_policy_file_webhooks_are_refused(webhooks: list[dict[str, Any]], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Policy.model_validate({"webhooks": webhooks})


def test_the_deliver_job_leaves_a_receiver_alone_when_no_webhook_exists(engine: Engine) -> None:
    clock = Clock()
    queue_event(engine, clock, "class.degraded", "summarize", 1)

    summary = deliver(engine, clock)

    assert (summary.queued, summary.delivered) == (0, 0)
