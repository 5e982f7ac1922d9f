"""Coverage benchmark: how many classes are protected against a drop within a window after 3, 7 and 14
days, on recorded real outcomes at realistic volume — uniform sampling (before) and coverage-first
sampling (after).

Classes: 39 from the recorded data in ``/work/shared/data`` (``DATA`` overrides): the 35 largest MMLU
subjects and GSM8K (RouteLLM: Mixtral-8x7B vs GPT-4-Turbo), ARC-Challenge, MBPP and Winogrande
(RouterBench, train and test: Mixtral-8x7B vs GPT-4-1106).  A cheap answer is acceptable when it is
correct or the premium one is wrong too (the data READMEs' rule).  Traffic: ``--calls-per-day`` (22,000)
split over the classes in proportion to their recorded prompts (100 to 1,534 a class: a realistic skew),
Poisson per hour; each sampled call's outcome is a recorded outcome of its class drawn at random.

Per class and hour, as driftwatch runs it: no floor declared, so the reference is the confidence
sequence's running bound (``driftwatch.stats.sequence.lower_bound``, from 300 outcomes, tightening until
2,000; δ = 0.005 split over the 39 classes; read once an hour, which only errs low); a $5 daily budget at
``--cost`` per sample; the coverage job hourly.  Before: every class at ``--rate``.  After: a class
without a reference at ``driftwatch.stats.coverage.coverage_rate`` (capped by ``--cap`` and its budget),
back to ``--rate`` once it has one.  At the end of days 3, 7 and 14, ``driftwatch.stats.coverage.assess``
says which classes are protected against ``--drop`` within ``--window`` days at their rate then.

    python bench/coverage.py --reps 20
"""

from __future__ import annotations

import argparse
import csv
import gzip
import os
import platform
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from driftwatch.stats.coverage import (
    ClassLoad,
    CoverageTarget,
    ReferencePlan,
    assess,
    coverage_rate,
    rate_to_protect,
)
from driftwatch.stats.detector import AlarmThreshold
from driftwatch.stats.sequence import lower_bound

DATA = Path(os.environ.get("DATA", "/work/shared/data"))
CHEAP, PREMIUM = "mistralai/Mixtral-8x7B-Instruct-v0.1", "gpt-4-1106-preview"
ROUTERBENCH_CHEAP = "mistralai/mixtral-8x7b-chat"
CHECKPOINTS = (3, 7, 14)
MIN_SAMPLES, MAX_SAMPLES, DELTA, BUDGET = 300, 2_000, 0.005, 5.0


@dataclass(frozen=True)
class RecordedClass:
    name: str
    outcomes: npt.NDArray[np.bool_]  # acceptable, per recorded prompt


def _acceptable(cheap: str, premium: str) -> bool:
    return cheap == "True" or premium != "True"


