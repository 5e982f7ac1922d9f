"""Detection-quality benchmark: false alarms and delays of the project's drift detector, by simulation.

Bernoulli acceptance streams, many replications at once (numpy arrays across replications), stepped
through ``driftwatch.stats.detector`` itself (``log_likelihood_ratios``, ``advance``, ``log_mixture``,
``AlarmThreshold``, ``baseline_reference``), checked after every sample as a scheduler could:

* false alarms: the share of healthy streams that alarm within ``--horizon`` samples, with the
  reference known (``p_ref`` = the true rate) and learned (the 95% lower bound of a 2,000-sample
  baseline); next to it, the naive way: a two-proportion z-test against that baseline re-run every 50
  samples at alpha 0.05 (one-sided), on the last 500 samples and on all samples so far;
* delays: samples from a change at ``--change-at`` to the alarm, over runs without an earlier alarm,
  against Lorden's bound ``log(A) / KL(p1 || p0)``; also with the threshold of 50 classes (union bound,
  what e-BH needs for a lone degraded class);
* the planner: the 90th-percentile delay from scratch (change at sample 0, what the planner assumes)
  against ``plan_sampling``'s samples, for the changes above and a few more, short and long;
* a reference from day one (``--day-one``, only this scenario): classes without a floor, outcomes from
  the first evaluation on.  Before: ``baseline: window``, the first 2,000 outcomes form the baseline
  (whatever happened in them), the detector starts after.  After: ``baseline: confidence_sequence``
  (``driftwatch.stats.sequence``), the detector starts after 300 outcomes, each outcome tested against
  the running bound of the outcomes before it.  False alarms over 300 + horizon healthy outcomes
  and delays of a change at ``--day-one-change-at`` (500), with alpha split into detector and sequence.

    python bench/detection.py --reps 10000 --workers 2
    python bench/detection.py --day-one --reps 10000 --workers 2
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from driftwatch.stats.detector import (
    AlarmThreshold,
    advance,
    bernoulli_kl,
    log_likelihood_ratios,
    log_mixture,
)
from driftwatch.stats.planner import P90_SPREAD, plan_sampling
from driftwatch.stats.reference import baseline_reference
from driftwatch.stats.sequence import lower_bound

CHANGES = [(0.95, 0.85), (0.95, 0.90), (0.97, 0.90), (0.90, 0.80), (0.80, 0.70)]
PLANNER_ONLY = [(0.99, 0.97), (0.95, 0.93), (0.99, 0.90), (0.95, 0.60)]  # delays from ~25 to ~3,700
BASELINE_SAMPLES = 2_000
Z_EVERY, Z_WINDOW, Z_CRITICAL = 50, 500, -1.6448536269514722  # one-sided alpha 0.05


@dataclass(frozen=True)
class Task:
    kind: str  # "healthy" or "change"
    before: float
    after: float
    learned: bool  # reference from a baseline window's lower bound instead of the true rate
    change_at: int
    steps: int
    seed: np.random.SeedSequence


@cache
def _lower_bound(accepted: int) -> float:
    rate = baseline_reference(accepted, BASELINE_SAMPLES).rate
    assert rate is not None  # a 2,000-sample baseline is always sufficient
    return rate


def run(task: Task, reps: int, thresholds: tuple[float, ...]) -> dict[str, npt.NDArray[np.float64]]:
    """First crossing time of each threshold per replication (inf: none), plus z-test alarm times."""
    rng = np.random.default_rng(task.seed)
    baseline = rng.binomial(BASELINE_SAMPLES, task.before, size=reps)
    references = (
        np.array([_lower_bound(int(a)) for a in baseline]) if task.learned else np.full(reps, task.before)
    )
    accept_llr, reject_llr = log_likelihood_ratios(references)
    log_r = np.full((reps, accept_llr.shape[-1]), -np.inf)
    log_a = np.log(np.asarray(thresholds))
    crossed = np.full((len(thresholds), reps), np.inf)
    z_alarms = {"window": np.full(reps, np.inf), "cumulative": np.full(reps, np.inf)}
    checkpoints = [np.zeros(reps)]  # accepted counts every Z_EVERY samples, for the sliding window
    accepted_so_far = np.zeros(reps)
    live = np.arange(reps)  # replications still waiting for some threshold
    for t in range(1, task.steps + 1):
        accepted = rng.random(live.size) < (task.before if t <= task.change_at else task.after)
        log_r = advance(log_r, accept_llr[live], reject_llr[live], accepted)
        # An average of R cannot reach a bar that its largest term has not: only those rows need the
        # full mixture, which saves most of the work on healthy streams.
        near = np.flatnonzero(log_r.max(axis=1) >= log_a.min())
        statistic = log_mixture(log_r[near])
        for i, bar in enumerate(log_a):
            rows = live[near[statistic >= bar]]
            crossed[i, rows[np.isinf(crossed[i, rows])]] = t
        if task.kind == "healthy":  # every stream runs to the horizon: the z-tests share them
            accepted_so_far += accepted
            if t % Z_EVERY == 0:
                checkpoints.append(accepted_so_far.copy())
                window = min(t, Z_WINDOW)
                for name, hits, n in (
                    ("cumulative", accepted_so_far, t),
                    ("window", accepted_so_far - checkpoints[-1 - window // Z_EVERY], window),
                ):
                    z = _z_statistic(hits, n, baseline)
                    z_alarms[name][(z < Z_CRITICAL) & np.isinf(z_alarms[name])] = t
        elif t % 100 == 0:  # drop finished replications so the tail of slow ones runs fast
            keep = np.isinf(crossed[:, live]).any(axis=0)
            live, log_r = live[keep], log_r[keep]
            if live.size == 0:
                break
    return {"crossed": crossed} | {f"z_{name}": alarms for name, alarms in z_alarms.items()}


@dataclass(frozen=True)
class DayOne:
    """A class without a floor, watched from its first evaluation (see the module docstring)."""

    mode: str  # "window" or "sequence"
    before: float
    after: float
    change_at: int  # > steps: healthy
    steps: int
    classes: int  # the detector's threshold and the sequence's delta are split over this many
    seed: np.random.SeedSequence


MIN_BASELINE = 300
DAY_ONE_CHANGES = [(0.95, 0.85), (0.97, 0.90), (0.90, 0.80)]


def run_day_one(task: DayOne, reps: int, alpha: float, delta: float, horizon: int) -> npt.NDArray[np.float64]:
    """The evaluation (counted from the class's first) at which each replication alarms (inf: never)."""
    rng = np.random.default_rng(task.seed)
    log_a = AlarmThreshold(horizon, alpha, task.classes).log_value
    delta /= task.classes
    start = MIN_BASELINE if task.mode == "sequence" else BASELINE_SAMPLES
    alarms = np.full(reps, np.inf)
    live = np.arange(reps)
    hits = np.zeros(reps, dtype=np.int64)
    reference = np.full(reps, np.nan)  # in force for the next outcome
    log_r = np.full((reps, 12), -np.inf)
    for t in range(1, task.steps + 1):
        accepted = rng.random(live.size) < (task.before if t <= task.change_at else task.after)
        if t > start:  # the detector tests outcome t against the reference of outcomes 1..t-1
            accept_llr, reject_llr = log_likelihood_ratios(reference[live])
            log_r = advance(log_r, accept_llr, reject_llr, accepted)
            near = np.flatnonzero(log_r.max(axis=1) >= log_a)
            rows = live[near[log_mixture(log_r[near]) >= log_a]]
            alarms[rows[np.isinf(alarms[rows])]] = t
        if t <= BASELINE_SAMPLES:  # then outcome t joins the baseline
            hits[live] += accepted
            if task.mode == "sequence" and t >= MIN_BASELINE:
                values, where = np.unique(hits[live], return_inverse=True)
                bounds = lower_bound(values, t, delta)[where]
                reference[live] = np.fmax(reference[live], np.where(bounds > 0, bounds, np.nan))
            elif task.mode == "window" and t == BASELINE_SAMPLES:
                reference[live] = [_lower_bound(int(a)) for a in hits[live]]
        if t % 100 == 0 and t > task.change_at:  # drop alarmed replications
            keep = np.isinf(alarms[live])
            live, log_r = live[keep], log_r[keep]
            if live.size == 0:
                break
    return alarms


def day_one(args: argparse.Namespace) -> None:
    """The ``--day-one`` scenario: before (window) and after (confidence sequence), healthy and changed."""
    alpha, delta = args.alpha / 2, args.alpha / 2
    seeds = iter(np.random.SeedSequence(args.seed).spawn(64))
    horizon, at = args.horizon, args.day_one_change_at
    tasks: dict[tuple[str, float, float, int], DayOne] = {}
    for rate in sorted({before for before, _ in CHANGES}, reverse=True):
        steps = MIN_BASELINE + horizon
        tasks["sequence", rate, rate, 1] = DayOne("sequence", rate, rate, steps + 1, steps, 1, next(seeds))
    for (before, after), classes in [*((change, 1) for change in DAY_ONE_CHANGES), ((0.95, 0.85), 39)]:
        for mode in ("window", "sequence"):
            task = DayOne(mode, before, after, at, at + horizon, classes, next(seeds))
            tasks[mode, before, after, classes] = task
    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        futures = {
            key: pool.submit(run_day_one, task, args.reps, alpha, delta, horizon)
            for key, task in tasks.items()
        }
        results = {key: future.result() for key, future in futures.items()}
    elapsed = time.perf_counter() - started
    print(
        f"day one: reps {args.reps}, horizon {horizon}, detector alpha {alpha:g} + sequence delta {delta:g},"
        f" sequence from {MIN_BASELINE} to {BASELINE_SAMPLES} outcomes, change at evaluation {at};"
        f" {elapsed:.0f} s with {args.workers} workers on {os.cpu_count()} CPUs, {platform.machine()},"
        f" Python {platform.python_version()}\n"
    )
    print("| healthy rate | false alarms within 300 + horizon outcomes (sequence) |\n|---|---|")
    for (_, before, after, _), alarms in results.items():
        if before == after:
            print(f"| {before:.2f} | {np.mean(np.isfinite(alarms)):.2%} |")
    print(
        f"\n{horizon:,} evaluations after the change at most; delays in evaluations after it.\n"
        "\n| change at evaluation 500 | classes | before (window of 2,000): median / p90 delay |"
        " after (confidence sequence): median / p90 delay |\n|---|---|---|---|"
    )
    for before, after in DAY_ONE_CHANGES:
        for classes in (1, 39):
            if ("window", before, after, classes) in results:
                cells = [
                    _day_one_cell(results[mode, before, after, classes], at)
                    for mode in ("window", "sequence")
                ]
                print(f"| {before:.2f} → {after:.2f} | {classes} | {' | '.join(cells)} |")


def _day_one_cell(alarms: npt.NDArray[np.float64], change_at: int) -> str:
    early, never = int(np.sum(alarms <= change_at)), int(np.sum(np.isinf(alarms)))
    delays = np.sort(alarms[alarms > change_at] - change_at)  # inf (never) sorts last
    median, p90 = (float(np.quantile(delays, q, method="lower")) for q in (0.5, 0.9))
    notes = ([f"{early} alarmed before the change"] if early else []) + (
        [f"{never} not within the horizon"] if never else []
    )
    return f"{median:.0f} / {p90:.0f}{''.join(', ' + note for note in notes)}"


def _z_statistic(
    accepted: npt.NDArray[np.float64], n: int, baseline: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    pooled = (accepted + baseline) / (n + BASELINE_SAMPLES)
    spread = np.sqrt(np.maximum(pooled * (1 - pooled), 1e-12) * (1 / n + 1 / BASELINE_SAMPLES))
    return np.asarray((accepted / n - baseline / BASELINE_SAMPLES) / spread)


def _delays(crossed: npt.NDArray[np.float64], change_at: int) -> tuple[float, float, int]:
    """Median and p90 delay over runs without an alarm before the change, and how many had one."""
    clean = crossed[crossed > change_at] - change_at
    return float(np.median(clean)), float(np.quantile(clean, 0.9)), int(np.sum(crossed <= change_at))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--horizon", type=int, default=10_000)
    parser.add_argument("--alpha", type=float, default=0.01)
    parser.add_argument("--change-at", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--day-one", action="store_true", help="only the reference-from-day-one scenario")
    parser.add_argument("--day-one-change-at", type=int, default=500)
    args = parser.parse_args()
    if args.day_one:
        day_one(args)
        return
    single = AlarmThreshold(horizon=args.horizon, alpha=args.alpha)
    family = AlarmThreshold(horizon=args.horizon, alpha=args.alpha, classes=50)
    seeds = iter(np.random.SeedSequence(args.seed).spawn(64))
    rates = sorted({before for before, _ in CHANGES}, reverse=True)
    cap = (
        12 * args.horizon
    )  # samples after a change: far beyond any delay here; a run reaching it is reported
    tasks: dict[tuple[str, float, float], Task] = {}
    for rate in rates:
        tasks["known", rate, rate] = Task(
            "healthy", rate, rate, False, args.horizon, args.horizon, next(seeds)
        )
        tasks["learned", rate, rate] = Task(
            "healthy", rate, rate, True, args.horizon, args.horizon, next(seeds)
        )
    for before, after in CHANGES:
        at, end = args.change_at, args.change_at + cap
        tasks["known", before, after] = Task("change", before, after, False, at, end, next(seeds))
        tasks["learned", before, after] = Task("change", before, after, True, at, end, next(seeds))
    for before, after in CHANGES + PLANNER_ONLY:
        tasks["scratch", before, after] = Task("change", before, after, False, 0, cap, next(seeds))
    thresholds = (single.value, family.value)
    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        runs = pool.map(run, tasks.values(), [args.reps] * len(tasks), [thresholds] * len(tasks))
        results = dict(zip(tasks, runs, strict=True))
    elapsed = time.perf_counter() - started

    print(
        f"reps {args.reps}, horizon {args.horizon}, alpha {args.alpha}, A = {single.value:.3g} (one class)"
        f" and {family.value:.3g} (50 classes), change at sample {args.change_at}; {elapsed:.0f} s with"
        f" {args.workers} workers on {os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}\n"
    )
    print(
        f"| healthy rate | SR, known p_ref | SR, p_ref = LCB95 of 2,000 | z-test, last {Z_WINDOW} vs baseline"
        " | z-test, all so far vs baseline |\n|---|---|---|---|---|"
    )
    for rate in rates:
        known, learned = results["known", rate, rate], results["learned", rate, rate]
        shares = [np.mean(alarms <= args.horizon) for alarms in (known["crossed"][0], learned["crossed"][0])]
        tests = [np.mean(known[name] <= args.horizon) for name in ("z_window", "z_cumulative")]
        print(f"| {rate:.2f} | {shares[0]:.2%} | {shares[1]:.2%} | {tests[0]:.1%} | {tests[1]:.1%} |")
    print(
        "\n| change | Lorden bound (50 classes) | known p_ref: median / p90 (median / bound) | LCB95 p_ref:"
        " median / p90 (median / bound) | 50 classes, known p_ref: median / p90 (median / bound) |\n"
        "|---|---|---|---|---|"
    )
    for before, after in CHANGES:
        bounds = [math.log(a) / bernoulli_kl(after, before) for a in thresholds]
        cells = [
            _delay_cell(results[mode, before, after]["crossed"][level], args.change_at, bounds[level])
            for mode, level in (("known", 0), ("learned", 0), ("known", 1))
        ]
        print(f"| {before:.2f} → {after:.2f} | {bounds[0]:.0f} ({bounds[1]:.0f}) | {' | '.join(cells)} |")
    print(
        "\n| change | Lorden bound L | p90 delay from scratch | (p90 - L) / √L | planned samples |"
        " planned / p90 |\n|---|---|---|---|---|---|"
    )
    spreads = []
    for before, after in CHANGES + PLANNER_ONLY:
        bound = math.log(single.value) / bernoulli_kl(after, before)
        p90 = _delays(results["scratch", before, after]["crossed"][0], 0)[1]
        planned = plan_sampling(before, before - after, 1.0, threshold=single).samples_needed or 0
        spreads.append((p90 - bound) / math.sqrt(bound))
        print(
            f"| {before:.2f} → {after:.2f} | {bound:.0f} | {p90:.0f} | {spreads[-1]:.2f} | {planned}"
            f" | {planned / p90:.2f} |"
        )
    print(f"\nplanner P90_SPREAD = {P90_SPREAD}; largest measured (p90 - L) / √L = {max(spreads):.2f}")


def _delay_cell(crossed: npt.NDArray[np.float64], change_at: int, bound: float) -> str:
    median, p90, early = _delays(crossed, change_at)
    missed = int(np.sum(np.isinf(crossed)))
    notes = ([f"{early} alarmed before the change"] if early else []) + (
        [f"{missed} never"] if missed else []
    )
    return f"{median:.0f} / {p90:.0f} ({median / bound:.2f}x{''.join(', ' + note for note in notes)})"


if __name__ == "__main__":
    main()
