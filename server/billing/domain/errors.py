"""The error contract: every failure a caller can see, with a stable reason.

Each class names the gRPC status it maps to (the mapping itself lives in `billing.api.errors`)
and a stable `reason` that clients may switch on. Use cases document which they raise.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldViolation:
    """One bad field: its path in the request (e.g. `customer.tax_ids[0].value`) and why."""

    field: str
    description: str


class BillingError(Exception):
    """Base of every error meant for the caller."""

    reason = "BILLING_ERROR"

    def __init__(self, message: str, *, metadata: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.metadata = metadata or {}


class InvalidArgument(BillingError):
    """The request itself is wrong; `violations` names every bad field."""

    reason = "INVALID_ARGUMENT"

    def __init__(self, violations: list[FieldViolation]) -> None:
        if not violations:
            raise ValueError("InvalidArgument needs at least one violation")
        text = "; ".join(f"{v.field}: {v.description}" for v in violations)
        super().__init__(f"invalid request: {text}")
        self.violations = violations

    @classmethod
    def single(cls, field_path: str, description: str) -> InvalidArgument:
        return cls([FieldViolation(field_path, description)])


class CardNumberRefused(InvalidArgument):
    """A request field holds something shaped like a payment card number (ADR 0039). The
    violations name the fields and never quote the value; callers send the gateway's token."""

    reason = "CARD_NUMBER_REFUSED"


class RuleSetRefused(InvalidArgument):
    """A rule set with errors; one violation per error, each naming file, line and field."""

    reason = "RULE_SET_INVALID"

    def __init__(self, violations: list[FieldViolation]) -> None:
        super().__init__(violations)
        first = violations[0].description
        more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
        self.message = f"rule set refused: {first}{more}; the active rule set is unchanged"
        self.metadata = {"errors": str(len(violations))}


class ValueDoesNotFit(InvalidArgument):
    """A value the database refused to store (too long for its column, a NUL byte in text, a
    number past its column's range) that no check before it caught. The store raises it
    from the database's own error; the transaction was rolled back, so nothing was written."""

    reason = "VALUE_DOES_NOT_FIT"

    def __init__(self, detail: str) -> None:
        super().__init__(
            [FieldViolation("request", f"a value does not fit where it is stored: {detail}")]
        )


class NotFound(BillingError):
    """No such resource for this tenant (another tenant's resource is indistinguishable)."""

    reason = "NOT_FOUND"

    def __init__(self, resource_name: str) -> None:
        super().__init__(f"{resource_name} not found", metadata={"resource": resource_name})


class EtagMismatch(BillingError):
    """The caller changed a resource based on a stale read."""

    reason = "ETAG_MISMATCH"

    def __init__(self, resource_name: str, sent: str, current: str) -> None:
        super().__init__(
            f"{resource_name} has changed since it was read (etag {sent!r}, current {current!r});"
            " read it again and retry",
            metadata={"resource": resource_name, "current_etag": current},
        )


class IdempotencyKeyReused(BillingError):
    """The `request_id` was used before with a different request body, or on another RPC
    (`first_method`: the RPC it was first used on)."""

    reason = "IDEMPOTENCY_KEY_REUSED"

    def __init__(self, method: str, request_id: str, first_method: str | None = None) -> None:
        if first_method is None:
            super().__init__(
                f"request_id {request_id!r} was already used for a different {method} request;"
                " use a new request_id for a new request",
                metadata={"request_id": request_id},
            )
        else:
            super().__init__(
                f"request_id {request_id!r} was already used for a {first_method} request,"
                f" not {method}; use a new request_id for a new request",
                metadata={"request_id": request_id, "first_method": first_method},
            )


class RequestInProgress(BillingError):
    """The same `request_id` is being processed right now; retry after it completes."""

    reason = "REQUEST_IN_PROGRESS"

    def __init__(self, request_id: str) -> None:
        super().__init__(
            f"a request with request_id {request_id!r} is still in progress; retry shortly",
            metadata={"request_id": request_id},
        )


