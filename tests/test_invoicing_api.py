"""Invoicing over a real channel, on SQLite and PostgreSQL: lifecycle, numbering, coupons,
credit notes, explanations, previews."""

from __future__ import annotations

import json
import uuid

import grpc
import pytest
from google.protobuf import field_mask_pb2

from billing_client.v1 import audit_pb2 as apb
from billing_client.v1 import audit_pb2_grpc, coupons_pb2_grpc, money_pb2
from billing_client.v1 import coupons_pb2 as cp
from billing_client.v1 import invoices_pb2 as ip
from billing_fixtures import Billing, amounts, iso, rules
from grpc_helpers import error_info


@pytest.fixture
def billing(channel, tenant) -> Billing:
    return Billing(channel, tenant.metadata)


@pytest.fixture
def coupons(channel) -> coupons_pb2_grpc.CouponServiceStub:
    return coupons_pb2_grpc.CouponServiceStub(channel)


def rid() -> str:
    return uuid.uuid4().hex


def with_plan_at(files: dict[str, bytes], code: str, amount: str) -> dict[str, bytes]:
    extra = f"""  - code: {code}
    name: Small
    product: basic
    interval: month
    prices: [{{currency: USD, amount: {amount}}}]
plan_changes:"""
    files["catalog.yaml"] = (
        files["catalog.yaml"].decode().replace("plan_changes:", extra, 1).encode()
    )
    return files


@pytest.mark.parametrize(
    ("rounding", "discount", "total"), [("half_up", 253, 757), ("half_even", 252, 758)]
)
def test_a_repeating_coupon_for_three_periods(billing, coupons, rounding, discount, total):
    billing.push(with_plan_at(rules(rounding=rounding), "small_monthly", "10.10"))
    coupons.CreateCoupon(
        cp.CreateCouponRequest(
            coupon=cp.Coupon(
                name="coupons/QUARTER", percent_off="25", duration=cp.REPEATING, duration_periods=3
            ),
            request_id=rid(),
        ),
        metadata=billing.metadata,
    )
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "small_monthly", coupon="coupons/QUARTER")
    assert (sub.coupon, sub.coupon_periods_left) == ("coupons/QUARTER", 2)
    billing.advance(clock, "2026-08-01T00:00:00Z")
    invoices = billing.invoices_of(sub)
    assert [i.total.amount_minor for i in invoices] == [total, total, total, 1010, 1010]
    assert amounts(invoices[0].lines) == [1010, -discount]
    assert invoices[0].lines[1].kind == "discount"
    assert billing.get(sub).coupon == ""


def test_a_credit_note_on_a_paid_invoice_becomes_credit_for_the_next(billing):
    billing.push(rules())
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "pro_monthly")
    [first] = billing.invoices_of(sub)
    paid = billing.invoices.MarkPaid(
        ip.MarkPaidRequest(name=first.name, payment_reference="wire-42", request_id=rid()),
        metadata=billing.metadata,
    )
    assert (paid.status, paid.amount_due.amount_minor, paid.payment_reference) == (
        ip.PAID,
        0,
        "wire-42",
    )
    note = billing.invoices.CreateCreditNote(
        ip.CreateCreditNoteRequest(
            invoice=first.name,
            amount=money_pb2.Money(currency_code="USD", amount_minor=1000),
            reason="goodwill",
            request_id=rid(),
        ),
        metadata=billing.metadata,
    )
    assert note.applied_to == "credit_balance"
    assert note.number == "CN-2026-000001"
    billing.advance(clock, "2026-05-01T00:00:00Z")
    renewal = billing.invoices_of(sub)[-1]
    assert (
        renewal.total.amount_minor,
        renewal.credit_applied.amount_minor,
        renewal.amount_due.amount_minor,
    ) == (5000, 1000, 4000)


