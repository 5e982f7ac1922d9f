"""The page at ``/`` in real headless Chromium (Debian's ``chromium``, driven by playwright): the charts
draw, the numbers shown are the store's, nothing logs an error, and with auth on the page asks for a
key once.  A screenshot of each run is kept under ``artifacts/`` at the repository root."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import Engine

from driftwatch.config import Settings
from driftwatch.scheduler.jobs import JobContext, run_job
from driftwatch.stats.proportions import wilson_interval
from tests.conftest import StartServer
from tests.dashboard import scenario
from tests.support.browser import chromium, console_errors, screenshot, usd

# The page needs no database of its own kind: one backend is enough (the API tests run both).
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    yield opened
    context.close()


DASH = "\u2013"  # the en dash of ranges


def pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def wait_ready(page: Page) -> None:
    page.wait_for_selector("body[data-state=ready]", timeout=15_000)


INKED_PIXELS = """(canvas) => {
    const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let inked = 0;
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) inked++;
    return inked;
}"""


def test_the_dashboard_draws_the_store(engine: Engine, start_server: StartServer, page: Page) -> None:
    expected = scenario.seed(engine)
    server = start_server(policy=scenario.POLICY)
    errors = console_errors(page)

    page.goto(f"{server.base_url}/?range=7d")
    wait_ready(page)

    # Charts: three classes with evaluations, then calls, spend and shadow spend; every canvas drawn on.
    assert page.evaluate("window.driftwatchCharts.length") == 6
    assert page.locator("#acceptance .chart-card").count() == 3
    extraction_series = page.evaluate(
        "window.driftwatchCharts.find(c => c.root.parentElement.dataset.class === 'extraction').series.length"
    )
    assert extraction_series == 1 + 3 + 1  # x, cheap acceptance with its interval's two ends, reference
    for canvas in page.locator("canvas").all():
        assert canvas.evaluate(INKED_PIXELS) > 500
    screenshot(page, "dashboard.png")

    # Numbers.
    cheap_cost = expected.total_cost - expected.cost["codegen"]
    assert page.text_content("#saved") == usd(expected.total_saved)
    assert usd(cheap_cost) in (page.text_content("#saved-detail") or "")
    assert page.text_content("#at-risk") == usd(expected.saved["tagging"] + expected.saved["extraction"])
    at_risk = page.text_content("#at-risk-detail")
    assert at_risk == "saved on a degraded tier by extraction (since promoted), tagging"
    assert page.text_content("#recommended") == f"{usd(scenario.RECOMMENDED[0])}/mo"
    assert page.text_content("#spend") == usd(expected.total_cost)
    assert page.text_content("#spend-detail") == f"{sum(expected.calls.values()):,} calls"
    assert page.text_content("#webhooks") == "2 delivered"
    row = page.locator("#classes tr", has_text="extraction")
    cells = row.locator("td").all_text_contents()
    interval = wilson_interval(expected.acceptable["extraction"], expected.decided["extraction"])
    assert interval is not None
    rate = expected.acceptable["extraction"] / expected.decided["extraction"]
    assert cells[1] == "mid"
    assert (
        cells[3]
        == f"{pct(rate)} ({pct(interval.low)}{DASH}{pct(interval.high)}) of {expected.decided['extraction']}"
    )
    assert cells[5] == str(expected.calls["extraction"])
    assert cells[7] == usd(expected.saved["extraction"])
    assert page.locator("#classes tr", has_text="tagging").locator(".badge").text_content() == "degraded"
    promoted = page.locator("#decisions tr", has_text="promoted").locator("td").all_text_contents()
    assert promoted[1] == "extraction" and promoted[3] == "cheap → mid"
    recommendation = page.locator("#recommendations tbody tr").locator("td").all_text_contents()
    low, high = scenario.RECOMMENDED[1:]
    assert recommendation[:3] == ["codegen", "premium → mid", f"$123.45 ({usd(low)} {DASH} {usd(high)})"]
    assert "connection refused" in (page.text_content("#deliveries") or "")

    # The range and class controls reload the document.
    page.click("#ranges button[data-range='24h']")
    page.wait_for_selector("#ranges button[data-range='24h'][aria-pressed=true]")
    wait_ready(page)
    assert "range=24h" in page.url
    page.select_option("#class-filter", "extraction")
    page.wait_for_function("document.querySelectorAll('#acceptance .chart-card').length === 1")
    assert page.locator("#classes tbody tr").count() == 1
    assert errors == []


def test_the_page_shows_each_classs_coverage_and_how_many_are_protected(
    engine: Engine, start_server: StartServer, page: Page
) -> None:
    scenario.seed(engine)
    run_job("coverage", JobContext(engine, Settings(), scenario.POLICY, clock=lambda: datetime.now(UTC)))
    server = start_server(policy=scenario.POLICY)
    errors = console_errors(page)
    document = httpx.get(f"{server.base_url}/v1/dashboard?range=7d").json()

    page.goto(f"{server.base_url}/?range=7d")
    wait_ready(page)

    summary = document["coverage"]["text"]
    assert summary.endswith("classes protected against a 0.10 drop within 7 days")
    assert page.text_content("#coverage-summary") == summary
    assert page.locator("#classes thead th").last.text_content() == "coverage"
    for panel in document["classes"]:
        coverage = panel["coverage"]
        last_cell = page.locator("#classes tr", has_text=panel["task_class"]).locator("td").last
        shown = last_cell.text_content()
        drop = coverage["min_detectable_drop"]
        if coverage["protected"]:
            assert shown == f"protected: catches a {drop:.2f} drop"
        else:
            assert shown == ("unprotected" if drop is None else f"unprotected: catches {drop:.2f} now")
        assert last_cell.get_attribute("title") == coverage["message"]  # the whole reason, on hover
    assert errors == []


def test_with_auth_on_the_page_asks_for_a_key_once(
    engine: Engine, start_server: StartServer, page: Page
) -> None:
    server = start_server(require_auth=True)
    key = scenario.new_key(engine)
    errors = console_errors(page)

    page.goto(server.base_url + "/")
    page.wait_for_selector("body[data-state=needs-key]")
    assert page.is_visible("#key-form") and not page.is_visible("#content")
    assert not page.is_visible("#key-error")

    page.fill("#key-input", "dw_not-a-key")
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("#key-error:not([hidden])")
    assert page.text_content("#key-error") == "unknown or revoked API key"

    page.fill("#key-input", key)
    page.click("#key-form button[type=submit]")
    wait_ready(page)
    assert page.evaluate("localStorage.getItem('driftwatch.apiKey')") == key
    screenshot(page, "dashboard-empty-with-key.png")

    page.reload()  # the key is remembered: no second prompt
    wait_ready(page)
    assert not page.is_visible("#key-form")
    # The browser itself logs each refused request (the two 401s); nothing else may.
    assert all("401" in error for error in errors) and len(errors) == 2
