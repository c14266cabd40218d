"""The storage the use cases need. `billing.store` implements it; tests may too.

Locking contract: `Store.write(key)` gives one transaction in which the idempotency key is
held exclusively: a second write with the same key while the first runs raises
RequestInProgress instead of waiting. Implementations raise RetryableConflict for
serialization failures and deadlocks; the caller retries the whole transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple, Protocol

from billing.app.cancellation_ports import CancellationRepository, ContractRepository
from billing.app.dunning_ports import DunningCaseRepository
from billing.app.ledger_ports import (
    JournalRepository,
    MrrRepository,
    ReceivablesReads,
    RevenueScheduleRepository,
)
from billing.app.payment_ports import (
    DisputeRepository,
    GatewayCredentialRepository,
    GatewayEventRepository,
    PaymentAttemptRepository,
    PaymentMethodRepository,
    PaymentRepository,
    RefundRepository,
)
from billing.app.records import AuditQuery, AuditRecord, OutboxEvent
from billing.domain.coupons import Coupon
from billing.domain.customers import Customer
from billing.domain.invoices import CreditNote, Invoice, InvoiceHead, InvoiceStatus
from billing.domain.metering import Event, MetricSpec
from billing.domain.rollups import Contribution, Range, Rollup
from billing.domain.subscriptions import Line, MeteredSubscription, Subscription
from billing.domain.tax_ledger import LedgerSum, TaxEntry, TaxReportQuery
from billing.rules.model import RuleSet

if TYPE_CHECKING:  # due_work_ports builds on DueItem below
    from billing.app.due_work_ports import DueWorkAdminRepository, InvoiceDeliveryRepository


class RetryableConflict(Exception):
    """The database refused the transaction in a way that a retry may fix."""


class NotReady(Exception):
    """A due item that must wait for other work (not a failure): rolled back and given
    back, claimable again after `retry_after_s` (wall time), no attempt counted."""

    def __init__(self, reason: str, retry_after_s: float) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s


class ParkItem(Exception):
    """A due item that has done all it may on its own (e.g. the last status lookup of a
    payment attempt found it still unknown): parked at once for a person, its transaction
    rolled back; `billing due-work retry` runs it again."""


@dataclass(frozen=True)
class IdempotencyKey:
    """A write's key. Stored and locked on (tenant_id, request_id): one id names one request
    whatever the RPC (ADR 0024); `method` is the RPC making this call."""

    tenant_id: str
    method: str
    request_id: str

    @property
    def slot(self) -> tuple[str, str]:
        """What the store keys, locks and looks up by."""
        return (self.tenant_id, self.request_id)


@dataclass(frozen=True)
class ReadAhead:
    """What a write will read, so the store can read it with the write's opening query
    instead of one round trip each (ADR 0069). `customer_id`: the customer's row, its clock,
    its credit balances (locked, as `CreditRepository.balance` locks them), whether it has an
    attached payment method, and its MRR. `subscription_id`: the subscription's row, locked
    (as a change reads it), its clock, its MRR and its customer's. `invoice_id`: the invoice
    locked with its lines, and its customer's row, clock, credit balances (locked) and
    attached payment method. `books`: the ledger's books, under their shared lock, as
    posting to the journal reads them. Only a hint: the reads give the same rows either way,
    and a store may ignore it."""

    customer_id: str | None = None
    books: bool = False
    subscription_id: str | None = None
    invoice_id: str | None = None


@dataclass(frozen=True)
class StoredResult:
    body_hash: bytes
    result: bytes
    method: str = ""  # the RPC that stored it (as read back by find)


class CustomerRepository(Protocol):
    async def insert(self, tenant_id: str, customer: Customer) -> None: ...

    async def get(self, tenant_id: str, customer_id: str) -> Customer | None: ...

    async def get_many(self, tenant_id: str, customer_ids: Sequence[str]) -> dict[str, Customer]:
        """The customers of these ids that exist, by id, in one statement."""
        ...

    async def list_after(self, tenant_id: str, after_id: str | None, limit: int) -> list[Customer]:
        """Customers in id order (= creation order), strictly after `after_id`."""
        ...

    async def update(self, tenant_id: str, customer: Customer, expected_version: int) -> bool:
        """Write `customer` if the stored version is still `expected_version`."""
        ...


class IdempotencyRepository(Protocol):
    async def find(self, key: IdempotencyKey, now: datetime) -> StoredResult | None:
        """The stored result of a completed request, unless it has expired."""
        ...

    async def save(
        self,
        key: IdempotencyKey,
        stored: StoredResult,
        created_at: datetime,
        expires_at: datetime,
    ) -> None: ...

    async def purge_expired(self, now: datetime, limit: int) -> int: ...


@dataclass(frozen=True)
class StoredRuleSet:
    content_hash: str
    files: dict[str, bytes]
    created_at: datetime


@dataclass(frozen=True)
class ActiveRuleSet:
    content_hash: str
    activated_at: datetime


class RuleSetRepository(Protocol):
    async def active(self, tenant_id: str) -> ActiveRuleSet | None: ...

    async def get(self, tenant_id: str, content_hash: str) -> StoredRuleSet | None: ...

    async def add(self, tenant_id: str, stored: StoredRuleSet, actor: str) -> None:
        """Store it; a hash already stored is kept as it is."""
        ...

    async def activate(
        self, tenant_id: str, content_hash: str, at: datetime, actor: str
    ) -> str | None:
        """Make it active (serialized against concurrent activations); the previous hash."""
        ...


@dataclass(frozen=True)
class SimulationClock:
    id: str
    display_name: str
    now: datetime
    created_at: datetime

    @property
    def name(self) -> str:
        return f"clocks/{self.id}"


@dataclass(frozen=True)
class DueItem:
    tenant_id: str
    id: str
    kind: str  # "renew", "trial_end", "cancel"
    subscription_id: str
    clock_id: str | None
    due_at: datetime
    payload: str = ""
    attempts: int = 0


@dataclass(frozen=True)
class ParkedItem:
    """A due item that failed its last attempt: claimed no more until retried."""

    tenant_id: str
    id: str
    kind: str
    subscription_id: str
    due_at: datetime
    attempts: int
    last_error: str
    parked_at: datetime


class SubscriptionRepository(Protocol):
    async def insert(self, tenant_id: str, sub: Subscription) -> None: ...

    async def get(
        self, tenant_id: str, subscription_id: str, *, lock: bool = False
    ) -> Subscription | None:
        """With `lock`, the row stays locked (FOR UPDATE) until the transaction ends: a
        concurrent writer waits, then reads what this one leaves."""
        ...

    async def get_many(
        self, tenant_id: str, subscription_ids: Sequence[str]
    ) -> dict[str, Subscription]:
        """Those of the subscriptions that exist, by id, in one round trip."""
        ...

    async def metered_many(
        self, tenant_id: str, subscription_ids: Sequence[str]
    ) -> dict[str, MeteredSubscription]:
        """What checking usage events needs of those of the subscriptions that exist, by id,
        in one round trip (a few columns: ingestion reads them for every batch)."""
        ...

    async def list_after(
        self, tenant_id: str, customer_id: str | None, after_id: str | None, limit: int
    ) -> list[Subscription]: ...

    async def update(self, tenant_id: str, sub: Subscription, expected_version: int) -> bool:
        """Compare-and-set on the version; False when a concurrent writer won."""
        ...

    async def update_locked(self, tenant_id: str, sub: Subscription, expected_version: int) -> None:
        """The write of a subscription read with `lock` in this transaction: no one else can
        have changed it, so nothing waits for its outcome (deferred: no round trip of its
        own). The version stays in the statement as a guard."""
        ...


class InvoiceRepository(Protocol):
    async def insert(self, tenant_id: str, invoice: Invoice) -> None: ...

    async def get(self, tenant_id: str, invoice_id: str, *, lock: bool = False) -> Invoice | None:
        """With `lock`, the row stays locked (FOR UPDATE) until the transaction ends, so a
        concurrent transition waits and then reads the state this one leaves."""
        ...

    async def head(
        self, tenant_id: str, invoice_id: str, *, lock: bool = False
    ) -> InvoiceHead | None:
        """The invoice without its lines, in one statement; `lock` as for `get`."""
        ...

    async def replace(
        self, tenant_id: str, invoice: Invoice, expected_version: int | None = None
    ) -> bool:
        """Rewrite a draft invoice whole (finalizing it included): compare-and-set, only
        while the stored invoice is still a draft and, if given, at `expected_version`.
        False when it is not (nothing written). Without `expected_version` the stored
        version is bumped by one, so a caller holding the old one fails its own set."""
        ...

    async def replace_locked(self, tenant_id: str, invoice: Invoice, expected_version: int) -> None:
        """`replace` of a draft this transaction read locked (`get(lock=True)`) at
        `expected_version`: nobody can have changed it, so the write waits in the batch (no
        round trip of its own) instead of reporting whether it landed."""
        ...

    async def update_status(
        self,
        tenant_id: str,
        invoice: Invoice,
        expected_version: int,
        expected_status: InvoiceStatus,
    ) -> bool:
        """Compare-and-set a finalized invoice's lifecycle fields: only while it is still
        at `expected_version` and `expected_status`; False (nothing written) otherwise."""
        ...

    async def set_number(self, tenant_id: str, invoice_id: str, number: str) -> None: ...

    async def delete(self, tenant_id: str, invoice_id: str) -> None:
        """Drafts only: a finalized invoice is kept forever."""
        ...

    async def consolidation_draft(
        self, tenant_id: str, customer_id: str, currency: str, period_start: datetime
    ) -> Invoice | None:
        """The customer's shared renewal draft at `period_start`, locked (FOR UPDATE)."""
        ...

    async def list_after(
        self,
        tenant_id: str,
        customer_id: str | None,
        subscription_id: str | None,
        after_id: str | None,
        limit: int,
        *,
        ending_after: datetime | None = None,
    ) -> list[Invoice]:
        """Invoices in id order after `after_id`; with `ending_after`, only those whose
        period ends after it (a period's invoices without reading the history)."""
        ...


