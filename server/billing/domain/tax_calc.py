"""The tax arithmetic (ADR 0026, 0028): from an engine's decisions to amounts that add up.

Pure functions over `billing.domain.tax`. The engine said, per line, which jurisdictions tax
it and with which named rate or treatment; here:

1. **Exemptions.** A buyer's certificate active on the invoice date, for the decision's
   jurisdiction or its country (`CA` covers `CA-BC`, not the other way round), turns TAXED
   into EXEMPT with a note naming the certificate. Engines need not look at exemptions.
2. **Rates.** A TAXED decision's rate is looked up by name on the jurisdiction's tax point:
   the invoice date; the line's period start; or the earlier of invoice and payment date
   (the invoice date while unpaid). A name without an entry in force then is
   `TaxNotComputable` (`TAX_RATE_MISSING`), naming jurisdiction, rate and date. A rate the
   engine gives itself (`LineTax.rate`) is used as given. Other treatments are 0%.
3. **Exclusive lines**: each tax = amount x percent. **Inclusive lines**: net = gross /
   (1 + the sum of the line's percents), each tax on that net (Canada's provinces: every tax
   on the price without the others). The policy says which is rounded: TAX_FIRST rounds each
   tax and net = gross - taxes; NET_FIRST rounds the net and splits gross - net across the
   line's taxes by largest remainder. Either way net + tax == gross exactly.
4. **Rounding** to the currency's minor unit with the money rules' mode: LINE rounds each
   line's tax and a tax amount is their sum; INVOICE sums the unrounded taxes per tax amount,
   rounds once, and gives each line its share by largest remainder, so the per-line taxes
   still add up to the tax amounts exactly. (A NET_FIRST inclusive line's tax is fixed by its
   own rounded net, under both.)
5. **Signs.** A mode applies to the magnitude: a credit's tax is exactly the negative of the
   same charge's tax, for every mode (`floor` rounds -2.5 to -2, as `down`).

Unrounded values are `Fraction`s: exact, whatever the percents (1/1.19 does not terminate).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from billing.domain.errors import TaxNotComputable
from billing.domain.money import DEFAULT_ROUNDING, ROUNDING_MODES, check_minor, minor_unit_exponent
from billing.domain.tax import (
    Exemption,
    InclusiveRounding,
    Jurisdiction,
    LineRounding,
    LineTax,
    TaxableLine,
    TaxAmount,
    TaxOutcome,
    TaxPoint,
    TaxRequest,
    TaxRules,
    Treatment,
)

_HALF = Fraction(1, 2)
# Per mode: whether a magnitude with this fraction (and this whole part) goes up.
_AWAY_FROM_ZERO: dict[str, Callable[[Fraction, int], bool]] = {
    "half_up": lambda fraction, _: fraction >= _HALF,
    "half_down": lambda fraction, _: fraction > _HALF,
    "half_even": lambda fraction, whole: fraction > _HALF or (fraction == _HALF and whole % 2 == 1),
    "up": lambda fraction, _: fraction > 0,
    "ceiling": lambda fraction, _: fraction > 0,
    "down": lambda fraction, _: False,
    "floor": lambda fraction, _: False,
}
ENGINE_RATE_SOURCE = "the rate the tax engine gave"

# --- integer arithmetic: rounding and largest remainder ----------------------------------------


def round_magnitude(value: Fraction, rounding: str = DEFAULT_ROUNDING) -> int:
    """`value` to an integer with a named mode (money.ROUNDING_MODES), applied to the
    magnitude so that round(-x) == -round(x): half_up 2.5 -> 3, -2.5 -> -3; floor and down
    both 2.7 -> 2, -2.7 -> -2; ceiling and up 2.1 -> 3, -2.1 -> -3."""
    away = _AWAY_FROM_ZERO.get(rounding)
    if away is None:
        raise ValueError(f"unknown rounding mode {rounding!r}")
    magnitude = abs(value)
    whole, rest = divmod(magnitude.numerator, magnitude.denominator)
    if away(Fraction(rest, magnitude.denominator), whole):
        whole += 1
    return -whole if value < 0 else whole


def apportion(total_minor: int, values: Sequence[Fraction]) -> tuple[int, ...]:
    """Integers, one per exact value, that sum to `total_minor`, by largest remainder: each
    value rounded half up, then the difference to the total given one unit at a time to the
    values that lost most in rounding (taken from those that gained most when the total is
    smaller), ties to the earlier value. When the values sum to the total, each result is
    within one unit of its value. Symmetric: apportion(-t, -v) == -apportion(t, v)."""
    if not values:
        if total_minor:
            raise ValueError(f"cannot apportion {total_minor} over nothing")
        return ()
    if total_minor < 0:
        return tuple(-part for part in apportion(-total_minor, [-value for value in values]))
    parts = [round_magnitude(value, "half_up") for value in values]
    difference = total_minor - sum(parts)
    if difference:
        step = 1 if difference > 0 else -1
        lost = [value - part for value, part in zip(values, parts, strict=True)]
        order = sorted(range(len(values)), key=lambda i: (-step * lost[i], i))
        for turn in range(abs(difference)):
            parts[order[turn % len(order)]] += step
    return tuple(parts)


def split_amount(total_minor: int, weights: Sequence[int | Decimal | Fraction]) -> tuple[int, ...]:
    """`total_minor` split in proportion to `weights` (line amounts, say), by largest
    remainder: the parts sum to the total exactly, each within one unit of its exact share.
    split_amount(100, [1, 1, 1]) == (34, 33, 33); split_amount(-100, [1, 1, 1]) == (-34, -33,
    -33). For discount allocation and credit note reversal. Weights of any sign, not summing
    to 0 (a ValueError, unless the total is 0 too)."""
    exact = [Fraction(weight) for weight in weights]
    whole = sum(exact, Fraction(0))
    if whole == 0:
        if total_minor == 0:
            return tuple(0 for _ in exact)
        raise ValueError(f"cannot split {total_minor} over weights that sum to 0")
    return apportion(total_minor, [total_minor * weight / whole for weight in exact])


# --- from decisions to charges ----------------------------------------------------------------


@dataclass(frozen=True)
class _Charge:
    """One decision, resolved: its line, its tax amount's key, its percent and provenance."""

    position: int  # the line's position in request.lines
    key: tuple[str, str, Treatment, str, Decimal]  # jurisdiction, tax, treatment, rate, percent
    note: str
    entry: str
    source: str
    tax_point: date

    @property
    def percent(self) -> Decimal:
        return self.key[4]

    @property
    def taxed(self) -> bool:
        return self.key[2] == Treatment.TAXED


