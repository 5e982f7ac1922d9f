"""Build the demo's data file from the RouteLLM MMLU responses (Apache-2.0), grouped into task classes.

    python scripts/build_demo_data.py ../shared/data/routellm

Writes ``driftwatch/demo/data/routellm_mmlu.jsonl.gz``: one recorded prompt a line, with whether the
cheap model (Mixtral-8x7B-Instruct) and the premium model (GPT-4-Turbo) answered it correctly. The
demo turns these recorded outcomes into answers; see driftwatch/demo/data/NOTICE.
"""

from __future__ import annotations

import csv
import gzip
import json
import random
import sys
from pathlib import Path

CHEAP = "mistralai/Mixtral-8x7B-Instruct-v0.1"
PREMIUM = "gpt-4-1106-preview"
PER_CLASS = 400
CLASSES = {
    "legal-qa": ["professional_law"],
    "medical-qa": [
        "professional_medicine", "clinical_knowledge", "college_medicine", "anatomy", "medical_genetics",
        "nutrition",
    ],
    "science-qa": ["high_school_biology", "college_biology", "astronomy", "high_school_chemistry", "high_school_physics"],
    "psychology-qa": ["professional_psychology", "high_school_psychology"],
    "history-qa": ["prehistory", "high_school_world_history", "high_school_us_history"],
    "civics-qa": ["high_school_government_and_politics", "marketing", "sociology", "us_foreign_policy"],
}  # fmt: skip


def main(source: Path) -> None:
    out = Path(__file__).resolve().parents[1] / "driftwatch" / "demo" / "data" / "routellm_mmlu.jsonl.gz"
    draw = random.Random(20240610)
    lines = []
    for task_class, subjects in CLASSES.items():
        rows = []
        for subject in subjects:
            with (source / "mmlu" / "responses" / f"mmlu_{subject}.csv").open(newline="") as file:
                for row in csv.DictReader(file):
                    rows.append(
                        {
                            "task_class": task_class,
                            "subject": subject,
                            "prompt": row["prompt"].strip(),
                            "cheap_correct": row[CHEAP] == "True",
                            "premium_correct": row[PREMIUM] == "True",
                        }
                    )
        draw.shuffle(rows)
        lines.extend(json.dumps(row, ensure_ascii=False) for row in rows[:PER_CLASS])
    with gzip.open(out, "wt", encoding="utf-8", compresslevel=9) as file:
        file.write("\n".join(lines) + "\n")
    print(f"wrote {len(lines)} prompts to {out} ({out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
