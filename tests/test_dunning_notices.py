"""Dunning notices (ADR 0043, issue 16).

Rendering: every placeholder filled as the documents write money and dates, in the
customer's locale and zone; a hostile template or value stays text (nothing evaluated,
nothing substituted twice); a line break in a value cannot add a mail header; sizes bounded;
templates read and checked once, at start. Decline codes in plain words, every one.

The `send_dunning_notice` due work over a real SMTP server, on both backends: the case row is
written through the store next to a real invoice made over gRPC (the case engine is not
needed to send a notice), the item scheduled, the clock advanced, the email read back.
"""

from __future__ import annotations

import email
import email.policy
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import grpc
import pytest
import sqlalchemy as sa

from billing.app.dunning_kinds import SEND_DUNNING_NOTICE
from billing.app.ids import new_id
from billing.app.payment_due_work import NEVER_CHARGED
from billing.app.ports import DueItem
from billing.config import SettingsError
from billing.delivery import SmtpSettings
from billing.delivery._smtp import build_text_message
from billing.delivery.notice_templates import load_notice_templates, with_notice_templates
from billing.delivery.notices import TemplateNotices, notice_values
from billing.domain.decline_reasons import DECLINE_REASONS, UNKNOWN_REASON, decline_reason
from billing.domain.dunning import (
    CaseStatus,
    DunningCase,
    DunningPolicy,
    RetrySchedule,
)
from billing.domain.notices import (
    ELLIPSIS,
    PLACEHOLDERS,
    SUBJECT_CHARS_MAX,
    VALUE_CHARS_MAX,
    NoticeFacts,
    NoticeTemplate,
    NoticeTemplateInvalid,
    NoticeTemplateMissing,
    next_retry_at,
    parse_notice_template,
    render,
)
from billing.plugins.engines import DECLINE_CODES
from billing.plugins.registry import load_engines
from billing.rules import load_rule_set_from_files
from billing.rules.model import RuleSet
from billing.rules_cli import check
from billing.runtime import Runtime
from billing_client.v1 import customers_pb2
from billing_client.v1 import payments_pb2 as pp
from billing_fixtures import Billing, rules
from conftest import Database, ThreadedServer, auth, make_token, server_settings
from payments_fixtures import Payments
from test_delivery import REFUSED, SENDER, Inbox, Server, free_port, start

REPO = Path(__file__).resolve().parents[1]
TEMPLATES = REPO / "rules" / "templates"
START = datetime(2026, 4, 1, tzinfo=UTC)
TENANT = "t_notices"
SELLER = "Acme Billing Ltd"
UPDATE_URL = "https://pay.example.com/update?customer={customer}&invoice={invoice}"
INVOICING = (
    "kind: invoicing\ntime_zone: utc\ncollection_method: send_invoice\n"
    f"email_invoices: false\nseller: {{name: {SELLER}}}\n"
)
DUNNING = f"""kind: dunning
update_method_url: "{UPDATE_URL}"
policies:
  - name: standard
    retries: {{after: [3d, 5d], at: "10:00"}}
    declines: {{hard_notice: update_payment_method, requires_action_notice: authenticate_payment}}
    steps:
      - {{after: 0d, action: notice, template: payment_failed}}
      - {{after: 7d, action: notice, template: final_notice}}
cases:
  - {{policy: standard}}
"""


def rule_files() -> dict[str, bytes]:
    files = rules()
    files["invoicing.yaml"] = INVOICING.encode()
    files["dunning.yaml"] = DUNNING.encode()
    return files


@pytest.fixture(scope="module")
def rule_set() -> RuleSet:
    engines = with_notice_templates(load_engines(), TEMPLATES)
    return load_rule_set_from_files(rule_files(), engines.by_kind)


