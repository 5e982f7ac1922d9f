"""`driftwatch demo`: its recorded data turned into answers faithfully, and the whole loop run for real."""

from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy import create_engine, select

from driftwatch.config import Policy
from driftwatch.db.engine import session_factory
from driftwatch.db.models import Decision, Recommendation, WebhookDelivery
from driftwatch.demo.dataset import (
    DRIFTING_CLASSES,
    PREMIUM_CLASSES,
    WEAKER_WRONG_SHARE,
    acceptance,
    demo_policy,
    load_prompts,
    replay_datasets,
)
from driftwatch.shadow.providers.replay import ReplayProvider
from tests.support.processes import run_to_end


def test_stand_in_answers_agree_exactly_when_the_record_says_the_cheap_answer_is_acceptable() -> None:
    prompts = load_prompts()

    for items in prompts.values():
        assert [p.cheap_answer() == p.premium_answer() for p in items] == [p.acceptable for p in items]
    legal = prompts["legal-qa"]
    weaker = sum(p.cheap_answer(weaker=True) == p.premium_answer() for p in legal) / len(legal)
    assert abs(weaker - acceptance(legal) * (1 - WEAKER_WRONG_SHARE)) < 0.05
    assert {len(items) for items in prompts.values()} == {400}
    assert 0.7 < acceptance(legal) < 0.78  # RouteLLM: Mixtral vs GPT-4-Turbo on professional_law


def test_the_demo_policy_is_valid_and_its_replay_providers_answer_every_prompt(tmp_path: Path) -> None:
    prompts = load_prompts()
    datasets = replay_datasets(prompts, tmp_path)

    policy = Policy.model_validate(demo_policy(prompts, datasets))

    assert policy.class_config("legal-qa").auto_promote and policy.configured_tier("civics-qa") == "premium"
    premium = ReplayProvider.from_jsonl(datasets["premium"], model="gpt-4-turbo")
    cheap = ReplayProvider.from_jsonl(datasets["cheap"], model="mixtral-8x7b-instruct")
    assert premium.model == "gpt-4-turbo" and cheap.model == "mixtral-8x7b-instruct"
    lines = datasets["cheap"].read_text().splitlines()
    assert len(lines) == sum(len(items) for items in prompts.values())


def test_the_demo_detects_promotes_alerts_and_recommends(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "driftwatch.cli", "demo", "--dir", str(tmp_path), "--rate", "60",
               "--healthy-seconds", "20", "--max-seconds", "240"]  # fmt: skip
    finished = run_to_end(command, 420, env={"COLUMNS": "200", "PATH": ""})

    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    out = finished.stdout
    for task_class in DRIFTING_CLASSES:
        assert f"{task_class}: promoted from cheap to premium after degradation" in out
    assert f"move {PREMIUM_CLASSES[0]} from premium to cheap, saves about $" in out
    assert "webhooks received and verified by the local receiver: " in out and "Traceback" not in out
    store = create_engine(f"sqlite:///{tmp_path / 'demo.db'}")
    with session_factory(store)() as session:
        promoted = set(session.scalars(select(Decision.task_class).where(Decision.kind == "promoted")))
        recommended = set(session.scalars(select(Recommendation.task_class)))
        delivered = list(session.scalars(select(WebhookDelivery.status)))
    store.dispose()
    assert promoted == set(DRIFTING_CLASSES)  # the healthy classes were left alone
    assert recommended == set(PREMIUM_CLASSES)
    assert delivered and set(delivered) == {"delivered"}
    assert "Traceback" not in (tmp_path / "serve.log").read_text()
