"""Pure: model-name matching (models_table.py) and what a call costs (pricing.py over list_prices.py)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from driftwatch.config import Policy
from driftwatch.prices.models_table import ModelTable
from driftwatch.prices.pricing import ModelPrice, PriceTable

PRICES = PriceTable()


@pytest.mark.parametrize(
    ("reported", "family"),
    [
        ("gpt-4o-mini", "gpt-4o-mini"),
        ("GPT-4o-Mini", "gpt-4o-mini"),
        ("  gpt-4o-mini ", "gpt-4o-mini"),
        ("openai/gpt-4o-mini", "gpt-4o-mini"),
        ("models/gemini-2.0-flash", "gemini-2.0-flash"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        ("claude-3-5-haiku-latest", "claude-3-5-haiku"),
        ("gemini-2.0-flash-001", "gemini-2.0-flash"),
        ("gemini-2.0-flash-lite-001", "gemini-2.0-flash-lite"),
        ("claude-opus-4-1-20250805", "claude-opus-4-1"),
        ("gpt-4.1-nano-2025-04-14", "gpt-4.1-nano"),
    ],
)
def test_a_reported_name_finds_its_familys_price(reported: str, family: str) -> None:
    assert PRICES.price(reported) == PRICES.price(family) is not None


@pytest.mark.parametrize(
    "near_miss",
    [
        "gpt-4o-audio",  # not gpt-4o with a version suffix
        "gpt-4o-minix",
        "claude-haiku",  # which haiku? guessing a price is worse than none
        "claude-opus-4-9",  # a future model must not borrow claude-opus-4's price
        "anthropic/claude-haiku",
        "",
    ],
)
def test_a_near_miss_has_no_price(near_miss: str) -> None:
    assert PRICES.price(near_miss) is None
    assert PRICES.cost(near_miss, 1000, 200) is None


def test_unknown_or_missing_model_has_no_price() -> None:
    assert PRICES.price("my-finetune") is None
    assert PRICES.price(None) is None


def test_a_mini_model_gets_the_mini_price_not_its_big_siblings() -> None:
    price = PRICES.price("gpt-4o-mini-2024-07-18")

    assert price == ModelPrice(input_per_mtok=0.15, output_per_mtok=0.6, cache_read_per_mtok=0.075)
    assert price != PRICES.price("gpt-4o")


@pytest.mark.parametrize(
    ("model", "sibling"),
    [
        ("gpt-4o-audio-preview", "gpt-4o"),
        ("gpt-4o-mini-tts", "gpt-4o-mini"),
        ("o3-mini", "o3"),
        ("gpt-4o-2024-05-13", "gpt-4o"),  # the first gpt-4o snapshot kept its launch price
    ],
)
def test_a_model_the_list_knows_is_priced_as_itself_not_as_its_sibling(model: str, sibling: str) -> None:
    price = PRICES.price(model)

    assert price is not None
    assert price != PRICES.price(sibling)


def test_cost_is_tokens_times_price_per_million() -> None:
    # claude-haiku-4-5 is $1 in / $5 out per million tokens: 0.001 + 0.001
    assert PRICES.cost("claude-haiku-4-5", 1000, 200) == pytest.approx(0.002)
    assert PRICES.cost("claude-haiku-4-5-20251001", 1000, 200) == pytest.approx(0.002)
    assert PRICES.cost("gpt-4o", 1_000_000, 1_000_000) == pytest.approx(12.5)


def test_zero_tokens_cost_zero_not_none() -> None:
    assert PRICES.cost("gpt-4o", 0, 0) == 0


@pytest.mark.parametrize(("input_tokens", "output_tokens"), [(None, 200), (1000, None), (None, None)])
def test_cost_is_none_when_a_token_count_is_missing(
    input_tokens: int | None, output_tokens: int | None
) -> None:
    assert PRICES.cost("claude-haiku-4-5", input_tokens, output_tokens) is None


def test_a_policy_price_overrides_the_default_and_adds_new_models() -> None:
    policy = Policy(
        prices={
            "GPT-4o": ModelPrice(input_per_mtok=1, output_per_mtok=1),
            "my-finetune": ModelPrice(input_per_mtok=0.5, output_per_mtok=1.5),
        }
    )
    prices = PriceTable(policy.price_table())

    assert prices.cost("gpt-4o-2024-08-06", 1_000_000, 1_000_000) == pytest.approx(2)
    assert prices.cost("my-finetune", 2_000_000, 0) == pytest.approx(1)
    assert prices.cost("gpt-4o-mini", 1_000_000, 0) == pytest.approx(0.15)


def test_glob_patterns_map_models_to_tiers() -> None:
    tiers = ModelTable({"claude-haiku-*": "cheap", "gemini-*-flash*": "cheap", "claude-opus-*": "premium"})

    assert tiers.get("claude-haiku-4-5-20251001") == "cheap"
    assert tiers.get("anthropic/claude-haiku-4-5") == "cheap"
    assert tiers.get("Gemini-2.5-Flash-Lite") == "cheap"
    assert tiers.get("claude-opus-4-7") == "premium"
    assert tiers.get("claude-sonnet-4-6") is None
    assert tiers.get("claude-haiku") is None  # the pattern needs the "-"


@pytest.mark.parametrize(
    ("model", "tier"),
    [
        ("claude-haiku-4-5-20251001", "cheap"),
        ("gpt-4o-mini-2024-07-18", "cheap"),  # the glob, not gpt-4o's dated-name rule
        ("gpt-4o-2024-08-06", "premium"),
        ("gpt-5-mini", "cheap"),
        ("gpt-5", "premium"),
        ("gemini-2.0-flash-001", "cheap"),
        ("gemini-2.5-pro", "premium"),
        ("claude-sonnet-4-6", "mid"),
        ("openai/gpt-4o", "premium"),
        ("gpt-4o-audio-preview", None),
        ("llama-3-70b", None),
    ],
)
def test_default_policy_model_tiers(model: str, tier: str | None) -> None:
    tiers = ModelTable(Policy().model_tiers)

    assert tiers.get(model) == tier


def test_an_exact_entry_wins_over_a_pattern() -> None:
    tiers = ModelTable({"claude-haiku-*": "cheap", "claude-haiku-4-5": "mid"})

    assert tiers.get("claude-haiku-4-5") == "mid"
    assert tiers.get("claude-haiku-4-5-20251001") == "mid"  # dated name of the exact entry
    assert tiers.get("claude-haiku-5") == "cheap"


def test_the_longest_family_wins_for_dated_names() -> None:
    table = ModelTable({"gemini-2.0-flash": "flash", "gemini-2.0-flash-lite": "lite"})

    assert table.get("gemini-2.0-flash-lite-001") == "lite"
    assert table.get("gemini-2.0-flash-001") == "flash"


def test_a_provider_alias_is_priced_as_its_price_model_and_an_unpriced_price_model_is_refused() -> None:
    alias = {"kind": "openai", "model": "premium", "base_url": "http://gateway/v1"}
    policy = Policy.model_validate({"providers": {"premium": {**alias, "price_model": "gpt-4o"}}})

    prices = PriceTable(policy.price_table())

    assert prices.price("premium") == prices.price("gpt-4o") is not None
    assert (
        PriceTable(Policy.model_validate({"providers": {"premium": alias}}).price_table()).price("premium")
        is None
    )
    with pytest.raises(ValidationError, match="price_model 'house-9' has no price"):
        Policy.model_validate({"providers": {"premium": {**alias, "price_model": "house-9"}}})
