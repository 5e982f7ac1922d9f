"""``/docs`` and ``/redoc`` work on a machine with no internet: a real ``driftwatch serve`` serves every
script, stylesheet and icon they reference itself, and in real headless Chromium (Debian's, driven by
playwright) with every request to another host refused, Swagger UI and ReDoc draw the operations."""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from playwright.sync_api import Route, sync_playwright

from tests.support.processes import start_serve, stop, wait_healthy

CHROMIUM = Path("/usr/bin/chromium")
PAGES = ("/docs", "/redoc")
# ReDoc's "API docs by Redocly" credit: an image from its CDN that removes itself when it cannot load.
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


class _References(HTMLParser):
    """Every URL a page makes the browser load: scripts, stylesheets, icons, images."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag in ("script", "img") and attributes.get("src"):
            self.urls.append(attributes["src"] or "")
        if tag == "link" and attributes.get("href"):
            self.urls.append(attributes["href"] or "")


def references(html: str) -> list[str]:
    parser = _References()
    parser.feed(html)
    return parser.urls


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    process, base_url = start_serve(
        tmp_path_factory.mktemp("docs"), {"DRIFTWATCH_SCHEDULER": "false"}, ends_with_test=False
    )
    try:
        wait_healthy(process, base_url)
        yield base_url
    finally:
        stop(process)


@pytest.mark.parametrize("page", PAGES)
def test_every_asset_a_docs_page_references_is_served_by_driftwatch(served: str, page: str) -> None:
    answer = httpx.get(f"{served}{page}")
    assert answer.status_code == 200
    urls = [urljoin(f"{served}{page}", url) for url in references(answer.text)]

    assert len(urls) >= 2  # the bundle's script and the icon at least
    for url in urls:
        assert urlsplit(url).netloc == urlsplit(served).netloc, f"{page} loads {url} from elsewhere"
        asset = httpx.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 1000, url  # the real file, not an error page
    assert "cdn." not in answer.text and "fonts.googleapis" not in answer.text


@pytest.mark.parametrize(
    ("page", "operation"),
    [
        ("/docs", ".opblock-summary-path[data-path='/v1/calls']"),
        ("/redoc", "[data-section-id^='operation/']"),
    ],
)
def test_a_docs_page_draws_the_operations_with_no_other_host_reachable(
    served: str, page: str, operation: str
) -> None:
    if not CHROMIUM.exists():
        pytest.fail("no /usr/bin/chromium: apt-get install -y chromium (.ci/run does)")
    refused: list[str] = []
    errors: list[str] = []

    def offline(route: Route) -> None:
        if urlsplit(route.request.url).netloc == urlsplit(served).netloc:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            context = browser.new_context()
            context.route("**/*", offline)
            tab = context.new_page()
            tab.on("pageerror", lambda error: errors.append(str(error)))
            tab.goto(f"{served}{page}")
            tab.wait_for_selector(operation, timeout=20_000)
            tab.wait_for_selector("img[alt='redocly logo']", state="detached")  # no broken image left
        finally:
            browser.close()

    assert [url for url in refused if url != REDOCLY_LOGO] == []
    assert errors == []
