"""The routes of the real app, found from the app itself, and which of them are open without a key."""

from __future__ import annotations

import re
from typing import Any

import fastapi.routing
from fastapi import FastAPI
from starlette.routing import Mount

PUBLIC = {
    ("GET", "/healthz"): "the load balancer's health check",
    ("GET", "/"): "the dashboard page: no data, it reads GET /v1/dashboard with a key",
    ("GET", "/openapi.json"): "the API description",
    ("GET", "/docs"): "the API description",
    ("GET", "/docs/oauth2-redirect"): "part of /docs",
    ("GET", "/redoc"): "the API description",
}
PUBLIC_MOUNTS = {
    "/dashboard": "the dashboard's script, styles and vendored uPlot",
    "/docs/assets": "Swagger UI's and ReDoc's scripts and styles, for /docs and /redoc",
}


def app_routes(app: FastAPI) -> tuple[set[tuple[str, str]], set[str]]:
    """Every (method, path template) the app serves, from its route table and its OpenAPI document
    together, and the paths of its mounted sub-applications."""
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)  # routers included lazily (≥ 0.165)
    routes: list[Any] = list(iterate(app.routes)) if iterate else list(app.routes)
    endpoints: set[tuple[str, str]] = set()
    mounts: set[str] = set()
    for route in routes:
        if isinstance(getattr(route, "original_route", route), Mount):
            mounts.add(route.path)
            continue
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", getattr(route, "path", ""))
        endpoints |= {(method, path) for method in getattr(route, "methods", None) or () if method != "HEAD"}
    for path, operations in app.openapi()["paths"].items():
        endpoints |= {(method.upper(), path) for method in operations}
    return endpoints, mounts
