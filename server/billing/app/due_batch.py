"""One transaction for a batch of due items: read ahead, write behind.

A bill run renews many subscriptions with the same few statements each. `BatchTransaction`
wraps the batch's transaction for the unchanged handlers (`renewals.py`): before they run it
reads the rows they will ask for, for all items at once (subscriptions, taken cycles, pending
items, billed usage, credit balances); while they run it keeps their inserts and
compare-and-sets (invoices and lines, cycles, next due items, subscriptions); after they have
all run it writes each kind in one statement. Anything else goes straight to the transaction,
after the buffered writes it could see.

What a handler was told at once is checked when written: a cycle row another writer made, or a
subscription changed since it was read, raises RetryableConflict for the whole batch, which
the worker then runs item by item (each finds out alone, as before).

Invoices the handlers number at commit (ADR 0014) are numbered by the batch's last statement
instead (ADR 0019): the invoices inserted in one statement that bumps the counter by their
count, so the counter row is locked from there to the commit, as with the trigger, and each
invoice row is written once instead of inserted and then numbered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, cast

from billing.app.cancellation_ports import CancellationRepository, ContractRepository
from billing.app.due_work_ports import DueWorkAdminRepository, InvoiceDeliveryRepository
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
from billing.app.ports import (
    ActiveRuleSet,
    AuditLog,
    BilledUsage,
    BillingCycleRepository,
    ClockRepository,
    CouponRepository,
    CreditNoteRepository,
    CreditRepository,
    CustomerRepository,
    DueBatchRepository,
    DueItem,
    DueWorkRepository,
    IdempotencyRepository,
    InvoiceRepository,
    NumberingRepository,
    Outbox,
    PendingItemRepository,
    RetryableConflict,
    RuleSetRepository,
    SubscriptionRepository,
    TaxLedgerRepository,
    Transaction,
    UsageRepository,
)
from billing.app.records import OutboxEvent
from billing.domain.customers import Customer
from billing.domain.invoices import Invoice
from billing.domain.subscriptions import Line, Subscription
from billing.domain.tax_ledger import TaxEntry


class _Passthrough:
    """Delegates what it does not define to the transaction's own repository."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _Buffering(_Passthrough):
    """Keeps some writes for later; anything it does not define writes them first, so the
    repository's own statements always see them."""

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._inner, name)

        async def after_flush(*args: Any, **kwargs: Any) -> Any:
            await self.flush()
            return await method(*args, **kwargs)

        return after_flush

    async def flush(self) -> None:
        raise NotImplementedError


class _Subscriptions(_Buffering):
    def __init__(self, inner: SubscriptionRepository, batch: DueBatchRepository) -> None:
        super().__init__(inner)
        self._batch = batch
        self.read: dict[str, Subscription] = {}
        self._updates: dict[str, tuple[Subscription, int]] = {}
        self._tenant = ""

    async def get(
        self, tenant_id: str, subscription_id: str, *, lock: bool = False
    ) -> Subscription | None:
        if not lock and tenant_id == self._tenant and subscription_id in self.read:
            return self.read[subscription_id]
        await self.flush()
        return cast(
            Subscription | None, await self._inner.get(tenant_id, subscription_id, lock=lock)
        )

    async def get_many(
        self, tenant_id: str, subscription_ids: Sequence[str]
    ) -> dict[str, Subscription]:
        await self.flush()
        return cast(
            dict[str, Subscription], await self._inner.get_many(tenant_id, subscription_ids)
        )

    async def update(self, tenant_id: str, sub: Subscription, expected_version: int) -> bool:
        if tenant_id != self._tenant or sub.id in self._updates:
            await self.flush()
            return cast(bool, await self._inner.update(tenant_id, sub, expected_version))
        self._updates[sub.id] = (sub, expected_version)
        self.read.pop(sub.id, None)  # read from the table again, once written
        return True  # checked when written: a lost compare-and-set fails the batch

    async def flush(self) -> None:
        if not self._updates:
            return
        updates = list(self._updates.values())
        self._updates.clear()
        if not await self._batch.update_subscriptions(self._tenant, updates):
            raise RetryableConflict("a subscription of the batch changed while it ran")