def facts(**changes: Any) -> NoticeFacts:
    base = NoticeFacts(
        customer_id="cus_1",
        customer_name="Jane Doe",
        locale="en-US",
        time_zone="America/New_York",
        invoice_id="inv_1",
        invoice_number="INV-2026-000042",
        amount_minor=123456,
        currency="USD",
        decline_code="insufficient_funds",
        action_url="https://bank.example/3ds/abc",
        # 01:30 UTC on April 4 is still April 3 in New York: the customer's date is shown.
        next_retry=datetime(2026, 4, 4, 1, 30, tzinfo=UTC),
    )
    return replace(base, **changes)


ALL_PLACEHOLDERS = (
    "Subject: ${invoice_number} for ${amount} from ${seller_name}\n\n"
    + "|".join("${" + name + "}" for name in PLACEHOLDERS)
    + "\n"
)


# --- rendering ------------------------------------------------------------------------------


def test_every_placeholder_is_filled_as_the_documents_write_it(rule_set: RuleSet) -> None:
    notices = TemplateNotices({"all": parse_notice_template("all", ALL_PLACEHOLDERS)})
    notice = notices.compose("all", facts(), rule_set)
    assert notice.subject == "INV-2026-000042 for $1,234.56 from Acme Billing Ltd"
    assert notice.body == (
        "Jane Doe|INV-2026-000042|$1,234.56|the card did not have enough funds available"
        "|https://pay.example.com/update?customer=cus_1&invoice=inv_1"
        "|https://bank.example/3ds/abc|Apr 3, 2026|Acme Billing Ltd\n"
    )


def test_amount_and_date_follow_the_customers_locale_and_zone(rule_set: RuleSet) -> None:
    german = facts(locale="de-DE", currency="EUR", time_zone="Europe/Berlin")
    values = notice_values(german, rule_set)
    assert values["amount"] == "1.234,56\xa0€"
    assert values["next_retry"] == "04.04.2026"  # 03:30 on April 4 in Berlin
    # A tag the customer record allows but CLDR lacks is written the default way.
    assert notice_values(facts(locale="zz-ZZ"), rule_set)["amount"] == "$1,234.56"
    assert notice_values(facts(currency="JPY", amount_minor=5000), rule_set)["amount"] == "¥5,000"


def test_no_retry_left_reads_none_scheduled_and_missing_links_are_empty(rule_set: RuleSet) -> None:
    values = notice_values(facts(next_retry=None, action_url=""), rule_set)
    assert (values["next_retry"], values["action_url"]) == ("none scheduled", "")


def test_update_method_url_ids_are_percent_encoded(rule_set: RuleSet) -> None:
    values = notice_values(facts(customer_id="cus 1&x=y", invoice_id="inv/1"), rule_set)
    assert values["update_method_url"] == (
        "https://pay.example.com/update?customer=cus%201%26x%3Dy&invoice=inv%2F1"
    )


def test_a_hostile_template_stays_text() -> None:
    hostile = NoticeTemplate(
        "hostile",
        "Pay ${amount} {{7*7}} $$ ${__class__}",
        "${__class__} ${customer_name.__class__} $customer_name.__init__ {{7*7}} {7*7}"
        " $$amount $$ $5 ${amount:>9} ${__import__('os').system('id')}\n",
    )
    notice = render(hostile, {"amount": "$50.00", "customer_name": "Jane", "__class__": "x"})
    assert notice.subject == "Pay $50.00 {{7*7}} $ ${__class__}"
    assert notice.body == (
        "${__class__} ${customer_name.__class__} Jane.__init__ {{7*7}} {7*7}"
        " $amount $ $5 ${amount:>9} ${__import__('os').system('id')}\n"
    )


def test_a_value_is_never_substituted_again() -> None:
    template = NoticeTemplate("t", "Hello ${customer_name}", "${customer_name} owes ${amount}\n")
    name = "${amount} $$ {{7*7}} ${__class__} %(amount)s {amount}"
    notice = render(template, {"customer_name": name, "amount": "$1.00"})
    assert notice.subject == f"Hello {name}"
    assert notice.body == f"{name} owes $1.00\n"


