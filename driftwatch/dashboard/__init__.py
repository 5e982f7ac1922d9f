"""The built-in web dashboard: a static page at ``/`` (HTML, one script, CSS, vendored uPlot) and the
aggregated document it draws, ``GET /v1/dashboard``."""
