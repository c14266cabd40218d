"""Free text a caller gives (descriptions, references, reasons, names): bounded by the column
that stores it and free of NUL, which PostgreSQL text cannot hold (SQLite would store it, so
both databases refuse it here alike)."""

from __future__ import annotations

from billing.domain.errors import InvalidArgument, Violations


def text_problem(value: str, max_chars: int) -> str | None:
    """Why `value` cannot be stored as text of at most `max_chars` characters, or None."""
    if len(value) > max_chars:
        return f"must be at most {max_chars} characters (got {len(value)})"
    if "\x00" in value:
        return "must not contain NUL characters"
    return None


def check_text(field: str, value: str, max_chars: int, v: Violations | None = None) -> None:
    """Adds the problem with `value` to `v`, or raises it when no collector is given."""
    problem = text_problem(value, max_chars)
    if problem is None:
        return
    if v is None:
        raise InvalidArgument.single(field, problem)
    v.add(field, problem)
