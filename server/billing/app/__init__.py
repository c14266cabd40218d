"""Use cases: one module per capability. Each owns its transaction, idempotency, events, audit."""
