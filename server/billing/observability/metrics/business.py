"""Counters of what the business did, told after each commit (never for a rolled-back
transaction): invoices finalized per currency, payment attempts by gateway and outcome,
usage events by outcome.

Labels stay bounded: a currency must look like an ISO 4217 code and a gateway like an
engine's name, and each label keeps at most LABEL_VALUES_MAX values (later ones read as
"other"), so a bad row can never blow up the series count. No tenant label: tenants are
unbounded in number (per-tenant figures are the reports' job, MetricsService).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter

from billing.app.records import OutboxEvent
from billing.app.usage_intake import Outcome
from billing.app.usage_tally import ACCEPTED, DUPLICATE, REFUSED
from billing.domain.payments import AttemptStatus

log = logging.getLogger("billing.metrics")

LABEL_VALUES_MAX = 64
_CURRENCY = re.compile(r"[A-Z]{3}")
_GATEWAY = re.compile(r"[a-z0-9_\-]{1,32}")
_OUTCOMES = frozenset(s.value for s in AttemptStatus)
_PAYMENT_PREFIX = "payment_attempt."


class BoundedLabel:
    """Values that match `pattern`, the first LABEL_VALUES_MAX of them; anything else is
    "other"."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self._pattern = pattern
        self._seen: set[str] = set()

    def __call__(self, value: object) -> str:
        if not isinstance(value, str) or not self._pattern.fullmatch(value):
            return "other"
        if value not in self._seen:
            if len(self._seen) >= LABEL_VALUES_MAX:
                return "other"
            self._seen.add(value)
        return value


class BusinessMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.invoices = Counter(
            "billing_invoices_finalized",
            "Invoices finalized, by currency.",
            ["currency"],
            registry=registry,
        )
        self.invoice_minor = Counter(
            "billing_invoices_finalized_amount_minor",
            "Totals of finalized invoices in minor units of their currency (cents for USD).",
            ["currency"],
            registry=registry,
        )
        self.payments = Counter(
            "billing_payment_attempts",
            "Payment attempts reaching a status (pending, succeeded, failed, requires_action,"
            " unknown), by gateway.",
            ["gateway", "outcome"],
            registry=registry,
        )
        self.usage = Counter(
            "billing_usage_events",
            "Usage events ingested, by outcome (accepted, duplicate, refused).",
            ["outcome"],
            registry=registry,
        )
        for outcome in (ACCEPTED, DUPLICATE, REFUSED):
            self.usage.labels(outcome)  # every outcome shows, at 0, from the start
        self._currency = BoundedLabel(_CURRENCY)
        self._gateway = BoundedLabel(_GATEWAY)

    def committed(self, events: list[OutboxEvent]) -> None:
        """The store's after-commit observer: must never raise into the caller's write."""
        for event in events:
            try:
                self._count(event)
            except Exception:
                log.warning("counting a committed event failed", exc_info=True)

    def _count(self, event: OutboxEvent) -> None:
        if event.type == "invoice.finalized":
            currency = self._currency(event.payload.get("currency"))
            self.invoices.labels(currency).inc()
            total = event.payload.get("total_minor")
            if isinstance(total, int) and total > 0:  # counters only go up
                self.invoice_minor.labels(currency).inc(total)
        elif event.type.startswith(_PAYMENT_PREFIX):
            outcome = event.type[len(_PAYMENT_PREFIX) :]
            self.payments.labels(
                self._gateway(event.payload.get("gateway")),
                outcome if outcome in _OUTCOMES else "other",
            ).inc()

    def ingested(self, outcomes: Sequence[Outcome]) -> None:
        accepted = duplicate = 0
        for o in outcomes:
            if o.outcome == ACCEPTED:
                accepted += 1
            elif o.outcome == DUPLICATE:
                duplicate += 1
        if accepted:
            self.usage.labels(ACCEPTED).inc(accepted)
        if duplicate:
            self.usage.labels(DUPLICATE).inc(duplicate)
        if refused := len(outcomes) - accepted - duplicate:
            self.usage.labels(REFUSED).inc(refused)
