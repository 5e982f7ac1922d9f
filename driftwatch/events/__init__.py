"""Events every stage emits: their names, and the durable outbox they are written to (notify delivers it)."""
