"""Issue 16's acceptance, end to end: a server emailing through a local SMTP server, a
simulation clock walked one day at a time, and only what a customer and a caller can see —
the emails that arrive (read back from the SMTP server), the attempts, the subscription's
status, and `GetDunningCase` / `GetDunningReport` over gRPC. Both backends. (ADR 0043.)

Policies: the shipped one for everyone (notices on days 0, 3 and 7, retries on days 1, 3, 5
and 7, past_due on day 1, suspension on day 10, cancellation on day 21), and one for the
enterprise segment with a 30-day grace, chosen by ordered cases."""

from __future__ import annotations

import email
import email.policy
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc

from billing.domain.decline_reasons import decline_reason
from billing_client.v1 import clocks_pb2, customers_pb2, dunning_pb2, dunning_pb2_grpc
from billing_client.v1 import invoices_pb2 as ip
from billing_client.v1 import payments_pb2 as pp
from billing_client.v1 import subscriptions_pb2 as sp
from billing_fixtures import Billing
from conftest import Database, ThreadedServer, auth, make_token, server_settings
from payments_fixtures import Payments, payment_rules, rid
from test_delivery import SENDER, Inbox, Server, start

REPO = Path(__file__).resolve().parents[1]
NOTICES = REPO / "rules" / "templates" / "notices"
START = datetime(2026, 4, 1, tzinfo=UTC)  # a Wednesday
DAY = timedelta(days=1)

ENTERPRISE = """
  - name: enterprise
    grace: 30d
    retries: {after: [2d, 6d]}
    declines: {hard_notice: update_payment_method}
    steps:
      - {name: first_notice, after: 0d, action: notice, template: payment_failed}
      - {name: past_due, after: 2d, action: mark_past_due}
      - {name: suspend, after: 30d, action: suspend}
"""


def dunning_file() -> bytes:
    """The shipped policy, with an enterprise policy and case put before everyone's."""
    shipped = (REPO / "rules" / "dunning.yaml").read_text()
    policies, cases = shipped.split("\ncases:\n")
    cases_lines = "\ncases:\n  - {when: {segments: [enterprise]}, policy: enterprise}\n"
    return (policies.rstrip("\n") + "\n" + ENTERPRISE + cases_lines + cases).encode()


def subject(template: str, number: str) -> str:
    first = (NOTICES / f"{template}.txt").read_text().splitlines()[0]
    return first.removeprefix("Subject: ").replace("${invoice_number}", number)


def unfolded(header: str) -> str:
    """A header as written (a long one arrives folded over lines)."""
    return " ".join(header.split())


@dataclass
class World:
    billing: Billing
    payments: Payments
    dunning: dunning_pb2_grpc.DunningServiceStub
    smtp: Server
    clock: clocks_pb2.Clock
    seen: int = 0

    def mails(self) -> list[tuple[str, str, str]]:
        """(recipient, subject, body) of the mails arrived since the last call."""
        time.sleep(0.2)  # a notice is sent by due work right after its step's commit
        found = []
        for envelope in self.smtp.inbox.received[self.seen :]:
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            body = message.get_body(preferencelist=("plain",))
            text = body.get_content() if body is not None else ""
            found.append((str(message["To"]), str(message["Subject"]), text))
        self.seen = len(self.smtp.inbox.received)
        return found

    def case(self, invoice: ip.Invoice) -> dunning_pb2.DunningCase:
        return self.dunning.GetDunningCase(
            dunning_pb2.GetDunningCaseRequest(name=invoice.name), metadata=self.billing.metadata
        )


@contextmanager
def world(database: Database) -> Iterator[World]:
    mail = start(Inbox())
    smtp = next(mail)
    settings = server_settings(
        database.async_url,
        smtp_url=f"smtp://127.0.0.1:{smtp.port}?from={SENDER}&starttls=false",
        templates_dir=str(REPO / "rules" / "templates"),
    )
    running = ThreadedServer(settings)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            billing = Billing(channel, auth(make_token(f"t_{uuid.uuid4().hex[:12]}")))
            files = payment_rules("kind: invoicing\ntime_zone: utc\nemail_invoices: false\n")
            files["dunning.yaml"] = dunning_file()
            billing.push(files)
            clock = billing.clock(START.isoformat())
            yield World(
                billing,
                Payments(channel, billing),
                dunning_pb2_grpc.DunningServiceStub(channel),
                smtp,
                clock,
            )
    finally:
        running.stop()
        mail.close()