class _Invoices(_Buffering):
    def __init__(self, inner: InvoiceRepository, batch: DueBatchRepository) -> None:
        super().__init__(inner)
        self._batch = batch
        self._tenant = ""
        # invoice id -> [invoice, number format, number year], in insertion order
        self.new: dict[str, list[Any]] = {}

    async def insert(self, tenant_id: str, invoice: Invoice) -> None:
        if tenant_id != self._tenant:
            await self.flush()
            await self._inner.insert(tenant_id, invoice)
            return
        self.new[invoice.id] = [invoice, None, None]

    async def set_number(self, tenant_id: str, invoice_id: str, number: str) -> None:
        if tenant_id == self._tenant and invoice_id in self.new:
            row = self.new[invoice_id]
            row[0] = replace(row[0], number=number)
            return
        await self.flush()
        await self._inner.set_number(tenant_id, invoice_id, number)

    async def flush(self) -> None:
        if not self.new:
            return
        rows = [(row[0], row[1], row[2]) for row in self.new.values()]
        self.new.clear()
        await self._batch.insert_invoices(self._tenant, rows)


class _Numbering(_Passthrough):
    def __init__(
        self, inner: NumberingRepository, batch: DueBatchRepository, invoices: _Invoices
    ) -> None:
        super().__init__(inner)
        self._batch = batch
        self._invoices = invoices

    async def number_at_commit(
        self, tenant_id: str, invoice_id: str, year: int, number_format: str
    ) -> bool:
        if not self._batch.numbers_at_commit:
            return False
        row = self._invoices.new.get(invoice_id) if tenant_id == self._invoices._tenant else None
        if row is None:
            await self._invoices.flush()
            return cast(
                bool, await self._inner.number_at_commit(tenant_id, invoice_id, year, number_format)
            )
        row[1], row[2] = number_format, year  # numbered by the batch's last statement
        return True


class _BillingCycles(_Buffering):
    def __init__(self, inner: BillingCycleRepository, batch: DueBatchRepository) -> None:
        super().__init__(inner)
        self._batch = batch
        self._tenant = ""
        self.scope: set[tuple[str, datetime]] = set()  # cycles read ahead
        self.taken: set[tuple[str, datetime]] = set()
        self._new: dict[tuple[str, datetime], str] = {}

    async def claim(
        self, tenant_id: str, subscription_id: str, cycle_start: datetime, invoice_id: str
    ) -> bool:
        key = (subscription_id, cycle_start)
        if tenant_id != self._tenant or key not in self.scope:
            await self.flush()
            return cast(
                bool,
                await self._inner.claim(tenant_id, subscription_id, cycle_start, invoice_id),
            )
        if key in self.taken or key in self._new:
            return False
        self._new[key] = invoice_id
        return True  # checked when written: another writer's row fails the batch

    async def record_invoice(
        self, tenant_id: str, subscription_id: str, cycle_start: datetime, invoice_id: str
    ) -> None:
        key = (subscription_id, cycle_start)
        if tenant_id == self._tenant and key in self._new:
            self._new[key] = invoice_id
            return
        await self.flush()
        await self._inner.record_invoice(tenant_id, subscription_id, cycle_start, invoice_id)

    async def flush(self) -> None:
        if not self._new:
            return
        cycles = [(sub, start, invoice) for (sub, start), invoice in self._new.items()]
        self.taken.update(self._new)
        self._new.clear()
        if not await self._batch.claim_cycles(self._tenant, cycles):
            raise RetryableConflict("a cycle of the batch was invoiced by another writer")


class _PendingItems(_Passthrough):
    def __init__(self, inner: PendingItemRepository) -> None:
        super().__init__(inner)
        self._tenant = ""
        self.scope: set[str] = set()  # subscriptions read ahead
        self.with_items: set[str] = set()

    async def add(self, tenant_id: str, **kwargs: Any) -> None:
        self.with_items.add(kwargs["subscription_id"])
        await self._inner.add(tenant_id, **kwargs)

    async def take(self, tenant_id: str, subscription_id: str, invoice_id: str) -> list[Line]:
        if (
            tenant_id == self._tenant
            and subscription_id in self.scope
            and subscription_id not in self.with_items
        ):
            return []
        return cast(list[Line], await self._inner.take(tenant_id, subscription_id, invoice_id))


