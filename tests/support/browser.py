"""Headless Chromium for the tests that look at the page (Debian's ``chromium``, driven by playwright):
the browser, what the page logs as errors, screenshots kept under ``artifacts/``, and the page's way
of writing dollars."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@contextmanager
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("no /usr/bin/chromium: apt-get install -y chromium (.ci/run does)")
    with sync_playwright() as playwright:
        # --no-sandbox: tests run as root, where Chromium refuses its sandbox.
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


def console_errors(page: Page) -> list[str]:
    errors: list[str] = []

    def keep(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", keep)
    page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
    return errors


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


def usd(value: float) -> str:
    """As the page writes dollars: cents with thousands separators; below a cent, two significant digits."""
    sign = "-" if value < 0 else ""
    size = abs(value)
    if 0 < size < 0.01:
        digits = 1 - math.floor(math.log10(size))  # to the second significant digit
        return f"{sign}${f'{size:.{digits}f}'.rstrip('0')}"
    return f"{sign}${size:,.2f}"
