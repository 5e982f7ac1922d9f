"""Model-change sentinel benchmark: detection delay after a real model swap, with and without the sentinel.

Replays RouterBench's recorded outcomes (``/work/shared/data/routerbench-subset-routerdc``, see its
README): per prompt, whether each of 11 models answered at least as well as gpt-4-1106-preview, which is
what a shadow evaluation against the premium tier judges.  A class's cheap tier serves one model, then
at call ``--swap-at`` another model *that reports another model name* (a real weaker model, e.g.
mixtral-8x7b → mistral-7b on ARC-Challenge).  Each call draws a prompt of the class at random.

Both arms run driftwatch's own code on the same calls (paired, per seed):

* sampling: ``sampling.rules.in_sample`` on a random trace id per call, at ``--rate``;
* the detector: ``stats.sequence.observe_until`` (the confidence-sequence reference of the default
  ``decisions.baseline``, 300 → 2,000 samples) against ``AlarmThreshold()`` (one class, 10,000
  samples, alpha 0.01), checked at every sample;
* with the sentinel: ``policy.sentinel.Served`` (the rule of the ``watch-models`` job, default
  ``decisions.model_change``) sees every call's model name; from ``--lag-calls`` calls after it
  reports the change (a job interval's worth of traffic), the rate is ``rate * factor`` (at most 1)
  until ``--boost-samples`` samples were drawn, and the reference is frozen during the watch.

Delay is counted in calls after the swap (the alarm's call; shadow evaluation latency not included),
over the seeds, with the samples it took and the extra samples the boost drew.

    python bench/model_change.py --seeds 20
"""

from __future__ import annotations

import argparse
import csv
import gzip
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from driftwatch.config import ModelChangeDetection
from driftwatch.policy.sentinel import Served
from driftwatch.sampling.rules import trace_fraction
from driftwatch.stats.detector import AlarmThreshold
from driftwatch.stats.sequence import SequenceBaseline, SequenceSettings, observe_until

DATA = Path("/work/shared/data/routerbench-subset-routerdc/routerbench_zs")
PREMIUM = "gpt-4-1106-preview"


@dataclass(frozen=True)
class Swap:
    task: str  # file prefix
    before: str
    after: str


SWAPS = (
    Swap("arc_challenge", "mistralai/mixtral-8x7b-chat", "mistralai/mistral-7b-chat"),
    Swap("mbpp", "gpt-3.5-turbo-1106", "WizardLM/WizardLM-13B-V1.2"),
    Swap("winograde", "zero-one-ai/Yi-34B-Chat", "mistralai/mixtral-8x7b-chat"),
    Swap("arc_challenge", "mistralai/mixtral-8x7b-chat", "meta/llama-2-70b-chat"),
    # A swap to a better model: every alarm after it is a false one, with or without the boost.
    Swap("arc_challenge", "mistralai/mixtral-8x7b-chat", "zero-one-ai/Yi-34B-Chat"),
)


