"""Logs and traces. Wrapped around the server, never written inside billing logic."""
