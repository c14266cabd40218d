"""Tax on invoices and previews through the public API (ADR 0032), on both databases: a
rule set whose German and French VAT come from the built-in `flat_rate` engine, with the
real German rate change of 2020-07-01 (19% -> 16%) and its return on 2021-01-01."""

from __future__ import annotations

import uuid

import grpc
import pytest
from google.type import postal_address_pb2

from billing_client.v1 import (
    coupons_pb2,
    coupons_pb2_grpc,
    customers_pb2,
    invoices_pb2,
    subscriptions_pb2,
)
from billing_fixtures import Billing, amounts
from conftest import Tenant
from grpc_helpers import error_info, field_violations
from test_due_parking import serving

CATALOG = """\
kind: catalog
products:
  - {code: app, name: App, tax_code: saas}
  - {code: book, name: Books, tax_code: ebook}
plans:
  - code: app_monthly
    name: App
    product: app
    interval: month
    prices: [{currency: EUR, amount: 100.00}]
  - code: app_inclusive
    name: App (VAT included)
    product: app
    interval: month
    prices: [{currency: EUR, amount: 12.03, tax_behavior: inclusive}]
  - code: app_yearly
    name: App yearly
    product: app
    interval: year
    prices: [{currency: EUR, amount: 1000.00}]
  - code: books_monthly
    name: Books
    product: book
    interval: month
    prices: [{currency: EUR, price: book_seat}]
plan_changes:
  - timing: immediate
"""

PRICING = """\
kind: pricing
prices:
  - {code: book_seat, name: Reader, model: per_unit, currency: EUR, unit_amount: 9.99,
     tax_behavior: inclusive}
"""

PRORATION = """\
kind: proration
cases:
  - granularity: day
    behavior: always_invoice
    credit_unused: true
    credit_basis: billed
"""


def tax_file(
    *,
    enabled: bool = True,
    rounding: str = "line",
    inclusive_rounding: str = "tax_first",
    tax_point: str = "invoice_date",
    austria_from: str = "2090-01-01",
) -> str:
    return f"""\
kind: tax
policy:
  enabled: {str(enabled).lower()}
  rounding: {rounding}
  inclusive_rounding: {inclusive_rounding}
  prices_include_tax: false
  default_tax_code: saas
seller:
  name: Example SAS
  country: FR
  tax_ids: [{{type: eu_vat, value: FR40303265045}}]
  registrations:
    - {{jurisdiction: FR, number: FR40303265045, valid_from: 2000-01-01}}
tax_codes:
  - {{code: saas, description: Software as a service}}
  - {{code: ebook, description: Electronic books}}
  - {{code: training, description: Training by a recognised school}}
jurisdictions:
  - code: DE
    name: Germany
    engine: flat_rate
    tax_name: VAT
    tax_point: {tax_point}
    rates:
      - {{name: standard, percent: 19, effective_from: 2007-01-01, source: "UStG 12(1)"}}
      - {{name: standard, percent: 16, effective_from: 2020-07-01,
         source: "Zweites Corona-Steuerhilfegesetz"}}
      - {{name: standard, percent: 19, effective_from: 2021-01-01, source: "UStG 12(1)"}}
      - {{name: reduced, percent: 7, effective_from: 2007-01-01, source: "UStG 12(2)"}}
    tax_codes: {{saas: standard, ebook: reduced, training: exempt}}
    settings: {{notes: {{exempt: "Steuerfrei nach § 4 Nr. 21 UStG"}}}}
  - code: FR
    name: France
    engine: flat_rate
    tax_name: TVA
    rates:
      - {{name: standard, percent: 20, effective_from: 2014-01-01, source: "CGI art. 278"}}
      - {{name: reduced, percent: 5.5, effective_from: 2014-01-01, source: "CGI art. 278-0 bis"}}
    tax_codes: {{saas: standard, ebook: reduced}}
  - code: AT
    name: Austria
    engine: flat_rate
    tax_name: USt
    rates:
      - {{name: standard, percent: 20, effective_from: {austria_from}, source: "UStG 10(1)"}}
"""


def tax_rules(consolidate: bool = False, **tax: object) -> dict[str, bytes]:
    invoicing = (
        f"kind: invoicing\ntime_zone: utc\nconsolidate_same_day: {str(consolidate).lower()}\n"
    )
    return {
        "catalog.yaml": CATALOG.encode(),
        "pricing.yaml": PRICING.encode(),
        "proration.yaml": PRORATION.encode(),
        "money.yaml": b"kind: money\nrounding: half_up\n",
        "invoicing.yaml": invoicing.encode(),
        "tax.yaml": tax_file(**tax).encode(),  # type: ignore[arg-type]
    }