def tax_point(jurisdiction: Jurisdiction, request: TaxRequest, line: TaxableLine) -> date:
    """The date that picks the jurisdiction's rate for a line."""
    if jurisdiction.tax_point == TaxPoint.PERIOD_START and line.period_start is not None:
        return line.period_start
    if (
        jurisdiction.tax_point == TaxPoint.EARLIER_OF_INVOICE_AND_PAYMENT
        and request.payment_date is not None
    ):
        return min(request.invoice_date, request.payment_date)
    return request.invoice_date


def exemption_for(
    exemptions: Iterable[Exemption], jurisdiction: str, day: date
) -> Exemption | None:
    """The first certificate active on `day` for `jurisdiction` or its country."""
    country = jurisdiction.partition("-")[0]
    for exemption in exemptions:
        if exemption.jurisdiction in (jurisdiction, country) and exemption.active_on(day):
            return exemption
    return None


def _resolve(decision: LineTax, position: int, request: TaxRequest, rules: TaxRules) -> _Charge:
    line = request.lines[position]
    jurisdiction = rules.jurisdictions.get(decision.jurisdiction)
    day = request.invoice_date if jurisdiction is None else tax_point(jurisdiction, request, line)
    treatment, note = Treatment(decision.treatment), decision.note
    if treatment == Treatment.TAXED:
        exemption = exemption_for(
            request.buyer.exemptions, decision.jurisdiction, request.invoice_date
        )
        if exemption is not None:
            treatment = Treatment.EXEMPT
            note = f"Exempt: certificate {exemption.certificate} ({exemption.reason})"
    entry = "" if jurisdiction is None else jurisdiction.entry
    source = ""
    percent = Decimal(0)
    if treatment == Treatment.TAXED:
        if decision.rate is not None:
            percent, source = decision.rate, ENGINE_RATE_SOURCE
        elif jurisdiction is None:
            raise TaxNotComputable(
                f"the tax engine taxes line {line.index} in {decision.jurisdiction}, which the"
                " tax rules do not list",
                "TAX_RATE_MISSING",
            )
        else:
            rate = jurisdiction.rate_on(decision.rate_name, day)
            if rate is None:
                raise TaxNotComputable(
                    f"{decision.jurisdiction} has no {decision.rate_name!r} rate in force on"
                    f" {day.isoformat()} (the tax point of line {line.index}); add one to"
                    " the tax rules",
                    "TAX_RATE_MISSING",
                )
            percent, entry, source = rate.percent, rate.entry or entry, rate.source
        if percent < 0:
            raise ValueError(f"a tax rate cannot be negative ({decision.jurisdiction}: {percent})")
    key = (decision.jurisdiction, decision.tax_name, treatment, decision.rate_name, percent)
    return _Charge(position, key, note, entry, source, day)