@dataclass
class Account:
    customer: customers_pb2.Customer
    sub: sp.Subscription
    invoice: ip.Invoice
    attempts: int = 0
    status: int = sp.ACTIVE
    log: list[tuple[int, str]] = field(default_factory=list)


def account(w: World, name: str, token: str, segment: str = "") -> Account:
    customer = w.billing.customers.CreateCustomer(
        customers_pb2.CreateCustomerRequest(
            customer=customers_pb2.Customer(
                display_name=name,
                currency_code="USD",
                email=f"{name.lower()}@example.com",
                time_zone="UTC",
                clock=w.clock.name,
                metadata={"segment": segment} if segment else {},
            ),
            request_id=rid(),
        ),
        metadata=w.billing.metadata,
    )
    w.payments.attach(customer, token)
    sub = w.billing.subscribe(customer, "pro_monthly")
    [invoice] = w.billing.invoices_of(sub)
    return Account(customer, sub, invoice)


def walk(w: World, accounts: list[Account], days: range, on_day=None) -> None:  # type: ignore[no-untyped-def]
    """Advance to the end of each day; log per account what a caller sees happen that day:
    each email (by template), each new attempt, each status change."""
    by_email = {a.customer.email: a for a in accounts}
    # The first collections are due at the clock's time: run them at it, not at day 0's end.
    w.billing.advance(w.clock, (START + days[0] * DAY).isoformat())
    templates = {t.stem: t.stem for t in NOTICES.glob("*.txt")}
    for d in days:
        if on_day is not None:
            on_day(d)
        w.billing.advance(w.clock, (START + d * DAY + timedelta(hours=23)).isoformat())
        arrived = []
        for to, title, _ in w.mails():
            a = by_email[to]
            numbers = [i.number for i in w.billing.invoices_of(a.sub)]
            found = [
                (t, n)
                for t in templates
                for n, number in enumerate(numbers)
                if subject(t, number) == unfolded(title)
            ]
            assert len(found) == 1, (title, numbers)
            [(name, which)] = found
            arrived.append((a.customer.email, name if which == 0 else f"{name} (invoice {which})"))
        for to, name in sorted(arrived):  # mails of one day may arrive in any order
            by_email[to].log.append((d, f"mail {name}"))
        for a in accounts:
            attempts = w.payments.attempts_of(a.invoice)
            for attempt in attempts[: len(attempts) - a.attempts]:  # newest first
                a.log.append(
                    (d, f"{attempt.source} {pp.PaymentAttemptStatus.Name(attempt.status)}")
                )
            a.attempts = len(attempts)
            status = w.billing.get(a.sub).status
            if status != a.status:
                a.log.append((d, f"status {sp.SubscriptionStatus.Name(status)}"))
                a.status = status


