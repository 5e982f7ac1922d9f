"""Runs the demo: a real `driftwatch serve` on a temporary SQLite store, a routed app replaying
recorded outcomes through the OpenTelemetry exporter, a webhook receiver, and a live view."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TextIO

import httpx
import yaml
from rich.console import Console
from rich.live import Live

from driftwatch.demo import DEFAULT_RATE
from driftwatch.demo.dataset import (
    DRIFTING_CLASSES,
    PREMIUM_CLASSES,
    SAMPLE_RATE,
    WEAKER_MODEL,
    demo_policy,
    load_prompts,
    replay_datasets,
)
from driftwatch.demo.receiver import Delivered, DemoReceiver
from driftwatch.demo.report import TOLD, decision_line, describe
from driftwatch.demo.status import DemoOutcome, Money, Snapshot, class_table, read_money, read_snapshot
from driftwatch.demo.traffic import RoutedApp

INTERVALS = {  # the scheduler, quickened so the loop closes in minutes rather than hours
    "DRIFTWATCH_SAMPLE_INTERVAL_SECONDS": "1",
    "DRIFTWATCH_EVALUATE_INTERVAL_SECONDS": "1",
    "DRIFTWATCH_DECIDE_INTERVAL_SECONDS": "2",
    "DRIFTWATCH_RECOMMEND_INTERVAL_SECONDS": "5",
    "DRIFTWATCH_DELIVER_INTERVAL_SECONDS": "1",
}


PIPED_WIDTH = 160
"""Columns of the demo's output into a pipe or file: wide enough that no line of it wraps."""


@dataclass(frozen=True, slots=True)
class DemoOptions:
    port: int | None = None
    folder: Path | None = None
    rate_per_second: float = DEFAULT_RATE
    healthy_seconds: float = 40.0
    max_seconds: float = 300.0
    history_days: int = 14
    keep_running: bool = False
    keep_folder: bool = False


def console_for(stream: TextIO) -> Console:
    """A terminal gets rich's live view at its own width; a pipe or a file gets plain lines, never
    wrapped (rich would wrap them at 80 columns), as wide as ``COLUMNS`` says or :data:`PIPED_WIDTH`."""
    console = Console(file=stream)
    if console.is_terminal:
        return console
    width = int(os.environ["COLUMNS"]) if os.environ.get("COLUMNS", "").isdigit() else PIPED_WIDTH
    return Console(file=stream, width=width, soft_wrap=True)


