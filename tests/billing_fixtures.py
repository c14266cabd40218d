"""Rule sets and helpers for subscription scenarios (the issue's numbers: Basic 30.00 and
Pro 50.00 monthly, seats at 8.00)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import grpc
from google.protobuf import timestamp_pb2

from billing_client.v1 import (
    clocks_pb2,
    clocks_pb2_grpc,
    customers_pb2,
    customers_pb2_grpc,
    invoices_pb2,
    invoices_pb2_grpc,
    rules_pb2,
    rules_pb2_grpc,
    subscriptions_pb2,
    subscriptions_pb2_grpc,
)


def rules(
    *,
    granularity: str = "day",
    behavior: str = "create_prorations",
    credit_unused: bool = True,
    credit_basis: str = "billed",
    time_zone: str = "utc",
    downgrade_at_period_end: bool = False,
    rounding: str = "half_up",
) -> dict[str, bytes]:
    downgrade = (
        "  - when: {from_product: pro, to_product: basic}\n    timing: end_of_period\n"
        if downgrade_at_period_end
        else ""
    )
    catalog = f"""kind: catalog
products:
  - {{code: basic, name: Basic, features: [reports]}}
  - {{code: pro, name: Pro, features: [reports, api_access]}}
  - {{code: team, name: Team, features: [seats]}}
plans:
  - code: basic_monthly
    name: Basic
    product: basic
    interval: month
    entitlements: [{{feature: reports}}]
    prices: [{{currency: USD, amount: 30.00}}]
  - code: pro_monthly
    name: Pro
    product: pro
    interval: month
    entitlements: [{{feature: reports}}, {{feature: api_access}}]
    prices: [{{currency: USD, amount: 50.00}}]
  - code: team_monthly
    name: Team
    product: team
    interval: month
    entitlements: [{{feature: seats, limit: 100}}]
    prices: [{{currency: USD, price: team_seat_usd}}]
  - code: basic_yearly
    name: Basic yearly
    product: basic
    interval: year
    prices: [{{currency: USD, amount: 300.00}}]
plan_changes:
{downgrade}  - timing: immediate
"""
    pricing = """kind: pricing
prices:
  - {code: team_seat_usd, name: Seat, model: per_unit, currency: USD, unit_amount: 8.00}
"""
    proration = f"""kind: proration
cases:
  - granularity: {granularity}
    behavior: {behavior}
    credit_unused: {str(credit_unused).lower()}
    credit_basis: {credit_basis}
