"""The model-change rule on its own: strays, swaps, canaries, load-balanced alternation, forgetting."""

from __future__ import annotations

from itertools import count

from hypothesis import given
from hypothesis import strategies as st

from driftwatch.config import ModelChangeDetection
from driftwatch.policy.sentinel import MAX_KNOWN, Change, Served

RULE = ModelChangeDetection(window=50, min_calls=10, min_share=0.2, forget_after_calls=500)
OLD, NEW, OTHER = "gpt-4o-mini-2024-07-18", "gpt-4o-mini-2025-01-31", "gpt-4o-mini-2024-11-20"


class Stream:
    def __init__(self, rule: ModelChangeDetection = RULE) -> None:
        self.served, self.rule, self.ids = Served(), rule, count(1)
        self.changes: list[Change] = []

    def send(self, *models: str, fingerprint: str | None = None, times: int = 1) -> None:
        for _ in range(times):
            for model in models:
                values = {"model": model, "provider": "openai", "fingerprint": fingerprint}
                self.changes += self.served.observe(next(self.ids), values, self.rule)


def test_the_models_a_class_starts_with_are_learnt_silently() -> None:
    stream = Stream()
    stream.send(OLD, OTHER, times=100)
    assert stream.changes == []


def test_a_single_stray_call_is_no_change() -> None:
    stream = Stream()
    stream.send(OLD, times=100)
    stream.send(NEW)
    stream.send(OLD, times=200)
    assert stream.changes == []


def test_a_swap_counts_at_the_tenth_call_of_the_new_snapshot_naming_both() -> None:
    stream = Stream()
    stream.send(OLD, times=100)
    stream.send(NEW, times=19)
    assert stream.changes == []  # counted at call 110, reported min_calls calls later
    stream.send(NEW)
    [change] = stream.changes
    assert (change.dimension, change.old, change.new) == ("model", OLD, NEW)
    assert (change.first_call_id, change.call_id, change.calls) == (101, 110, 10)
    assert change.as_evidence()["share"] == 0.2


def test_alternating_snapshots_behind_a_load_balancer_change_once_then_never_flap() -> None:
    stream = Stream()
    stream.send(OLD, times=100)
    stream.send(OLD, NEW, times=500)  # a gateway starts balancing over two snapshots
    assert [(c.old, c.new) for c in stream.changes] == [(OLD, NEW)]


def test_a_canary_below_the_share_never_counts_and_counts_once_it_grows() -> None:
    stream = Stream()
    stream.send(OLD, times=100)
    stream.send(*[OLD] * 9, NEW, times=50)  # 10% of traffic: 5 of every 50 calls
    assert stream.changes == []
    stream.send(*[OLD] * 2, NEW, times=20)  # a third of traffic
    assert [c.new for c in stream.changes] == [NEW]


def test_a_snapshot_retired_long_ago_counts_again_when_it_comes_back() -> None:
    stream = Stream()
    stream.send(OLD, times=100)
    stream.send(NEW, times=600)  # OLD unseen for more than forget_after_calls
    stream.send(OLD, times=20)
    assert [(c.old, c.new) for c in stream.changes] == [(OLD, NEW), (NEW, OLD)]


def test_a_new_fingerprint_is_a_change_unless_fingerprints_are_off() -> None:
    for fingerprints, expected in ((True, [("fingerprint", "fp_a", "fp_b")]), (False, [])):
        stream = Stream(RULE.model_copy(update={"fingerprints": fingerprints}))
        stream.send(OLD, fingerprint="fp_a", times=100)
        stream.send(OLD, fingerprint="fp_b", times=100)
        assert [(c.dimension, c.old, c.new) for c in stream.changes] == expected


def test_a_new_snapshot_and_fingerprint_counted_a_few_calls_apart_are_one_change() -> None:
    stream = Stream()
    stream.send(OLD, fingerprint="fp_a", times=80)
    stream.send(NEW, fingerprint="fp_a", times=3)  # the new snapshot's first calls report the old fp
    stream.send(NEW, fingerprint="fp_b", times=40)
    assert [(c.dimension, c.new, c.call_id) for c in stream.changes] == [
        ("model", NEW, 90),
        ("fingerprint", "fp_b", 93),
    ]


def test_calls_without_a_fingerprint_leave_the_fingerprint_alone() -> None:
    stream = Stream()
    stream.send(OLD, fingerprint="fp_a", times=100)
    stream.send(OLD, times=100)
    stream.send(OLD, fingerprint="fp_a", times=10)
    assert stream.changes == []


@given(st.lists(st.sampled_from([OLD, NEW, OTHER]), max_size=300), st.integers(0, 300))
def test_the_state_read_back_from_json_goes_on_exactly_as_the_one_in_memory(
    models: list[str], split: int
) -> None:
    whole, parts = Stream(), Stream()
    whole.send(*models)
    parts.send(*models[:split])
    parts.served = Served.from_json(parts.served.to_json())
    parts.send(*models[split:])
    assert parts.changes == whole.changes
    assert parts.served.to_json() == whole.served.to_json()


def test_a_client_rotating_model_names_keeps_the_state_small() -> None:
    stream = Stream(RULE.model_copy(update={"forget_after_calls": 1_000_000}))
    for number in range(1_000):
        stream.send(f"model-{number}", times=12)
    known = stream.served.dimensions["model"].known
    assert len(known) == MAX_KNOWN and "model-999" in known
    assert len(stream.served.to_json()) < 20_000