class InvalidState(BillingError):
    """The resource is not in a state that allows the call (e.g. changing a canceled
    subscription); `reason` names the state problem."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class TaxNotComputable(InvalidState, ValueError):
    """Tax cannot be computed from these facts under these rules, and the caller cannot fix
    it by resending: the engine could not place the supply (reason `TAX_NOT_DETERMINED`), or
    a jurisdiction has no rate of the name an engine chose on the tax point
    (`TAX_RATE_MISSING`). The rules or the customer's record must change; FAILED_PRECONDITION.
    Also a ValueError, as `compute_tax` documents."""

    def __init__(self, message: str, reason: str = "TAX_NOT_DETERMINED") -> None:
        InvalidState.__init__(self, message, reason)


class PlanChangeRefused(InvalidState):
    """The rules refuse this change (a plan_changes case with `timing: refused`, Kill Bill's
    ILLEGAL). Metadata names the case (`rule`) and both plans."""

    def __init__(
        self, subscription: str, from_plan: str, to_plan: str, rule: str, why: str = ""
    ) -> None:
        message = (
            f"the rules refuse changing {subscription} from plans/{from_plan} to"
            f" plans/{to_plan} ({rule})"
        )
        super().__init__(f"{message}: {why}" if why else message, "PLAN_CHANGE_REFUSED")
        self.metadata = {
            "rule": rule,
            "from_plan": f"plans/{from_plan}",
            "to_plan": f"plans/{to_plan}",
        }


class InvariantBroken(BillingError):
    """Something the rule validator or the code guarantees does not hold: a bug, never the
    caller's mistake, so it maps to INTERNAL. Used instead of `assert` on money paths,
    which `python -O` would strip."""

    reason = "INVARIANT_BROKEN"


class NoActiveRuleSet(BillingError):
    """The tenant has no rules yet; push a rule set first."""

    reason = "NO_ACTIVE_RULE_SET"

    def __init__(self) -> None:
        super().__init__("no rule set is active for this tenant; push one with PushRuleSet")


class StreamTooLong(BillingError):
    """A stream sent more events than one call takes. The events before the limit were
    checked and committed batch by batch; the message and metadata count what became of them."""

    reason = "STREAM_TOO_LONG"

    def __init__(self, limit: int, summary: str, counts: dict[str, str]) -> None:
        super().__init__(
            f"a stream takes at most {limit:,} events; the first {limit:,} were processed and"
            f" are kept ({summary}); send the rest on a new stream",
            metadata={"max_events": str(limit), **counts},
        )


class TransactionConflict(BillingError):
    """Concurrent writers kept colliding; the call changed nothing and may be retried."""

    reason = "TRANSACTION_CONFLICT"


class RowsLocked(TransactionConflict):
    """The rows a call needed stayed locked by another transaction past the lock timeout;
    nothing changed, and the call may be retried."""

    reason = "ROWS_LOCKED"


class DatabaseUnavailable(BillingError):
    """The database could not be reached (refused, full, restarting, the connection lost); the
    call may be retried with the same request_id, which makes a write that did commit answer
    as it did."""

    reason = "DATABASE_UNAVAILABLE"


class DeadlineExceeded(BillingError):
    """The work did not finish in the time it had (the caller's deadline, a statement
    timeout, or the server's maximum for a run); what committed stays committed."""

    reason = "DEADLINE_EXCEEDED"


class Unauthenticated(BillingError):
    """No valid bearer token."""

    reason = "UNAUTHENTICATED"


class PermissionDenied(BillingError):
    """The token is valid but lacks what the call needs."""

    reason = "PERMISSION_DENIED"


class RateLimited(BillingError):
    """The tenant's calls exceed its request rate (on this server process, or on all of them
    when the bucket is shared in Redis); retry after `retry_after_s` (sent as
    google.rpc.RetryInfo, with a QuotaFailure naming the tenant)."""

    reason = "RATE_LIMITED"

    def __init__(
        self,
        tenant_id: str,
        rate_per_s: float,
        burst: int,
        retry_after_s: float,
        *,
        shared: bool = False,  # one bucket for all server processes (Redis, ADR 0066)
    ) -> None:
        where = "across all server processes" if shared else "per server process"
        super().__init__(
            f"too many calls for this tenant: at most {rate_per_s:g} per second (bursts of"
            f" {burst}) {where}; retry in {retry_after_s:.3f} s",
            metadata={"rate_per_s": f"{rate_per_s:g}", "burst": str(burst)},
        )
        self.tenant_id = tenant_id
        self.retry_after_s = retry_after_s


@dataclass
class Violations:
    """Collects field violations so that a request reports all of its errors at once."""

    items: list[FieldViolation] = field(default_factory=list)

    def add(self, field_path: str, description: str) -> None:
        self.items.append(FieldViolation(field_path, description))

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidArgument(list(self.items))


class CursorExpired(BillingError):
    """A WatchEvents cursor points before the oldest event kept (ADR 0059): the events after it
    may have been pruned, so resuming from it could skip some. Start again with no cursor
    (from the oldest kept) after reconciling from the resources themselves."""

    reason = "CURSOR_EXPIRED"

    def __init__(self) -> None:
        super().__init__(
            "cursor is older than the events kept (they have been pruned); start again with"
            " no cursor",
            metadata={"field": "cursor"},
        )


class TooManyStreams(BillingError):
    """The tenant already has as many WatchEvents streams open on this server process as it
    may (ADR 0059); close one, or retry later."""

    reason = "TOO_MANY_EVENT_STREAMS"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"at most {limit} event streams per tenant may be open on one server process",
            metadata={"max_streams": str(limit)},
        )
