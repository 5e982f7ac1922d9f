"""Read models: what ``GET /v1/classes``, the dashboard and ``driftwatch plan`` show, computed from the stages."""
