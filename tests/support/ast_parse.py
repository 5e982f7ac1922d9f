"""One ``ast.parse`` at a time in the test process: a workaround for a CPython 3.11 race.

CPython 3.11's AST constructor keeps its recursion counter in state shared by every thread
(gh-106905). When two threads parse at once and the garbage collector runs Python code in the middle
of one parse (a finalizer), the other thread's parse resets the counter and one of them fails with
``SystemError: AST constructor recursion depth mismatch``. The suite parses in several threads at once:
hypothesis parses test and strategy source while it draws examples, and Python 3.11 parses a source
line whenever a traceback is formatted (pytest formats one for any exception in a server thread).
The hostile-ingest fuzz test failed that way, then passed on hypothesis's replay: a ``FlakyFailure``.
"""

from __future__ import annotations

import ast
import functools
import threading
from typing import Any

_lock = threading.RLock()  # re-entrant: a parse may format a traceback (and parse) inside a finalizer


def serialize_ast_parse() -> None:
    """Replace ``ast.parse`` with one that holds a process-wide lock (idempotent)."""
    if getattr(ast.parse, "serialized", False):
        return
    parse = ast.parse

    @functools.wraps(parse)
    def serialized(*args: Any, **kwargs: Any) -> Any:
        with _lock:
            return parse(*args, **kwargs)

    serialized.serialized = True  # type: ignore[attr-defined]
    ast.parse = serialized
