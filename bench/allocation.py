"""Budget-optimal sampling (``shadow.rate: auto``) against one uniform rate at equal spend, on recorded
real outcomes.

Classes: the 57 MMLU subjects of RouteLLM's recorded Mixtral-8x7B (cheap) vs GPT-4-Turbo (premium)
outcomes (``/work/shared/data/routellm/mmlu``; acceptable = cheap correct or premium wrong too).  Per
class, from the data: its acceptance rate (the declared floor, the known-reference case) and its
prompt length (tokens about characters / 4, plus ``--few-shot`` tokens of prefix, ``--output`` tokens
out).  Traffic: ``--calls`` a day in total, split in proportion to the subject's prompts times a
log-normal factor drawn per seed (sigma ``--spread``), so traffic and money at risk differ by class
and seed.  Prices: Mixtral $0.60/M tokens, GPT-4-Turbo $10/M in, $30/M out; a sample is a replay on
GPT-4-Turbo (exact-match judge, free); money at risk a day = traffic x the price difference.

Each seed: every class's cheap model degrades by ``--drop`` (acceptable outcomes, drawn from the
class's recorded ones, turned unacceptable with probability drop / rate); the project's detector
(``driftwatch.stats.detector.update_until`` at the threshold of 57 classes) runs on that stream from
the change and gives the samples to its alarm, ``N``.  A class sampled at rate ``r`` gets samples at
``r x traffic`` a day (a Poisson stream), so the alarm comes ``Gamma(N, 1) / (r x traffic)`` days
after the change; both policies see the same ``N`` and the same gamma draw (common random numbers).
Uniform: rate ``--rate`` for all.  Auto: ``driftwatch.stats.allocation.allocate`` with the budget the
uniform rate spends, the planner's expected samples per class, cap ``--max-rate``.  Printed: the
money-weighted mean delay (sum of money at risk x delay / sum of money at risk), the unweighted
mean, and the money lost while undetected (sum of money at risk x delay), per seed and over seeds.

    python bench/allocation.py --seeds 20
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from driftwatch.stats.allocation import ClassDemand, allocate, uniform_rate, weighted_delay
from driftwatch.stats.detector import AlarmThreshold, DetectorState, update_until
from driftwatch.stats.planner import plan_sampling

DATA = Path("/work/shared/data/routellm/mmlu/responses")
CHEAP, PREMIUM = "mistralai/Mixtral-8x7B-Instruct-v0.1", "gpt-4-1106-preview"
CHEAP_PER_MTOK = (0.6, 0.6)
PREMIUM_PER_MTOK = (10.0, 30.0)
MAX_SAMPLES = 200_000


@dataclass(frozen=True)
class Subject:
    name: str
    outcomes: np.ndarray  # recorded: the cheap answer acceptable
    prompt_tokens: float

    @property
    def rate(self) -> float:
        return float(self.outcomes.mean())


def load_subjects() -> list[Subject]:
    csv.field_size_limit(10**8)
    subjects = []
    for path in sorted(DATA.glob("mmlu_*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        acceptable = np.array([row[CHEAP] == "True" or row[PREMIUM] != "True" for row in rows])
        tokens = statistics.fmean(len(row["prompt"]) / 4 for row in rows)
        subjects.append(Subject(path.stem.removeprefix("mmlu_"), acceptable, tokens))
    return subjects


def per_call(prices: tuple[float, float], tokens_in: float, tokens_out: float) -> float:
    return (tokens_in * prices[0] + tokens_out * prices[1]) / 1e6


def samples_to_alarm(subject: Subject, drop: float, threshold: float, rng: np.random.Generator) -> int:
    """Samples after the change until the detector (reference = the recorded rate) alarms."""
    state, taken = DetectorState(subject.rate), 0
    flip = drop / subject.rate
    while taken < MAX_SAMPLES:
        chunk = rng.choice(subject.outcomes, size=512) & (rng.random(512) >= flip)
        state, crossed = update_until(state, chunk, threshold)
        if crossed is not None:
            return taken + crossed + 1
        taken += chunk.size
    return MAX_SAMPLES


def run_seed(subjects: list[Subject], args: argparse.Namespace, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    alarm = AlarmThreshold(classes=len(subjects))
    shares = np.array([s.outcomes.size for s in subjects]) * rng.lognormal(0.0, args.spread, len(subjects))
    traffic = args.calls * shares / shares.sum()
    demands = []
    for subject, calls in zip(subjects, traffic, strict=True):
        tokens_in = subject.prompt_tokens + args.few_shot
        sample_cost = per_call(PREMIUM_PER_MTOK, tokens_in, args.output)
        at_risk = calls * (sample_cost - per_call(CHEAP_PER_MTOK, tokens_in, args.output))
        drop = min(args.drop, subject.rate / 2)
        bound = plan_sampling(subject.rate, drop, 1.0, threshold=alarm).lorden_bound
        demands.append(
            ClassDemand(
                subject.name, float(calls), sample_cost, at_risk, bound or math.inf, max_rate=args.max_rate
            )
        )
    budget = args.rate * sum(d.unit_cost_usd for d in demands)
    auto = allocate(demands, budget, coverage_days=7).rates()
    flat = dict.fromkeys(auto, uniform_rate(demands, budget))
    alarms = [samples_to_alarm(s, min(args.drop, s.rate / 2), alarm.log_value, rng) for s in subjects]
    waits = rng.gamma(np.array(alarms, dtype=float))  # the N-th arrival of a unit-rate Poisson stream
    figures = {}
    for label, rates in (("auto", auto), ("uniform", flat)):
        delays = [w / (rates[d.task_class] * d.traffic_per_day) for w, d in zip(waits, demands, strict=True)]
        money = [d.money_at_risk_usd for d in demands]
        figures[f"{label}_weighted"] = float(np.dot(money, delays) / sum(money))
        figures[f"{label}_mean"] = statistics.fmean(delays)
        figures[f"{label}_lost"] = float(np.dot(money, delays))
        figures[f"{label}_model"] = weighted_delay(demands, rates)
        figures[f"{label}_spend"] = sum(rates[d.task_class] * d.unit_cost_usd for d in demands)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--calls", type=float, default=22_000, help="calls a day, all classes")
    parser.add_argument("--rate", type=float, default=0.05, help="the uniform rate (and the budget)")
    parser.add_argument("--drop", type=float, default=0.10)
    parser.add_argument("--max-rate", type=float, default=0.5)
    parser.add_argument("--spread", type=float, default=1.0, help="sigma of the log-normal traffic factor")
    parser.add_argument("--few-shot", type=float, default=600, help="tokens of few-shot prefix per prompt")
    parser.add_argument("--output", type=float, default=150, help="output tokens per call")
    args = parser.parse_args()
    began = time.perf_counter()
    subjects = load_subjects()
    print(f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"{len(subjects)} classes, {args.calls:,.0f} calls/day, uniform rate {args.rate}, drop {args.drop}")
    print(
        "seed  spend/day  weighted delay (days) auto / uniform   mean delay auto / uniform   $ lost auto / uniform"
    )
    rows = []
    for seed in range(args.seeds):
        figures = run_seed(subjects, args, seed)
        rows.append(figures)
        print(
            f"{seed:>4}  ${figures['auto_spend']:>8.2f}  {figures['auto_weighted']:>10.2f} / {figures['uniform_weighted']:<8.2f}"
            f"  {figures['auto_mean']:>12.2f} / {figures['uniform_mean']:<8.2f}"
            f"  {figures['auto_lost']:>10,.0f} / {figures['uniform_lost']:,.0f}"
        )

    def summary(key: str) -> str:
        values = [row[key] for row in rows]
        return (
            f"{statistics.fmean(values):.2f} (sd {statistics.stdev(values):.2f})"
            if len(values) > 1
            else f"{values[0]:.2f}"
        )

    ratio = [row["auto_weighted"] / row["uniform_weighted"] for row in rows]
    print(
        f"money-weighted delay, days: auto {summary('auto_weighted')}, uniform {summary('uniform_weighted')}"
    )
    print(f"  planner's model: auto {summary('auto_model')}, uniform {summary('uniform_model')}")
    print(f"unweighted mean delay, days: auto {summary('auto_mean')}, uniform {summary('uniform_mean')}")
    print(f"money lost while undetected, $: auto {summary('auto_lost')}, uniform {summary('uniform_lost')}")
    print(
        f"auto / uniform weighted delay: mean {statistics.fmean(ratio):.3f}, range {min(ratio):.3f}-{max(ratio):.3f}"
    )
    print(f"{time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    main()
