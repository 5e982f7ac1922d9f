"""The savings ledger: per task class and UTC day, what tiering earned (``GET /v1/savings``)."""
