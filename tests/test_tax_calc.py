"""The tax arithmetic (domain/tax_calc.py): worked examples with hand-computed amounts, and
properties over random invoices (hypothesis): inclusive lines split exactly, per-line taxes
add up to the tax amounts, a credit is the exact negative of the same charge.

The worked examples are the figures of docs/tax.md, "The arithmetic"."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.app.tax import compute_tax, untaxed
from billing.domain.errors import TaxNotComputable
from billing.domain.money import ROUNDING_MODES
from billing.domain.tax import (
    Buyer,
    Exemption,
    InclusiveRounding,
    Jurisdiction,
    LineRounding,
    LineTax,
    Place,
    Seller,
    TaxableLine,
    TaxAmount,
    TaxPoint,
    TaxPolicy,
    TaxRate,
    TaxRequest,
    TaxRules,
    Treatment,
)
from billing.domain.tax_calc import apportion, compute, round_magnitude, split_amount
from billing.plugins.engines import TaxNotDetermined

DAY = date(2026, 3, 15)


def rate(name: str, percent: str, since: date = date(2000, 1, 1), n: int = 0) -> TaxRate:
    return TaxRate(name, Decimal(percent), since, f"source of {name}", f"tax.yaml: rates[{n}]")


JURISDICTIONS = {
    "DE": Jurisdiction(
        "DE",
        "Germany",
        "test",
        "VAT",
        rates=(rate("standard", "19"), rate("reduced", "7", n=1)),
        entry="tax.yaml: jurisdictions[DE]",
    ),
    "GB": Jurisdiction("GB", "United Kingdom", "test", "VAT", rates=(rate("standard", "20"),)),
    "CA": Jurisdiction("CA", "Canada", "test", "GST", rates=(rate("gst", "5"),)),
    "CA-QC": Jurisdiction("CA-QC", "Quebec", "test", "QST", rates=(rate("qst", "9.975"),)),
    "CA-BC": Jurisdiction("CA-BC", "British Columbia", "test", "PST", rates=(rate("pst", "7"),)),
    # A rise on 2026-04-01, picked by the period start or by the earlier of invoice/payment.
    "XP": Jurisdiction(
        "XP",
        "Period land",
        "test",
        "GST",
        TaxPoint.PERIOD_START,
        (rate("standard", "10"), rate("standard", "12", date(2026, 4, 1), 1)),
    ),
    "XE": Jurisdiction(
        "XE",
        "Earlier land",
        "test",
        "GST",
        TaxPoint.EARLIER_OF_INVOICE_AND_PAYMENT,
        (rate("standard", "10"), rate("standard", "12", date(2026, 4, 1), 1)),
    ),
}


def tax_rules(
    rounding: LineRounding = LineRounding.LINE,
    inclusive: InclusiveRounding = InclusiveRounding.TAX_FIRST,
) -> TaxRules:
    return TaxRules(
        policy=TaxPolicy(enabled=True, rounding=rounding, inclusive_rounding=inclusive),
        jurisdictions=JURISDICTIONS,
    )


def request(
    amounts: list[int],
    inclusive: bool = False,
    currency: str = "EUR",
    buyer: Buyer | None = None,
    **kwargs: object,
) -> TaxRequest:
    lines = tuple(TaxableLine(i, a, "saas", inclusive) for i, a in enumerate(amounts))
    return TaxRequest(
        currency,
        Seller(Place("DE")),
        buyer or Buyer(Place("DE")),
        lines,
        kwargs.pop("invoice_date", DAY),  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )


def taxed(i: int, jurisdiction: str = "DE", rate_name: str = "standard", **kw: object) -> LineTax:
    tax_name = JURISDICTIONS[jurisdiction].tax_name
    return LineTax(i, jurisdiction, tax_name, Treatment.TAXED, rate_name, **kw)  # type: ignore[arg-type]


# --- rounding and largest remainder ----------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "values"),
    [
        ("half_up", {"2.5": 3, "-2.5": -3, "2.4": 2, "-2.6": -3}),
        ("half_even", {"2.5": 2, "3.5": 4, "-2.5": -2, "-3.5": -4, "2.51": 3}),
        ("half_down", {"2.5": 2, "-2.5": -2, "2.51": 3}),
        ("down", {"2.9": 2, "-2.9": -2}),
        ("floor", {"2.9": 2, "-2.9": -2}),  # on the magnitude: a credit mirrors its charge
        ("up", {"2.1": 3, "-2.1": -3, "2": 2}),
        ("ceiling", {"2.1": 3, "-2.1": -3}),
    ],
)
def test_round_magnitude_each_mode(mode: str, values: dict[str, int]) -> None:
    for text, expected in values.items():
        assert round_magnitude(Fraction(text), mode) == expected, (mode, text)


def test_round_magnitude_refuses_an_unknown_mode() -> None:
    with pytest.raises(ValueError, match="unknown rounding mode 'bankers'"):
        round_magnitude(Fraction(1, 2), "bankers")


def test_split_amount_worked_examples() -> None:
    assert split_amount(100, [1, 1, 1]) == (34, 33, 33)
    assert split_amount(-100, [1, 1, 1]) == (-34, -33, -33)
    assert split_amount(1000, [Decimal("2.5"), Decimal("7.5")]) == (250, 750)
    # 10.00 of discount over lines of 30.00, 50.00 and 20.01: 2.9991.. 4.9985.. 2.0022..
    assert split_amount(1000, [3000, 5000, 2001]) == (300, 500, 200)
    assert split_amount(7, [3000, 5000, 2001]) == (2, 4, 1)  # 2.0998 3.4997 1.4006
    assert split_amount(0, [0, 0]) == (0, 0)
    assert split_amount(0, []) == ()
    with pytest.raises(ValueError, match="sum to 0"):
        split_amount(5, [1, -1])


@given(
    st.integers(-(10**12), 10**12),
    st.lists(st.integers(-(10**9), 10**9), min_size=1, max_size=12),
)
def test_split_amount_sums_exactly_and_stays_within_a_unit(total: int, weights: list[int]) -> None:
    if sum(weights) == 0:
        return
    parts = split_amount(total, weights)
    assert sum(parts) == total
    for part, weight in zip(parts, weights, strict=True):
        assert abs(part - Fraction(total * weight, sum(weights))) < 1
    assert split_amount(-total, weights) == tuple(-p for p in parts)


def test_apportion_gives_the_difference_to_the_largest_remainders() -> None:
    # 47.5 x 6 rounded half up is 288; the total is 285: the first three give a unit back.
    assert apportion(285, [Fraction("47.5")] * 6) == (47, 47, 47, 48, 48, 48)
    assert apportion(-285, [Fraction("-47.5")] * 6) == (-47, -47, -47, -48, -48, -48)
    assert apportion(3, [Fraction("0.4"), Fraction("0.9"), Fraction("1.3")]) == (1, 1, 1)


# --- exclusive lines, LINE vs INVOICE rounding: the 10-line invoice ------------------------------

# Six seats at 2.50 EUR at 19% (0.475 each) and four e-books at 0.99 EUR at 7% (0.0693 each).
TEN_LINES = [250] * 6 + [99] * 4
TEN_DECISIONS = [taxed(i) for i in range(6)] + [taxed(i, rate_name="reduced") for i in range(6, 10)]


def test_ten_line_invoice_rounded_per_line() -> None:
    outcome = compute(request(TEN_LINES), TEN_DECISIONS, tax_rules(LineRounding.LINE))
    assert outcome.net_minor == tuple(TEN_LINES)
    assert outcome.tax_minor_per_line == (48,) * 6 + (7,) * 4
    standard, reduced = outcome.amounts
    assert (standard.percent, standard.taxable_minor, standard.tax_minor) == (
        Decimal(19),
        1500,
        288,
    )
    assert (reduced.percent, reduced.taxable_minor, reduced.tax_minor) == (Decimal(7), 396, 28)
    assert standard.line_indexes == (0, 1, 2, 3, 4, 5)
    assert reduced.line_indexes == (6, 7, 8, 9)
    assert outcome.tax_minor == 316  # gross 22.12 EUR


def test_ten_line_invoice_rounded_per_invoice() -> None:
    outcome = compute(request(TEN_LINES), TEN_DECISIONS, tax_rules(LineRounding.INVOICE))
    # 6 x 47.5 = 285 exactly; 4 x 6.93 = 27.72 -> 28. The 285 is shared by largest remainder.
    assert outcome.tax_minor_per_line == (47, 47, 47, 48, 48, 48, 7, 7, 7, 7)
    standard, reduced = outcome.amounts
    assert (standard.taxable_minor, standard.tax_minor) == (1500, 285)
    assert (reduced.taxable_minor, reduced.tax_minor) == (396, 28)
    assert outcome.tax_minor == 313  # gross 22.09 EUR: 3 cents less than per line


def test_amount_carries_rate_entry_source_and_tax_point() -> None:
    outcome = compute(request([1000]), [taxed(0)], tax_rules())
    assert outcome.amounts == (
        TaxAmount(
            jurisdiction="DE",
            tax_name="VAT",
            treatment=Treatment.TAXED,
            rate_name="standard",
            percent=Decimal(19),
            taxable_minor=1000,
            tax_minor=190,
            line_indexes=(0,),
            entry="tax.yaml: rates[0]",
            source="source of standard",
            tax_point=DAY,
        ),
    )


# --- inclusive lines ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inclusive", "net", "tax"),
    [(InclusiveRounding.TAX_FIRST, 1252, 251), (InclusiveRounding.NET_FIRST, 1253, 250)],
)
def test_inclusive_tie_tax_first_vs_net_first(
    inclusive: InclusiveRounding, net: int, tax: int
) -> None:
    """15.03 GBP including 20% VAT: net 1252.5, tax 250.5 exactly; which half is rounded up
    is the policy's choice, and the other is the gross less it."""
    rules = tax_rules(inclusive=inclusive)
    outcome = compute(request([1503], inclusive=True, currency="GBP"), [taxed(0, "GB")], rules)
    assert (outcome.net_minor, outcome.tax_minor_per_line) == ((net,), (tax,))
    assert outcome.amounts[0].taxable_minor == net
    assert outcome.amounts[0].tax_minor == tax