def rid() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def billing(channel, tenant) -> Billing:  # type: ignore[no-untyped-def]
    return Billing(channel, tenant.metadata)


def customer(  # type: ignore[no-untyped-def]
    billing: Billing, country: str = "DE", clock=None, tax_ids=()
) -> customers_pb2.Customer:
    return billing.customers.CreateCustomer(
        customers_pb2.CreateCustomerRequest(
            customer=customers_pb2.Customer(
                display_name="Kunde",
                tax_ids=list(tax_ids),
                currency_code="EUR",
                time_zone="Europe/Berlin",
                clock=clock.name if clock else "",
                billing_address=postal_address_pb2.PostalAddress(
                    region_code=country, address_lines=["Hauptstr. 1"], locality="Berlin"
                ),
            ),
            request_id=rid(),
        ),
        metadata=billing.metadata,
    )


def only_invoice(billing: Billing, sub: subscriptions_pb2.Subscription) -> invoices_pb2.Invoice:
    (invoice,) = billing.invoices_of(sub)
    return invoice


def kinds(invoice: invoices_pb2.Invoice) -> list[str]:
    return [line.kind for line in invoice.lines]


def figures(invoice: invoices_pb2.Invoice) -> tuple[int, int, int]:
    return (invoice.subtotal.amount_minor, invoice.tax.amount_minor, invoice.total.amount_minor)


def test_a_first_invoice_carries_exclusive_vat(billing: Billing) -> None:
    billing.push(tax_rules())
    clock = billing.clock("2026-03-01T09:00:00Z")
    sub = billing.subscribe(customer(billing, "DE", clock), "app_monthly")
    invoice = only_invoice(billing, sub)
    assert kinds(invoice) == ["recurring", "tax"]
    assert amounts(invoice.lines) == [10000, 1900]
    assert figures(invoice) == (10000, 1900, 11900)
    assert invoice.amount_due.amount_minor == 11900
    (vat,) = invoice.taxes
    assert (vat.jurisdiction, vat.tax_name, vat.treatment, vat.rate_name, vat.percent) == (
        "DE",
        "VAT",
        "taxed",
        "standard",
        "19",
    )
    assert (vat.taxable.amount_minor, vat.tax.amount_minor) == (10000, 1900)
    assert list(vat.line_indexes) == [0]
    assert vat.source == "UStG 12(1)"
    assert vat.rule_entry  # the rate's entry in the rules
    assert (vat.tax_point.year, vat.tax_point.month, vat.tax_point.day) == (2026, 3, 1)
    assert invoice.lines[1].description == "VAT 19% (DE)"
    assert list(invoice.seller_tax_ids) == ["eu_vat FR40303265045"]
    explained = billing.invoices.ExplainInvoice(
        invoices_pb2.ExplainInvoiceRequest(name=invoice.name), metadata=billing.metadata
    )
    tax_line = explained.lines[1]
    assert tax_line.kind == invoices_pb2.TAX
    assert tax_line.rule_entry == vat.rule_entry
    assert "rate source: UStG 12(1)" in tax_line.steps
    assert "tax point: 2026-03-01" in tax_line.steps
    assert "taxable: 100.00 EUR (lines 0)" in tax_line.steps
    assert "tax on this line: 19.00 EUR" in explained.lines[0].steps


@pytest.mark.parametrize(
    ("inclusive_rounding", "net", "tax"),
    [("tax_first", 1002, 201), ("net_first", 1003, 200)],
)
def test_an_inclusive_price_splits_into_net_and_tax_that_add_back_exactly(
    billing: Billing, inclusive_rounding: str, net: int, tax: int
) -> None:
    # 12.03 EUR including 20% TVA: net 10.025, tax 2.005 exactly; one of them is rounded up.
    billing.push(tax_rules(inclusive_rounding=inclusive_rounding))
    clock = billing.clock("2026-03-01T09:00:00Z")
    sub = billing.subscribe(customer(billing, "FR", clock), "app_inclusive")
    invoice = only_invoice(billing, sub)
    assert amounts(invoice.lines) == [net, tax]
    assert net + tax == 1203
    assert figures(invoice) == (net, tax, 1203)
    assert invoice.taxes[0].taxable.amount_minor == net
    explained = billing.invoices.ExplainInvoice(
        invoices_pb2.ExplainInvoiceRequest(name=invoice.name), metadata=billing.metadata
    )
    split = f"price includes tax: 12.03 EUR = net {net / 100:.2f} EUR + tax {tax / 100:.2f} EUR"
    assert split in explained.lines[0].steps