def test_a_credit_note_on_an_open_invoice_reduces_what_is_due(billing):
    billing.push(rules())
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "pro_monthly")
    [invoice] = billing.invoices_of(sub)
    billing.invoices.CreateCreditNote(
        ip.CreateCreditNoteRequest(
            invoice=invoice.name,
            amount=money_pb2.Money(currency_code="USD", amount_minor=1500),
            request_id=rid(),
        ),
        metadata=billing.metadata,
    )
    after = billing.invoices.GetInvoice(
        ip.GetInvoiceRequest(name=invoice.name), metadata=billing.metadata
    )
    assert (
        after.total.amount_minor,
        after.amount_due.amount_minor,
        after.credited.amount_minor,
    ) == (5000, 3500, 1500)
    with pytest.raises(grpc.RpcError) as failure:
        billing.invoices.CreateCreditNote(
            ip.CreateCreditNoteRequest(
                invoice=invoice.name,
                amount=money_pb2.Money(currency_code="USD", amount_minor=3501),
                request_id=rid(),
            ),
            metadata=billing.metadata,
        )
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_numbers_are_gapless_drafts_have_none_and_void_keeps_its_own(billing):
    billing.push(rules())
    clock = billing.clock("2026-11-01T00:00:00Z")
    customer = billing.customer(clock)
    sub = billing.subscribe(customer, "basic_monthly")
    draft = billing.invoices.CreateInvoice(
        ip.CreateInvoiceRequest(customer=customer.name, request_id=rid()), metadata=billing.metadata
    )
    assert (draft.status, draft.number) == (ip.DRAFT, "")
    billing.advance(clock, "2027-02-01T00:00:00Z")
    numbers = [i.number for i in billing.invoices_of(sub)]
    assert numbers == ["INV-2026-000001", "INV-2026-000002", "INV-2027-000001", "INV-2027-000002"]
    voided = billing.invoices.VoidInvoice(
        ip.VoidInvoiceRequest(name=billing.invoices_of(sub)[0].name, request_id=rid()),
        metadata=billing.metadata,
    )
    assert (voided.status, voided.number) == (ip.VOID, "INV-2026-000001")
    with pytest.raises(grpc.RpcError) as failure:
        billing.invoices.CreateCreditNote(
            ip.CreateCreditNoteRequest(
                invoice=voided.name,
                amount=money_pb2.Money(currency_code="USD", amount_minor=100),
                request_id=rid(),
            ),
            metadata=billing.metadata,
        )
    assert failure.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_renewals_numbered_at_commit_follow_the_format_rule_past_its_width(billing):
    # The creation invoice is numbered inline (an RPC), renewals as their transaction commits
    # (on PostgreSQL by the batch's last statement, ADR 0019): one series, formatted alike,
    # no gap.
    files = rules()
    files["invoicing.yaml"] = b"kind: invoicing\nnumber_format: ACME/{year}/{seq:01d}\n"
    billing.push(files)
    clock = billing.clock("2026-01-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "basic_monthly")
    billing.advance(clock, "2027-01-01T00:00:00Z")
    numbers = [i.number for i in billing.invoices_of(sub)]
    assert numbers == [*(f"ACME/2026/{n}" for n in range(1, 13)), "ACME/2027/1"]


def test_a_one_off_draft_is_edited_then_finalized_then_frozen(billing):
    billing.push(rules())
    customer = billing.customer(billing.clock("2026-04-01T00:00:00Z"))
    draft = billing.invoices.CreateInvoice(
        ip.CreateInvoiceRequest(customer=customer.name, memo="Setup", request_id=rid()),
        metadata=billing.metadata,
    )
    edited = billing.invoices.AddInvoiceLine(
        ip.AddInvoiceLineRequest(
            invoice=draft.name,
            description="Onboarding",
            quantity="3",
            unit_amount="12.345",
            request_id=rid(),
        ),
        metadata=billing.metadata,
    )
    assert amounts(edited.lines) == [3704]  # 37.035 rounded once, half up
    final = billing.invoices.FinalizeInvoice(
        ip.FinalizeInvoiceRequest(name=draft.name, request_id=rid()), metadata=billing.metadata
    )
    assert (final.status, final.number, final.total.amount_minor) == (
        ip.OPEN,
        "INV-2026-000001",
        3704,
    )
    refusals = [
        lambda: billing.invoices.AddInvoiceLine(
            ip.AddInvoiceLineRequest(
                invoice=draft.name, description="x", unit_amount="1", request_id=rid()
            ),
            metadata=billing.metadata,
        ),
        lambda: billing.invoices.DeleteInvoice(
            ip.DeleteInvoiceRequest(name=draft.name, request_id=rid()), metadata=billing.metadata
        ),
        lambda: billing.invoices.FinalizeInvoice(
            ip.FinalizeInvoiceRequest(name=draft.name, request_id=rid()), metadata=billing.metadata
        ),
        lambda: billing.invoices.UpdateInvoice(
            ip.UpdateInvoiceRequest(
                invoice=ip.Invoice(name=draft.name, memo="late"),
                update_mask=field_mask_pb2.FieldMask(paths=["memo"]),
                request_id=rid(),
            ),
            metadata=billing.metadata,
        ),
        lambda: billing.invoices.ApplyCoupon(
            ip.ApplyCouponRequest(invoice=draft.name, coupon="coupons/ANY", request_id=rid()),
            metadata=billing.metadata,
        ),
    ]
    for refused in refusals:
        with pytest.raises(grpc.RpcError) as failure:
            refused()
        assert failure.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert error_info(failure.value).reason == "INVOICE_FINALIZED"
    paid = billing.invoices.MarkPaid(
        ip.MarkPaidRequest(name=draft.name, payment_reference="cash", request_id=rid()),
        metadata=billing.metadata,
    )
    assert paid.status == ip.PAID
    with pytest.raises(grpc.RpcError) as failure:
        billing.invoices.VoidInvoice(
            ip.VoidInvoiceRequest(name=draft.name, request_id=rid()), metadata=billing.metadata
        )
    assert failure.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_a_finalize_replayed_answers_its_number_and_its_audit_record_holds_it(
    billing, channel, tenant
):
    # On PostgreSQL the number is assigned by the transaction's last statement (ADR 0064),
    # which also writes the audit record and the stored result a replay answers with.
    billing.push(rules())
    customer = billing.customer(billing.clock("2026-04-01T00:00:00Z"))
    drafts = [
        billing.invoices.CreateInvoice(
            ip.CreateInvoiceRequest(customer=customer.name, request_id=rid()),
            metadata=billing.metadata,
        )
        for _ in range(2)
    ]
    for draft in drafts:
        billing.invoices.AddInvoiceLine(
            ip.AddInvoiceLineRequest(
                invoice=draft.name, description="Setup", unit_amount="5.00", request_id=rid()
            ),
            metadata=billing.metadata,
        )
    requests = [ip.FinalizeInvoiceRequest(name=d.name, request_id=rid()) for d in drafts]
    first = [billing.invoices.FinalizeInvoice(r, metadata=billing.metadata) for r in requests]
    replayed = [billing.invoices.FinalizeInvoice(r, metadata=billing.metadata) for r in requests]

    assert [f.number for f in first] == ["INV-2026-000001", "INV-2026-000002"]
    assert replayed == first
    assert [
        billing.invoices.GetInvoice(
            ip.GetInvoiceRequest(name=d.name), metadata=billing.metadata
        ).number
        for d in drafts
    ] == ["INV-2026-000001", "INV-2026-000002"]
    audit = audit_pb2_grpc.AuditServiceStub(channel)
    records = audit.ListAuditRecords(
        apb.ListAuditRecordsRequest(method="FinalizeInvoice", page_size=10),
        metadata=tenant.metadata,
    ).audit_records
    assert sorted(
        (r.resource, r.request_id, json.loads(r.changes_json)) for r in records
    ) == sorted(
        (d.name, r.request_id, {"number": f.number})
        for d, r, f in zip(drafts, requests, first, strict=True)
    )


def test_a_draft_can_be_deleted(billing):
    billing.push(rules())
    customer = billing.customer(billing.clock("2026-04-01T00:00:00Z"))
    draft = billing.invoices.CreateInvoice(
        ip.CreateInvoiceRequest(customer=customer.name, request_id=rid()), metadata=billing.metadata
    )
    billing.invoices.DeleteInvoice(
        ip.DeleteInvoiceRequest(name=draft.name, request_id=rid()), metadata=billing.metadata
    )
    with pytest.raises(grpc.RpcError) as failure:
        billing.invoices.GetInvoice(
            ip.GetInvoiceRequest(name=draft.name), metadata=billing.metadata
        )
    assert failure.value.code() == grpc.StatusCode.NOT_FOUND


def test_explain_invoice_shows_factor_period_and_rule_version(billing):
    pushed = billing.push(rules(granularity="day", behavior="create_prorations"))
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "basic_monthly")
    billing.change(sub, plan="pro_monthly", at="2026-04-16T00:00:00Z")
    billing.advance(clock, "2026-05-01T00:00:00Z")
    renewal = billing.invoices_of(sub)[-1]
    assert amounts(renewal.lines) == [-1500, 2500, 5000]
    assert renewal.total.amount_minor == 6000
    explained = billing.invoices.ExplainInvoice(
        ip.ExplainInvoiceRequest(name=renewal.name), metadata=billing.metadata
    )
    assert [line.rule_set for line in explained.lines] == [pushed.name] * 3
    prorations = explained.lines[:2]
    assert [line.proration_factor for line in prorations] == ["15/30 days", "15/30 days"]
    assert all(
        (iso(line.period_start), iso(line.period_end))
        == ("2026-04-16T00:00:00Z", "2026-05-01T00:00:00Z")
        for line in prorations
    )
    assert [line.unrounded_amount for line in prorations] == ["-15.00", "25.00"]
    assert all(line.rounding == "half_up" for line in explained.lines)
    assert explained.lines[2].rule_entry == "plan flat fee"


