"""``driftwatch init``: write the starter policy file and say how to start with it."""

from __future__ import annotations

import shlex
from pathlib import Path

import click
import yaml

from driftwatch.config.starter import (
    DEFAULT_DAILY_BUDGET_USD,
    DEFAULT_RATE,
    PROVIDER_DEFAULTS,
    ProviderKind,
    StarterChoices,
    starter_policy,
)

DEFAULT_PATH = "driftwatch-policy.yaml"


def _defaults(position: int) -> str:
    return ", ".join(f"{kind}: {models[position]}" for kind, models in PROVIDER_DEFAULTS.items())


@click.command(name="init")
@click.argument("path", default=DEFAULT_PATH, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--provider", type=click.Choice(list(PROVIDER_DEFAULTS)), default="openai", show_default=True,
    help="openai: any OpenAI-compatible API (with --base-url: a gateway, vLLM, Ollama, LiteLLM); "
    "anthropic: the Messages API.",
)  # fmt: skip
@click.option("--cheap-model", default=None, help=f"The cheap tier's model ({_defaults(0)}).")
@click.option("--premium-model", default=None, help=f"The premium tier's model ({_defaults(1)}).")
@click.option("--mid-model", default=None, help="Add a mid tier between them with this model.")
@click.option("--base-url", default=None, help="The provider's API base URL (default: the SDK's).")
@click.option(
    "--api-key-env", default=None,
    help="Environment variable holding the provider key (default: OPENAI_API_KEY or ANTHROPIC_API_KEY).",
)  # fmt: skip
@click.option(
    "--rate", type=click.FloatRange(0, 1), default=DEFAULT_RATE, show_default=True,
    help="Share of each class's cheap-tier calls shadow-evaluated.",
)  # fmt: skip
@click.option(
    "--daily-budget", type=click.FloatRange(0), default=DEFAULT_DAILY_BUDGET_USD, show_default=True,
    help="Shadow-evaluation dollars per class and UTC day.",
)  # fmt: skip
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
def init(
    path: Path,
    provider: ProviderKind,
    cheap_model: str | None,
    premium_model: str | None,
    mid_model: str | None,
    base_url: str | None,
    api_key_env: str | None,
    rate: float,
    daily_budget: float,
    force: bool,
) -> None:
    """Write a commented starter policy file: tiers, models, providers, and shadow evaluation on the
    premium tier within a daily budget.

    PATH defaults to driftwatch-policy.yaml; an existing file is left alone unless --force. Start the
    service with it: DRIFTWATCH_POLICY_FILE=PATH driftwatch serve."""
    choices = StarterChoices(
        provider=provider,
        cheap_model=cheap_model,
        premium_model=premium_model,
        mid_model=mid_model,
        base_url=base_url,
        api_key_env=api_key_env,
        rate=rate,
        daily_budget_usd=daily_budget,
    )
    models = list(choices.tier_models.values())
    if len(set(models)) != len(models):
        raise click.ClickException(f"each tier needs a model of its own; got {models}")
    shell_path = shlex.quote(str(path))
    text = starter_policy(choices, shell_path)
    from driftwatch.config.policy import Policy  # pydantic and the store's names: only when writing one

    try:
        policy = Policy.model_validate(yaml.safe_load(text))
    except ValueError as error:
        raise click.ClickException(f"these options make no valid policy: {error}") from error
    if path.exists() and not force:
        raise click.ClickException(f"{path} exists; pass --force to overwrite it")
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise click.ClickException(f"cannot write {path}: {error}") from error
    tiers = ", ".join(f"{tier} ({policy.model_for(tier)})" for tier in policy.tiers)
    click.echo(f"wrote {path}: tiers {tiers}")
    click.echo(
        f"shadow evaluation: {rate:.0%} of each class's cheaper-tier calls replayed on {choices.premium} "
        f"via {provider}, at most ${daily_budget:,.2f} per class and day"
    )
    click.echo("start with it:")
    click.echo(f"  export {choices.key_variable}=...")
    click.echo(f"  DRIFTWATCH_POLICY_FILE={shell_path} driftwatch serve")