@pytest.mark.parametrize(
    ("rounding", "tax", "vat_19", "vat_7"), [("line", 316, 288, 28), ("invoice", 313, 285, 28)]
)
def test_per_line_and_per_invoice_rounding_on_a_ten_line_invoice(
    billing: Billing, rounding: str, tax: int, vat_19: int, vat_7: int
) -> None:
    """docs/tax.md's 10-line invoice: six seats at 2.50 EUR at 19% and four e-books at 0.99
    EUR at 7%, net 18.96 EUR."""
    billing.push(tax_rules(rounding=rounding))
    clock = billing.clock("2026-03-01T09:00:00Z")
    buyer = customer(billing, "DE", clock)
    draft = billing.invoices.CreateInvoice(
        invoices_pb2.CreateInvoiceRequest(customer=buyer.name, request_id=rid()),
        metadata=billing.metadata,
    )
    for n in range(10):
        seat = n < 6
        billing.invoices.AddInvoiceLine(
            invoices_pb2.AddInvoiceLineRequest(
                invoice=draft.name,
                description=f"Seat {n}" if seat else f"E-book {n}",
                unit_amount="2.50" if seat else "0.99",
                tax_code="" if seat else "ebook",
                request_id=rid(),
            ),
            metadata=billing.metadata,
        )
    draft = billing.invoices.GetInvoice(
        invoices_pb2.GetInvoiceRequest(name=draft.name), metadata=billing.metadata
    )
    assert figures(draft) == (1896, 0, 1896)  # drafts show no tax
    final = billing.invoices.FinalizeInvoice(
        invoices_pb2.FinalizeInvoiceRequest(name=draft.name, request_id=rid()),
        metadata=billing.metadata,
    )
    assert figures(final) == (1896, tax, 1896 + tax)
    assert [(t.percent, t.taxable.amount_minor, t.tax.amount_minor) for t in final.taxes] == [
        ("19", 1500, vat_19),
        ("7", 396, vat_7),
    ]
    assert kinds(final)[10:] == ["tax", "tax"]


def test_a_coupon_discounts_before_tax(billing: Billing, channel: grpc.Channel) -> None:
    billing.push(tax_rules())
    coupons_pb2_grpc.CouponServiceStub(channel).CreateCoupon(
        coupons_pb2.CreateCouponRequest(
            coupon=coupons_pb2.Coupon(
                name="coupons/TEN", percent_off="10", duration=coupons_pb2.FOREVER
            ),
            request_id=rid(),
        ),
        metadata=billing.metadata,
    )
    clock = billing.clock("2026-03-01T09:00:00Z")
    sub = billing.subscribe(customer(billing, "DE", clock), "app_monthly", coupon="coupons/TEN")
    invoice = only_invoice(billing, sub)
    assert kinds(invoice) == ["recurring", "discount", "tax"]
    assert amounts(invoice.lines) == [10000, -1000, 1710]
    assert figures(invoice) == (9000, 1710, 10710)
    assert invoice.taxes[0].taxable.amount_minor == 9000


def test_a_renewal_in_a_bill_run_is_taxed_as_its_preview_said(billing: Billing) -> None:
    billing.push(tax_rules())
    clock = billing.clock("2026-03-01T09:00:00Z")
    sub = billing.subscribe(customer(billing, "DE", clock), "app_monthly")
    preview = billing.invoices.PreviewUpcomingInvoice(
        invoices_pb2.PreviewUpcomingInvoiceRequest(subscription=sub.name),
        metadata=billing.metadata,
    )
    assert figures(preview) == (10000, 1900, 11900)
    billing.advance(clock, "2026-04-01T10:00:00Z")
    _first, renewal = sorted(billing.invoices_of(sub), key=lambda i: i.period_start.seconds)
    assert renewal.billing_reason == "subscription_cycle"
    assert figures(renewal) == figures(preview)
    assert amounts(renewal.lines) == amounts(preview.lines) == [10000, 1900]
    assert [t.tax_point for t in renewal.taxes] == [t.tax_point for t in preview.taxes]