class CouponRepository(Protocol):
    async def insert(self, tenant_id: str, coupon: Coupon) -> None: ...

    async def get(self, tenant_id: str, code: str) -> Coupon | None: ...


class CreditNoteRepository(Protocol):
    async def insert(self, tenant_id: str, note: CreditNote) -> None: ...

    async def get(self, tenant_id: str, note_id: str) -> CreditNote | None: ...


class TaxLedgerRepository(Protocol):
    """Append-only tax entries (ADR 0033), written with the event that makes them."""

    async def add(self, tenant_id: str, entries: Sequence[TaxEntry]) -> None:
        """Blind inserts, sent with the transaction's other deferred writes."""
        ...

    async def sums(self, tenant_id: str, query: TaxReportQuery, limit: int) -> list[LedgerSum]:
        """Sums per report key and source kind over the query's period, at most `limit`."""
        ...


@dataclass(frozen=True)
class NumberStamps:
    """What must hold a number assigned by the last statement, in a JSON `number` field:
    the audit record (written by that statement: the trail is append-only) and the stored
    idempotent result of `request_id` (the answer a replay gets)."""

    audit: AuditRecord
    request_id: str


@dataclass
class LastNumber:
    """A number assigned by its transaction's last statement: set once that commits."""

    value: str | None = None


