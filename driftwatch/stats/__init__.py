"""Statistics over evaluation outcomes: pure functions, no session, no I/O."""