def test_a_rate_change_taxes_invoices_before_on_and_after_its_date(billing: Billing) -> None:
    # Invoice dates in the customer's zone (Europe/Berlin): 2020-06-01, 07-01, 08-01.
    billing.push(tax_rules())
    clock = billing.clock("2020-05-31T22:30:00Z")  # 2020-06-01 00:30 in Berlin
    sub = billing.subscribe(customer(billing, "DE", clock), "app_monthly")
    billing.advance(clock, "2020-07-31T23:00:00Z")
    invoices = sorted(billing.invoices_of(sub), key=lambda i: i.period_start.seconds)
    assert [(t.percent, t.tax.amount_minor) for i in invoices for t in i.taxes] == [
        ("19", 1900),
        ("16", 1600),
        ("16", 1600),
    ]
    assert [i.taxes[0].source for i in invoices] == [
        "UStG 12(1)",
        "Zweites Corona-Steuerhilfegesetz",
        "Zweites Corona-Steuerhilfegesetz",
    ]


@pytest.mark.parametrize(("tax_point", "percent"), [("invoice_date", "16"), ("period_start", "19")])
def test_the_tax_point_moves_a_transition_invoice(
    billing: Billing, tax_point: str, percent: str
) -> None:
    """A draft made on 2020-06-30 and finalized on 2020-07-02: its line's period starts
    before the rate change, its invoice date after it."""
    billing.push(tax_rules(tax_point=tax_point))
    clock = billing.clock("2020-06-30T10:00:00Z")
    buyer = customer(billing, "DE", clock)
    draft = billing.invoices.CreateInvoice(
        invoices_pb2.CreateInvoiceRequest(customer=buyer.name, request_id=rid()),
        metadata=billing.metadata,
    )
    billing.invoices.AddInvoiceLine(
        invoices_pb2.AddInvoiceLineRequest(
            invoice=draft.name, description="Setup", unit_amount="100.00", request_id=rid()
        ),
        metadata=billing.metadata,
    )
    billing.advance(clock, "2020-07-02T10:00:00Z")
    final = billing.invoices.FinalizeInvoice(
        invoices_pb2.FinalizeInvoiceRequest(name=draft.name, request_id=rid()),
        metadata=billing.metadata,
    )
    (vat,) = final.taxes
    assert vat.percent == percent
    assert vat.tax.amount_minor == int(percent) * 100


def test_a_preview_change_shows_the_tax_the_change_invoices(billing: Billing) -> None:
    billing.push(tax_rules())
    clock = billing.clock("2026-03-01T00:00:00Z")
    sub = billing.subscribe(customer(billing, "DE", clock), "app_monthly")
    preview = billing.preview(sub, plan="app_yearly", at="2026-03-16T00:00:00Z")
    changed = billing.change(sub, plan="app_yearly", at="2026-03-16T00:00:00Z")
    issued = billing.invoices.GetInvoice(
        invoices_pb2.GetInvoiceRequest(name=changed.invoice), metadata=billing.metadata
    )
    assert issued.tax.amount_minor == preview.tax.amount_minor != 0
    assert [t.tax.amount_minor for t in issued.taxes] == [t.tax.amount_minor for t in preview.taxes]
    # The credit for March's unused half (-16/31 of 100.00) is taxed at 19% too, negatively.
    priced = sum(amounts(preview.lines))
    assert issued.subtotal.amount_minor == priced
    assert issued.total.amount_minor == priced + preview.tax.amount_minor


def test_tax_off_leaves_invoices_untaxed(billing: Billing) -> None:
    billing.push(tax_rules(enabled=False))
    clock = billing.clock("2026-03-01T09:00:00Z")
    sub = billing.subscribe(customer(billing, "DE", clock), "app_monthly")
    invoice = only_invoice(billing, sub)
    assert kinds(invoice) == ["recurring"]
    assert figures(invoice) == (10000, 0, 10000)
    assert not invoice.taxes and not invoice.seller_tax_ids


def test_a_buyer_outside_every_listed_jurisdiction_gets_no_tax_lines(billing: Billing) -> None:
    billing.push(tax_rules())
    clock = billing.clock("2026-03-01T09:00:00Z")
    sub = billing.subscribe(customer(billing, "JP", clock), "app_monthly")
    assert figures(only_invoice(billing, sub)) == (10000, 0, 10000)


