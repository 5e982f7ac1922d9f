"""Store-wide Prometheus metrics: read from the database at scrape time, the same on every replica."""
