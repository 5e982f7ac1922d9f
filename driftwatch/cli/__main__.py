"""``python -m driftwatch.cli``: the ``driftwatch`` command, for a checkout that is not installed."""

import sys

from driftwatch.cli import main

sys.exit(main())
