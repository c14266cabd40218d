"""Reading the audit trail. Raises InvalidArgument.

Records are written by the mutating use cases themselves (`AuditRecord`, in the change's
transaction); this only lists them, newest first, for the caller's tenant only.
"""

from __future__ import annotations

from dataclasses import dataclass

from billing.app.context import CallContext
from billing.app.paging import decode_page_token, encode_page_token, page_limit
from billing.app.ports import Store
from billing.app.records import AuditQuery, AuditRecord
from billing.domain.errors import Violations

# The widths of the audit_log columns they are compared with: a longer filter could never
# match, so it is a caller's mistake worth naming rather than an empty page.
MAX_RESOURCE_NAME = 128
MAX_ACTOR = 256
MAX_METHOD = 64


@dataclass(frozen=True)
class AuditPage:
    records: list[AuditRecord]
    next_page_token: str


def check_query(query: AuditQuery) -> None:
    v = Violations()
    for field, value, limit in (
        ("resource", query.resource_name, MAX_RESOURCE_NAME),
        ("actor", query.actor, MAX_ACTOR),
        ("method", query.method, MAX_METHOD),
    ):
        if len(value) > limit:
            v.add(field, f"must be at most {limit} characters")
        elif "\x00" in value:
            v.add(field, "must not contain NUL characters")
    if query.start is not None and query.end is not None and query.end <= query.start:
        v.add("end_time", "must be after start_time")
    v.raise_if_any()


class AuditUseCases:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def list(
        self, ctx: CallContext, query: AuditQuery, page_size: int, page_token: str
    ) -> AuditPage:
        check_query(query)
        limit = page_limit(page_size)
        before = decode_page_token(page_token)
        async with self._store.read() as tx:
            rows = await tx.audit.list_before(ctx.tenant_id, query, before, limit + 1)
        page, more = rows[:limit], len(rows) > limit
        return AuditPage(page, encode_page_token(page[-1].id) if more else "")
