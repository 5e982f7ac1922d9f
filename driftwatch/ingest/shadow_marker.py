"""How driftwatch's own shadow and judge calls are marked, so ingest never counts them as traffic.

Ingest reads the marker, so it lives here; the shadow providers (downstream) import it to send it.
Every provider request carries the header: a gateway or instrumented proxy that exports its own spans
back to driftwatch can mark them (LiteLLM's proxy exports request headers in its metadata), and a span
carrying the attribute ``driftwatch.shadow`` is never stored as traffic.
"""

SHADOW_MARKER_HEADER = "X-Driftwatch-Shadow"
SHADOW_MARKER_ATTRIBUTE = "driftwatch.shadow"
