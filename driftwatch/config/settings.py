"""Deployment settings, from ``DRIFTWATCH_*`` environment variables (see README, "Settings")."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from driftwatch.config.redaction import compile_patterns
from driftwatch.errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite:///driftwatch.db"


class Settings(BaseSettings):
    """Deployment settings, from ``DRIFTWATCH_*`` environment variables (see README, "Settings")."""

    model_config = SettingsConfigDict(env_prefix="DRIFTWATCH_", extra="ignore", frozen=True)

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL of the store: a SQLite file (default, in the working directory) or "
        "postgresql+psycopg://user@host/db.",
    )
    host: str = Field("127.0.0.1", description="Address `driftwatch serve` binds to.")
    port: int = Field(4318, ge=0, le=65535, description="Port; 4318 is the OTLP/HTTP standard port.")
    require_auth: bool = Field(
        False, description="Require an API key on every endpoint even on a loopback address."
    )
    policy_file: Path | None = Field(
        None, description="YAML policy file: tiers, model→tier map, prices, classification fallbacks."
    )
    capture_content: bool = Field(
        True, description="Store prompt and completion text; false keeps only metadata, tokens and cost."
    )
    redact_patterns: tuple[str, ...] = Field(
        (),
        description="Regular expressions (a JSON list) whose matches in prompt and completion text are "
        "replaced with [REDACTED] before anything is stored.",
    )
    max_request_bytes: int = Field(
        16 * 1024 * 1024,
        gt=0,
        description="Largest OTLP request body accepted, before and after gzip decompression (413 above).",
    )
    write_queue_spans: int = Field(
        50_000, gt=0, description="LLM-call spans waiting for commit before ingest answers 503."
    )
    write_batch_spans: int = Field(
        20_000, gt=0, description="Most rows the writer commits in one transaction (group commit)."
    )
    writer_threads: int = Field(
        0,
        ge=0,
        description="Database writer threads; 0 picks 1 for SQLite (single writer) and 3 for PostgreSQL.",
    )
    retry_after_seconds: int = Field(2, gt=0, description="Retry-After sent with 503 when overloaded.")
    max_task_classes: int = Field(
        1_000,
        ge=0,
        description="Distinct task classes kept apart; a call of a class first seen beyond it is stored "
        "under `overflow` (a client that puts ids into task classes degrades only its own "
        "classification). 0: no cap.",
    )
    max_concurrent_requests: int = Field(
        64, gt=0, description="Requests served at once; more get 503 (bounds memory under overload)."
    )

    scheduler: bool = Field(
        True, description="Run the scheduled jobs (sample, evaluate, …) inside `driftwatch serve`."
    )
    sample_interval_seconds: float = Field(10.0, gt=0, description="How often new calls are sampled.")
    sample_batch_size: int = Field(
        10_000, gt=0, description="Calls one sampling transaction reads; a run takes batches until caught up."
    )
    sample_time_budget_seconds: float = Field(
        30.0, gt=0, description="A sampling run stops taking batches after this long; the next run goes on."
    )
    evaluate_interval_seconds: float = Field(
        10.0, gt=0, description="How often due samples are claimed and shadow-evaluated."
    )
    evaluate_batch: int = Field(500, gt=0, description="Samples one evaluation run claims at most.")
    evaluate_max_in_flight: int = Field(
        256, gt=0, description="Shadow evaluations in flight at once per process (providers limit too)."
    )
    evaluate_lease_seconds: float = Field(
        600.0, gt=0, description="After this long a claimed sample whose worker vanished is claimed again."
    )
    decide_interval_seconds: float = Field(
        60.0,
        gt=0,
        description="How often detectors take in new evaluations and degraded classes are acted on"
        " (and class coverage is reassessed).",
    )
    recommend_interval_seconds: float = Field(
        3600.0, gt=0, description="How often classes on a higher tier are checked for demotion parity."
    )
    metrics_cache_seconds: float = Field(
        15.0, ge=0, description="How long /metrics reuses what it last read from the store."
    )
    metrics_timeout_seconds: float = Field(
        2.0, gt=0, description="Longest /metrics waits for the store before serving the last good values."
    )
    deliver_interval_seconds: float = Field(
        5.0, gt=0, description="How often new outbox events are fanned out and due webhooks are sent."
    )
    webhook_timeout_seconds: float = Field(
        10.0, gt=0, description="A webhook receiver that has not answered by then counts as failed."
    )
    webhook_retry_hours: float = Field(
        24.0, gt=0, description="How long a delivery is retried before it is marked failed."
    )
    webhook_max_backoff_seconds: float = Field(
        900.0, gt=0, description="Longest wait between two attempts (backoff doubles from 5 s up to this)."
    )
    webhook_allowed_networks: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="Networks (CIDR, comma-separated or a JSON list) webhooks may be sent to although they "
        "are loopback, private, link-local or otherwise internal, e.g. an on-premises receiver's "
        "10.20.0.0/16; every other internal address is refused.",
    )
    public_url: str | None = Field(
        None, description="Base URL people reach driftwatch at, for links in alerts (default: host:port)."
    )
    allowed_hosts: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="Host names the server answers to (comma-separated or a JSON list; `*` any, "
        "`*.example.com` a domain); any other Host header gets 400 (DNS rebinding). Default on a "
        "loopback address: localhost, 127.0.0.1, ::1, the bound host and DRIFTWATCH_PUBLIC_URL's host; "
        "on any other address, where every request needs an API key: any host.",
    )
    langfuse_import_interval: float = Field(
        0.0,
        ge=0,
        description="Seconds between scheduled Langfuse imports inside `driftwatch serve` (LANGFUSE_* "
        "variables); 0 turns the scheduled import off.",
    )

    call_retention_days: float = Field(
        0.0,
        ge=0,
        description="Calls that started longer ago than this are deleted, with their prompts, completions "
        "and shadow samples (rollups, evaluations and decisions stay); 0 keeps every call.",
    )
    retention_interval_seconds: float = Field(
        3600.0, gt=0, description="How often `driftwatch serve` deletes expired calls."
    )

    @field_validator("call_retention_days")
    @classmethod
    def _retention_at_least_a_day(cls, days: float) -> float:
        # Shorter would delete calls still waiting for their shadow replay or their late content.
        if 0 < days < 1:
            raise ValueError("keep calls at least 1 day, or 0 to keep every call")
        return days

    @field_validator("webhook_allowed_networks", "allowed_hosts", mode="before")
    @classmethod
    def _text_list(cls, value: Any) -> Any:
        """A comma-separated list, or a JSON list, from the environment."""
        if not isinstance(value, str):
            return value
        if value.lstrip().startswith("["):
            return json.loads(value)
        return tuple(item.strip() for item in value.split(",") if item.strip())

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _networks_parse(cls, networks: tuple[str, ...]) -> tuple[str, ...]:
        """Each a CIDR block (a bare address is its own /32 or /128); one with host bits set is refused."""
        parsed = []
        for network in networks:
            try:
                parsed.append(str(ipaddress.ip_network(network.strip())))
            except ValueError as error:
                raise ValueError(f"{network!r} is not a network such as 10.20.0.0/16: {error}") from None
        return tuple(parsed)

    @field_validator("redact_patterns")
    @classmethod
    def _redact_patterns_compile(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        compile_patterns(patterns)  # an unusable pattern stops start-up with its reason
        return patterns

    def public_base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def auth_required(self) -> bool:
        """Auth is on when asked for, or whenever the server can be reached from another machine."""
        return self.require_auth or not self.binds_loopback()

    def binds_loopback(self) -> bool:
        """Whether `serve` binds to a loopback address only (reachable from this machine alone)."""
        return _is_loopback(self.host)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        raise ConfigError(f"invalid DRIFTWATCH_* setting: {error}") from error
    except SettingsError as error:  # a list or map setting whose value is not JSON
        raise ConfigError(f"invalid DRIFTWATCH_* setting: {error}: {error.__cause__}") from error
