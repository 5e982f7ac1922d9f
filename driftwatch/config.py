"""Settings (environment ``DRIFTWATCH_*``) and the policy file (tiers, prices, classification rules).

Nothing here is read at import time: :func:`load_settings` and :func:`load_policy` are called once at
start-up and the resulting objects are passed down.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from driftwatch.errors import ConfigError
from driftwatch.pricing import DEFAULT_PRICES, ModelPrice

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
    max_concurrent_requests: int = Field(
        64, gt=0, description="Requests served at once; more get 503 (bounds memory under overload)."
    )

    def auth_required(self) -> bool:
        """Auth is on when asked for, or whenever the server can be reached from another machine."""
        return self.require_auth or not _is_loopback(self.host)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Classification(BaseModel):
    """Where a call's task class and tier come from when the span lacks ``driftwatch.*`` attributes.

    Keys are tried in order after ``driftwatch.task_class`` / ``driftwatch.tier`` on the span, the same
    names from baggage-copied and resource attributes.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    task_class_keys: tuple[str, ...] = (
        "traceloop.association.properties.task_class",
        "langfuse.observation.metadata.task_class",
        "langfuse.trace.metadata.task_class",
        "metadata.task_class",
    )
    tier_keys: tuple[str, ...] = (
        "traceloop.association.properties.tier",
        "langfuse.observation.metadata.tier",
        "langfuse.trace.metadata.tier",
        "metadata.tier",
    )


class Policy(BaseModel):
    """The policy file: what tiers exist, which model is on which tier, what models cost."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tiers: tuple[str, ...] = ("cheap", "mid", "premium")
    model_tiers: dict[str, str] = Field(
        default_factory=lambda: {
            "claude-haiku-*": "cheap",
            "claude-3-5-haiku*": "cheap",
            "gpt-4o-mini*": "cheap",
            "gpt-4.1-mini*": "cheap",
            "gpt-4.1-nano*": "cheap",
            "gpt-5-mini*": "cheap",
            "gpt-5-nano*": "cheap",
            "gemini-*-flash*": "cheap",
            "claude-sonnet-*": "mid",
            "claude-opus-*": "premium",
            "gpt-4o": "premium",
            "gpt-4.1": "premium",
            "gpt-5": "premium",
            "gemini-*-pro*": "premium",
        },
        description="Model name (exact, versioned, or glob) → tier, used when a span names no tier.",
    )
    prices: dict[str, ModelPrice] = Field(default_factory=dict, description="Overrides DEFAULT_PRICES.")
    classification: Classification = Classification()

    @field_validator("tiers")
    @classmethod
    def _tiers_distinct(cls, tiers: tuple[str, ...]) -> tuple[str, ...]:
        if not tiers or len(set(tiers)) != len(tiers):
            raise ValueError("tiers must be a non-empty list of distinct names, cheapest first")
        return tiers

    def price_table(self) -> dict[str, ModelPrice]:
        return {**DEFAULT_PRICES, **self.prices}


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        raise ConfigError(f"invalid DRIFTWATCH_* setting: {error}") from error


def load_policy(path: Path | None) -> Policy:
    """Read the policy file; no file means the defaults. Errors name the file and the bad field."""
    if path is None:
        return Policy()
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"cannot read policy file {path}: {error}") from error
    try:
        return Policy.model_validate(document)
    except ValidationError as error:
        raise ConfigError(f"invalid policy file {path}: {error}") from error