def test_inclusive_two_taxes_each_on_the_net() -> None:
    """11.50 CAD including GST 5% and QST 9.975%: net = 1150 / 1.14975 = 1000.2174...;
    GST 50.0109 -> 50, QST 99.7717 -> 100, net 1000."""
    buyer = Buyer(Place("CA", "QC"))
    decisions = [taxed(0, "CA", "gst"), taxed(0, "CA-QC", "qst")]
    for inclusive in InclusiveRounding:
        outcome = compute(
            request([1150], inclusive=True, currency="CAD", buyer=buyer),
            decisions,
            tax_rules(inclusive=inclusive),
        )
        assert outcome.net_minor == (1000,)
        assert [a.tax_minor for a in outcome.amounts] == [50, 100]
        assert [a.taxable_minor for a in outcome.amounts] == [1000, 1000]


def test_inclusive_net_first_splits_the_tax_by_largest_remainder() -> None:
    """0.16 CAD including GST 5% and PST 7%: net = 16 / 1.12 = 14.2857 -> 14 (NET_FIRST); tax
    2 split over GST 0.714 and PST 1.000: 1 and 1. TAX_FIRST: GST 1, PST 1, net 14 too."""
    buyer = Buyer(Place("CA", "BC"))
    decisions = [taxed(0, "CA", "gst"), taxed(0, "CA-BC", "pst")]
    outcome = compute(
        request([16], inclusive=True, currency="CAD", buyer=buyer),
        decisions,
        tax_rules(inclusive=InclusiveRounding.NET_FIRST),
    )
    assert outcome.net_minor == (14,)
    assert [a.tax_minor for a in outcome.amounts] == [1, 1]


