"""What a log line says of the work it was written in (ADR 0060): the RPC method, the tenant
and the request id, set by the edge (or a due item's span) and read by the log filter. Each
call runs in a task of its own, so these never leak from one call into another."""

from __future__ import annotations

import contextvars

call_method: contextvars.ContextVar[str] = contextvars.ContextVar("call_method", default="")
call_tenant: contextvars.ContextVar[str] = contextvars.ContextVar("call_tenant", default="")
call_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("call_request_id", default="")
