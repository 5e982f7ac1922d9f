"""`driftwatch demo`: its recorded data turned into answers faithfully, the whole loop run for real, the
dashboard after it in headless Chromium, and Ctrl-C."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
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
from tests.support.browser import chromium, console_errors, screenshot
from tests.support.patience import deadline, patient
from tests.support.processes import run_to_end, start_serve, wait_healthy


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


@dataclass(frozen=True)
class DemoRun:
    folder: Path
    finished: subprocess.CompletedProcess[str]


def demo_env(**extra: str) -> dict[str, str]:
    """No ``driftwatch`` on PATH (the demo starts the service with its own interpreter) and no
    COLUMNS: the output goes to a pipe, as in CI or ``driftwatch demo | tee``."""
    passed = {name: os.environ[name] for name in ("PYTHONPATH",) if name in os.environ}
    return {"PATH": "", **passed, **extra}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """One whole run of the demo (a few minutes), shared by the tests that read its output and store."""
    folder = tmp_path_factory.mktemp("demo")
    command = [sys.executable, "-m", "driftwatch.cli", "demo", "--dir", str(folder),
               "--healthy-seconds", "20", "--max-seconds", "240"]  # fmt: skip
    return DemoRun(folder, run_to_end(command, 420, env=demo_env()))


DEGRADED_LINE = (
    r"^  \d\d:\d\d:\d\d UTC  {task_class}: degraded, acceptance on cheap fell below the declared floor of "
    r"\d+\.\d%: the drift test alarmed with [\d,]+ of [\d,]+ accepted \(\d+\.\d%\) since "
    r"[A-Z][a-z]{{2}} \d+, \d\d:\d\d:\d\d UTC$"
)


def test_the_demo_detects_promotes_alerts_and_recommends(demo_run: DemoRun) -> None:
    finished, folder = demo_run.finished, demo_run.folder

    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    out = finished.stdout
    for task_class in DRIFTING_CLASSES:
        assert f"{task_class}: promoted from cheap to premium after degradation" in out
        # Into a pipe, a reason is one line, in words and times a person reads.
        assert re.search(DEGRADED_LINE.format(task_class=task_class), out, re.MULTILINE), out
    assert f"move {PREMIUM_CLASSES[0]} from premium to cheap, saves about $" in out
    assert "Traceback" not in out
    store = create_engine(f"sqlite:///{folder / 'demo.db'}")
    with session_factory(store)() as session:
        promoted = set(session.scalars(select(Decision.task_class).where(Decision.kind == "promoted")))
        recommended = set(session.scalars(select(Recommendation.task_class)))
        delivered = list(session.scalars(select(WebhookDelivery.status)))
    store.dispose()
    assert promoted == set(DRIFTING_CLASSES)  # the healthy classes were left alone
    assert recommended == set(PREMIUM_CLASSES)
    assert delivered and set(delivered) == {"delivered"}
    # One count of webhooks, the same in the last table, the closing report and the store.
    counts = re.findall(r"(\d+) webhooks? received \(all signatures valid\)", out)
    assert len(counts) == 2 and set(counts) == {str(len(delivered))}, out
    assert "2 degraded, 2 promoted, 1 recommendation;" in out
    # Shadow evaluation costs a small share of the savings it watches over, as in real use. The share
    # moves with the machine's load (traffic is paced in wall time, replays run as fast as they can):
    # 5.7-10.3% measured; a bound of 15% still fails the demo's old economics ($82 against $3.89).
    money = re.search(r"tiering saved \$([\d,.]+), shadow evaluation cost \$([\d,.]+) \(([\d.]+)% of", out)
    assert money is not None, out
    saved, shadow, share = (float(group.replace(",", "")) for group in money.groups())
    assert shadow > 0 and 0.15 * saved > shadow and 0 < share < 15
    assert "Traceback" not in (folder / "serve.log").read_text()
    assert f"the store and the log are in {folder}" in out  # a folder given with --dir is kept


ISO_MOMENT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")
MONEY = re.compile(r"^-?\$(\d{1,3}(,\d{3})*\.\d\d|0\.0\d+)$")


def test_after_the_demo_the_dashboard_shows_what_happened(demo_run: DemoRun) -> None:
    folder = demo_run.folder
    assert demo_run.finished.returncode == 0
    settings = {
        "DRIFTWATCH_DATABASE_URL": f"sqlite:///{folder / 'demo.db'}",
        "DRIFTWATCH_POLICY_FILE": str(folder / "policy.yaml"),
        "DRIFTWATCH_SCHEDULER": "false",
        "DRIFTWATCH_REQUIRE_AUTH": "false",
    }
    process, base_url = start_serve(folder, settings)
    wait_healthy(process, base_url)

    document = httpx.get(f"{base_url}/v1/dashboard", timeout=30).json()
    # The range fits minutes of evaluations, and the money is that of real use.
    assert document["range"] in ("15m", "1h")
    assert 0 < document["shadow"]["spent_usd"] < 0.15 * document["savings"]["achieved_usd"]
    with chromium() as browser:
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        errors = console_errors(page)
        page.goto(f"{base_url}/")
        page.wait_for_selector("body[data-state=ready]", timeout=30_000)
        screenshot(page, "dashboard-after-demo.png")

        pressed = page.get_attribute(f"#ranges button[data-range='{document['range']}']", "aria-pressed")
        assert pressed == "true" and "range=" not in page.url  # fitted, not asked for
        for task_class in DRIFTING_CLASSES:
            row = page.locator("#classes tbody tr", has_text=task_class)
            assert row.locator(".badge").text_content() == "promoted to premium"
            assert "promoted from cheap to premium after degrading on cheap" in (row.text_content() or "")
        at_risk = page.text_content("#at-risk") or ""
        assert MONEY.match(at_risk) and at_risk != "$0.00"
        assert all(name in (page.text_content("#at-risk-detail") or "") for name in DRIFTING_CLASSES)
        # The decisions are on the first screen, their reasons without ISO timestamps.
        box = page.locator("#decisions").bounding_box()
        assert box is not None and box["y"] < 1000
        reasons = page.locator("#decisions td.reason").all_text_contents()
        assert reasons and not any(ISO_MOMENT.search(reason) for reason in reasons)
        assert page.locator("#decisions tbody td").first.text_content() in (
            "just now",
            *(f"{n} min ago" for n in range(1, 60)),
        )
        figures = [page.text_content(f"#{name}") or "" for name in ("saved", "at-risk", "spend")]
        figures += [
            text for text in page.locator("#classes td.num, #tiers td.num").all_text_contents() if "$" in text
        ]
        assert figures and all(MONEY.match(part) for text in figures for part in text.split(" / ")), figures
        assert errors == []


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # pid (comm) state ppid …: comm may hold spaces, so split after its closing parenthesis.
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_ctrl_c_stops_the_demo_within_seconds_and_leaves_nothing_behind(tmp_path: Path) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    output = tmp_path / "demo.out"
    command = [sys.executable, "-m", "driftwatch.cli", "demo", "--healthy-seconds", "20"]
    with output.open("w") as sink:
        # SIGINT ignored on entry, as `driftwatch demo &` in a script leaves it: the demo must still stop.
        process = subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, env=demo_env(TMPDIR=str(temporary)),
            start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        )  # fmt: skip
    try:
        give_up = deadline(120)
        while "restarting the service" not in output.read_text():  # the live phase: traffic, jobs
            assert process.poll() is None and time.monotonic() < give_up, output.read_text()
            time.sleep(0.2)
        time.sleep(patient(3))
        folders = list(temporary.glob("driftwatch-demo-*"))
        children = _children(process.pid)
        assert len(folders) == 1 and children  # its folder, and the service it started

        process.send_signal(signal.SIGINT)
        process.wait(timeout=patient(10))
        survivors = [pid for pid in children if _alive(pid)]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert process.returncode == 130, output.read_text()
    assert survivors == []
    assert not folders[0].exists(), output.read_text()
    assert f"interrupted; removed {folders[0]}" in output.read_text()
    assert "Traceback" not in output.read_text()