"""
    return {
        "catalog.yaml": catalog.encode(),
        "pricing.yaml": pricing.encode(),
        "proration.yaml": proration.encode(),
        "invoicing.yaml": f"kind: invoicing\ntime_zone: {time_zone}\n".encode(),
        "money.yaml": f"kind: money\nrounding: {rounding}\n".encode(),
    }


def ts(text: str) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC))
    return stamp


def iso(stamp: timestamp_pb2.Timestamp) -> str:
    return stamp.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Billing:
    """The stubs of one tenant, with shortcuts for the scenarios."""

    def __init__(self, channel: grpc.Channel, metadata: tuple[tuple[str, str], ...]) -> None:
        self.metadata = metadata
        self.rules = rules_pb2_grpc.RuleServiceStub(channel)
        self.customers = customers_pb2_grpc.CustomerServiceStub(channel)
        self.subs = subscriptions_pb2_grpc.SubscriptionServiceStub(channel)
        self.invoices = invoices_pb2_grpc.InvoiceServiceStub(channel)
        self.clocks = clocks_pb2_grpc.ClockServiceStub(channel)

    def push(self, files: dict[str, bytes]) -> rules_pb2.RuleSet:
        return self.rules.PushRuleSet(
            rules_pb2.PushRuleSetRequest(files=files, request_id=uuid.uuid4().hex),
            metadata=self.metadata,
        )

    def clock(self, at: str) -> clocks_pb2.Clock:
        return self.clocks.CreateClock(
            clocks_pb2.CreateClockRequest(
                clock=clocks_pb2.Clock(now=ts(at), display_name="test"), request_id=uuid.uuid4().hex
            ),
            metadata=self.metadata,
        )

    def advance(self, clock: clocks_pb2.Clock, to: str) -> list[clocks_pb2.AdvanceClockResponse]:
        return list(
            self.clocks.AdvanceClock(
                clocks_pb2.AdvanceClockRequest(
                    name=clock.name, to=ts(to), request_id=uuid.uuid4().hex
                ),
                metadata=self.metadata,
                timeout=120,
            )
        )

    def customer(
        self, clock: clocks_pb2.Clock | None = None, time_zone: str = "UTC"
    ) -> customers_pb2.Customer:
        return self.customers.CreateCustomer(
            customers_pb2.CreateCustomerRequest(
                customer=customers_pb2.Customer(
                    display_name="Acme",
                    currency_code="USD",
                    time_zone=time_zone,
                    clock=clock.name if clock else "",
                ),
                request_id=uuid.uuid4().hex,
            ),
            metadata=self.metadata,
        )

    def subscribe(
        self, customer: customers_pb2.Customer, plan: str, **fields: object
    ) -> subscriptions_pb2.Subscription:
        return self.subs.CreateSubscription(
            subscriptions_pb2.CreateSubscriptionRequest(
                customer=customer.name,
                plan=f"plans/{plan}",
                request_id=uuid.uuid4().hex,
                trial_days=fields.pop("trial_days", 0),  # type: ignore[arg-type]
                **fields,  # type: ignore[arg-type]
            ),
            metadata=self.metadata,
        )

    def change_request(
        self,
        sub: subscriptions_pb2.Subscription,
        *,
        plan: str = "",
        at: str | None = None,
        quantities: dict[str, int] | None = None,
    ) -> subscriptions_pb2.SubscriptionChange:
        change = subscriptions_pb2.SubscriptionChange(
            subscription=sub.name,
            plan=f"plans/{plan}" if plan else "",
            quantities=quantities or {},
        )
        if at is not None:
            change.proration_time.CopyFrom(ts(at))
        return change

    def change(
        self, sub: subscriptions_pb2.Subscription, **kwargs: object
    ) -> subscriptions_pb2.ChangeSubscriptionResponse:
        return self.subs.ChangeSubscription(
            subscriptions_pb2.ChangeSubscriptionRequest(
                change=self.change_request(sub, **kwargs),  # type: ignore[arg-type]
                etag=sub.etag,
                request_id=uuid.uuid4().hex,
            ),
            metadata=self.metadata,
        )

    def preview(
        self, sub: subscriptions_pb2.Subscription, **kwargs: object
    ) -> subscriptions_pb2.PreviewChangeResponse:
        return self.subs.PreviewChange(
            subscriptions_pb2.PreviewChangeRequest(change=self.change_request(sub, **kwargs)),  # type: ignore[arg-type]
            metadata=self.metadata,
        )

    def get(self, sub: subscriptions_pb2.Subscription) -> subscriptions_pb2.Subscription:
        return self.subs.GetSubscription(
            subscriptions_pb2.GetSubscriptionRequest(name=sub.name), metadata=self.metadata
        )

    def invoices_of(self, sub: subscriptions_pb2.Subscription) -> list[invoices_pb2.Invoice]:
        found: list[invoices_pb2.Invoice] = []
        token = ""
        while True:
            page = self.invoices.ListInvoices(
                invoices_pb2.ListInvoicesRequest(
                    subscription=sub.name, page_size=1000, page_token=token
                ),
                metadata=self.metadata,
            )
            found += page.invoices
            token = page.next_page_token
            if not token:
                return found


def amounts(lines) -> list[int]:  # type: ignore[no-untyped-def]
    return [line.amount.amount_minor for line in lines]
