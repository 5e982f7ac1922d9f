"""The headless-Chromium fixtures of the dashboard's page test, for the savings section's."""

from tests.dashboard.test_dashboard_page import browser, page  # noqa: F401  (fixtures)
