"""The dashboard's savings section in real headless Chromium: a bar of net savings per day and the
ledger per class, the figures the store's, null ones shown as a dash, following the class filter."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page
from sqlalchemy import Engine

from tests.conftest import StartServer
from tests.dashboard.test_dashboard_page import INKED_PIXELS
from tests.ledger import scenario
from tests.support.browser import console_errors, screenshot, usd

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
DASH = "\u2014"


def _cells(shown: Page, task_class: str) -> list[str]:
    return shown.locator(f"#savings-classes tr[data-class='{task_class}'] td").all_text_contents()


def test_the_savings_section_draws_the_ledger(engine: Engine, start_server: StartServer, page: Page) -> None:
    scenario.seed(engine, scenario.midnight_days_ago(3))
    server = start_server(policy=scenario.POLICY)
    errors = console_errors(page)

    page.goto(f"{server.base_url}/")
    page.wait_for_selector("#savings[data-state=ready]", timeout=15_000)

    # One bar per day of the last 30; the bars of the two priced days inked.
    assert page.evaluate("window.driftwatchSavingsChart.data[0].length") == 30
    assert page.locator("#savings-chart canvas").evaluate(INKED_PIXELS) > 500
    extraction = _cells(page, "extraction")
    assert extraction == [
        "extraction",
        "20",
        usd(0.0725 + 0.0225),
        usd(0.375 + 0.075),
        usd(0.04),
        usd(0.032 + 0.015),
        usd(0.2725 + 0.0425),
        "0",
    ]
    tagging = _cells(page, "tagging")
    assert tagging[2] == DASH and tagging[6] == DASH and tagging[7] == "1"
    assert "premium, m-top" in (page.text_content("#savings") or "")
    screenshot(page, "dashboard-savings.png")

    page.select_option("#class-filter", "codegen")
    page.wait_for_function("document.querySelectorAll('#savings-classes tbody tr').length === 1")
    assert _cells(page, "codegen")[6] == usd(0.0)
    assert errors == []
