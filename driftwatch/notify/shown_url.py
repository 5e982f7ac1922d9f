"""A webhook URL as it is shown (API answers, CLI output): its secrets masked (pure).

Many receivers put the credential in the URL itself: a password in the userinfo, a token in the query,
or a path that is the secret (Slack's ``/services/T…/B…/<secret>``, Discord's, Teams', Zapier's). The
URL as stored is only ever used to send; anywhere it is shown, these parts read ``***``.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

import httpx

MASK = "***"
# Hosts whose webhook URLs are secrets by their path, whatever format the endpoint is sent in.
_SECRET_PATH_HOSTS = re.compile(
    r"(^|\.)(hooks\.slack\.com|discord(app)?\.com|webhook\.office\.com|outlook\.office(365)?\.com"
    r"|hooks\.zapier\.com|chat\.googleapis\.com)$"
)
# A path segment that looks like a generated token: long, from a token alphabet, letters and digits.
_TOKEN = re.compile(r"(?=[^/]*[0-9])(?=[^/]*[A-Za-z])[A-Za-z0-9_\-.~=+%]{16,}")


def shown_url(url: str, webhook_format: str) -> str:
    """``url`` with its userinfo, query values and secret path segments replaced by ``***``: every
    segment after the first for Slack-format endpoints and known secret-path hosts, segments that look
    like tokens for the rest."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return MASK
    userinfo = f"{MASK}@" if parsed.userinfo else ""
    segments = parsed.raw_path.decode("ascii").split("?", 1)[0].split("/")
    if webhook_format == "slack" or _SECRET_PATH_HOSTS.search(parsed.host):
        segments = segments[:2] + ([MASK] if len(segments) > 2 and any(segments[2:]) else [])
    else:
        segments = [MASK if _TOKEN.fullmatch(segment) else segment for segment in segments]
    query = parsed.query.decode("ascii")
    if query:
        query = "?" + "&".join(f"{key}={MASK}" for key, _ in parse_qsl(query, keep_blank_values=True))
    return f"{parsed.scheme}://{userinfo}{parsed.netloc.decode('ascii')}{'/'.join(segments)}{query}"