# --- rates on their tax point, exemptions, treatments --------------------------------------------


def test_rate_on_the_period_start() -> None:
    lines = (
        TaxableLine(0, 1000, "saas", period_start=date(2026, 3, 1)),
        TaxableLine(1, 1000, "saas", period_start=date(2026, 4, 1)),
    )
    req = replace(request([]), lines=lines, invoice_date=date(2026, 4, 1))
    outcome = compute(req, [taxed(0, "XP"), taxed(1, "XP")], tax_rules())
    assert outcome.tax_minor_per_line == (100, 120)
    assert [(a.percent, a.tax_point) for a in outcome.amounts] == [
        (Decimal(10), date(2026, 3, 1)),
        (Decimal(12), date(2026, 4, 1)),
    ]


@pytest.mark.parametrize(
    ("payment_date", "tax"), [(None, 120), (date(2026, 3, 31), 100), (date(2026, 4, 2), 120)]
)
def test_rate_on_the_earlier_of_invoice_and_payment(payment_date: date | None, tax: int) -> None:
    req = request([1000], invoice_date=date(2026, 4, 1), payment_date=payment_date)
    assert compute(req, [taxed(0, "XE")], tax_rules()).tax_minor == tax


def test_missing_rate_names_jurisdiction_rate_and_date() -> None:
    with pytest.raises(TaxNotComputable) as caught:
        compute(request([1000]), [taxed(0, rate_name="super_reduced")], tax_rules())
    assert str(caught.value) == (
        "DE has no 'super_reduced' rate in force on 2026-03-15 (the tax point of line 0);"
        " add one to the tax rules"
    )
    assert caught.value.reason == "TAX_RATE_MISSING"
    assert isinstance(caught.value, ValueError)
    early = request([1000], invoice_date=date(1999, 12, 31))
    with pytest.raises(ValueError, match="no 'standard' rate in force on 1999-12-31"):
        compute(early, [taxed(0)], tax_rules())


