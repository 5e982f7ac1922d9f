"""``/docs`` (Swagger UI) and ``/redoc`` that work with no internet: their scripts, styles and icon are
served from the installed ``fastapi-offline`` package, which ships the Swagger UI and ReDoc bundles.

FastAPI's own pages load them from a CDN, so on a machine without internet they are blank. This is
FastAPI's documented self-hosting recipe ("Custom Docs UI Static Assets"); the files are public, like
the pages, and hold no data.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_PACKAGE = ("fastapi_offline", "static")
ASSETS_PATH = "/docs/assets"
DOCS_PATH = "/docs"
OAUTH2_REDIRECT_PATH = "/docs/oauth2-redirect"
REDOC_PATH = "/redoc"
# Swagger UI would otherwise show a badge fetched from validator.swagger.io.
_SWAGGER_PARAMETERS: dict[str, Any] = {"validatorUrl": None}


def install_docs(app: FastAPI) -> None:
    """Serve the API description pages; ``app`` must be built with ``docs_url=None, redoc_url=None``."""
    openapi_url = app.openapi_url or "/openapi.json"
    title = app.title
    favicon = f"{ASSETS_PATH}/favicon.png"

    @app.get(DOCS_PATH, include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} - Swagger UI",
            oauth2_redirect_url=OAUTH2_REDIRECT_PATH,
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=favicon,
            swagger_ui_parameters=_SWAGGER_PARAMETERS,
        )

    @app.get(OAUTH2_REDIRECT_PATH, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_PATH, include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{title} - ReDoc",
            redoc_js_url=f"{ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=favicon,
            with_google_fonts=False,
        )

    app.mount(ASSETS_PATH, StaticFiles(packages=[ASSETS_PACKAGE]), name="docs-assets")
