"""OTLP ingest: decode requests, map LLM-call spans to calls, commit them in batches."""
