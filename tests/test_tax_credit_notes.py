"""Credit notes reverse an invoice's tax in proportion to its gross (ADR 0033): the domain
split, hand-computed; the public API flow is in test_tax_reports_api.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.domain.invoices import Invoice, InvoiceStatus
from billing.domain.subscriptions import Line, LineKind, exact_line, settle
from billing.domain.tax import TaxAmount, Treatment
from billing.domain.tax_ledger import (
    SourceKind,
    credit_note_entries,
    credit_note_tax,
    invoice_entries,
    remaining_taxes,
    tax_amount_to_dict,
    void_entries,
)

PERIOD = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
AT = datetime(2026, 3, 1, 9, tzinfo=UTC)
DAY = date(2026, 3, 1)


def fee(amount_minor: int) -> Line:
    return exact_line("Pro plan", amount_minor, "EUR", PERIOD, LineKind.RECURRING, {})


def tax_line(amount: TaxAmount) -> Line:
    line = exact_line(
        f"{amount.tax_name} {amount.percent}%",
        amount.tax_minor,
        "EUR",
        PERIOD,
        LineKind.TAX,
        {},
    )
    return replace(line, derivation=tax_amount_to_dict(amount))


def tax(
    jurisdiction: str,
    name: str,
    percent: str,
    taxable: int,
    tax_minor: int,
    treatment: Treatment = Treatment.TAXED,
) -> TaxAmount:
    return TaxAmount(
        jurisdiction, name, treatment, "standard", Decimal(percent), taxable, tax_minor, (0,),
        tax_point=date(2026, 3, 1),
    )  # fmt: skip


def invoice(net: int, *taxes: TaxAmount, credited: int = 0) -> Invoice:
    lines = (fee(net), *(tax_line(t) for t in taxes))
    return Invoice(
        id="inv_1",
        customer_id="cus_1",
        subscription_id=None,
        currency="EUR",
        status=InvoiceStatus.OPEN,
        billing_reason="manual",
        period_start=PERIOD[0],
        period_end=PERIOD[1],
        lines=lines,
        settlement=settle(lines, 0),
        rule_set="v1",
        created_at=AT,
        finalized_at=AT,
        credited_minor=credited,
    )


GERMAN = tax("DE", "VAT", "19", 10000, 1900)  # 100.00 + 19.00 = 119.00


def test_half_of_a_taxed_invoice_reverses_half_its_tax():
    split = credit_note_tax(invoice(10000, GERMAN), 5950)
    assert (split.net_minor, split.tax_minor) == (5000, 950)
    [reversed_] = split.taxes
    assert (reversed_.taxable_minor, reversed_.tax_minor) == (5000, 950)
    assert (reversed_.jurisdiction, reversed_.percent) == ("DE", Decimal(19))


def test_a_full_credit_reverses_exactly_the_invoices_tax():
    split = credit_note_tax(invoice(10000, GERMAN), 11900)
    assert (split.net_minor, split.tax_minor) == (10000, 1900)
    assert split.taxes[0].taxable_minor == 10000


def test_an_odd_amount_splits_exactly_and_adds_up():
    # 10.00 of 119.00: tax 1000 x 1900 / 11900 = 159.66 -> 160; base 840.34 -> 840.
    split = credit_note_tax(invoice(10000, GERMAN), 1000)
    assert (split.net_minor, split.tax_minor, split.taxes[0].taxable_minor) == (840, 160, 840)


def test_two_taxes_on_one_base_each_take_their_share():
    # Canada (British Columbia): GST 5% and PST 7% on 100.00, total 112.00. A 10.00 note:
    # GST 500 x 1000 / 11200 = 44.64 -> 45; PST 700 x 1000 / 11200 = 62.5 -> 63 (half up);
    # each base 10000 x 1000 / 11200 = 892.86 -> 893; the net is what is left: 892.
    gst = tax("CA", "GST", "5", 10000, 500)
    pst = tax("CA-BC", "PST", "7", 10000, 700)
    split = credit_note_tax(invoice(10000, gst, pst), 1000)
    assert [(t.tax_name, t.taxable_minor, t.tax_minor) for t in split.taxes] == [
        ("GST", 893, 45),
        ("PST", 893, 63),
    ]
    assert split.net_minor == 892
    assert split.net_minor + split.tax_minor == 1000


def test_a_reverse_charge_reverses_its_base_and_no_tax():
    reverse = tax("DE", "VAT", "0", 10000, 0, Treatment.REVERSE_CHARGE)
    split = credit_note_tax(invoice(10000, reverse), 2500)
    assert (split.net_minor, split.tax_minor) == (2500, 0)
    assert (split.taxes[0].taxable_minor, split.taxes[0].tax_minor) == (2500, 0)


def test_an_untaxed_invoice_gives_an_untaxed_note():
    split = credit_note_tax(invoice(10000), 4000)
    assert (split.net_minor, split.tax_minor, split.taxes) == (4000, 0, ())


def test_notes_after_earlier_notes_finish_the_tax_exactly():
    # Three notes of 39.67 + 39.67 + 39.66 = 119.00: 1/3 of 19.00 each would round to 6.33
    # three times (18.99); the cumulative reversal books 6.33, 6.34, 6.33.
    taxed = invoice(10000, GERMAN)
    taxes = []
    for amount in (3967, 3967, 3966):
        split = credit_note_tax(taxed, amount)
        taxes.append(split.tax_minor)
        taxed = replace(taxed, credited_minor=taxed.credited_minor + amount)
    assert taxes == [633, 634, 633]
    assert sum(taxes) == 1900


@settings(max_examples=200, deadline=None)
@given(
    net=st.integers(1, 10**9),
    percents=st.lists(
        st.sampled_from(["5", "7", "9.975", "19", "20", "0"]), min_size=1, max_size=3
    ),
    cuts=st.lists(st.integers(1, 10**6), min_size=1, max_size=6),
)
def test_any_sequence_of_notes_adds_up_and_ends_exact(net, percents, cuts):
    taxes = [
        tax("XX", f"T{i}", p, net, int(Decimal(net) * Decimal(p) / 100))
        for i, p in enumerate(percents)
    ]
    taxed = invoice(net, *taxes)
    total = taxed.settlement.total_minor
    reversed_tax = [0] * len(taxes)
    reversed_base = [0] * len(taxes)
    for cut in [*cuts, total]:  # the last takes what is left
        amount = min(cut, total - taxed.credited_minor)
        if amount <= 0:
            break
        split = credit_note_tax(taxed, amount)
        assert split.net_minor + split.tax_minor == amount
        assert all(t.tax_minor >= 0 and t.taxable_minor >= 0 for t in split.taxes)
        for i, part in enumerate(split.taxes):
            reversed_tax[i] += part.tax_minor
            reversed_base[i] += part.taxable_minor
        taxed = replace(taxed, credited_minor=taxed.credited_minor + amount)
    assert reversed_tax == [t.tax_minor for t in taxes]
    assert reversed_base == [t.taxable_minor for t in taxes]


# --- ledger entries -------------------------------------------------------------------------


def test_the_invoice_books_each_tax_and_the_note_its_reversal_negative():
    taxed = invoice(10000, GERMAN)
    [booked] = invoice_entries(taxed, AT, date(2026, 3, 2))
    assert (booked.source_kind, booked.taxable_minor, booked.tax_minor) == (
        SourceKind.INVOICE,
        10000,
        1900,
    )
    assert booked.tax_point == date(2026, 3, 1)  # the tax's own tax point wins

    split = credit_note_tax(taxed, 5950)
    note_day = date(2026, 4, 10)
    [reversal] = credit_note_entries(taxed, "cn_1", split.taxes, AT, note_day)
    assert (reversal.source_kind, reversal.source_id, reversal.invoice_id) == (
        SourceKind.CREDIT_NOTE,
        "cn_1",
        "inv_1",
    )
    assert (reversal.taxable_minor, reversal.tax_minor, reversal.tax_point) == (
        -5000,
        -950,
        note_day,
    )


def test_a_void_reverses_what_credit_notes_left():
    credited = invoice(10000, GERMAN, credited=1000)  # a 10.00 note reversed 840 + 160
    [left] = remaining_taxes(credited)
    assert (left.taxable_minor, left.tax_minor) == (9160, 1740)
    [voided] = void_entries(credited, AT, DAY)
    assert (voided.source_kind, voided.taxable_minor, voided.tax_minor) == (
        SourceKind.VOID,
        -9160,
        -1740,
    )
    assert void_entries(invoice(10000), AT, DAY) == ()