class NumberingRepository(Protocol):
    async def number_last(
        self, tenant_id: str, invoice_id: str, year: int, number_format: str, stamps: NumberStamps
    ) -> LastNumber | None:
        """Have the finalized invoice take the next number of the year's invoice series in its
        transaction's last statement, sent with the COMMIT, which also writes `stamps.audit`
        with the number in its changes and puts the number into the stored result; the
        number is in the LastNumber once the transaction has committed. None when this store
        cannot (it has one writer at a time): the caller numbers inline and writes the audit
        record itself."""
        ...

    async def next(self, tenant_id: str, series: str, year: int) -> int:
        """Gapless: the counter stays locked to the end of the transaction."""
        ...

    async def number_at_commit(
        self, tenant_id: str, invoice_id: str, year: int, number_format: str
    ) -> bool:
        """Have the finalized invoice take the next number of the year's invoice series as
        its transaction commits, formatted by `number_format` (its {year} filled in). False
        when this store cannot (it has one writer at a time): the caller numbers inline."""
        ...


class PendingItemRepository(Protocol):
    async def add(
        self,
        tenant_id: str,
        *,
        item_id: str,
        subscription_id: str,
        line: Line,
        rule_set: str,
        created_at: datetime,
    ) -> None: ...

    async def peek(self, tenant_id: str, subscription_id: str) -> list[Line]:
        """Uninvoiced items, left as they are (previews)."""
        ...

    async def take(self, tenant_id: str, subscription_id: str, invoice_id: str) -> list[Line]:
        """Uninvoiced items of the subscription, now attached to `invoice_id`."""
        ...