def test_upcoming_invoice_preview_writes_nothing(billing):
    billing.push(rules(granularity="day"))
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "basic_monthly")
    billing.change(sub, plan="pro_monthly", at="2026-04-16T00:00:00Z")
    upcoming = billing.invoices.PreviewUpcomingInvoice(
        ip.PreviewUpcomingInvoiceRequest(subscription=sub.name), metadata=billing.metadata
    )
    assert amounts(upcoming.lines) == [-1500, 2500, 5000]
    assert iso(upcoming.period_start) == "2026-05-01T00:00:00Z"
    assert len(billing.invoices_of(sub)) == 1
    billing.advance(clock, "2026-05-01T00:00:00Z")
    assert amounts(billing.invoices_of(sub)[-1].lines) == [-1500, 2500, 5000]


def test_run_billing_for_a_customer_catches_up_due_renewals(billing):
    from datetime import UTC, datetime, timedelta

    from billing_client.v1 import subscriptions_pb2

    billing.push(rules())
    customer = billing.customer()  # real time: no simulation clock
    start = datetime.now(UTC) - timedelta(days=70)
    stamp = subscriptions_pb2.CreateSubscriptionRequest().start_time
    stamp.FromDatetime(start)
    sub = billing.subscribe(customer, "basic_monthly", start_time=stamp)
    progress = list(
        billing.invoices.RunBilling(
            ip.RunBillingRequest(customer=customer.name, request_id=rid()),
            metadata=billing.metadata,
            timeout=60,
        )
    )
    assert progress[-1].finished
    assert progress[-1].remaining == 0
    invoices = billing.invoices_of(sub)
    assert len(invoices) == 3  # the first period and two renewals up to now
    assert [i.billing_reason for i in invoices] == [
        "subscription_create",
        "subscription_cycle",
        "subscription_cycle",
    ]
    with pytest.raises(grpc.RpcError) as failure:
        list(
            billing.invoices.RunBilling(
                ip.RunBillingRequest(request_id=rid()), metadata=billing.metadata
            )
        )
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_send_invoice_sets_a_due_date_from_net_terms_and_a_draft_takes_a_coupon(billing, coupons):
    files = rules()
    files["invoicing.yaml"] = (
        b"kind: invoicing\ntime_zone: utc\ncollection_method: send_invoice\nnet_terms_days: 14\n"
    )
    billing.push(files)
    coupons.CreateCoupon(
        cp.CreateCouponRequest(
            coupon=cp.Coupon(
                name="coupons/TENOFF",
                amount_off=money_pb2.Money(currency_code="USD", amount_minor=1000),
                duration=cp.ONCE,
            ),
            request_id=rid(),
        ),
        metadata=billing.metadata,
    )
    customer = billing.customer(billing.clock("2026-04-01T00:00:00Z"))
    draft = billing.invoices.CreateInvoice(
        ip.CreateInvoiceRequest(customer=customer.name, request_id=rid()), metadata=billing.metadata
    )
    billing.invoices.AddInvoiceLine(
        ip.AddInvoiceLineRequest(
            invoice=draft.name, description="Audit", unit_amount="75.00", request_id=rid()
        ),
        metadata=billing.metadata,
    )
    billing.invoices.UpdateInvoice(
        ip.UpdateInvoiceRequest(
            invoice=ip.Invoice(name=draft.name, memo="PO 4711"),
            update_mask=field_mask_pb2.FieldMask(paths=["memo"]),
            request_id=rid(),
        ),
        metadata=billing.metadata,
    )
    billing.invoices.ApplyCoupon(
        ip.ApplyCouponRequest(invoice=draft.name, coupon="coupons/TENOFF", request_id=rid()),
        metadata=billing.metadata,
    )
    final = billing.invoices.FinalizeInvoice(
        ip.FinalizeInvoiceRequest(name=draft.name, request_id=rid()), metadata=billing.metadata
    )
    assert amounts(final.lines) == [7500, -1000]
    assert (final.total.amount_minor, final.memo, final.coupon) == (
        6500,
        "PO 4711",
        "coupons/TENOFF",
    )
    assert iso(final.due_time) == "2026-04-15T00:00:00Z"