class _Credit(_Passthrough):
    def __init__(self, inner: CreditRepository) -> None:
        super().__init__(inner)
        self._tenant = ""
        self.balances: dict[tuple[str, str], int] = {}  # read ahead, locked

    async def balance(self, tenant_id: str, customer_id: str, currency: str) -> int:
        key = (customer_id, currency)
        if tenant_id == self._tenant and key in self.balances:
            return self.balances[key]
        return cast(int, await self._inner.balance(tenant_id, customer_id, currency))

    async def set_balance(
        self, tenant_id: str, customer_id: str, currency: str, balance_minor: int
    ) -> None:
        if tenant_id == self._tenant and (customer_id, currency) in self.balances:
            self.balances[(customer_id, currency)] = balance_minor
        await self._inner.set_balance(tenant_id, customer_id, currency, balance_minor)


class _Customers(_Passthrough):
    """The batch's customers, read in one statement when a handler first asks for one (tax
    does, when it is on): with tax off no handler asks, and nothing is read."""

    def __init__(self, inner: CustomerRepository) -> None:
        super().__init__(inner)
        self._tenant = ""
        self.scope: set[str] = set()  # the customers of the batch's subscriptions
        self.read: dict[str, Customer] | None = None

    async def get(self, tenant_id: str, customer_id: str) -> Customer | None:
        if tenant_id != self._tenant or customer_id not in self.scope:
            return cast(Customer | None, await self._inner.get(tenant_id, customer_id))
        if self.read is None:
            self.read = cast(
                dict[str, Customer], await self._inner.get_many(tenant_id, sorted(self.scope))
            )
        return self.read.get(customer_id)


class _Usage(_Passthrough):
    def __init__(self, inner: UsageRepository) -> None:
        super().__init__(inner)
        self._tenant = ""
        self.billed_by_subscription: dict[str, list[BilledUsage]] = {}

    async def billed(self, tenant_id: str, subscription_id: str) -> list[BilledUsage]:
        if tenant_id == self._tenant and subscription_id in self.billed_by_subscription:
            return list(self.billed_by_subscription[subscription_id])
        return cast(list[BilledUsage], await self._inner.billed(tenant_id, subscription_id))

    async def record_billed(
        self, tenant_id: str, subscription_id: str, billed: BilledUsage
    ) -> None:
        self.billed_by_subscription.pop(subscription_id, None)  # read it back from now on
        await self._inner.record_billed(tenant_id, subscription_id, billed)


class _RuleSets(_Passthrough):
    def __init__(self, inner: RuleSetRepository) -> None:
        super().__init__(inner)
        self._active: dict[str, ActiveRuleSet | None] = {}

    async def active(self, tenant_id: str) -> ActiveRuleSet | None:
        # The batch is one transaction: its items are billed under one rule set.
        if tenant_id not in self._active:
            self._active[tenant_id] = await self._inner.active(tenant_id)
        return self._active[tenant_id]


class _DueWork(_Buffering):
    def __init__(self, inner: DueWorkRepository, batch: DueBatchRepository) -> None:
        super().__init__(inner)
        self._batch = batch
        self._new: list[DueItem] = []

    async def schedule(self, item: DueItem) -> None:
        self._new.append(item)

    async def flush(self) -> None:
        if self._new:
            items, self._new = self._new, []
            await self._batch.schedule(items)


class _Outbox:
    def __init__(self, batch: DueBatchRepository) -> None:
        self._batch = batch
        self._events: list[OutboxEvent] = []

    async def add(self, event: OutboxEvent) -> None:
        self._events.append(event)

    async def flush(self) -> None:
        if self._events:
            events, self._events = self._events, []
            await self._batch.add_events(events)


class _TaxLedger(_Buffering):
    """Tax entries wait for the end of the batch and are written in one statement, like the
    invoices they belong to (one INSERT per entry was one more statement per renewal)."""

    def __init__(self, inner: TaxLedgerRepository, batch: DueBatchRepository) -> None:
        super().__init__(inner)
        self._batch = batch
        self._entries: dict[str, list[TaxEntry]] = {}  # by tenant

    async def add(self, tenant_id: str, entries: Sequence[TaxEntry]) -> None:
        self._entries.setdefault(tenant_id, []).extend(entries)

    async def flush(self) -> None:
        waiting, self._entries = self._entries, {}
        for tenant_id, entries in waiting.items():
            await self._batch.add_tax_entries(tenant_id, entries)