def test_the_policy_walked_day_by_day_two_policies_in_one_clock_run(make_database, backend):
    with world(make_database(backend)) as w:
        alice = account(w, "Alice", "tok_insufficient_funds")
        bob = account(w, "Bob", "tok_insufficient_funds", segment="enterprise")
        walk(w, [alice, bob], range(0, 35))

        retry = "dunning_retry FAILED"
        assert alice.log == [
            (0, "mail payment_failed"),
            (0, "automatic_collection FAILED"),
            (1, retry),
            (1, "status PAST_DUE"),
            (3, "mail payment_reminder"),
            (3, retry),
            (5, retry),
            (7, "mail final_notice"),
            (7, retry),
            (21, "status CANCELED"),
        ]
        assert bob.log == [
            (0, "mail payment_failed"),
            (0, "automatic_collection FAILED"),
            (2, retry),
            (2, "status PAST_DUE"),
            (6, retry),
            # Still a customer: May's renewal is invoiced, its collection fails, a case opens.
            (30, "mail payment_failed (invoice 1)"),
        ]
        case = w.case(alice.invoice)
        assert (case.policy, case.status, case.suspended) == (
            "standard",
            dunning_pb2.DUNNING_CASE_STATUS_EXHAUSTED,
            True,
        )
        steps = [
            (e.what, e.time.ToDatetime(UTC) - START) for e in case.timeline if e.kind == "step"
        ]
        assert steps == [
            ("failed_notice", 0 * DAY),
            ("past_due", DAY),
            ("reminder", 3 * DAY),
            ("final_notice", 7 * DAY),
            ("suspend", 10 * DAY),
            ("cancel", 21 * DAY),
        ]
        assert len(case.payment_attempts) == 5
        enterprise = w.case(bob.invoice)
        assert (enterprise.policy, enterprise.status, enterprise.suspended) == (
            "enterprise",
            dunning_pb2.DUNNING_CASE_STATUS_EXHAUSTED,
            True,
        )
        assert [e.what for e in enterprise.timeline if e.kind == "step"] == [
            "first_notice",
            "past_due",
            "suspend",
        ]
        assert enterprise.timeline[-1].time.ToDatetime(UTC) == START + 30 * DAY

        report = w.dunning.GetDunningReport(
            dunning_pb2.GetDunningReportRequest(), metadata=w.billing.metadata
        )
        [total] = report.totals
        # Alice's and Bob's April invoices lost; Bob's May invoice just went into dunning.
        assert (
            total.cases,
            total.lost.amount_minor,
            total.in_dunning.amount_minor,
            total.recovered.amount_minor,
        ) == (3, 10000, 5000, 0)


def test_paid_on_day_4_nothing_at_all_happens_after(make_database, backend):
    with world(make_database(backend)) as w:
        carol = account(w, "Carol", "tok_insufficient_funds")

        def pay_on_day_4(d: int) -> None:
            if d == 4:
                w.billing.advance(w.clock, (START + 4 * DAY + timedelta(hours=12)).isoformat())
                w.payments.pay(carol.invoice, w.payments.attach(carol.customer, "tok_visa"))

        walk(w, [carol], range(0, 30), pay_on_day_4)  # May's renewal is a new story
        assert carol.log == [
            (0, "mail payment_failed"),
            (0, "automatic_collection FAILED"),
            (1, "dunning_retry FAILED"),
            (1, "status PAST_DUE"),
            (3, "mail payment_reminder"),
            (3, "dunning_retry FAILED"),
            (4, "pay_invoice SUCCEEDED"),
            (4, "status ACTIVE"),
        ]
        case = w.case(carol.invoice)
        assert case.status == dunning_pb2.DUNNING_CASE_STATUS_RECOVERED
        assert case.recovered.amount_minor == 5000
        assert not case.HasField("next_event")
        assert case.end_time.ToDatetime(UTC) == START + 4 * DAY + timedelta(hours=12)


def test_a_hard_decline_stops_the_retries_and_asks_for_a_new_method(make_database, backend):
    with world(make_database(backend)) as w:
        dave = account(w, "Dave", "tok_stolen_card")
        walk(w, [dave], range(0, 9))
        assert dave.log == [
            (0, "mail payment_failed"),
            (0, "mail update_payment_method"),
            (0, "automatic_collection FAILED"),
            (1, "status PAST_DUE"),
            (3, "mail payment_reminder"),
            (7, "mail final_notice"),
        ]
        number = w.payments.invoice(dave.invoice).number
        [update] = [
            email.message_from_bytes(e.content, policy=email.policy.default)
            for e in w.smtp.inbox.received
            if subject("update_payment_method", number)
            in unfolded(str(email.message_from_bytes(e.content)["Subject"]))
        ]
        body = update.get_body(preferencelist=("plain",)).get_content()
        customer_id = dave.customer.name.removeprefix("customers/")
        invoice_id = dave.invoice.name.removeprefix("invoices/")
        link = f"update-payment-method?customer={customer_id}&invoice={invoice_id}"
        assert link in body
        assert "50.00" in body
        assert decline_reason("stolen_card") in " ".join(body.split())
        case = w.case(dave.invoice)
        assert (case.retries_stopped, case.first_decline_code) == (True, "stolen_card")