def acceptable(task: str, models: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Per model, per prompt (those every model and the premium one have a score for): acceptable."""
    csv.field_size_limit(sys.maxsize)
    rows = []
    for path in sorted(DATA.glob(f"{task}_*.csv.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            rows += list(csv.DictReader(lines))
    rows = [row for row in rows if all(row[name] for name in (*models, PREMIUM))]
    return {
        model: np.array([float(row[model]) >= float(row[PREMIUM]) for row in rows], dtype=np.bool_)
        for model in models
    }


@dataclass(frozen=True)
class Arm:
    delay_calls: float  # inf: no alarm within the horizon
    delay_samples: int
    boosted_extra: int  # samples the boost drew beyond the base rate's
    false_alarm: bool


def run_arm(
    fractions: np.ndarray,
    outcomes: np.ndarray,
    swap_at: int,
    rate: float,
    boost: tuple[float, int, int] | None,  # factor, samples, first boosted call (None: no sentinel)
) -> Arm:
    threshold = AlarmThreshold().log_value
    settings = SequenceSettings()
    before = np.flatnonzero(fractions[:swap_at] < rate)
    baseline, state, _, crossed = observe_until(
        SequenceBaseline(0, 0, None), None, list(outcomes[before]), settings, threshold
    )
    if crossed is not None:
        return Arm(float("nan"), 0, 0, True)
    calls = np.arange(swap_at, fractions.size)
    rates = np.full(calls.size, rate)
    extra = 0
    if boost is not None:
        factor, samples, first = boost
        boosted = min(1.0, rate * factor)
        rates[calls >= first] = boosted
        drawn = np.cumsum((fractions[calls] < boosted) & (calls >= first))
        over = np.flatnonzero(drawn > samples)
        if over.size:
            rates[over[0] :] = rate
        extra = int(((fractions[calls] < rates) & (fractions[calls] >= rate)).sum())
        # The watch freezes the reference: nothing more is taken into the sequence.
        settings = SequenceSettings(settings.delta, max(1, baseline.total), max(1, baseline.total))
    after = calls[fractions[calls] < rates]
    baseline, state, _, crossed = observe_until(baseline, state, list(outcomes[after]), settings, threshold)
    if crossed is None:
        return Arm(float("inf"), after.size, extra, False)
    return Arm(float(after[crossed] - swap_at + 1), crossed + 1, extra, False)


def confirmed_at(models: list[str], swap_at: int, rule: ModelChangeDetection) -> int:
    """The call at which the real rule reports the swap (it sees every call's model name)."""
    served = Served()
    start = max(0, swap_at - 5 * rule.window)
    for index in range(start, len(models)):
        if served.observe(index, {"model": models[index], "provider": "routerbench"}, rule):
            return index
    raise AssertionError("the sentinel never reported the swap")


def summarize(values: list[float]) -> str:
    finite = [value for value in values if np.isfinite(value)]
    if not finite:
        return "no alarm"
    spread = statistics.stdev(finite) if len(finite) > 1 else 0.0
    text = (
        f"{statistics.mean(finite):7.0f} ± {spread:6.0f}  "
        f"median {statistics.median(finite):6.0f}  p90 {np.percentile(finite, 90):6.0f}"
    )
    missed = len(values) - len(finite)
    return text + (f"  ({missed} without alarm)" if missed else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--swap-at", type=int, default=60_000, help="calls before the swap")
    parser.add_argument("--horizon", type=int, default=150_000, help="calls after the swap")
    parser.add_argument("--rate", type=float, default=0.05)
    parser.add_argument("--factor", type=float, default=5.0)
    parser.add_argument("--boost-samples", type=int, default=1_000)
    parser.add_argument("--lag-calls", type=int, default=100, help="calls between report and boost")
    args = parser.parse_args()
    rule = ModelChangeDetection()
    began = time.perf_counter()
    total = args.swap_at + args.horizon
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs; load {os.getloadavg()}")
    print(
        f"rate {args.rate}, boost x{args.factor} for {args.boost_samples} samples, lag {args.lag_calls} "
        f"calls, swap at call {args.swap_at:,}, horizon {args.horizon:,} calls, {args.seeds} seeds"
    )
    fractions_by_seed = []
    for seed in range(args.seeds):
        ids = np.random.default_rng(seed).bytes(16 * total)
        fractions_by_seed.append(
            np.fromiter(
                (trace_fraction(ids[i : i + 16].hex()) for i in range(0, 16 * total, 16)), float, total
            )
        )
    for swap in SWAPS:
        scored = acceptable(swap.task, (swap.before, swap.after))
        prompts = scored[swap.before].size
        print(
            f"\n{swap.before} → {swap.after} on {swap.task}: acceptable {scored[swap.before].mean():.3f} → {scored[swap.after].mean():.3f} "
            f"({prompts} prompts)"
        )
        plain: list[Arm] = []
        sentinel: list[Arm] = []
        confirmations = []
        for seed, fractions in enumerate(fractions_by_seed):
            draw = np.random.default_rng(10_000 + seed).integers(0, prompts, total)
            outcomes = np.where(
                np.arange(total) < args.swap_at, scored[swap.before][draw], scored[swap.after][draw]
            )
            models = [swap.before] * args.swap_at + [swap.after] * args.horizon
            confirmed = confirmed_at(models[: args.swap_at + 10 * rule.window], args.swap_at, rule)
            confirmations.append(confirmed - args.swap_at + 1)
            boost = (args.factor, args.boost_samples, confirmed + 1 + args.lag_calls)
            plain.append(run_arm(fractions, outcomes, args.swap_at, args.rate, None))
            sentinel.append(run_arm(fractions, outcomes, args.swap_at, args.rate, boost))
        false_alarms = sum(arm.false_alarm for arm in plain)
        print(f"  sentinel reports the swap {statistics.mean(confirmations):.0f} calls after it")
        print(f"  false alarms before the swap: {false_alarms} of {args.seeds}")
        kept = [i for i, arm in enumerate(plain) if not arm.false_alarm]
        for label, arms in (("without sentinel", plain), ("with sentinel   ", sentinel)):
            delays = [arms[i].delay_calls for i in kept]
            samples = [float(arms[i].delay_samples) for i in kept]
            alarms = sum(np.isfinite(delay) for delay in delays)
            print(
                f"  {label}: delay in calls {summarize(delays)}; samples {statistics.mean(samples):.0f}; "
                f"alarms within the horizon {alarms} of {len(kept)}"
            )
        ratios = [
            sentinel[i].delay_calls / plain[i].delay_calls
            for i in kept
            if np.isfinite(plain[i].delay_calls) and np.isfinite(sentinel[i].delay_calls)
        ]
        extra = statistics.mean(sentinel[i].boosted_extra for i in kept)
        if ratios:
            print(
                f"  with/without, per seed: mean {statistics.mean(ratios):.2f} "
                f"(min {min(ratios):.2f}, max {max(ratios):.2f})"
            )
        print(f"  extra samples drawn by the boost: {extra:.0f}")
    print(f"\ntook {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
