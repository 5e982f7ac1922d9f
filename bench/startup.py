"""Start-up benchmark: how long commands take before they do anything.

Times, as separate processes of this Python, the median of ``--runs`` runs of:

- ``driftwatch --help`` (nothing but the command line);
- ``driftwatch jobs list`` on a migrated SQLite store (settings, store, migrations check);
- ``driftwatch serve`` on a fresh SQLite store: from start until ``GET /healthz`` first answers 200
  (the first run also creates the schema; later runs find it up to date), in wall seconds and in the
  CPU seconds the serve process had used by then;

and prints them with the machine, its load average and the commit, for ``bench/README.md``.  Wall time
grows with the machine's load; the CPU seconds hardly do, so they compare runs on a busy machine.

    python bench/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from ingest import free_port, stop


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, of the child) of one run of ``command``."""
    before = os.times()
    began = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - began
    after = os.times()
    return wall, after.children_user + after.children_system - before.children_user - before.children_system


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve_until_healthy(env: dict[str, str], folder: Path) -> tuple[float, float]:
    port = free_port()
    began = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "driftwatch.cli", "serve", "--port", str(port)],
        env=env,
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # bytes, as ingest.stop takes
    try:
        while process.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    return time.perf_counter() - began, cpu_seconds(process.pid)
            except httpx.TransportError:
                pass
            time.sleep(0.01)
        raise SystemExit(f"serve exited with {process.returncode}")
    finally:
        stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"commit {commit}; load average before: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as folder:
        env = {
            **os.environ,
            "DRIFTWATCH_DATABASE_URL": f"sqlite:///{Path(folder) / 'startup.db'}",
            "DRIFTWATCH_SCHEDULER": "true",
        }
        env.pop("DRIFTWATCH_POLICY_FILE", None)
        cli = [sys.executable, "-m", "driftwatch.cli"]
        figures = {
            "driftwatch --help": [timed([*cli, "--help"], env) for _ in range(args.runs)],
            "serve: first 200 from /healthz": [
                serve_until_healthy(env, Path(folder)) for _ in range(args.runs)
            ],
            "driftwatch jobs list": [timed([*cli, "jobs", "list"], env) for _ in range(args.runs)],
        }
    for name, runs in figures.items():
        wall, cpu = [run[0] for run in runs], [run[1] for run in runs]
        print(
            f"{name}: median {statistics.median(wall):.2f} s wall (min {min(wall):.2f}, max {max(wall):.2f}), "
            f"{statistics.median(cpu):.2f} s CPU, {args.runs} runs"
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
