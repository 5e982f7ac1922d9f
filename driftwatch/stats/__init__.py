"""Statistics over evaluation outcomes: pure functions, no session, no I/O.

scipy is imported inside the functions that use it: loading it takes one to three seconds, which
``driftwatch serve`` would otherwise spend before it answers, and most commands never need it."""
