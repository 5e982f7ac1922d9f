"""A job's summary line names at most ten classes, whatever a run touched (pure)."""

from __future__ import annotations

from driftwatch.policy.coverage import CoverageResult
from driftwatch.policy.summary_names import named


def test_a_few_names_are_all_shown_and_none_add_nothing() -> None:
    assert named("promoted", ["faq", "refunds"]) == "; promoted: faq, refunds"
    assert named("promoted", []) == ""


def test_thousands_of_names_show_ten_and_how_many_more() -> None:
    result = CoverageResult(assessed=20_000, raised=[f"c-{index:05d}" for index in range(20_000)])

    assert result.summary() == (
        "0 of 20000 classes protected; raised: "
        + ", ".join(f"c-{index:05d}" for index in range(10))
        + " and 19990 more"
    )
