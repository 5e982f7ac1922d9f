"""Runs the demo: a real `driftwatch serve` on a temporary SQLite store, a routed app replaying
recorded outcomes through the OpenTelemetry exporter, a webhook receiver, and a live view."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml
from rich.console import Console
from rich.live import Live

from driftwatch.clock import utc_now
from driftwatch.demo.dataset import (
    DRIFTING_CLASSES,
    PREMIUM_CLASSES,
    WEAKER_MODEL,
    demo_policy,
    load_prompts,
    replay_datasets,
)
from driftwatch.demo.receiver import DemoReceiver
from driftwatch.demo.report import describe
from driftwatch.demo.status import DemoOutcome, Snapshot, class_table, read_snapshot
from driftwatch.demo.traffic import RoutedApp

INTERVALS = {  # the scheduler, quickened so the loop closes in minutes rather than hours
    "DRIFTWATCH_SAMPLE_INTERVAL_SECONDS": "1",
    "DRIFTWATCH_EVALUATE_INTERVAL_SECONDS": "1",
    "DRIFTWATCH_DECIDE_INTERVAL_SECONDS": "2",
    "DRIFTWATCH_RECOMMEND_INTERVAL_SECONDS": "5",
    "DRIFTWATCH_DELIVER_INTERVAL_SECONDS": "1",
}


@dataclass(frozen=True, slots=True)
class DemoOptions:
    port: int | None = None
    folder: Path | None = None
    rate_per_second: float = 40.0
    healthy_seconds: float = 40.0
    max_seconds: float = 300.0
    history_days: int = 14
    keep_running: bool = False


def run_demo(options: DemoOptions, console: Console) -> DemoOutcome:
    """Run the loop and report what happened; with ``keep_running`` the service stays up (for the
    dashboard and the API) until Ctrl-C."""
    folder = options.folder or Path(tempfile.mkdtemp(prefix="driftwatch-demo-"))
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
        server.terminate()
        server.wait(timeout=30)
        console.print("restarting the service with shadow evaluation, decisions and webhooks switched on")
        server = _start_server(folder, policy_file, port, base_url, scheduler=True)
        _wait_healthy(server, base_url)
        outcome = _live(app, receiver, options, console, base_url, folder, sorted(prompts))
        for line in describe(outcome):
            console.print(line)
        if options.keep_running:
            console.print(f"\nthe service keeps running on {base_url}: press Ctrl-C to stop it")
            _hold(server)
        return outcome
    finally:
        app.shutdown()
        server.terminate()
        server.wait(timeout=30)
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
    stop = threading.Event()
    traffic = threading.Thread(
        target=app.run, args=(classes, options.rate_per_second, options.max_seconds, stop), daemon=True
    )
    started = phase_started = utc_now()
    began = time.monotonic()
    phase = f"healthy traffic at {options.rate_per_second:g} calls/s"
    traffic.start()
    snapshot = Snapshot([], [], [])
    with httpx.Client(timeout=30) as client, Live(console=console, refresh_per_second=2) as live:
        while time.monotonic() - began < options.max_seconds:
            if not app.swapped and time.monotonic() - began >= options.healthy_seconds:
                app.swapped = True
                phase_started = utc_now()
                phase = f"cheap model of {', '.join(DRIFTING_CLASSES)} silently swapped for {WEAKER_MODEL}"
            snapshot = read_snapshot(client, base_url, started, phase_started)
            verified = sum(delivery.verified for delivery in receiver.delivered)
            live.update(class_table(snapshot, verified, phase))
            outcome = _outcome(snapshot, receiver, base_url, folder)
            if app.swapped and outcome.complete:
                break
            time.sleep(1)
        stop.set()
        _wait_for_deliveries(client, base_url)
    traffic.join()
    app.flush()
    return _outcome(snapshot, receiver, base_url, folder)


def _wait_for_deliveries(client: httpx.Client, base_url: str, seconds: float = 20.0) -> None:
    """Let the webhooks of the last decisions go out before the demo reports and stops the server:
    two deliver ticks for their events to be queued, then until none is pending (bounded)."""
    time.sleep(2 * float(INTERVALS["DRIFTWATCH_DELIVER_INTERVAL_SECONDS"]))
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        hooks = client.get(f"{base_url}/v1/webhooks").json()["items"]
        if not any(hook["deliveries"]["pending"] for hook in hooks):
            return
        time.sleep(0.5)


def _hold(server: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        server.wait()


def _outcome(snapshot: Snapshot, receiver: DemoReceiver, base_url: str, folder: Path) -> DemoOutcome:
    promoted = sorted({d["task_class"] for d in snapshot.decisions if d["kind"] == "promoted"})
    recommended = sorted({r["task_class"] for r in snapshot.recommendations})
    verified = sum(delivery.verified for delivery in receiver.delivered)
    return DemoOutcome(promoted, recommended, verified, snapshot, base_url, folder)


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
    command = [sys.executable, "-m", "driftwatch.cli.root", "serve", "--port", str(port)]
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
