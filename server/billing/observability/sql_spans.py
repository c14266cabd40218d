"""A client span per SQL statement, child of the call's or the due item's span (ADR 0060).

In place of `opentelemetry-instrumentation-sqlalchemy`'s instrumentor, whose singleton
instruments once per process (a second server in one process, as the tests run, got no
spans) and which opens a root span for every statement outside a trace (the due-work poll,
every few seconds). Here a statement gets a span only when the current span records: outside
a sampled trace it costs one context lookup. The attributes follow the OpenTelemetry database
conventions the instrumentation uses (`db.system.name`, `db.query.text`, ...). Parameters are
never recorded: they hold customers' data.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine

QUERY_TEXT_MAX = 2048  # a statement's text kept on its span; a batch INSERT can be far longer
BATCH_SHAPE_MAX = 120  # in a batch, each statement's start: enough to name what it does
BATCH_TEXT_MAX = 8192  # and the batch's text at most (an APM cuts long attributes anyway)
_SPAN_KEY = "_billing_otel_span"
# The traced engines: the store's raw psycopg paths (the write batch's one round trip, the
# read pipeline, COPY) bypass SQLAlchemy's events and open their span through `raw_span`.
_TRACED: weakref.WeakKeyDictionary[Engine, tuple[trace.Tracer, str, str]] = (
    weakref.WeakKeyDictionary()
)


def trace_statements(engine: AsyncEngine, tracer: trace.Tracer) -> None:
    """Listens on `engine` for the rest of its life (the engine goes with its process)."""
    sync = engine.sync_engine
    system = sync.dialect.name
    namespace = (sync.url.database or "").rsplit("/", 1)[-1]  # SQLite's: the file's name
    _TRACED[sync] = (tracer, system, namespace)

    def before(
        conn: Connection, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        if not trace.get_current_span().is_recording():
            return
        span = _start(tracer, system, namespace, statement[:QUERY_TEXT_MAX])
        setattr(context, _SPAN_KEY, span)

    def after(
        conn: Connection, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        span = getattr(context, _SPAN_KEY, None)
        if span is not None:
            span.end()
            setattr(context, _SPAN_KEY, None)

    def failed(error: ExceptionContext) -> None:
        span = getattr(error.execution_context, _SPAN_KEY, None)
        if span is not None:
            span.set_status(Status(StatusCode.ERROR, type(error.original_exception).__name__))
            span.end()
            setattr(error.execution_context, _SPAN_KEY, None)

    event.listen(sync, "before_cursor_execute", before)
    event.listen(sync, "after_cursor_execute", after)
    event.listen(sync, "handle_error", failed)


def _start(
    tracer: trace.Tracer, system: str, namespace: str, text: str, operation: str = ""
) -> trace.Span:
    operation = operation or (text.lstrip().split(None, 1)[0].upper() if text.strip() else "")
    return tracer.start_span(
        f"{operation} {namespace}".strip(),
        kind=SpanKind.CLIENT,
        attributes={
            "db.system.name": system,
            "db.system": system,  # the older name, which most backends still read
            "db.namespace": namespace,
            "db.operation.name": operation,
            "db.query.text": text,
        },
    )


@contextlib.contextmanager
def raw_span(engine: Engine, shapes: Sequence[str], operation: str = "") -> Iterator[None]:
    """A span around statements the store sends on the raw connection, outside SQLAlchemy's
    events: `shapes` are their texts with placeholders (never the values bound into them),
    several for a batch (`db.operation.name` BATCH, with `db.operation.batch.size`)."""
    traced = _TRACED.get(engine)
    if traced is None or not trace.get_current_span().is_recording():
        yield
        return
    tracer, system, namespace = traced
    batch = len(shapes) > 1
    text = ";\n".join(s[:BATCH_SHAPE_MAX] for s in shapes) if batch else shapes[0][:QUERY_TEXT_MAX]
    span = _start(tracer, system, namespace, text[:BATCH_TEXT_MAX], "BATCH" if batch else operation)
    if batch:
        span.set_attribute("db.operation.batch.size", len(shapes))
    try:
        yield
    except BaseException as exc:
        span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        raise
    finally:
        span.end()
