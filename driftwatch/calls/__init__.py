"""Reading calls back: listing with filters and cursors, per-class summaries."""
