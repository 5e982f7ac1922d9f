"""What a webhook says: the Standard Webhooks JSON envelope, or a Slack-compatible message that a
person reads in a channel (pure: the event's payload in, bytes out)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import orjson


def standard_body(message_id: str, payload: dict[str, Any]) -> bytes:
    """``{"id", "type", "timestamp", "data"}``, the envelope the Standard Webhooks spec recommends;
    ``data`` is the event as the outbox recorded it (tiers, rates with intervals, decision ids)."""
    envelope = {
        "id": message_id,
        "type": payload.get("type"),
        "timestamp": payload.get("occurred_at"),
        "data": payload,
    }
    return orjson.dumps(envelope)


def slack_body(message_id: str, payload: dict[str, Any], dashboard_url: str) -> bytes:
    """A Slack incoming-webhook message (also read by Mattermost, Rocket.Chat, Discord's /slack URL):
    a one-line ``text`` for notifications and a section block with the numbers."""
    event_type = str(payload.get("type"))
    task_class = payload.get("task_class")
    headline, details = _DESCRIBE.get(event_type, _describe_other)(payload)
    subject = f"*{_escape(str(task_class))}*: " if task_class else ""
    link = dashboard_url + (f"/?task_class={quote(str(task_class))}" if task_class else "/")
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{subject}{headline}"}},
    ]
    if details:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(details)}})
    context = f"<{link}|Open the driftwatch dashboard> · `{event_type}` · id `{message_id}`"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    # The same escaping as the blocks: a class named "<!channel>" must not notify the whole channel.
    plain = f"driftwatch: {_escape(str(task_class)) + ': ' if task_class else ''}{_plain(headline)}"
    return orjson.dumps({"text": plain, "blocks": blocks})


Description = tuple[str, list[str]]


def _describe_degraded(payload: dict[str, Any]) -> Description:
    evidence = payload.get("evidence") or {}
    lines = [
        f"Acceptance {_rate(evidence.get('acceptance_rate'))} "
        f"(95% CI {_interval(evidence.get('acceptance_interval'))}) over {evidence.get('samples', '?')} "
        f"shadow evaluations, against a reference of {_rate(evidence.get('reference_rate'))} "
        f"({evidence.get('reference_source', 'reference')}).",
        f"Test: e-value {_number(evidence.get('e_value'))} ≥ threshold {_number(evidence.get('threshold'))}.",
    ]
    if payload.get("reason"):
        lines.append(_escape(str(payload["reason"])))
    return f":warning: quality degraded on tier {_code(payload.get('tier'))}", lines


def _describe_promoted(payload: dict[str, Any]) -> Description:
    headline = (
        f":arrow_up: promoted from {_code(payload.get('from_tier'))} to {_code(payload.get('to_tier'))}"
    )
    return headline, [_escape(str(payload["reason"]))] if payload.get("reason") else []


def _describe_demoted(payload: dict[str, Any]) -> Description:
    model = f" (model {_code(payload['model'])})" if payload.get("model") else ""
    headline = (
        f":arrow_down: moved from {_code(payload.get('from_tier'))} to {_code(payload.get('to_tier'))}{model}"
    )
    return headline, [f"Accepted by {_escape(str(payload.get('actor', 'someone')))}."]


def _describe_recommended(payload: dict[str, Any]) -> Description:
    savings = payload.get("savings") or {}
    counts = payload.get("counts") or {}
    lines = [
        f"Acceptance on {_code(payload.get('to_tier'))}: {_rate(payload.get('acceptance'))} over "
        f"{counts.get('evaluations', '?')} evaluations; 95% lower bound {_rate(payload.get('lower_bound'))} "
        f"≥ bar {_rate(payload.get('bar'))}.",
        f"Projected savings {_dollars(savings.get('monthly_usd'))}/month "
        f"(95% CI {_dollar_interval(savings.get('interval_usd'))}), net of shadow evaluation.",
        f"Accept: `driftwatch policy accept {payload.get('recommendation_id')}`",
    ]
    headline = (
        f":moneybag: can move from {_code(payload.get('from_tier'))} to {_code(payload.get('to_tier'))}"
    )
    return headline, lines


def _describe_budget(payload: dict[str, Any]) -> Description:
    headline = (
        f":money_with_wings: shadow-evaluation budget of {_dollars(payload.get('daily_budget_usd'))} "
        f"spent for {payload.get('day')}; sampling resumes tomorrow"
    )
    return headline, []


def _describe_unevaluable(payload: dict[str, Any]) -> Description:
    reason = _escape(str(payload.get("reason", "")))
    return ":grey_question: calls cannot be shadow-evaluated", [reason] if reason else []


def _describe_unprotected(payload: dict[str, Any]) -> Description:
    since = str(payload.get("unprotected_since", "?"))[:10]
    headline = f":shield: unprotected since {_escape(since)} ({_escape(str(payload.get('reason', '?')))})"
    return headline, [_escape(str(payload["message"]))] if payload.get("message") else []


def _describe_capped(payload: dict[str, Any]) -> Description:
    reason = _escape(str(payload.get("reason", "")))
    return ":warning: new task classes are stored as overflow: the class cap is reached", [
        reason
    ] if reason else []


def _describe_model_changed(payload: dict[str, Any]) -> Description:
    changes = [change for change in payload.get("changes") or [] if isinstance(change, dict)]
    lines = [
        f"{_escape(str(change.get('dimension')))}: {_code(change.get('old') or '?')} → {_code(change.get('new'))} "
        f"({change.get('calls', '?')} of the last {change.get('window', '?')} calls)"
        for change in changes
    ]
    if payload.get("reason"):
        lines.append(_escape(str(payload["reason"])))
    return f":arrows_counterclockwise: served model changed on tier {_code(payload.get('tier'))}", lines


def _describe_test(payload: dict[str, Any]) -> Description:
    return ":white_check_mark: test message from driftwatch: this endpoint receives alerts", []


def _describe_other(payload: dict[str, Any]) -> Description:
    return _code(payload.get("type")), []


_DESCRIBE: dict[str, Callable[[dict[str, Any]], Description]] = {
    "class.degraded": _describe_degraded,
    "class.promoted": _describe_promoted,
    "class.demoted": _describe_demoted,
    "class.demotion_recommended": _describe_recommended,
    "budget.exhausted": _describe_budget,
    "class.unevaluable": _describe_unevaluable,
    "class.unprotected": _describe_unprotected,
    "classes.capped": _describe_capped,
    "model.changed": _describe_model_changed,
    "webhook.test": _describe_test,
}


def _escape(text: str) -> str:
    """Slack's mrkdwn treats &, < and > as control characters; class names are user data."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code(value: object) -> str:
    """A value shown as inline code, escaped like any other text from the store."""
    return f"`{_escape(str(value))}`"


def _plain(text: str) -> str:
    return text.split(" ", 1)[1] if text.startswith(":") else text


def _rate(value: object) -> str:
    return f"{value:.1%}" if isinstance(value, int | float) else "n/a"


def _interval(bounds: object) -> str:
    return _between(bounds, _rate)


def _number(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, int | float) else "n/a"


def _dollars(value: object) -> str:
    return f"${value:,.2f}" if isinstance(value, int | float) else "n/a"


def _dollar_interval(bounds: object) -> str:
    return _between(bounds, _dollars)


def _between(bounds: object, shown: Callable[[object], str]) -> str:
    """An interval given as a two-element list, each bound formatted by ``shown``."""
    if isinstance(bounds, list) and len(bounds) == 2:
        return f"{shown(bounds[0])} to {shown(bounds[1])}"
    return "n/a"
