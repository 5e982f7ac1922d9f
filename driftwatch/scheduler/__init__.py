"""Scheduled jobs: each run is one unit of work, safe to run on several replicas at once."""

# The names ``driftwatch jobs run`` accepts, here so that the command line knows them without
# importing every job (``jobs.JOBS`` maps each to its function and checks the two agree).
JOB_NAMES = (
    "reconcile-content",
    "watch-models",
    "sample",
    "evaluate",
    "decide",
    "score-drift",
    "recommend",
    "coverage",
    "deliver",
    "import-langfuse",
    "retention",
)
# Jobs that replay calls need a provider for the reference tier; the others always run.
SHADOW_JOBS = ("sample", "evaluate")