def test_charge_automatically_emits_payment_due(billing, server):
    billing.push(rules())
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "basic_monthly")
    [invoice] = billing.invoices_of(sub)
    assert not invoice.HasField("due_time")
    import sqlalchemy as sa

    engine = sa.create_engine(server.database.sync_url)
    try:
        with engine.connect() as conn:
            kinds = [
                r.event_type
                for r in conn.execute(
                    sa.text("SELECT event_type FROM outbox_events WHERE resource_name = :n"),
                    {"n": invoice.name},
                )
            ]
    finally:
        engine.dispose()
    # No payment method attached: automatic collection says so at once (ADR 0034).
    assert sorted(kinds) == [
        "invoice.finalized",
        "invoice.payment_due",
        "invoice.payment_method_missing",
    ]


def test_same_day_renewals_share_one_invoice_when_the_rules_consolidate(billing):
    files = rules()
    files["invoicing.yaml"] = b"kind: invoicing\nconsolidate_same_day: true\n"
    billing.push(files)
    clock = billing.clock("2026-04-01T00:00:00Z")
    customer = billing.customer(clock)
    basic = billing.subscribe(customer, "basic_monthly")
    pro = billing.subscribe(customer, "pro_monthly")
    billing.advance(clock, "2026-05-01T00:00:01Z")
    invoices = billing.invoices.ListInvoices(
        ip.ListInvoicesRequest(customer=customer.name), metadata=billing.metadata
    ).invoices
    renewals = [i for i in invoices if i.billing_reason == "subscription_cycle"]
    assert len(renewals) == 1
    [shared] = renewals
    assert (shared.status, shared.total.amount_minor, sorted(amounts(shared.lines))) == (
        ip.OPEN,
        8000,
        [3000, 5000],
    )
    assert shared.number.startswith("INV-2026-")
    assert [iso(shared.period_start)] == ["2026-05-01T00:00:00Z"]
    assert billing.get(basic).current_period_end == billing.get(pro).current_period_end