def test_an_engine_rate_is_used_as_given() -> None:
    decision = LineTax(0, "US-WA", "sales tax", Treatment.TAXED, "combined", Decimal("10.25"))
    outcome = compute(request([1000], currency="USD"), [decision], tax_rules())
    assert outcome.tax_minor == 103  # 102.5 half up
    assert outcome.amounts[0].source == "the rate the tax engine gave"


def test_exemption_certificate_of_the_country_exempts_a_subdivision_tax() -> None:
    certificate = Exemption("CA", "First Nations", "CERT-1", date(2026, 1, 1), date(2026, 4, 1))
    buyer = Buyer(Place("CA", "BC"), exemptions=(certificate,))
    decisions = [taxed(0, "CA", "gst"), taxed(0, "CA-BC", "pst")]
    outcome = compute(request([1000], currency="CAD", buyer=buyer), decisions, tax_rules())
    assert outcome.tax_minor_per_line == (0,)
    assert [(a.treatment, a.percent, a.tax_minor) for a in outcome.amounts] == [
        (Treatment.EXEMPT, Decimal(0), 0),
        (Treatment.EXEMPT, Decimal(0), 0),
    ]
    assert outcome.notes == ("Exempt: certificate CERT-1 (First Nations)",)
    expired = request([1000], currency="CAD", buyer=buyer, invoice_date=date(2026, 4, 1))
    assert compute(expired, decisions, tax_rules()).tax_minor == 120


def test_a_subdivision_certificate_leaves_the_country_tax() -> None:
    certificate = Exemption("CA-BC", "resale", "PST-9", date(2026, 1, 1))
    buyer = Buyer(Place("CA", "BC"), exemptions=(certificate,))
    decisions = [taxed(0, "CA", "gst"), taxed(0, "CA-BC", "pst")]
    outcome = compute(request([1000], currency="CAD", buyer=buyer), decisions, tax_rules())
    assert [(a.treatment, a.tax_minor) for a in outcome.amounts] == [
        (Treatment.TAXED, 50),
        (Treatment.EXEMPT, 0),
    ]


