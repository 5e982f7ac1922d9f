"""`driftwatch serve` processes for the reliability tests: started on a given store, killed hard."""

from __future__ import annotations

import itertools
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.patience import patient
from tests.support.processes import start_serve, wait_healthy

_numbers = itertools.count(1)


class Serve:
    """One ``driftwatch serve`` on ``database_url`` with ``DRIFTWATCH_*`` ``settings``; :meth:`kill`
    is ``kill -9``; another ``Serve`` on the same store is the restart (on a new port).

    Its output goes to a file in ``folder``: these processes log for long enough to fill a pipe."""

    def __init__(self, folder: Path, database_url: str, settings: dict[str, str] | None = None) -> None:
        self._folder = folder
        self._settings = {"DRIFTWATCH_DATABASE_URL": database_url, **(settings or {})}
        self.log_path = folder / f"serve-{next(_numbers)}.log"
        self.process: subprocess.Popen[str] | None = None
        self.base_url = ""
        self._pending_url = ""

    def start(self) -> Serve:
        return self.launch().wait_healthy()

    def launch(self) -> Serve:
        """Start the process without waiting for it (it takes seconds to import and migrate)."""
        with self.log_path.open("w") as log:
            self.process, self._pending_url = start_serve(self._folder, self._settings, log)
        return self

    def wait_healthy(self) -> Serve:
        """Wait for ``/healthz``; only then is :attr:`base_url` set, so load moves to a ready server."""
        assert self.process is not None
        try:
            wait_healthy(self.process, self._pending_url)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{self.output()[-3000:]}") from error
        self.base_url = self._pending_url
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, nothing is flushed."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(patient(30))

    def stop(self) -> str:
        """SIGTERM and wait; returns what the process wrote."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(patient(60))
        return self.output()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def peak_rss_mib(self) -> float:
        """The process's high-water resident memory (``VmHWM``)."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmHWM in /proc status")


@contextmanager
def serving(folder: Path, database_url: str, settings: dict[str, str] | None = None) -> Iterator[Serve]:
    serve = Serve(folder, database_url, settings).start()
    try:
        yield serve
    finally:
        serve.kill()