def load_classes(count: int = 39) -> list[RecordedClass]:
    """The recorded classes: MMLU subjects (largest first) to fill up, GSM8K, and three RouterBench tasks."""
    csv.field_size_limit(1 << 30)
    mmlu = []
    for path in sorted((DATA / "routellm/mmlu/responses").glob("mmlu_*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        outcomes = np.array([_acceptable(row[CHEAP], row[PREMIUM]) for row in rows])
        mmlu.append(RecordedClass(path.stem.removeprefix("mmlu_"), outcomes))
    others = [_gsm8k(), *(_routerbench(task) for task in ("arc_challenge", "mbpp", "winograde"))]
    mmlu.sort(key=lambda recorded: -recorded.outcomes.size)
    return [*mmlu[: count - len(others)], *others]


def _gsm8k() -> RecordedClass:
    with (DATA / "routellm/gsm8k/gsm8k_responses.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return RecordedClass("gsm8k", np.array([_acceptable(row[CHEAP], row[PREMIUM]) for row in rows]))


def _routerbench(task: str) -> RecordedClass:
    outcomes = []
    for split in ("train", "test"):
        path = DATA / f"routerbench-subset-routerdc/routerbench_zs/{task}_{split}.csv.gz"
        with gzip.open(path, "rt", newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if row[ROUTERBENCH_CHEAP] and row[PREMIUM]:  # a few rows lack the outcomes
                    outcomes.append(float(row[ROUTERBENCH_CHEAP]) > 0.5 or float(row[PREMIUM]) <= 0.5)
    return RecordedClass(task.replace("winograde", "winogrande").replace("_", "-"), np.array(outcomes))


@dataclass(frozen=True)
class Scenario:
    rate: float
    cap: float | None  # None: uniform sampling (before)
    cost: float
    target: CoverageTarget
    hold: bool = False  # keep the raised rate until protected, not only until a reference (not built)


@dataclass(frozen=True)
class Reading:
    protected: int
    referenced: int
    median_drop: float  # median smallest detectable drop over all classes (1: none caught, no reference)


def simulate(
    classes: list[RecordedClass], calls_per_day: npt.NDArray[np.float64], scenario: Scenario, seed: int
) -> dict[int, Reading]:
    """What the classes' coverage is at the end of each checkpoint day, one replication."""
    rng = np.random.default_rng(seed)
    count = len(classes)
    threshold = AlarmThreshold(10_000, 0.01, count)
    delta = DELTA / count
    accepted, total = np.zeros(count, dtype=np.int64), np.zeros(count, dtype=np.int64)
    reference: list[float | None] = [None] * count
    rates = np.full(count, scenario.rate)
    spent_today = np.zeros(count)
    found: dict[int, Reading] = {}
    for hour in range(24 * max(CHECKPOINTS)):
        if hour % 24 == 0:
            spent_today[:] = 0.0
        if scenario.cap is not None:  # the coverage job, hourly
            for index in range(count):
                plan, load = _state(accepted, total, reference, index, delta, calls_per_day, scenario)
                raised = coverage_rate(plan, load, scenario.target, threshold, scenario.cap)
                if raised is None and scenario.hold and plan.rate is not None:
                    raised = _held(plan, load, scenario, threshold)
                rates[index] = scenario.rate if raised is None else raised
        calls = rng.poisson(calls_per_day / 24)
        sampled = rng.binomial(calls, rates)
        affordable = np.floor((BUDGET - spent_today) / scenario.cost + 1e-9).astype(np.int64)
        sampled = np.minimum(sampled, np.maximum(affordable, 0))
        spent_today += sampled * scenario.cost
        for index in range(count):
            taken = int(min(sampled[index], MAX_SAMPLES - total[index]))
            if taken <= 0:
                continue
            draws = rng.choice(classes[index].outcomes, size=taken)
            accepted[index] += int(draws.sum())
            total[index] += taken
            if total[index] >= MIN_SAMPLES and accepted[index] > 0:
                bound = float(lower_bound(accepted[index], total[index], delta))
                reference[index] = max(bound, reference[index] or 0.0)
        if (hour + 1) % 24 == 0 and (hour + 1) // 24 in CHECKPOINTS:
            protected, drops = 0, []
            for index in range(count):
                plan, load = _state(accepted, total, reference, index, delta, calls_per_day, scenario)
                coverage = assess(plan, replace(load, rate=float(rates[index])), scenario.target, threshold)
                protected += coverage.protected
                # No reference, or no drop caught in time at all: counted as 1 (nothing is caught).
                drops.append(1.0 if coverage.min_detectable_drop is None else coverage.min_detectable_drop)
            median = float(np.median(drops))
            found[(hour + 1) // 24] = Reading(
                protected, sum(value is not None for value in reference), median
            )
    return found


def _held(
    plan: ReferencePlan, load: ClassLoad, scenario: Scenario, threshold: AlarmThreshold
) -> float | None:
    """The variant not built: a class with a reference that is still unprotected keeps a raised rate."""
    assert scenario.cap is not None
    if assess(plan, load, scenario.target, threshold).protected:
        return None
    needed = rate_to_protect(plan, load.calls_per_day, scenario.target, threshold)
    ceiling = min(scenario.cap, BUDGET / scenario.cost / load.calls_per_day)
    chosen = ceiling if needed is None else min(max(needed, load.rate), ceiling)
    return chosen if chosen > load.rate else None


def _state(
    accepted: npt.NDArray[np.int64],
    total: npt.NDArray[np.int64],
    reference: list[float | None],
    index: int,
    delta: float,
    calls_per_day: npt.NDArray[np.float64],
    scenario: Scenario,
) -> tuple[ReferencePlan, ClassLoad]:
    plan = ReferencePlan(
        "confidence_sequence",
        reference[index],
        int(accepted[index]),
        int(total[index]),
        MIN_SAMPLES,
        MAX_SAMPLES,
        delta,
    )
    return plan, ClassLoad(float(calls_per_day[index]), scenario.rate, BUDGET, scenario.cost)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls-per-day", type=float, default=22_000)
    parser.add_argument("--rate", type=float, default=0.05)
    parser.add_argument("--cap", type=float, default=0.25, help="shadow.coverage_rate_cap")
    parser.add_argument(
        "--cost", type=float, default=0.019, help="USD per sample: GPT-4-Turbo, 1000 in / 300 out"
    )
    parser.add_argument("--drop", type=float, default=0.10)
    parser.add_argument("--window", type=float, default=7.0)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--seed", type=int, default=20261203)
    args = parser.parse_args()
    began = time.monotonic()
    classes = load_classes()
    sizes = np.array([recorded.outcomes.size for recorded in classes], dtype=np.float64)
    calls_per_day = args.calls_per_day * sizes / sizes.sum()
    target = CoverageTarget(args.drop, args.window)
    print(f"{len(classes)} classes, {args.calls_per_day:,.0f} calls/day ({calls_per_day.min():.0f} to")
    print(
        f"  {calls_per_day.max():.0f} a class), rate {args.rate}, budget ${BUDGET}/class/day at ${args.cost}/sample"
    )
    rates = ", ".join(f"{recorded.name} {recorded.outcomes.mean():.2f}" for recorded in classes)
    print(f"  acceptance: {rates}")
    print(
        f"protected against a {args.drop:.2f} drop within {args.window:g} days (mean [min-max] over {args.reps}"
    )
    print("  replications; the median smallest detectable drop is over all classes, 1 for those with none):")
    scenarios = {
        "before (uniform)": Scenario(args.rate, None, args.cost, target),
        f"after (coverage first, cap {args.cap:g})": Scenario(args.rate, args.cap, args.cost, target),
        "variant: raised until protected": Scenario(args.rate, args.cap, args.cost, target, hold=True),
    }
    for label, scenario in scenarios.items():
        runs = [simulate(classes, calls_per_day, scenario, args.seed + rep) for rep in range(args.reps)]
        print(f"{label}:")
        for day in CHECKPOINTS:
            protected = [run[day].protected for run in runs]
            referenced = [run[day].referenced for run in runs]
            drops = [run[day].median_drop for run in runs]
            print(
                f"  day {day:2}: protected {np.mean(protected):4.1f} [{min(protected)}-{max(protected)}],"
                f" with a reference {np.mean(referenced):4.1f}, median detectable drop {np.mean(drops):.2f}"
            )
    print(f"{time.monotonic() - began:.0f} s on {platform.machine()}, Python {platform.python_version()}")


if __name__ == "__main__":
    main()
