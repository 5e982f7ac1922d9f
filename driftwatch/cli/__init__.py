"""The ``driftwatch`` command line: every command, on top of all stages.

``main`` is the console-script entry point (``driftwatch = "driftwatch.cli.root:main"``).
"""

from driftwatch.cli.root import main

__all__ = ["main"]