def test_a_line_break_in_a_value_cannot_add_a_mail_header() -> None:
    template = NoticeTemplate("t", "Invoice for ${customer_name}", "Hello ${customer_name}\n")
    evil = "Jane\r\nBcc: thief@evil.example\nX-Injected: 1\u2028Reply-To: a@evil.example"
    notice = render(template, {"customer_name": evil})
    flat = "Jane  Bcc: thief@evil.example X-Injected: 1 Reply-To: a@evil.example"
    assert notice.subject == f"Invoice for {flat}"
    assert notice.body == f"Hello {flat}\n"
    settings = SmtpSettings.from_url(f"smtp://127.0.0.1:25?from={SENDER}&starttls=false")
    message = build_text_message(settings, "jane@example.org", notice.subject, notice.body, "r1")
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert sorted(parsed.keys()) == [
        "Content-Transfer-Encoding",
        "Content-Type",
        "Date",
        "From",
        "MIME-Version",
        "Message-ID",
        "Subject",
        "To",
    ]
    assert parsed["Subject"] == notice.subject
    assert parsed["Message-ID"] == "<r1@example.com>"
    # And a subject that still held a break (a caller's bug) is refused, not sent.
    with pytest.raises(ValueError, match="line breaks"):
        build_text_message(settings, "jane@example.org", "a\r\nBcc: x@y.z", "body", "r1")


def test_values_and_the_subject_are_bounded() -> None:
    template = NoticeTemplate("t", "${customer_name} ${customer_name}", "${customer_name}\n")
    notice = render(template, {"customer_name": "x" * 5000})
    assert notice.body == "x" * (VALUE_CHARS_MAX - 1) + ELLIPSIS + "\n"
    assert notice.subject == "x" * (SUBJECT_CHARS_MAX - 1) + ELLIPSIS


def test_a_template_is_checked_whole_when_parsed() -> None:
    with pytest.raises(NoticeTemplateInvalid) as refused:
        parse_notice_template("bad", "Hello ${customer_nmae}\nnot blank\nBody\n")
    assert str(refused.value) == (
        "notice template bad: the first line must be `Subject: ...`; the second line must be"
        " blank (it ends the subject); unknown placeholder(s) ${customer_nmae}; known: "
        + ", ".join(PLACEHOLDERS)
    )
    with pytest.raises(NoticeTemplateInvalid, match="the subject is empty; the body is empty"):
        parse_notice_template("empty", "Subject:   \n\n  \n")
    parsed = parse_notice_template("crlf", "\ufeffSubject: Hi ${seller_name}\r\n\r\nBody\r\n")
    assert (parsed.subject, parsed.body) == ("Hi ${seller_name}", "Body\n")


def test_the_repository_templates_load_once_and_serve_without_their_files(
    tmp_path: Path, rule_set: RuleSet
) -> None:
    loaded = load_notice_templates(TEMPLATES)
    assert sorted(loaded) == [
        "authenticate_payment",
        "final_notice",
        "payment_failed",
        "payment_reminder",
        "update_payment_method",
    ]
    (tmp_path / "notices").mkdir()
    (tmp_path / "notices" / "hello.txt").write_text("Subject: Hi ${customer_name}\n\nBye\n")
    notices = TemplateNotices(load_notice_templates(tmp_path))
    (tmp_path / "notices" / "hello.txt").unlink()  # read at start: a send reads no file
    assert notices.compose("hello", facts(), rule_set).subject == "Hi Jane Doe"
    with pytest.raises(NoticeTemplateMissing, match="no notice template 'gone'"):
        notices.compose("gone", facts(), rule_set)


def test_a_bad_or_oversized_template_stops_the_start(tmp_path: Path) -> None:
    notices = tmp_path / "notices"
    notices.mkdir()
    (notices / "typo.txt").write_text("Subject: Hi\n\nPay ${amonut}\n")
    (notices / "huge.txt").write_text("Subject: Hi\n\n" + "x" * 17_000)
    settings = server_settings(
        f"sqlite+aiosqlite:///{tmp_path}/billing.db", templates_dir=str(tmp_path)
    )
    with pytest.raises(SettingsError) as refused:
        Runtime(settings)
    message = str(refused.value)
    assert message.startswith("BILLING_TEMPLATES_DIR: ")
    assert f"{notices / 'huge.txt'}: 17013 bytes; at most 16384" in message
    assert "unknown placeholder(s) ${amonut}" in message