class _PaymentMethods(_Passthrough):
    """Whether the batch's customers have a payment method, read in one statement when a
    handler first asks (a finalized invoice does, to schedule its collection): one SELECT
    per renewal was the bill run's largest cost. A method attached or detached in the batch
    makes it ask again."""

    def __init__(self, inner: PaymentMethodRepository) -> None:
        super().__init__(inner)
        self._tenant = ""
        self.scope: set[str] = set()  # the customers of the batch's subscriptions
        self.attached: set[str] | None = None

    async def has_attached(self, tenant_id: str, customer_id: str) -> bool:
        if tenant_id != self._tenant or customer_id not in self.scope:
            return cast(bool, await self._inner.has_attached(tenant_id, customer_id))
        if self.attached is None:
            self.attached = cast(
                set[str], await self._inner.attached_among(tenant_id, sorted(self.scope))
            )
        return customer_id in self.attached

    async def insert(self, *args: Any, **kwargs: Any) -> None:
        self.attached = None
        await self._inner.insert(*args, **kwargs)

    async def detach(self, *args: Any, **kwargs: Any) -> bool:
        self.attached = None
        return cast(bool, await self._inner.detach(*args, **kwargs))


# The kinds whose handlers read what `BatchTransaction.read_ahead` reads; any other kind's
# reads go to the transaction as they come (the views fall back to it).
READS_AHEAD = frozenset({"renew"})


