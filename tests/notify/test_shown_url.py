"""Webhook URLs as shown: secrets in the userinfo, the query or the path read *** (pure)."""

from __future__ import annotations

import pytest

from driftwatch.notify.shown_url import shown_url

SLACK = "https://hooks.slack.com/services/T0A1B2C3D/B0E4F5G6H/aBcDeFgHiJkLmNoPqRsTuVwX"


@pytest.mark.parametrize(
    ("url", "webhook_format", "shown"),
    [
        (SLACK, "slack", "https://hooks.slack.com/services/***"),
        (SLACK, "standard", "https://hooks.slack.com/services/***"),
        ("https://chat.example/hooks/xi4g3p8k9bdy7jx3o6gk1wumfr", "slack", "https://chat.example/hooks/***"),
        ("https://discord.com/api/webhooks/1234/AbCd", "standard", "https://discord.com/api/***"),
        ("https://ops:hunter2@hooks.example.com/dw", "standard", "https://***@hooks.example.com/dw"),
        ("https://token@hooks.example.com/dw", "standard", "https://***@hooks.example.com/dw"),
        (
            "https://hooks.example.com/dw?token=s3cret&v=2",
            "standard",
            "https://hooks.example.com/dw?token=***&v=***",
        ),
        ("https://rx.example/in/4f8a9b2c1d3e5f6071829a", "standard", "https://rx.example/in/***"),
        (
            "https://rx.example:8443/driftwatch/events",
            "standard",
            "https://rx.example:8443/driftwatch/events",
        ),
        ("http://10.20.0.5/hook", "standard", "http://10.20.0.5/hook"),
    ],
)
def test_secrets_in_a_webhook_url_are_masked_and_the_rest_is_kept(
    url: str, webhook_format: str, shown: str
) -> None:
    assert shown_url(url, webhook_format) == shown