def test_reverse_charge_is_a_zero_amount_with_its_note_and_no_effect_on_inclusive_lines() -> None:
    note = (
        "Reverse charge: VAT to be accounted for by the recipient (Art. 196 Directive 2006/112/EC)"
    )
    decision = LineTax(0, "DE", "VAT", Treatment.REVERSE_CHARGE, "standard", note=note)
    outcome = compute(request([1190], inclusive=True), [decision], tax_rules())
    assert outcome.net_minor == (1190,)
    assert outcome.amounts[0].tax_minor == 0
    assert outcome.amounts[0].taxable_minor == 1190
    assert outcome.amounts[0].entry == "tax.yaml: jurisdictions[DE]"
    assert outcome.notes == (note,)


def test_lines_without_decisions_and_bad_engine_answers() -> None:
    outcome = compute(request([500, 700]), [taxed(1)], tax_rules())
    assert (outcome.net_minor, outcome.tax_minor_per_line) == ((500, 700), (0, 133))
    with pytest.raises(ValueError, match="answered for line 7"):
        compute(request([500]), [taxed(7)], tax_rules())
    with pytest.raises(TaxNotComputable, match="in ZZ, which the tax rules do not list"):
        compute(request([500]), [LineTax(0, "ZZ", "VAT", Treatment.TAXED)], tax_rules())
    with pytest.raises(ValueError, match="not an ISO 4217"):
        compute(request([500], currency="XXX"), [taxed(0)], tax_rules())


def test_a_credit_line_has_the_negative_tax_of_the_charge() -> None:
    outcome = compute(request([1503, -1503]), [taxed(0), taxed(1)], tax_rules())
    assert outcome.tax_minor_per_line == (286, -286)  # 285.57
    assert outcome.amounts[0].taxable_minor == 0
    assert outcome.tax_minor == 0


# --- properties ----------------------------------------------------------------------------------

PERCENTS = {"standard": "19", "reduced": "7", "gst": "5", "qst": "9.975", "pst": "7"}
LINE_TAXES = st.lists(
    st.sampled_from([("DE", "standard"), ("DE", "reduced"), ("CA", "gst"), ("CA-QC", "qst")]),
    max_size=3,
    unique=True,
)
LINES = st.lists(
    st.tuples(st.integers(-(10**12), 10**12), st.booleans(), LINE_TAXES), min_size=1, max_size=12
)
POLICIES = st.tuples(
    st.sampled_from(list(LineRounding)),
    st.sampled_from(list(InclusiveRounding)),
    st.sampled_from(sorted(ROUNDING_MODES)),
)


def _case(
    lines: list[tuple[int, bool, list[tuple[str, str]]]], sign: int = 1
) -> tuple[TaxRequest, list[LineTax]]:
    taxable = tuple(
        TaxableLine(i, sign * amount, "saas", inclusive)
        for i, (amount, inclusive, _) in enumerate(lines)
    )
    decisions = [taxed(i, j, r) for i, (_, _, taxes) in enumerate(lines) for j, r in taxes]
    return replace(request([]), lines=taxable), decisions


@settings(max_examples=300, deadline=None)
@given(LINES, POLICIES)
def test_properties_of_every_outcome(
    lines: list[tuple[int, bool, list[tuple[str, str]]]],
    policy: tuple[LineRounding, InclusiveRounding, str],
) -> None:
    rounding, inclusive, mode = policy
    rules = tax_rules(rounding, inclusive)
    req, decisions = _case(lines)
    outcome = compute(req, decisions, rules, mode)
    # net + tax == gross on inclusive lines; exclusive lines keep their amount as the net.
    for line, net, tax in zip(
        req.lines, outcome.net_minor, outcome.tax_minor_per_line, strict=True
    ):
        assert (net + tax if line.inclusive else net) == line.amount_minor
    # The per-line taxes add up to the tax amounts, and each amount's base is its lines' nets.
    assert sum(outcome.tax_minor_per_line) == outcome.tax_minor
    for tax_amount in outcome.amounts:
        assert tax_amount.taxable_minor == sum(
            outcome.net_minor[i] for i in tax_amount.line_indexes
        )
    # Each line's tax is within a unit per tax of the exact figure.
    for i, (amount, inclusive_line, taxes) in enumerate(lines):
        share = sum((Fraction(PERCENTS[r]) / 100 for _, r in taxes), Fraction(0))
        exact = amount * share / (1 + share) if inclusive_line else amount * share
        assert abs(outcome.tax_minor_per_line[i] - exact) <= len(taxes)
    # A credit is the exact negative of the same charge.
    negative = compute(_case(lines, -1)[0], decisions, rules, mode)
    assert negative.net_minor == tuple(-n for n in outcome.net_minor)
    assert negative.tax_minor_per_line == tuple(-t for t in outcome.tax_minor_per_line)
    assert [a.tax_minor for a in negative.amounts] == [-a.tax_minor for a in outcome.amounts]


