"""``driftwatch demo``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from driftwatch.demo import DEFAULT_RATE


@click.command(name="demo")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=None, help="Port for the service (default: a free one)."
)
@click.option(
    "--dir", "folder", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Folder for the store, policy and log (default: a new temporary folder).",
)  # fmt: skip
@click.option(
    "--rate",
    type=click.FloatRange(1, 2000),
    default=DEFAULT_RATE,
    show_default=True,
    help="Calls per second.",
)
@click.option(
    "--healthy-seconds", type=click.FloatRange(5), default=40.0, show_default=True,
    help="Healthy traffic before the cheap model of two classes is swapped for a weaker one.",
)  # fmt: skip
@click.option(
    "--max-seconds", type=click.FloatRange(30), default=300.0, show_default=True,
    help="Stop by then even if not everything has happened.",
)  # fmt: skip
@click.option("--keep-running", is_flag=True, help="Keep the service up afterwards (for the dashboard).")
@click.option(
    "--keep", is_flag=True,
    help="Keep the temporary folder (store, policy, log) afterwards; a --dir folder is always kept.",
)  # fmt: skip
def demo(
    port: int | None,
    folder: Path | None,
    rate: float,
    healthy_seconds: float,
    max_seconds: float,
    keep_running: bool,
    keep: bool,
) -> None:
    """Run the whole loop on this machine, no API keys: the service on a temporary SQLite store, a
    routed app replaying recorded Mixtral-vs-GPT-4 outcomes (RouteLLM, MMLU) through the OpenTelemetry
    exporter, shadow evaluation on recorded answers, and a local webhook receiver. Halfway the cheap
    model of two classes is swapped for a weaker one; the demo shows them detected and promoted, the
    webhooks, and a demotion recommendation with its savings. Exit 1 if that did not all happen.
    Ctrl-C stops it; the temporary folder is removed at the end unless --keep is given."""
    from driftwatch.demo.runner import DemoOptions, console_for, run_demo, stop_on_signals

    stop_on_signals()
    options = DemoOptions(
        port=port,
        folder=folder,
        rate_per_second=rate,
        healthy_seconds=healthy_seconds,
        max_seconds=max(max_seconds, healthy_seconds + 30),
        keep_running=keep_running,
        keep_folder=keep,
    )
    try:
        outcome = run_demo(options, console_for(sys.stdout))
    except KeyboardInterrupt:
        raise SystemExit(130) from None  # the shell's code for "ended by SIGINT"
    if not outcome.complete:
        raise click.ClickException("the demo ended before every step happened; see above and serve.log")