def test_a_coupon_discounts_only_its_own_subscriptions_lines_on_a_shared_invoice(billing, coupons):
    files = rules()
    files["invoicing.yaml"] = b"kind: invoicing\nconsolidate_same_day: true\n"
    billing.push(files)
    coupons.CreateCoupon(
        cp.CreateCouponRequest(
            coupon=cp.Coupon(
                name="coupons/HALF", percent_off="50", duration=cp.REPEATING, duration_periods=2
            ),
            request_id=rid(),
        ),
        metadata=billing.metadata,
    )
    clock = billing.clock("2026-04-01T00:00:00Z")
    customer = billing.customer(clock)
    basic = billing.subscribe(customer, "basic_monthly")
    pro = billing.subscribe(customer, "pro_monthly", coupon="coupons/HALF")
    billing.advance(clock, "2026-06-01T00:00:01Z")
    invoices = billing.invoices.ListInvoices(
        ip.ListInvoicesRequest(customer=customer.name), metadata=billing.metadata
    ).invoices
    renewals = sorted(
        (i for i in invoices if i.billing_reason == "subscription_cycle"),
        key=lambda i: iso(i.period_start),
    )
    # May: Pro's second and last coupon period (the creation invoice was the first);
    # June: no discount left. Basic is never discounted.
    assert [sorted(amounts(i.lines)) for i in renewals] == [
        [-2500, 3000, 5000],
        [3000, 5000],
    ]
    assert [i.total.amount_minor for i in renewals] == [5500, 8000]
    assert billing.get(pro).coupon == ""
    assert billing.get(basic).coupon == ""