class BillingCycleRepository(Protocol):
    async def claim(
        self, tenant_id: str, subscription_id: str, cycle_start: datetime, invoice_id: str
    ) -> bool:
        """True only for the one caller that records this cycle (billed by `invoice_id`)
        first."""
        ...

    async def record_first(
        self, tenant_id: str, subscription_id: str, cycle_start: datetime, invoice_id: str
    ) -> None:
        """The first cycle of a subscription created in this transaction: nothing can have
        claimed it, so the row is written without asking (deferred with the other writes)."""
        ...

    async def record_invoice(
        self, tenant_id: str, subscription_id: str, cycle_start: datetime, invoice_id: str
    ) -> None: ...


class CreditRepository(Protocol):
    async def balance(self, tenant_id: str, customer_id: str, currency: str) -> int:
        """The customer's credit, locked for the rest of the transaction."""
        ...

    async def set_balance(
        self, tenant_id: str, customer_id: str, currency: str, balance_minor: int
    ) -> None: ...


class ClockRepository(Protocol):
    async def insert(self, tenant_id: str, clock: SimulationClock) -> None: ...

    async def get(
        self, tenant_id: str, clock_id: str, *, for_update: bool = False
    ) -> SimulationClock | None: ...

    async def set_now(self, tenant_id: str, clock_id: str, now: datetime) -> None: ...


class DueWorkRepository(Protocol):
    async def schedule(self, item: DueItem) -> None:
        """Add it, unless the same (subscription, kind, due time) is already scheduled."""
        ...

    async def claim(
        self,
        owner: str,
        wall_now: datetime,
        lease_until: datetime,
        limit: int,
        *,
        tenant_id: str | None = None,
        clock_id: str | None = None,
        subscription_ids: Sequence[str] | None = None,
    ) -> list[DueItem]:
        """Due items not leased by a live worker, earliest first, at most one unfinished per
        subscription in order; scoped to a clock, some subscriptions, or a tenant."""
        ...

    async def complete(self, item: DueItem, owner: str, at: datetime) -> bool:
        """Mark done if `owner` still holds the lease."""
        ...

    async def release(
        self,
        item: DueItem,
        owner: str,
        retry_at: datetime,
        error: str = "",
        *,
        count_attempt: bool = True,
    ) -> None:
        """Give a failed item back; claimable again from `retry_at` (wall time). Without
        `count_attempt` the claim's attempt is taken back (the item was not ready)."""
        ...

    async def unfinished_renewals(self, tenant_id: str, customer_id: str, up_to: datetime) -> int:
        """The customer's renewals due at or before `up_to` not done yet, leaving out those
        of a subscription held back by a parked item (they may wait indefinitely)."""
        ...

    async def park(self, item: DueItem, owner: str, at: datetime, error: str) -> None:
        """Its last attempt failed: claimed no more until `unpark`; `error` is kept."""
        ...

    async def unpark(self, tenant_id: str, item_id: str) -> bool:
        """A parked item claimable again, attempts from zero; False if none was parked."""
        ...

    async def parked(
        self,
        tenant_id: str | None,
        *,
        clock_id: str | None = None,
        up_to: datetime | None = None,
        subscription_ids: Sequence[str] | None = None,
        limit: int = 100,
    ) -> tuple[int, list[ParkedItem]]:
        """How many items are parked in the scope, and the first `limit` by due time."""
        ...

    async def pending_count(self, tenant_id: str, clock_id: str, up_to: datetime) -> int: ...

    async def due_count(
        self, tenant_id: str, subscription_ids: Sequence[str] | None, wall_now: datetime
    ) -> int: ...

    async def done_count(
        self, tenant_id: str, clock_id: str, after: datetime, up_to: datetime
    ) -> int: ...


