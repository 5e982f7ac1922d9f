"""``create_app``: the FastAPI application, with its store and settings passed in (tests pass their own)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import Engine

from driftwatch import __version__
from driftwatch.api.browser_guard import BrowserGuard, browser_rules
from driftwatch.api.deps import requires
from driftwatch.api.docs import install_docs
from driftwatch.api.errors import install_error_handlers
from driftwatch.api.openapi import document_errors
from driftwatch.api.routes import (
    calls,
    dashboard,
    decisions,
    evaluations,
    health,
    metrics,
    plan,
    savings,
    webhooks,
)
from driftwatch.api.routes import ingest as ingest_routes
from driftwatch.api.routes import policy as policy_routes
from driftwatch.api.state import AppState, install_state
from driftwatch.api.url_guard import UrlGuard
from driftwatch.auth.keys import KeyVerifier
from driftwatch.auth.scopes import Scope
from driftwatch.clock import Clock, utc_now
from driftwatch.config import Policy, Settings
from driftwatch.db.engine import build_engine, is_sqlite, session_factory
from driftwatch.ingest.class_cap import TaskClassCap
from driftwatch.ingest.classify import Classifier
from driftwatch.ingest.logs import ContentEventMapper
from driftwatch.ingest.metrics import Metrics
from driftwatch.ingest.records import CallMapper
from driftwatch.ingest.redaction import Redactor
from driftwatch.ingest.service import IngestService
from driftwatch.ingest.writer import CallWriter
from driftwatch.notify.delivery import DeliveryOptions
from driftwatch.notify.network import Resolver
from driftwatch.observability.store_collector import StoreCollector
from driftwatch.policy.snapshot import ObservedClasses, PolicyDocuments
from driftwatch.prices.pricing import PriceTable


def create_app(
    settings: Settings,
    policy: Policy,
    *,
    engine: Engine | None = None,
    resolver: Resolver | None = None,
    clock: Clock = utc_now,
) -> FastAPI:
    """Build the app; the caller owns migrations (``driftwatch serve`` runs them before this).
    ``resolver`` resolves webhook hosts (default: the system's); ``clock`` tells routes the time."""
    engine = engine or build_engine(settings.database_url)
    metrics_registry = Metrics()
    metrics_registry.registry.register(
        StoreCollector(
            engine,
            policy,
            ttl_seconds=settings.metrics_cache_seconds,
            timeout_seconds=settings.metrics_timeout_seconds,
            max_classes=settings.max_task_classes,
        )
    )
    writer = CallWriter(
        engine,
        metrics_registry,
        queue_limit=settings.write_queue_spans,
        batch_limit=settings.write_batch_spans,
        threads=settings.writer_threads or (1 if is_sqlite(engine) else 3),
        retry_after_seconds=settings.retry_after_seconds,
        class_cap=TaskClassCap(settings.max_task_classes),
        clock=clock,
    )
    redactor = Redactor(settings.redact_patterns)  # compiled once, for spans and log content alike
    mapper = CallMapper(
        Classifier.from_policy(policy),
        PriceTable(policy.price_table()),
        capture_content=settings.capture_content,
        redactor=redactor,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        writer.start()
        try:
            yield
        finally:
            writer.stop()

    app = FastAPI(
        title="driftwatch",
        version=__version__,
        description="Keeps tiered LLM routing honest. OTLP/HTTP ingest at /v1/traces and /v1/logs; "
        "REST API under /v1.",
        lifespan=lifespan,
        docs_url=None,  # install_docs serves /docs and /redoc from the package, not a CDN
        redoc_url=None,
    )
    ingest = IngestService(
        mapper,
        ContentEventMapper(capture_content=settings.capture_content, redactor=redactor),
        writer,
        metrics_registry,
        max_request_bytes=settings.max_request_bytes,
        max_concurrent_requests=settings.max_concurrent_requests,
        retry_after_seconds=settings.retry_after_seconds,
    )
    install_state(
        app,
        AppState(
            settings=settings,
            policy=policy,
            engine=engine,
            sessions=session_factory(engine),
            metrics=metrics_registry,
            key_verifier=KeyVerifier(engine) if settings.auth_required() else None,
            webhook_options=DeliveryOptions.from_settings(settings, "api", resolver),
            # GET /v1/policy, rebuilt on change; its observed classes bounded like /metrics.
            policy_documents=PolicyDocuments(policy, ObservedClasses(limit=settings.max_task_classes)),
            ingest=ingest,
            clock=clock,
        ),
    )
    install_error_handlers(app)
    document_errors(app)
    app.add_middleware(UrlGuard)
    app.add_middleware(BrowserGuard, rules=browser_rules(settings))  # outermost: runs first
    app.include_router(health.router)
    app.include_router(ingest_routes.router, dependencies=[requires(Scope.INGEST)])
    for router in (
        calls.router,
        decisions.router,
        plan.router,
        dashboard.router,
        savings.router,
        metrics.router,
    ):
        app.include_router(router, dependencies=[requires(Scope.READ)])
    app.include_router(webhooks.router, dependencies=[requires(Scope.ADMIN)])  # URLs can be secrets
    # Routers that mix scopes: each of their routes names its own.
    app.include_router(evaluations.router)
    app.include_router(policy_routes.router)
    install_docs(app)
    dashboard.install_page(app)  # the page at / and its static files: public, they hold no data
    return app
