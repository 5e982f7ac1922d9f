"""The demo's recorded prompts, the answers each model gives them, and the policy the demo runs under
(pure: files in, documents out).

RouteLLM recorded, per MMLU prompt, whether Mixtral-8x7B (cheap) and GPT-4-Turbo (premium) answered
correctly, not what they answered. Each prompt gets a stand-in answer letter per model that agrees
exactly when the record says the cheap answer is acceptable: cheap correct, or premium wrong too.
The weaker cheap model swapped in halfway is simulated: it gets a fixed share of those acceptable
answers wrong (see data/NOTICE).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

CHEAP_MODEL = "mixtral-8x7b-instruct"
WEAKER_MODEL = "mistral-7b-instruct"
PREMIUM_MODEL = "gpt-4-turbo"
PRICES = {  # USD per million tokens, list prices of the hosted models
    CHEAP_MODEL: {"input_per_mtok": 0.6, "output_per_mtok": 0.6},
    WEAKER_MODEL: {"input_per_mtok": 0.2, "output_per_mtok": 0.2},
    PREMIUM_MODEL: {"input_per_mtok": 10.0, "output_per_mtok": 30.0},
}
DRIFTING_CLASSES = ("legal-qa", "medical-qa")
PREMIUM_CLASSES = ("civics-qa",)  # routed to premium, though the cheap model does as well on them
WEAKER_WRONG_SHARE = 0.4  # of the cheap model's acceptable answers, the weaker model gets wrong
FLOOR_MARGIN = 0.06  # each class's declared acceptance floor sits this far below its recorded rate
LETTERS = "ABCD"
# Shadow evaluation as a team would run it: a replay on the premium model costs about what the call
# would have cost there, so evaluating 4% of the cheap calls spends about 4% of what tiering saves.
SAMPLE_RATE = 0.04
DAILY_BUDGET_USD = 5.0
MODEL_CHANGE_BOOST, MODEL_CHANGE_SAMPLES = 5.0, 250


@dataclass(frozen=True, slots=True)
class Prompt:
    task_class: str
    text: str
    acceptable: bool  # the cheap model's recorded answer is no worse than the premium one's
    input_tokens: int

    def premium_answer(self) -> str:
        return LETTERS[_digest(self.text, "premium") % 4]

    def cheap_answer(self, *, weaker: bool = False) -> str:
        """The same letter as premium when acceptable; the weaker model also misses its share."""
        missed = weaker and _digest(self.text, "weaker") % 1000 < WEAKER_WRONG_SHARE * 1000
        if self.acceptable and not missed:
            return self.premium_answer()
        return LETTERS[(LETTERS.index(self.premium_answer()) + 1 + _digest(self.text, "wrong") % 3) % 4]


def load_prompts(path: Path | None = None) -> dict[str, list[Prompt]]:
    """The packaged prompts by task class, in file order."""
    source = path or Path(str(files("driftwatch.demo").joinpath("data", "routellm_mmlu.jsonl.gz")))
    by_class: dict[str, list[Prompt]] = defaultdict(list)
    with gzip.open(source, "rt", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            acceptable = bool(row["cheap_correct"]) or not row["premium_correct"]
            # About four characters per token in English; the 5-shot prefix RouteLLM used is not stored.
            tokens = max(1, len(row["prompt"]) // 4)
            by_class[row["task_class"]].append(Prompt(row["task_class"], row["prompt"], acceptable, tokens))
    return dict(by_class)


def acceptance(prompts: list[Prompt]) -> float:
    return sum(prompt.acceptable for prompt in prompts) / len(prompts)


def replay_datasets(prompts: dict[str, list[Prompt]], folder: Path) -> dict[str, Path]:
    """JSONL answers for the replay providers. The cheap tier answers as the model on it *after* the
    swap, so replays of promoted classes one tier down see the weaker model too."""
    files_by_tier = {"premium": folder / "premium-answers.jsonl", "cheap": folder / "cheap-answers.jsonl"}
    with files_by_tier["premium"].open("w") as premium, files_by_tier["cheap"].open("w") as cheap:
        for task_class, items in prompts.items():
            weaker = task_class in DRIFTING_CLASSES
            for prompt in items:
                # With the token counts a provider reports, a replay is charged what it costs, not the
                # runner's upper estimate for an answer of unknown length.
                usage = {"input_tokens": prompt.input_tokens, "output_tokens": 1}
                premium.write(
                    json.dumps({"prompt": prompt.text, "response": prompt.premium_answer(), **usage})
                )
                cheap.write(
                    json.dumps(
                        {"prompt": prompt.text, "response": prompt.cheap_answer(weaker=weaker), **usage}
                    )
                )
                premium.write("\n")
                cheap.write("\n")
    return files_by_tier


def demo_policy(prompts: dict[str, list[Prompt]], datasets: dict[str, Path]) -> dict[str, Any]:
    """The policy file: two tiers, replay providers, every class sampled, the drifting classes
    promoted automatically, and declared floors so detection needs no long baseline."""
    classes: dict[str, Any] = {}
    for task_class, items in sorted(prompts.items()):
        floor = round(acceptance(items) - FLOOR_MARGIN, 2)
        premium = task_class in PREMIUM_CLASSES
        classes[task_class] = {
            "tier": "premium" if premium else "cheap",
            "auto_promote": not premium,
            "acceptance_floor": 0.9 if premium else floor,
        }
    return {
        "tiers": ["cheap", "premium"],
        "model_tiers": {CHEAP_MODEL: "cheap", WEAKER_MODEL: "cheap", PREMIUM_MODEL: "premium"},
        "prices": PRICES,
        "providers": {
            "cheap": {"kind": "replay", "model": CHEAP_MODEL, "dataset": str(datasets["cheap"])},
            "premium": {"kind": "replay", "model": PREMIUM_MODEL, "dataset": str(datasets["premium"])},
        },
        "shadow": {
            "rate": SAMPLE_RATE,
            "daily_budget_usd": DAILY_BUDGET_USD,
            "judges": [{"kind": "exact"}],
            "grace_seconds": 0,
            # After the swap the served model changes: a short boosted watch speeds detection up
            # without letting the watch's replays outweigh what the demo's minutes of tiering save.
            "boost_on_model_change": {"factor": MODEL_CHANGE_BOOST, "samples": MODEL_CHANGE_SAMPLES},
        },
        "classes": classes,
        "default_tier": "cheap",
        "tier_models": {"cheap": CHEAP_MODEL, "premium": PREMIUM_MODEL},
        "decisions": {"cooldown_hours": 1, "demotion_rate": 0.05, "parity_min_samples": 150},
    }


def _digest(text: str, salt: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{salt}\x00{text}".encode()).digest()[:8], "big")