def stop_on_signals() -> None:
    """Ctrl-C (SIGINT) and SIGTERM stop the demo, whatever the shell that started it did with them:
    a process started in the background of a script inherits SIGINT ignored, and Python keeps it so."""

    def interrupt(number: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def run_demo(options: DemoOptions, console: Console) -> DemoOutcome:
    """Run the loop and report what happened; with ``keep_running`` the service stays up (for the
    dashboard and the API) until Ctrl-C. A temporary folder is removed at the end unless
    ``keep_folder``, or the demo failed or did not complete (its ``serve.log`` says why)."""
    temporary = options.folder is None
    folder = options.folder or Path(tempfile.mkdtemp(prefix="driftwatch-demo-"))
    outcome: DemoOutcome | None = None
    interrupted = False
    try:
        outcome = _run(options, console, folder)
        return outcome
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        # Kept after a failure (its serve.log says why); removed after a complete run or Ctrl-C.
        done = interrupted or (outcome is not None and outcome.complete)
        removed = temporary and not options.keep_folder and done
        if removed:
            shutil.rmtree(folder, ignore_errors=True)
        where = (
            f"removed {folder} (--keep keeps it)"
            if removed
            else f"the store and the log are in {folder}; to look again: "
            f"DRIFTWATCH_DATABASE_URL=sqlite:///{folder / 'demo.db'} driftwatch serve"
        )
        console.print(("interrupted; " if interrupted else "") + where)


def _run(options: DemoOptions, console: Console, folder: Path) -> DemoOutcome:
    folder.mkdir(parents=True, exist_ok=True)
    prompts = load_prompts()
    policy_file = folder / "policy.yaml"
    policy_file.write_text(yaml.safe_dump(demo_policy(prompts, replay_datasets(prompts, folder))))
    port = options.port or _free_port()
    base_url = f"http://127.0.0.1:{port}"
    console.print(f"[bold]driftwatch demo[/] in {folder}: starting the service on {base_url} (SQLite)")
    # Two weeks of history first, with the scheduler off, as a service that has been collecting
    # traffic before shadow evaluation was switched on; then the service restarts with it on.
    server = _start_server(folder, policy_file, port, base_url, scheduler=False)
    receiver = DemoReceiver()
    receiver.start()
    app = RoutedApp(base_url, prompts)
    finished = False
    try:
        _wait_healthy(server, base_url)
        with httpx.Client(timeout=30) as client:
            hook = client.post(f"{base_url}/v1/webhooks", json={"url": receiver.url, "name": "demo-receiver"})
            hook.raise_for_status()
            receiver.secret = hook.json()["secret"]
            app.router.refresh(client)
        console.print(f"webhook receiver listening on {receiver.url} (verifies every signature)")
        per_day = {name: (2_000 if name in PREMIUM_CLASSES else 100) for name in prompts}
        console.print(
            f"backfilling {options.history_days} days of routed traffic ({sum(per_day.values()):,} calls/day) "
            "through the OpenTelemetry exporter …"
        )
        app.backfill(per_day, options.history_days, time.time_ns())
        app.flush()
        _stop(server)
        console.print(
            f"restarting the service with shadow evaluation ({SAMPLE_RATE:.0%} of cheap calls), "
            "decisions and webhooks switched on"
        )
        server = _start_server(folder, policy_file, port, base_url, scheduler=True)
        _wait_healthy(server, base_url)
        outcome = _live(app, receiver, options, console, base_url, folder, sorted(prompts))
        for line in describe(outcome, kept=options.keep_running):
            console.print(line)
        finished = True
        if options.keep_running:
            console.print(f"\nthe service keeps running on {base_url}: press Ctrl-C to stop it")
            _hold(server)
        return outcome
    finally:
        # Interrupted: the spans still queued are dropped rather than sent to a service being stopped.
        app.stop(flush=finished)
        _stop(server)
        receiver.stop()


def _live(
    app: RoutedApp,
    receiver: DemoReceiver,
    options: DemoOptions,
    console: Console,
    base_url: str,
    folder: Path,
    classes: list[str],
) -> DemoOutcome:
    traffic = threading.Thread(
        target=app.run, args=(classes, options.rate_per_second, options.max_seconds), daemon=True
    )
    started = phase_started = datetime.now(UTC)
    began = time.monotonic()
    phase = f"healthy traffic at {options.rate_per_second:g} calls/s"
    traffic.start()
    snapshot = Snapshot([], [], [])
    told: set[int] = set()
    with httpx.Client(timeout=30) as client, Live(console=console, refresh_per_second=2) as live:
        while time.monotonic() - began < options.max_seconds:
            if not app.swapped and time.monotonic() - began >= options.healthy_seconds:
                app.swapped = True
                phase_started = datetime.now(UTC)
                phase = f"cheap model of {', '.join(DRIFTING_CLASSES)} silently swapped for {WEAKER_MODEL}"
                console.print(f"{phase_started:%H:%M:%S}  {phase}")
            snapshot = read_snapshot(client, base_url, started, phase_started)
            _tell_decisions(console, snapshot, told)
            live.update(class_table(snapshot, receiver.delivered, phase))
            if app.swapped and _outcome(snapshot, receiver.delivered, None, base_url, folder).complete:
                break
            time.sleep(1)
        app.stop_traffic()
        _wait_for_deliveries(client, base_url, receiver, snapshot)
        # The figures shown last and reported below are one reading, taken after the last webhook.
        snapshot = read_snapshot(client, base_url, started, phase_started)
        delivered = receiver.delivered
        _tell_decisions(console, snapshot, told)
        live.update(class_table(snapshot, delivered, "done"))
        money = read_money(client, base_url)
    traffic.join()
    app.flush()
    return _outcome(snapshot, delivered, money, base_url, folder)


def _tell_decisions(console: Console, snapshot: Snapshot, told: set[int]) -> None:
    """Each model change, degradation and promotion once, as it happens (the table only shows state)."""
    for decision in reversed(snapshot.decisions):
        if decision["kind"] in TOLD and decision["id"] not in told:
            told.add(decision["id"])
            console.print(decision_line(decision))


def _wait_for_deliveries(
    client: httpx.Client, base_url: str, receiver: DemoReceiver, snapshot: Snapshot, seconds: float = 30.0
) -> None:
    """Let the webhooks of the last decisions reach the receiver before the demo reports and stops
    the service: one event per decision it tells and per recommendation, and none still pending."""
    expected = len(snapshot.recommendations) + sum(d["kind"] in TOLD for d in snapshot.decisions)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if len(receiver.delivered) >= expected:
            hooks = client.get(f"{base_url}/v1/webhooks").json()["items"]
            if not any(hook["deliveries"]["pending"] for hook in hooks):
                return
        time.sleep(0.5)


def _hold(server: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        server.wait()


def _stop(server: subprocess.Popen[bytes], seconds: float = 15) -> None:
    """SIGTERM, then SIGKILL if the service has not stopped within ``seconds``."""
    if server.poll() is None:
        server.terminate()
    try:
        server.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def _outcome(
    snapshot: Snapshot, delivered: list[Delivered], money: Money | None, base_url: str, folder: Path
) -> DemoOutcome:
    promoted = sorted({d["task_class"] for d in snapshot.decisions if d["kind"] == "promoted"})
    recommended = sorted({r["task_class"] for r in snapshot.recommendations})
    return DemoOutcome(promoted, recommended, delivered, snapshot, money, base_url, folder)


def _start_server(
    folder: Path, policy_file: Path, port: int, base_url: str, *, scheduler: bool
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DRIFTWATCH_DATABASE_URL": f"sqlite:///{folder / 'demo.db'}",
        "DRIFTWATCH_POLICY_FILE": str(policy_file),
        "DRIFTWATCH_HOST": "127.0.0.1",
        "DRIFTWATCH_PUBLIC_URL": base_url,
        "DRIFTWATCH_REQUIRE_AUTH": "false",
        # the demo's own webhook receiver listens on loopback; nothing else internal is reachable
        "DRIFTWATCH_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32",
        "DRIFTWATCH_SCHEDULER": "true" if scheduler else "false",
        **INTERVALS,
    }
    log = (folder / "serve.log").open("ab")
    command = [sys.executable, "-m", "driftwatch.cli", "serve", "--port", str(port)]
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=folder)


def _wait_healthy(server: subprocess.Popen[bytes], base_url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the service exited with {server.returncode}; see serve.log")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the service did not start within a minute; see serve.log")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
