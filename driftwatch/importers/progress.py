"""The import's live progress line (rich) for a person at a terminal: pages, counts and rate."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from driftwatch.importers.langfuse_import import ImportProgress


@contextmanager
def progress_display(console: Console) -> Iterator[Callable[[ImportProgress], None]]:
    """Yields the ``on_page`` callback that redraws the line. There is no total to show: the v2
    observations API pages by cursor and does not count what is left."""
    started = time.monotonic()
    columns = (
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        TextColumn("{task.fields[counts]}"),
        TextColumn("[cyan]{task.fields[rate]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("importing from Langfuse", counts="waiting for the first page", rate="")

        def on_page(done: ImportProgress) -> None:
            elapsed = max(time.monotonic() - started, 1e-6)
            counts = (
                f"{done.pages} pages · {done.read} read · {done.imported} new · "
                f"{done.already_stored} already stored · {done.skipped} skipped"
            )
            progress.update(task, counts=counts, rate=f"{done.read / elapsed:,.0f} generations/s")

        yield on_page