def test_tax_that_cannot_be_computed_fails_the_call_and_writes_nothing(billing: Billing) -> None:
    billing.push(tax_rules())
    clock = billing.clock("2026-03-01T09:00:00Z")
    buyer = customer(billing, "AT", clock)  # Austria's only rate starts in 2090
    with pytest.raises(grpc.RpcError) as failed:
        billing.subscribe(buyer, "app_monthly")
    assert failed.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    details = failed.value.details() or ""
    assert f"tax for {buyer.name} cannot be computed" in details
    assert "no 'standard' rate in force on 2026-03-01" in details
    assert error_info(failed.value).reason == "TAX_RATE_MISSING"
    listed = billing.invoices.ListInvoices(
        invoices_pb2.ListInvoicesRequest(customer=buyer.name), metadata=billing.metadata
    )
    assert not listed.invoices
    subs = billing.subs.ListSubscriptions(
        subscriptions_pb2.ListSubscriptionsRequest(customer=buyer.name), metadata=billing.metadata
    )
    assert not subs.subscriptions


def test_an_inclusive_named_price_of_a_reduced_product(billing: Billing) -> None:
    # 3 readers at 9.99 EUR including 7% VAT: 29.97 gross; tax 1.96 (29.97 x 7/107 = 1.9606).
    billing.push(tax_rules())
    clock = billing.clock("2026-03-01T09:00:00Z")
    sub = billing.subscribe(
        customer(billing, "DE", clock),
        "books_monthly",
        quantities={"prices/book_seat": 3},
    )
    invoice = only_invoice(billing, sub)
    assert amounts(invoice.lines) == [2801, 196]
    assert figures(invoice) == (2801, 196, 2997)
    assert invoice.taxes[0].percent == "7"


def test_a_renewal_whose_tax_fails_is_parked_with_a_readable_error(
    backend: str, make_database, tenant: Tenant
) -> None:  # type: ignore[no-untyped-def]
    with (
        serving(make_database(backend)) as server,
        grpc.insecure_channel(f"127.0.0.1:{server.port}") as ch,
    ):
        billing = Billing(ch, tenant.metadata)
        billing.push(tax_rules(austria_from="2016-01-01"))
        clock = billing.clock("2026-01-01T09:00:00Z")
        buyer = customer(billing, "AT", clock)
        sub = billing.subscribe(buyer, "app_monthly")
        assert figures(only_invoice(billing, sub)) == (10000, 2000, 12000)
        billing.push(tax_rules())  # Austria's rate now only from 2090: February cannot be taxed

        last = billing.advance(clock, "2026-02-15T00:00:00Z")[-1]

        assert (last.finished, last.parked) == (True, 1)
        (parked,) = last.parked_items
        assert (parked.kind, parked.subscription) == ("renew", sub.name)
        assert parked.last_error == (
            f"TaxNotComputable: tax for {buyer.name} cannot be computed: AT has no 'standard' rate"
            " in force on 2026-02-01 (the tax point of line 0); add one to the tax rules"
        )
        assert len(billing.invoices_of(sub)) == 1  # nothing of the failed renewal was written


def test_a_change_from_an_inclusive_plan_credits_the_price_paid_with_its_tax(
    billing: Billing,
) -> None:
    """12.03 EUR including 20% TVA paid for March; on 03-16 a change to App (100.00 plus
    TVA): the unused 16/31 of 12.03 (6.21) is credited as the inclusive price it was, so
    its tax goes back too, and nothing is repaired."""
    billing.push(tax_rules())
    clock = billing.clock("2026-03-01T00:00:00Z")
    sub = billing.subscribe(customer(billing, "FR", clock), "app_inclusive")
    changed = billing.change(sub, plan="app_monthly", at="2026-03-16T00:00:00Z")
    issued = billing.invoices.GetInvoice(
        invoices_pb2.GetInvoiceRequest(name=changed.invoice), metadata=billing.metadata
    )
    assert kinds(issued) == ["proration_credit", "proration_charge", "tax"]
    # Credit: -6.21 gross = -5.17 net - 1.04 TVA (tax first: -1.035 rounds to -1.04).
    # Charge: 16/31 x 100.00 = 51.61 net, 10.32 TVA. TVA line: 10.32 - 1.04 = 9.28.
    assert amounts(issued.lines) == [-517, 5161, 928]
    assert figures(issued) == (4644, 928, 5572)
    assert 5572 == -621 + 5161 + 1032