class DueBatchRepository(Protocol):
    """Rows of many due items in one statement each: what a batch of renewals reads ahead
    and writes behind (`app/due_batch.py`)."""

    @property
    def numbers_at_commit(self) -> bool:
        """True if insert_invoices numbers the invoices given a number format."""
        ...

    async def complete(self, items: Sequence[DueItem], owner: str, at: datetime) -> set[str]:
        """Mark done the items (of one tenant) still leased by `owner`; returns their ids."""
        ...

    async def taken_cycles(
        self, tenant_id: str, cycles: Iterable[tuple[str, datetime]]
    ) -> set[tuple[str, datetime]]: ...

    async def with_pending_items(
        self, tenant_id: str, subscription_ids: Sequence[str]
    ) -> set[str]: ...

    async def billed_usage(
        self, tenant_id: str, subscription_ids: Sequence[str]
    ) -> dict[str, list[BilledUsage]]: ...

    async def credit_balances(
        self, tenant_id: str, accounts: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], int]:
        """Balances by (customer, currency), locked for the transaction."""
        ...

    async def claim_cycles(
        self, tenant_id: str, cycles: Sequence[tuple[str, datetime, str]]
    ) -> bool:
        """Insert (subscription, cycle start, invoice) rows; True only if all were new."""
        ...

    async def update_subscriptions(
        self, tenant_id: str, updates: Sequence[tuple[Subscription, int]]
    ) -> bool:
        """Compare-and-set (subscription, expected version) pairs; True only if all were set."""
        ...

    async def insert_invoices(
        self, tenant_id: str, rows: Sequence[tuple[Invoice, str | None, int | None]]
    ) -> None:
        """Insert (invoice, number format, number year) rows with their lines; those with a
        number format are numbered by this statement, gapless, the counter locked from
        here to the commit (call it last)."""
        ...

    async def schedule(self, items: Sequence[DueItem]) -> None: ...

    async def add_events(self, events: Sequence[OutboxEvent]) -> None: ...

    async def add_tax_entries(self, tenant_id: str, entries: Sequence[TaxEntry]) -> None:
        """The batch's tax ledger rows, in one statement."""
        ...


class StoredEvent(NamedTuple):
    """An event as written: its fields, flat (ingestion makes tens of thousands a second; a
    tuple is a fifth of the cost of an Event and a holder), its body hash, and what it adds
    to its day's rollup if it is new."""

    id: str
    subscription_id: str
    metric: str
    timestamp: datetime
    properties: Mapping[str, str]
    received_at: datetime | None
    body_hash: bytes
    rollup: Contribution | None = None
    corrects: str | None = None
    correction: str | None = None
    timestamp_text: str = ""  # timestamp.isoformat() when already made; "" if not

    @classmethod
    def of(cls, event: Event, body_hash: bytes, rollup: Contribution | None = None) -> StoredEvent:
        return cls(
            event.id,
            event.subscription_id,
            event.metric,
            event.timestamp,
            event.properties,
            event.received_at,
            body_hash,
            rollup,
            event.corrects,
            event.correction,
        )


@dataclass(frozen=True)
class BilledUsage:
    """What one metered price of one closed period was billed at."""

    price_code: str
    period_start: datetime
    period_end: datetime
    quantity: str
    amount_minor: int
    invoice_id: str
    billed_at: datetime


class UsageRepository(Protocol):
    """Events and their daily rollups. On PostgreSQL, concurrent batches add to the same
    rollup rows (an upsert each, in key order, so they never deadlock); corrections of one
    event are serialized by `get(..., lock=True)`."""

    async def insert_batch(self, tenant_id: str, events: Sequence[StoredEvent]) -> set[str]:
        """Insert what is new in one statement, adding each new event's `rollup` to its row
        in the same transaction; the ids inserted."""
        ...

    async def body_hashes(self, tenant_id: str, ids: Sequence[str]) -> dict[str, bytes]: ...

    async def get(self, tenant_id: str, event_id: str, lock: bool = False) -> Event | None:
        """`lock`: hold the event's row until commit, so its corrections run one at a time."""
        ...

    async def corrections_of(self, tenant_id: str, event_id: str) -> list[Event]: ...

    async def in_period(
        self,
        tenant_id: str,
        subscription_id: str,
        metrics: Sequence[str],
        start: datetime,
        end: datetime,
    ) -> list[Event]:
        """Events of [start, end) for the metrics, with all their corrections."""
        ...

    async def in_ranges(
        self, tenant_id: str, subscription_id: str, metric: str, ranges: Sequence[Range]
    ) -> list[Event]:
        """Events of the metric in any of the [start, end) ranges, with their corrections."""
        ...

    async def latest_before(
        self,
        tenant_id: str,
        subscription_id: str,
        specs: Sequence[MetricSpec],
        before: datetime,
    ) -> list[Event]:
        """For each metric whose level carries (`metering.CARRIED`) and each of its groups,
        the latest event before `before` as corrected (voided ones skipped, the latest
        amendment's properties) and matching the metric's filters: the level a period starting
        at `before` starts at. One statement for all of `specs`."""
        ...

    async def rollups(
        self, tenant_id: str, subscription_id: str, metric: str, buckets: Range
    ) -> list[Rollup]:
        """The rollup rows of the buckets in [first, last)."""
        ...

    async def adjust_rollup(
        self,
        tenant_id: str,
        subscription_id: str,
        metric: str,
        removed: Contribution | None,
        added: Contribution | None,
    ) -> None:
        """Take one event's `removed` contribution out of its row and add `added`."""
        ...

    async def billed(self, tenant_id: str, subscription_id: str) -> list[BilledUsage]: ...

    async def record_billed(
        self, tenant_id: str, subscription_id: str, billed: BilledUsage
    ) -> None: ...