@settings(max_examples=200, deadline=None)
@given(LINES, st.sampled_from(sorted(ROUNDING_MODES)))
def test_line_rounding_of_exclusive_lines_rounds_each_tax(
    lines: list[tuple[int, bool, list[tuple[str, str]]]], mode: str
) -> None:
    exclusive = [(amount, False, taxes) for amount, _, taxes in lines]
    req, decisions = _case(exclusive)
    outcome = compute(req, decisions, tax_rules(LineRounding.LINE), mode)
    for i, (amount, _, taxes) in enumerate(exclusive):
        expected = sum(
            round_magnitude(amount * Fraction(PERCENTS[r]) / 100, mode) for _, r in taxes
        )
        assert outcome.tax_minor_per_line[i] == expected


# --- compute_tax: the door -------------------------------------------------------------------


class _Engine:
    def __init__(self, fail: str = "") -> None:
        self.fail = fail

    def determine(self, req: TaxRequest, rules: TaxRules) -> list[LineTax]:
        if self.fail:
            raise TaxNotDetermined(self.fail)
        return [taxed(line.index) for line in req.lines]


def test_compute_tax_off_out_of_scope_and_on() -> None:
    engines = {"test": _Engine()}
    req = request([1000, 250])
    off = replace(tax_rules(), policy=TaxPolicy(enabled=False))
    assert compute_tax(off, engines, req) == untaxed(req.lines)
    elsewhere = replace(req, buyer=Buyer(Place("JP")))
    assert compute_tax(tax_rules(), engines, elsewhere).amounts == ()
    assert compute_tax(tax_rules(), engines, req).tax_minor_per_line == (190, 48)
    assert compute_tax(tax_rules(), engines, req, rounding="down").tax_minor_per_line == (190, 47)


def test_compute_tax_errors_name_what_is_missing() -> None:
    req = request([1000])
    with pytest.raises(TaxNotComputable, match="engine 'test', which no installed plugin"):
        compute_tax(tax_rules(), {}, req)
    engines = {"test": _Engine("no registration covers DE on 2026-03-15")}
    with pytest.raises(TaxNotComputable) as caught:
        compute_tax(tax_rules(), engines, req)
    assert str(caught.value) == (
        "tax in DE not determined: no registration covers DE on 2026-03-15"
    )
    assert caught.value.reason == "TAX_NOT_DETERMINED"
    assert isinstance(caught.value, TaxNotDetermined)


@settings(max_examples=200, deadline=None)
@given(LINES, st.sampled_from(sorted(ROUNDING_MODES)))
def test_invoice_rounding_of_exclusive_lines_rounds_each_tax_amount_once(
    lines: list[tuple[int, bool, list[tuple[str, str]]]], mode: str
) -> None:
    exclusive = [(amount, False, taxes) for amount, _, taxes in lines]
    req, decisions = _case(exclusive)
    outcome = compute(req, decisions, tax_rules(LineRounding.INVOICE), mode)
    for tax_amount in outcome.amounts:
        exact = sum(
            (
                Fraction(req.lines[i].amount_minor) * Fraction(tax_amount.percent) / 100
                for i in tax_amount.line_indexes
            ),
            Fraction(0),
        )
        assert tax_amount.tax_minor == round_magnitude(exact, mode)
