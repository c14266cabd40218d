"""What every use case is told about the call it serves, and the envelope of every write."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from billing.domain.errors import InvalidArgument
from billing.domain.text import check_text

T = TypeVar("T")

MAX_REQUEST_ID = 128


@dataclass(frozen=True)
class Faults:
    """Test-only fault injection (off unless the server enables it): a pause before commit,
    or an unexpected exception there. Lets tests force overlaps instead of hoping for them."""

    delay_before_commit_ms: int = 0
    fail_before_commit: bool = False
    # Due work a call runs itself (RetryDueWork, ADR 0058): its items fail after their handler,
    # before their commit (after an invoice's email went out, say).
    fail_due_work_before_commit: bool = False

    async def before_commit(self) -> None:
        if self.delay_before_commit_ms:
            await asyncio.sleep(self.delay_before_commit_ms / 1000)
        if self.fail_before_commit:
            raise RuntimeError("fault injected before commit")

    async def before_due_commit(self) -> None:
        if self.fail_due_work_before_commit:
            raise RuntimeError("fault injected before the due item's commit")


NO_FAULTS = Faults()


@dataclass(frozen=True)
class CallContext:
    """Who calls, for which tenant, through which method."""

    tenant_id: str
    actor: str  # the token's subject
    method: str  # e.g. "CreateCustomer"
    correlation_id: str  # ties logs, traces and errors of one call together
    faults: Faults = field(default=NO_FAULTS)


@dataclass(frozen=True)
class Write(Generic[T]):
    """One envelope for every mutating call: idempotency key, hash of the body, and input."""

    request_id: str
    body_hash: bytes
    input: T

    def __post_init__(self) -> None:
        if not self.request_id:
            raise InvalidArgument.single("request_id", "is required on every mutating call")
        check_text("request_id", self.request_id, MAX_REQUEST_ID)