def test_rules_check_refuses_a_bad_notice_template(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, data in rule_files().items():
        (tmp_path / name).write_bytes(data)
    notices = tmp_path / "templates" / "notices"
    notices.mkdir(parents=True)
    for path in (TEMPLATES / "notices").iterdir():
        (notices / path.name).write_bytes(path.read_bytes())
    assert check(tmp_path) == 0
    (notices / "payment_failed.txt").write_text("Subject: Hi\n\nPay ${amonut}\n")
    assert check(tmp_path) == 1
    err = capsys.readouterr().err
    assert "payment_failed.txt: notice template payment_failed: unknown placeholder(s)" in err
    assert err.endswith(f"{tmp_path}: refused, a notice template is invalid\n")


def test_every_decline_code_has_plain_words() -> None:
    codes = DECLINE_CODES | {NEVER_CHARGED, "fraud_blocked"}
    assert set(DECLINE_REASONS) == codes
    for code in codes:
        words = decline_reason(code)
        assert words and words == words.strip() and not words.endswith(".")
        assert words[0].islower() and "_" not in words, code
    assert decline_reason("insufficient_funds") == "the card did not have enough funds available"
    # Stolen, lost or fraud: told as a plain refusal, never why.
    for code in ("stolen_card", "lost_card", "pickup_card", "fraudulent"):
        assert decline_reason(code) == "your bank declined the card, and it cannot be charged again"
    assert decline_reason("fraud_blocked") == "the payment was declined"
    assert decline_reason("some_new_code") == decline_reason("") == UNKNOWN_REASON


def test_next_retry_is_the_cases_next_retry_in_its_zone() -> None:
    policy = DunningPolicy("p", RetrySchedule((timedelta(days=3), timedelta(days=5))))
    case = _case(CaseStatus.ACTIVE)
    assert next_retry_at(policy, case) == START + timedelta(days=3)
    assert next_retry_at(policy, replace(case, retries_done=1, shift=timedelta(hours=2))) == (
        START + timedelta(days=5, hours=2)
    )
    assert next_retry_at(policy, replace(case, retries_done=2)) is None
    assert next_retry_at(policy, replace(case, retries_stopped=True)) is None


# --- the due work, over SMTP ----------------------------------------------------------------


def _case(status: CaseStatus, **fields: Any) -> DunningCase:
    values: dict[str, Any] = {
        "id": new_id("dun"),
        "customer_id": "cus_1",
        "invoice_id": "inv_1",
        "subscription_id": None,
        "clock_id": None,
        "policy": "standard",
        "rule_set": "",
        "status": status,
        "started_at": START,
        "amount_minor": 5000,
        "currency": "USD",
        "time_zone": "America/New_York",
        "decline_code": "insufficient_funds",
        "first_decline_code": "insufficient_funds",
        "created_at": START,
        "updated_at": START,
    }
    values.update(fields)
    return DunningCase(**values)


@dataclass
class World:
    """A server mailing through a local SMTP server, a tenant with the dunning rules, a
    customer on a clock at START and the open invoice of its Pro subscription (50.00)."""

    database: Database
    running: ThreadedServer
    smtp_port: int
    inbox: Inbox
    billing: Billing
    payments: Payments
    rule_set: str
    clock: Any
    customer: customers_pb2.Customer
    invoice: Any

    @property
    def customer_id(self) -> str:
        return self.customer.name.removeprefix("customers/")

    @property
    def invoice_id(self) -> str:
        return self.invoice.name.removeprefix("invoices/")

    def open_case(self, status: CaseStatus = CaseStatus.ACTIVE, **fields: Any) -> DunningCase:
        case = _case(
            status,
            customer_id=self.customer_id,
            invoice_id=self.invoice_id,
            subscription_id=self.invoice.subscription.removeprefix("subscriptions/"),
            clock_id=self.clock.name.removeprefix("clocks/"),
            rule_set=self.rule_set,
            **fields,
        )
        self._write(lambda tx: tx.dunning_cases.insert(TENANT, case))
        return case

    def recover(self, case: DunningCase) -> None:
        """What the case engine's recovery does to the row."""
        recovered = replace(
            case, status=CaseStatus.RECOVERED, ended_at=START, version=case.version + 1
        )

        async def update(tx: Any) -> None:
            assert await tx.dunning_cases.update(TENANT, recovered, case.version)

        self._write(update)

    def schedule(
        self,
        case: DunningCase,
        template: str,
        *,
        channel: str = "email",
        attempt_id: str = "",
        due_at: datetime = START + timedelta(minutes=1),
    ) -> str:
        """A `send_dunning_notice` item, as a notice step or a decline schedules it."""
        payload = {
            "case_id": case.id,
            "template": template,
            "channel": channel,
            "step": "steps[0]",
            "attempt_id": attempt_id,
        }
        item = DueItem(
            TENANT,
            new_id("due"),
            SEND_DUNNING_NOTICE,
            case.id,
            case.clock_id,
            due_at,
            json.dumps(payload),
        )
        self._write(lambda tx: tx.due_work.schedule(item))
        return item.id

    def run(self, item_id: str) -> dict[str, Any]:
        """Advance the clock past the item and wait until it is done; its row."""
        self.billing.advance(self.clock, "2026-04-01T00:02:00Z")
        return self.wait(item_id, lambda row: row["done_at"] is not None)

    def wait(self, item_id: str, until: Any) -> dict[str, Any]:
        deadline = time.monotonic() + 30
        while True:
            [row] = self.rows("SELECT * FROM due_work WHERE id = :i", i=item_id)
            if until(row):
                return dict(row)
            if time.monotonic() > deadline:
                raise AssertionError(f"due item {item_id}: {dict(row)}")
            time.sleep(0.05)

    def events(self, case: DunningCase) -> list[tuple[str, dict[str, Any]]]:
        rows = self.rows(
            "SELECT event_type, payload FROM outbox_events WHERE resource_name = :r ORDER BY id",
            r=case.name,
        )
        return [
            (
                row["event_type"],
                json.loads(row["payload"]) if isinstance(row["payload"], str) else row["payload"],
            )
            for row in rows
        ]

    def rows(self, sql: str, **params: Any) -> list[Any]:
        engine = sa.create_engine(self.database.sync_url)
        try:
            with engine.connect() as conn:
                return list(conn.execute(sa.text(sql), params).mappings())
        finally:
            engine.dispose()

    def _write(self, work: Any) -> None:
        async def go() -> None:
            async with self.running.runtime.store.write(None) as tx:
                await work(tx)

        self.running._call(go())


@contextmanager
def world(
    database: Database,
    *,
    email: str = "ap@acme.example",
    smtp_up: bool = True,
    mail: bool = True,
    **settings: Any,
) -> Iterator[World]:
    """`smtp_up`: the SMTP server listens from the start; `mail`: the server has an SMTP URL
    at all (without one, email delivery is off)."""
    port = free_port()
    inbox = Inbox()
    smtp = start(inbox, port=port) if smtp_up else None
    if smtp is not None:
        next(smtp)
    running = ThreadedServer(
        server_settings(
            database.async_url,
            smtp_url=f"smtp://127.0.0.1:{port}?from={SENDER}&starttls=false" if mail else "",
            templates_dir=str(TEMPLATES),
            **settings,
        )
    )
    try:
        with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            billing = Billing(channel, auth(make_token(TENANT)))
            pushed = billing.push(rule_files())
            clock = billing.clock("2026-04-01T00:00:00Z")
            customer = billing.customers.CreateCustomer(
                customers_pb2.CreateCustomerRequest(
                    customer=customers_pb2.Customer(
                        display_name="Acme Corp",
                        currency_code="USD",
                        email=email,
                        time_zone="America/New_York",
                        clock=clock.name,
                    ),
                    request_id=new_id("req"),
                ),
                metadata=billing.metadata,
            )
            [invoice] = billing.invoices_of(billing.subscribe(customer, "pro_monthly"))
            yield World(
                database,
                running,
                port,
                inbox,
                billing,
                Payments(channel, billing),
                pushed.content_hash,
                clock,
                customer,
                invoice,
            )
    finally:
        running.stop()
        if smtp is not None:
            smtp.close()


def _message(inbox: Inbox) -> EmailMessage:
    return Server(inbox, 0).message()


def _body(message: EmailMessage) -> str:
    text: str = message.get_content()
    return text.replace("\r\n", "\n")  # as it crossed SMTP


def _subject(message: EmailMessage) -> str:
    # A subject longer than a line is folded right after `Subject:`; Python's parser keeps
    # the space that follows the colon, which a mail client drops when it unfolds.
    return str(message["Subject"]).removeprefix(" ")


def _update_url(w: World) -> str:
    return f"https://pay.example.com/update?customer={w.customer_id}&invoice={w.invoice_id}"


def test_a_payment_failed_notice_is_emailed_with_every_fact(make_database, backend) -> None:
    with world(make_database(backend)) as w:
        declined = w.payments.pay(
            w.invoice, w.payments.attach(w.customer, "tok_insufficient_funds")
        )
        assert (declined.status, declined.decline_code) == (pp.FAILED, "insufficient_funds")
        attempt_id = declined.name.removeprefix("paymentAttempts/")
        case = w.open_case()
        item_id = w.schedule(case, "payment_failed", attempt_id=attempt_id)
        w.run(item_id)
        [envelope] = w.inbox.received
        assert envelope.rcpt_tos == ["ap@acme.example"]
        message = _message(w.inbox)
        number = w.invoice.number
        assert _subject(message) == f"We could not collect payment for invoice {number}"
        assert message["From"] == SENDER
        assert message["To"] == "ap@acme.example"
        assert message["Message-ID"] == f"<dunning.{item_id}@example.com>"
        assert message.get_content_type() == "text/plain"
        assert _body(message) == (
            "Hello Acme Corp,\n\n"
            f"We tried to collect $50.00 for invoice {number}, but the payment did not go\n"
            "through: the card did not have enough funds available.\n\n"
            # retries at 10:00 New York time, 3 days after 20:00 on March 31 there
            "We will try your payment method again automatically. Next attempt: Apr 3, 2026.\n\n"
            "To pay now or use another payment method:\n"
            f"{_update_url(w)}\n\n"
            "Acme Billing Ltd\n"
        )
        assert w.events(case) == [
            (
                "dunning.notice_sent",
                {
                    "template": "payment_failed",
                    "channel": "email",
                    "step": "steps[0]",
                    "attempt": attempt_id,
                    "to": "ap@acme.example",
                    "message_id": f"<dunning.{item_id}@example.com>",
                },
            )
        ]


def test_an_authentication_notice_carries_the_attempts_link(make_database, backend) -> None:
    with world(make_database(backend)) as w:
        waiting = w.payments.pay(w.invoice, w.payments.attach(w.customer, "tok_requires_action"))
        assert waiting.status == pp.REQUIRES_ACTION and waiting.action_url.startswith("https://")
        case = w.open_case(decline_code="")
        item_id = w.schedule(
            case, "authenticate_payment", attempt_id=waiting.name.removeprefix("paymentAttempts/")
        )
        w.run(item_id)
        message = _message(w.inbox)
        assert _subject(message) == f"Please confirm your payment for invoice {w.invoice.number}"
        body = _body(message)
        assert f"Confirm it here: {waiting.action_url}\n" in body
        assert f"the payment of $50.00 for invoice {w.invoice.number}." in body


def test_a_case_recovered_before_the_send_emails_nothing(make_database, backend) -> None:
    with world(make_database(backend)) as w:
        case = w.open_case()
        item_id = w.schedule(case, "payment_failed")
        w.recover(case)  # the customer paid between the decision and the send
        w.run(item_id)
        assert w.inbox.received == []
        assert w.events(case) == []


def test_an_invoice_paid_before_the_send_emails_nothing(make_database, backend) -> None:
    with world(make_database(backend)) as w:
        case = w.open_case()
        item_id = w.schedule(case, "payment_reminder")
        paid = w.payments.pay(w.invoice, w.payments.attach(w.customer, "tok_visa"))
        assert paid.status == pp.SUCCEEDED
        w.run(item_id)
        assert w.inbox.received == []
        assert [kind for kind, _ in w.events(case) if kind.startswith("dunning.notice")] == []


def test_a_customer_without_email_is_skipped_with_an_event(make_database, backend) -> None:
    with world(make_database(backend), email="") as w:
        case = w.open_case()
        w.run(w.schedule(case, "payment_failed"))
        assert w.inbox.received == []
        assert w.events(case) == [
            (
                "dunning.notice_skipped",
                {
                    "template": "payment_failed",
                    "channel": "email",
                    "step": "steps[0]",
                    "attempt": "",
                    "reason": "the customer has no email address",
                },
            )
        ]


def test_a_refused_recipient_fails_the_notice_at_once(make_database, backend) -> None:
    with world(make_database(backend), email=REFUSED) as w:
        case = w.open_case()
        row = w.run(w.schedule(case, "final_notice"))
        assert row["attempts"] == 1  # a 5xx is permanent: not tried again
        [(kind, details)] = w.events(case)
        assert kind == "dunning.notice_failed"
        assert details["attempts"] == 1
        assert "550 5.1.1 <nobody@example.com>: no such user" in details["error"]


def test_a_mail_server_down_is_tried_again_and_sends_once(make_database, backend) -> None:
    database = make_database(backend)
    with world(database, smtp_up=False, due_work_retry_base_ms=200) as w:
        case = w.open_case()
        # Due at the clock's time: the server's own worker takes it, and fails to connect.
        item_id = w.schedule(case, "update_payment_method", due_at=START)
        row = w.wait(item_id, lambda r: r["last_error"] is not None)
        assert row["done_at"] is None and "cannot talk to the server" in row["last_error"]
        mail = start(w.inbox, port=w.smtp_port)
        next(mail)
        try:
            row = w.run(item_id)
        finally:
            mail.close()
        assert row["attempts"] >= 2
        message = _message(w.inbox)
        assert _subject(message) == (
            f"Your payment method for invoice {w.invoice.number} can no longer be charged"
        )
        assert f"Please add a new payment method: {_update_url(w)}\n" in _body(message)
        assert [kind for kind, _ in w.events(case)] == ["dunning.notice_sent"]


def test_another_channel_goes_through_the_registered_plugin(
    make_database, backend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="billing.notifications")
    with world(make_database(backend)) as w:
        case = w.open_case()
        item_id = w.schedule(case, "payment_reminder", channel="log")
        w.run(item_id)
        assert w.inbox.received == []  # not email
        [(kind, details)] = w.events(case)
        assert (kind, details["to"], details["message_id"]) == (
            "dunning.notice_sent",
            w.customer.name,
            f"dunning.{item_id}",
        )
        [record] = [r for r in caplog.records if r.name == "billing.notifications"]
        assert (record.recipient, record.template, record.tenant_id) == (  # type: ignore[attr-defined]
            w.customer.name,
            "payment_reminder",
            TENANT,
        )


def test_delivery_off_skips_with_an_event(make_database, backend) -> None:
    with world(make_database(backend), mail=False) as w:
        case = w.open_case()
        w.run(w.schedule(case, "payment_failed"))
        assert w.events(case) == [
            (
                "dunning.notice_skipped",
                {
                    "template": "payment_failed",
                    "channel": "email",
                    "step": "steps[0]",
                    "attempt": "",
                    "reason": "email delivery is off (no SMTP server)",
                },
            )
        ]
