"""Scheduled jobs: each run is one unit of work, safe to run on several replicas at once."""
