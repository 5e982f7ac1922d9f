"""The suite's workaround for CPython 3.11's AST constructor race (``tests/support/ast_parse.py``):
two threads that parse while finalizers run never fail with "AST constructor recursion depth
mismatch". Without the workaround this scenario fails within the first iterations on 3.11.7."""

from __future__ import annotations

import ast
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest


class _Finalized:
    """Garbage whose finalizer runs Python code, so a collection inside a parse can switch threads."""

    partner: _Finalized | None = None

    def __del__(self) -> None:
        sum(range(50))


@pytest.fixture
def eager_thread_switches() -> Iterator[None]:
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def test_two_threads_parsing_at_once_never_fail(eager_thread_switches: None) -> None:
    source = Path(ast.__file__).read_text(encoding="utf-8")
    failures: list[BaseException] = []

    def parse_at_depth(depth: int) -> None:  # the threads must parse at different stack depths
        if depth:
            return parse_at_depth(depth - 1)
        for _ in range(20):
            for _ in range(100):
                first, second = _Finalized(), _Finalized()
                first.partner, second.partner = second, first
            try:
                ast.parse(source)
            except SystemError as error:
                failures.append(error)
                return

    threads = [threading.Thread(target=parse_at_depth, args=(depth,)) for depth in (5, 80)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
