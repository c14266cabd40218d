"""Column types that keep the database honest about time, JSON and key order on both dialects."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, Numeric, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator, TypeEngine


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out; refuses naive datetimes. SQLite stores naive UTC text,
    PostgreSQL a `timestamptz`."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store UTC instants only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def json_column_type() -> Any:
    """JSONB on PostgreSQL (indexable, compact), JSON text elsewhere."""
    return JSON().with_variant(JSONB(), "postgresql")


def key_string(length: int) -> Any:
    """An id or code a key orders: compared byte by byte (`COLLATE "C"`) on PostgreSQL, as
    SQLite's BINARY collation already does. Under the database's own collation (`C.UTF-8`,
    `en_US.UTF-8`) every btree comparison of these columns goes through `strcoll`, about a
    quarter of PostgreSQL's CPU when ingesting usage (ADR 0074); ids have no language to sort
    by."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


class ExactDecimal(TypeDecorator[Decimal]):
    """An exact Decimal: `numeric` on PostgreSQL (so SQL can add and compare them), decimal
    text on SQLite, whose NUMERIC would round-trip through a float."""

    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(asdecimal=True))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None or dialect.name == "postgresql":
            return value
        return str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)