def test_a_consolidated_renewal_taxes_each_subscription_as_its_own_product(
    billing: Billing,
) -> None:
    """Two renewals of one customer on one day share an invoice: App at 19%, three readers
    of Books (9.99 EUR each, VAT included) at the reduced 7%."""
    billing.push(tax_rules(consolidate=True))
    clock = billing.clock("2026-03-01T00:00:00Z")
    buyer = customer(billing, "DE", clock)
    billing.subscribe(buyer, "app_monthly")
    billing.subscribe(buyer, "books_monthly", quantities={"prices/book_seat": 3})
    billing.advance(clock, "2026-04-01T00:10:00Z")
    listed = billing.invoices.ListInvoices(
        invoices_pb2.ListInvoicesRequest(customer=buyer.name), metadata=billing.metadata
    )
    (shared,) = [i for i in listed.invoices if i.billing_reason == "subscription_cycle"]
    assert not shared.subscription  # one invoice for both
    # The renewals join in either order.
    taxes = sorted((t.percent, t.taxable.amount_minor, t.tax.amount_minor) for t in shared.taxes)
    assert taxes == [("19", 10000, 1900), ("7", 2801, 196)]
    assert figures(shared) == (12801, 2096, 14897)


def test_an_exempt_line_shows_a_zero_tax_line_with_its_legal_note(billing: Billing) -> None:
    billing.push(tax_rules())
    clock = billing.clock("2026-03-01T09:00:00Z")
    buyer = customer(billing, "DE", clock)
    draft = billing.invoices.CreateInvoice(
        invoices_pb2.CreateInvoiceRequest(customer=buyer.name, request_id=rid()),
        metadata=billing.metadata,
    )
    for description, amount, code in [("Licence", "100.00", ""), ("Course", "50.00", "training")]:
        billing.invoices.AddInvoiceLine(
            invoices_pb2.AddInvoiceLineRequest(
                invoice=draft.name,
                description=description,
                unit_amount=amount,
                tax_code=code,
                request_id=rid(),
            ),
            metadata=billing.metadata,
        )
    final = billing.invoices.FinalizeInvoice(
        invoices_pb2.FinalizeInvoiceRequest(name=draft.name, request_id=rid()),
        metadata=billing.metadata,
    )
    assert [line.description for line in final.lines[2:]] == ["VAT 19% (DE)", "VAT exempt (DE)"]
    assert amounts(final.lines) == [10000, 5000, 1900, 0]
    assert figures(final) == (15000, 1900, 16900)
    exempt = final.taxes[1]
    assert (exempt.treatment, exempt.taxable.amount_minor, list(exempt.line_indexes)) == (
        "exempt",
        5000,
        [1],
    )
    assert list(final.tax_notes) == ["Steuerfrei nach § 4 Nr. 21 UStG"]


def test_an_unknown_tax_code_on_a_one_off_line_is_refused(billing: Billing) -> None:
    billing.push(tax_rules())
    buyer = customer(billing, "DE")
    draft = billing.invoices.CreateInvoice(
        invoices_pb2.CreateInvoiceRequest(customer=buyer.name, request_id=rid()),
        metadata=billing.metadata,
    )
    with pytest.raises(grpc.RpcError) as refused:
        billing.invoices.AddInvoiceLine(
            invoices_pb2.AddInvoiceLineRequest(
                invoice=draft.name,
                description="Thing",
                unit_amount="1.00",
                tax_code="spaceship",
                request_id=rid(),
            ),
            metadata=billing.metadata,
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(refused.value) == {
        "tax_code": "'spaceship' is not a tax code of the tax rules"
    }


def test_the_invoice_shows_the_seller_and_buyer_tax_ids_of_its_finalization(
    billing: Billing,
) -> None:
    billing.push(tax_rules())
    clock = billing.clock("2026-03-01T09:00:00Z")
    vat_id = customers_pb2.TaxId(type="eu_vat", value="DE136695976")
    sub = billing.subscribe(customer(billing, "DE", clock, [vat_id]), "app_monthly")
    invoice = only_invoice(billing, sub)
    assert list(invoice.seller_tax_ids) == ["eu_vat FR40303265045"]
    assert list(invoice.buyer_tax_ids) == ["eu_vat DE136695976"]