@dataclass(frozen=True)
class MailEnvelope:
    """What makes every send of one invoice's email the same message (ADR 0058)."""

    message_id: str  # with angle brackets
    date: datetime  # the Date header


class InvoiceMailer(Protocol):
    def message_id(self, reference: str) -> str:
        """The Message-ID made from `reference` (letters, digits, '_', '-', '.')."""
        ...

    async def send(
        self, invoice: Invoice, customer: Customer, rules: RuleSet, envelope: MailEnvelope
    ) -> str:
        """Render the invoice's document and email it to the customer as `envelope` says;
        the message id. Raises DeliveryError (with `permanent`) when it cannot be sent."""
        ...


class DeliveryError(Exception):
    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class Outbox(Protocol):
    async def add(self, event: OutboxEvent) -> None: ...


class AuditLog(Protocol):
    async def add(self, record: AuditRecord) -> None: ...

    async def list_before(
        self, tenant_id: str, query: AuditQuery, before_id: str | None, limit: int
    ) -> list[AuditRecord]:
        """The tenant's records matching `query`, newest first (id descending), older than
        `before_id` if given."""
        ...


class Transaction(Protocol):
    @property
    def customers(self) -> CustomerRepository: ...

    @property
    def idempotency(self) -> IdempotencyRepository: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def rule_sets(self) -> RuleSetRepository: ...

    @property
    def subscriptions(self) -> SubscriptionRepository: ...

    @property
    def invoices(self) -> InvoiceRepository: ...

    @property
    def pending_items(self) -> PendingItemRepository: ...

    @property
    def billing_cycles(self) -> BillingCycleRepository: ...

    @property
    def credit(self) -> CreditRepository: ...

    @property
    def clocks(self) -> ClockRepository: ...

    @property
    def due_work(self) -> DueWorkRepository: ...

    @property
    def usage(self) -> UsageRepository: ...

    @property
    def numbering(self) -> NumberingRepository: ...

    @property
    def coupons(self) -> CouponRepository: ...

    @property
    def credit_notes(self) -> CreditNoteRepository: ...

    @property
    def due_batch(self) -> DueBatchRepository: ...

    @property
    def tax_ledger(self) -> TaxLedgerRepository: ...

    @property
    def payment_methods(self) -> PaymentMethodRepository: ...

    @property
    def payment_attempts(self) -> PaymentAttemptRepository: ...

    @property
    def payments(self) -> PaymentRepository: ...

    @property
    def gateway_credentials(self) -> GatewayCredentialRepository: ...

    @property
    def refunds(self) -> RefundRepository: ...

    @property
    def disputes(self) -> DisputeRepository: ...

    @property
    def gateway_events(self) -> GatewayEventRepository: ...

    @property
    def dunning_cases(self) -> DunningCaseRepository: ...

    @property
    def journal(self) -> JournalRepository: ...

    @property
    def receivables(self) -> ReceivablesReads: ...

    @property
    def revenue_schedules(self) -> RevenueScheduleRepository: ...

    @property
    def mrr(self) -> MrrRepository: ...

    @property
    def cancellations(self) -> CancellationRepository: ...

    @property
    def contracts(self) -> ContractRepository: ...

    @property
    def due_work_admin(self) -> DueWorkAdminRepository: ...

    @property
    def invoice_deliveries(self) -> InvoiceDeliveryRepository: ...


class Store(Protocol):
    def read(self) -> AbstractAsyncContextManager[Transaction]:
        """A read-only transaction."""
        ...

    def write(
        self, key: IdempotencyKey | None, ahead: ReadAhead | None = None
    ) -> AbstractAsyncContextManager[Transaction]:
        """A write transaction holding `key` exclusively; commits when the block exits cleanly.
        `ahead`: what the write will read, to be read with the transaction's first query."""
        ...

    async def customer(self, tenant_id: str, customer_id: str) -> Customer | None:
        """One customer as committed, on the store's cheapest path (GetCustomer's only read:
        what `read()` and `customers.get` give, without a transaction around it)."""
        ...