class BatchTransaction:
    """The Transaction a batch's handlers see (see the module docstring)."""

    def __init__(self, tx: Transaction, tenant_id: str) -> None:
        self._tx = tx
        self.tenant_id = tenant_id
        batch = tx.due_batch
        self._subscriptions = _Subscriptions(tx.subscriptions, batch)
        self._invoices = _Invoices(tx.invoices, batch)
        self._numbering = _Numbering(tx.numbering, batch, self._invoices)
        self._cycles = _BillingCycles(tx.billing_cycles, batch)
        self._pending = _PendingItems(tx.pending_items)
        self._credit = _Credit(tx.credit)
        self._customers = _Customers(tx.customers)
        self._usage = _Usage(tx.usage)
        self._rule_sets = _RuleSets(tx.rule_sets)
        self._due_work = _DueWork(tx.due_work, batch)
        self._outbox = _Outbox(batch)
        self._tax_ledger = _TaxLedger(tx.tax_ledger, batch)
        self._payment_methods = _PaymentMethods(tx.payment_methods)
        for part in (
            self._subscriptions,
            self._invoices,
            self._cycles,
            self._pending,
            self._credit,
            self._usage,
            self._customers,
            self._payment_methods,
        ):
            part._tenant = tenant_id

    async def read_ahead(self, items: Sequence[DueItem]) -> None:
        """Read what the items' handlers will ask for, a statement per kind of row. Only a
        renewal asks for these (its subscription, cycle, pending items, usage, credit): a
        revenue or delivery item reads none of them, so a batch of those reads nothing
        ahead (five statements a batch, when the rounds of a busy API are an item or two)."""
        items = [item for item in items if item.kind in READS_AHEAD]
        if not items:
            return
        batch, tenant = self._tx.due_batch, self.tenant_id
        ids = sorted({item.subscription_id for item in items})
        subs = await self._tx.subscriptions.get_many(tenant, ids)
        self._subscriptions.read = subs
        cycles = {(item.subscription_id, item.due_at) for item in items}
        self._cycles.scope = cycles
        self._cycles.taken = await batch.taken_cycles(tenant, cycles)
        self._pending.scope = set(ids)
        self._pending.with_items = await batch.with_pending_items(tenant, ids)
        self._usage.billed_by_subscription = await batch.billed_usage(tenant, ids)
        self._credit.balances = await batch.credit_balances(
            tenant, {(sub.customer_id, sub.currency) for sub in subs.values()}
        )
        self._customers.scope = {sub.customer_id for sub in subs.values()}
        self._payment_methods.scope = set(self._customers.scope)

    async def write_behind(self) -> None:
        """Write what the handlers left buffered; RetryableConflict if any of it was taken."""
        await self._cycles.flush()
        await self._subscriptions.flush()
        await self._due_work.flush()
        await self._outbox.flush()
        await self._tax_ledger.flush()
        # Last: the invoices are numbered as they are inserted, and the counter row stays
        # locked from there to the commit.
        await self._invoices.flush()

    # The Transaction protocol: the batch's own views, the rest as they are.
    @property
    def customers(self) -> CustomerRepository:
        return cast(CustomerRepository, self._customers)

    @property
    def idempotency(self) -> IdempotencyRepository:
        return self._tx.idempotency

    @property
    def outbox(self) -> Outbox:
        return self._outbox

    @property
    def audit(self) -> AuditLog:
        return self._tx.audit

    @property
    def rule_sets(self) -> RuleSetRepository:
        return cast(RuleSetRepository, self._rule_sets)

    @property
    def subscriptions(self) -> SubscriptionRepository:
        return cast(SubscriptionRepository, self._subscriptions)

    @property
    def invoices(self) -> InvoiceRepository:
        return cast(InvoiceRepository, self._invoices)

    @property
    def pending_items(self) -> PendingItemRepository:
        return cast(PendingItemRepository, self._pending)

    @property
    def billing_cycles(self) -> BillingCycleRepository:
        return cast(BillingCycleRepository, self._cycles)

    @property
    def credit(self) -> CreditRepository:
        return cast(CreditRepository, self._credit)

    @property
    def clocks(self) -> ClockRepository:
        return self._tx.clocks

    @property
    def due_work(self) -> DueWorkRepository:
        return cast(DueWorkRepository, self._due_work)

    @property
    def usage(self) -> UsageRepository:
        return cast(UsageRepository, self._usage)

    @property
    def numbering(self) -> NumberingRepository:
        return cast(NumberingRepository, self._numbering)

    @property
    def coupons(self) -> CouponRepository:
        return self._tx.coupons

    @property
    def credit_notes(self) -> CreditNoteRepository:
        return self._tx.credit_notes

    @property
    def due_batch(self) -> DueBatchRepository:
        return self._tx.due_batch

    @property
    def tax_ledger(self) -> TaxLedgerRepository:
        return cast(TaxLedgerRepository, self._tax_ledger)

    @property
    def payment_methods(self) -> PaymentMethodRepository:
        return cast(PaymentMethodRepository, self._payment_methods)

    @property
    def payment_attempts(self) -> PaymentAttemptRepository:
        return self._tx.payment_attempts

    @property
    def payments(self) -> PaymentRepository:
        return self._tx.payments

    @property
    def gateway_credentials(self) -> GatewayCredentialRepository:
        return self._tx.gateway_credentials

    @property
    def refunds(self) -> RefundRepository:
        return self._tx.refunds

    @property
    def disputes(self) -> DisputeRepository:
        return self._tx.disputes

    @property
    def gateway_events(self) -> GatewayEventRepository:
        return self._tx.gateway_events

    @property
    def dunning_cases(self) -> DunningCaseRepository:
        return self._tx.dunning_cases

    @property
    def journal(self) -> JournalRepository:
        # Deferred inserts on the batch's connection, pipelined with its other writes.
        return self._tx.journal

    @property
    def receivables(self) -> ReceivablesReads:
        return self._tx.receivables

    @property
    def revenue_schedules(self) -> RevenueScheduleRepository:
        return self._tx.revenue_schedules

    @property
    def mrr(self) -> MrrRepository:
        return self._tx.mrr

    @property
    def cancellations(self) -> CancellationRepository:
        return self._tx.cancellations

    @property
    def contracts(self) -> ContractRepository:
        return self._tx.contracts

    @property
    def due_work_admin(self) -> DueWorkAdminRepository:
        return self._tx.due_work_admin

    @property
    def invoice_deliveries(self) -> InvoiceDeliveryRepository:
        return self._tx.invoice_deliveries