def _charges(request: TaxRequest, decisions: Sequence[LineTax], rules: TaxRules) -> list[_Charge]:
    positions: dict[int, int] = {}
    for position, line in enumerate(request.lines):
        if positions.setdefault(line.index, position) != position:
            raise ValueError(f"two lines of the tax request have index {line.index}")
    charges: list[_Charge] = []
    for decision in decisions:
        if decision.line_index not in positions:
            raise ValueError(
                f"the tax engine answered for line {decision.line_index}, which the request"
                " does not have"
            )
        charges.append(_resolve(decision, positions[decision.line_index], request, rules))
    return charges


# --- the computation ---------------------------------------------------------------------------


def compute(
    request: TaxRequest,
    decisions: Sequence[LineTax],
    rules: TaxRules,
    rounding: str = DEFAULT_ROUNDING,
) -> TaxOutcome:
    """The tax of `request` from the engine's `decisions`, under the rules' policy, rounded
    to the currency's minor unit with `rounding` (money.ROUNDING_MODES). Raises
    TaxNotComputable for a rate missing on its tax point, ValueError for decisions that name
    a line the request lacks, an unknown currency or mode."""
    minor_unit_exponent(request.currency)  # an unknown currency is refused here
    if rounding not in ROUNDING_MODES:
        raise ValueError(f"unknown rounding mode {rounding!r}")
    charges = _charges(request, decisions, rules)
    policy = rules.policy
    per_line: list[list[int]] = [[] for _ in request.lines]
    for number, charge in enumerate(charges):
        per_line[charge.position].append(number)
    unrounded: list[Fraction] = [Fraction(0)] * len(charges)
    fixed: dict[int, int] = {}  # charge number -> its rounded tax
    for position, line in enumerate(request.lines):
        mine = per_line[position]
        percents = [Fraction(charges[n].percent) / 100 for n in mine]
        amount = Fraction(line.amount_minor)
        net = amount / (1 + sum(percents, Fraction(0))) if line.inclusive else amount
        for n, percent in zip(mine, percents, strict=True):
            unrounded[n] = net * percent
        if line.inclusive and policy.inclusive_rounding == InclusiveRounding.NET_FIRST:
            tax = line.amount_minor - round_magnitude(net, rounding)
            shares = apportion(tax, [unrounded[n] for n in mine]) if mine else ()
            fixed.update(zip(mine, shares, strict=True))

    open_charges = [n for n in range(len(charges)) if n not in fixed]
    if policy.rounding == LineRounding.INVOICE:
        groups: dict[tuple[str, str, Treatment, str, Decimal], list[int]] = {}
        for n in open_charges:
            groups.setdefault(charges[n].key, []).append(n)
        for members in groups.values():
            values = [unrounded[n] for n in members]
            total = round_magnitude(sum(values, Fraction(0)), rounding)
            fixed.update(zip(members, apportion(total, values), strict=True))
    else:
        fixed.update((n, round_magnitude(unrounded[n], rounding)) for n in open_charges)

    tax_per_line = tuple(
        check_minor(sum(fixed[n] for n in per_line[p]), "tax") for p in range(len(request.lines))
    )
    nets = tuple(
        line.amount_minor - tax_per_line[p] if line.inclusive else line.amount_minor
        for p, line in enumerate(request.lines)
    )
    amounts = _amounts(request, charges, fixed, nets)
    notes = tuple(dict.fromkeys(a.note for a in amounts if a.note))
    return TaxOutcome(nets, tax_per_line, amounts, notes)


def _amounts(
    request: TaxRequest, charges: Sequence[_Charge], taxes: dict[int, int], nets: Sequence[int]
) -> tuple[TaxAmount, ...]:
    """One TaxAmount per key, in the order keys first appear (line order, then the engine's)."""
    groups: dict[tuple[str, str, Treatment, str, Decimal], list[int]] = {}
    for n in sorted(range(len(charges)), key=lambda n: (charges[n].position, n)):
        groups.setdefault(charges[n].key, []).append(n)
    amounts = []
    for (jurisdiction, tax_name, treatment, rate_name, percent), members in groups.items():
        first = charges[members[0]]
        positions = list(dict.fromkeys(charges[n].position for n in members))
        amounts.append(
            TaxAmount(
                jurisdiction=jurisdiction,
                tax_name=tax_name,
                treatment=treatment,
                rate_name=rate_name,
                percent=percent,
                taxable_minor=check_minor(sum(nets[p] for p in positions), "taxable amount"),
                tax_minor=check_minor(sum(taxes[n] for n in members), "tax"),
                line_indexes=tuple(request.lines[p].index for p in positions),
                note=next((charges[n].note for n in members if charges[n].note), ""),
                entry=first.entry,
                source=first.source,
                tax_point=first.tax_point,
            )
        )
    return tuple(amounts)
