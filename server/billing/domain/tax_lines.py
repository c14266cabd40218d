"""Tax on invoice lines (ADR 0032): from an invoice's lines to the tax request's lines, and
from the computed outcome back to the invoice's lines.

The representation every part of the tax work shares (ADR 0026, the brief of issue 14):

- an invoice's tax is carried as ordinary lines of `LineKind.TAX`, one per TaxAmount
  (jurisdiction, tax, rate, percent, treatment); a non-taxed treatment (reverse charge,
  exempt) gets a 0-amount TAX line so its legal note survives. Each TAX line's `derivation`
  holds the TaxAmount as plain JSON (`amount_to_derivation`), plus what the document shows:
  the seller's and buyer's tax ids as "type value" strings;
- a line priced tax-inclusive is stored at its price less its tax (its net), its price kept in
  `derivation["gross_minor"]` and its tax in `derivation["tax_minor"]`; so the invoice total
  is still the sum of its lines, and total = net + tax;
- order: discounts, then tax, then cash rounding, account credit, customer credit. A discount
  line is shared out over the lines it discounts before tax (largest remainder), so the tax
  base is after the discount; the discount line itself stays as priced.

Pure: the catalog is reached through a `classify` callable the caller builds from its rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from billing.domain.credits import DISCOUNTABLE_KINDS
from billing.domain.money import Money
from billing.domain.subscriptions import Line, LineKind, exact_line
from billing.domain.tax import (
    Buyer,
    Seller,
    TaxableLine,
    TaxAmount,
    TaxOutcome,
    TaxPolicy,
    Treatment,
)
from billing.domain.tax_calc import split_amount

# Lines that are supplies (or credits of supplies) and so carry tax. Discounts are shared out
# over the lines they discount; rounding, account credit and tax come after tax.
TAXABLE_KINDS = frozenset(
    {
        LineKind.RECURRING,
        LineKind.PRORATION_CHARGE,
        LineKind.PRORATION_CREDIT,
        LineKind.CANCELLATION_CREDIT,
        LineKind.REPAIR,
        LineKind.USAGE,
        LineKind.ONE_OFF,
    }
)
# Lines that are neither the supply nor its discount: what the subtotal leaves out.
AFTER_TAX_KINDS = frozenset({LineKind.TAX, LineKind.ROUNDING, LineKind.ACCOUNT_CREDIT})


@dataclass(frozen=True)
class LineTaxClass:
    """What the catalog says of a line: its product's tax code and whether its price includes
    tax; None where it says nothing (the tax policy's default applies)."""

    tax_code: str | None = None
    inclusive: bool | None = None


# --- TaxAmount <-> TAX line ------------------------------------------------------------------


def amount_to_derivation(amount: TaxAmount) -> dict[str, Any]:
    """The TaxAmount as plain JSON, the shape every reader of TAX lines relies on."""
    return {
        "jurisdiction": amount.jurisdiction,
        "tax_name": amount.tax_name,
        "treatment": amount.treatment.value,
        "rate_name": amount.rate_name,
        "percent": str(amount.percent),
        "taxable_minor": amount.taxable_minor,
        "tax_minor": amount.tax_minor,
        "line_indexes": list(amount.line_indexes),
        "note": amount.note,
        "entry": amount.entry,
        "source": amount.source,
        "tax_point": amount.tax_point.isoformat() if amount.tax_point is not None else None,
    }


def amount_from_derivation(data: Mapping[str, Any]) -> TaxAmount:
    tax_point = data.get("tax_point")
    return TaxAmount(
        jurisdiction=str(data["jurisdiction"]),
        tax_name=str(data["tax_name"]),
        treatment=Treatment(str(data["treatment"])),
        rate_name=str(data["rate_name"]),
        percent=Decimal(str(data["percent"])),
        taxable_minor=int(data["taxable_minor"]),
        tax_minor=int(data["tax_minor"]),
        line_indexes=tuple(int(i) for i in data.get("line_indexes") or ()),
        note=str(data.get("note") or ""),
        entry=str(data.get("entry") or ""),
        source=str(data.get("source") or ""),
        tax_point=date.fromisoformat(str(tax_point)) if tax_point else None,
    )


def tax_description(amount: TaxAmount) -> str:
    """`VAT 19% (DE)`; `VAT reverse charge (DE)` for a treatment that charges none."""
    if amount.treatment == Treatment.TAXED:
        return f"{amount.tax_name} {amount.percent}% ({amount.jurisdiction})"
    treatment = amount.treatment.value.replace("_", " ")
    return f"{amount.tax_name} {treatment} ({amount.jurisdiction})"


def amount_to_line(
    amount: TaxAmount,
    currency: str,
    period: tuple[datetime, datetime],
    *,
    seller_tax_ids: Sequence[str] = (),
    buyer_tax_ids: Sequence[str] = (),
) -> Line:
    """The TAX line of one TaxAmount."""
    derivation: dict[str, object] = {
        **amount_to_derivation(amount),
        "rule_entry": amount.entry,
        "seller_tax_ids": list(seller_tax_ids),
        "buyer_tax_ids": list(buyer_tax_ids),
    }
    return exact_line(
        tax_description(amount), amount.tax_minor, currency, period, LineKind.TAX, derivation
    )


def amount_of(line: Line) -> TaxAmount:
    """The TaxAmount a TAX line carries. ValueError for any other line."""
    if line.kind != LineKind.TAX or not line.derivation:
        raise ValueError(f"{line.description!r} is not a tax line")
    return amount_from_derivation(line.derivation)


def tax_amounts(lines: Sequence[Line]) -> tuple[TaxAmount, ...]:
    """The TaxAmounts of an invoice's TAX lines, in line order."""
    return tuple(amount_of(line) for line in lines if line.kind == LineKind.TAX)


# --- the document's figures --------------------------------------------------------------------


@dataclass(frozen=True)
class TaxSummary:
    """What a document shows of its tax: net (after discounts, before tax), tax, the amounts,
    the legal notes and the parties' tax ids as shown."""

    subtotal_minor: int
    tax_minor: int
    amounts: tuple[TaxAmount, ...]
    notes: tuple[str, ...]
    seller_tax_ids: tuple[str, ...]
    buyer_tax_ids: tuple[str, ...]


def summary(lines: Sequence[Line]) -> TaxSummary:
    """Subtotal is the sum of the lines but tax, cash rounding and account credit: the net of
    the supplies after their discounts. An invoice without TAX lines has tax 0."""
    subtotal = sum(line.amount_minor for line in lines if line.kind not in AFTER_TAX_KINDS)
    taxes = [line for line in lines if line.kind == LineKind.TAX]
    amounts = tuple(amount_of(line) for line in taxes)
    first: Mapping[str, Any] = (taxes[0].derivation or {}) if taxes else {}
    return TaxSummary(
        subtotal_minor=subtotal,
        tax_minor=sum(line.amount_minor for line in taxes),
        amounts=amounts,
        notes=tuple(dict.fromkeys(a.note for a in amounts if a.note)),
        seller_tax_ids=tuple(str(t) for t in first.get("seller_tax_ids") or ()),
        buyer_tax_ids=tuple(str(t) for t in first.get("buyer_tax_ids") or ()),
    )


def explanation_steps(line: Line, currency: str) -> tuple[str, ...]:
    """What ExplainInvoice adds to a line's steps: a tax line's rate, its source, its tax
    point and its base; an inclusive line's split into net and tax; an exclusive line's tax."""
    d: Mapping[str, Any] = line.derivation or {}
    if line.kind == LineKind.TAX and d:
        amount = amount_from_derivation(d)
        indexes = ", ".join(str(i) for i in amount.line_indexes)
        steps = [
            f"{amount.treatment.value}: {amount.tax_name} {amount.rate_name} {amount.percent}%"
            f" in {amount.jurisdiction}",
            f"rate source: {amount.source or 'none'}",
            "tax point: "
            + (amount.tax_point.isoformat() if amount.tax_point is not None else "none"),
            f"taxable: {Money(currency, amount.taxable_minor)} (lines {indexes})",
        ]
        if amount.note:
            steps.append(f"note: {amount.note}")
        return tuple(steps)
    if "tax_minor" not in d:
        return ()
    tax = Money(currency, int(d["tax_minor"]))
    if "gross_minor" in d:
        return (
            f"price includes tax: {Money(currency, int(d['gross_minor']))} = net"
            f" {Money(currency, line.amount_minor)} + tax {tax}",
        )
    return (f"tax on this line: {tax}",)


def seller_ids(seller: Seller) -> tuple[str, ...]:
    return tuple(f"{kind} {value}" for kind, value in seller.tax_ids)


def buyer_ids(buyer: Buyer) -> tuple[str, ...]:
    return tuple(f"{fact.type} {fact.value}" for fact in buyer.tax_ids)


# --- invoice lines -> taxable lines ---------------------------------------------------------


def discount_allocation(lines: Sequence[Line]) -> tuple[int, ...]:
    """Per line, its share of the discount lines (negative, 0 for lines not discounted): each
    discount line is shared out over the discountable lines since the discount line before
    it (a shared renewal invoice has one discount per subscription, after that
    subscription's lines), in proportion to their amounts, by largest remainder, so the
    shares add up to the discount exactly. A discount with nothing positive to share over is
    left where it is (it then lowers no tax base)."""
    shares = [0] * len(lines)
    segment: list[int] = []
    for position, line in enumerate(lines):
        if line.kind in DISCOUNTABLE_KINDS:
            segment.append(position)
        elif line.kind == LineKind.DISCOUNT:
            weights = [lines[p].amount_minor for p in segment]
            if segment and sum(weights) > 0:
                parts = split_amount(line.amount_minor, weights)
                for p, part in zip(segment, parts, strict=True):
                    shares[p] += part
            segment = []
    return tuple(shares)


def taxable_lines(
    lines: Sequence[Line],
    classify: Callable[[Line], LineTaxClass],
    policy: TaxPolicy,
    day: Callable[[datetime], date],
) -> tuple[TaxableLine, ...]:
    """The invoice's taxable lines for the tax request: each with its position on the invoice
    as `index`, its amount after its share of the discounts, the tax code of its product (the
    policy's default where the catalog names none) and whether its price includes tax (the
    price's `tax_behavior`, else the policy's `prices_include_tax`). `day` gives a line
    period's dates (the customer's calendar)."""
    shares = discount_allocation(lines)
    taxable: list[TaxableLine] = []
    for position, line in enumerate(lines):
        if line.kind not in TAXABLE_KINDS:
            continue
        known = classify(line)
        taxable.append(
            TaxableLine(
                index=position,
                amount_minor=line.amount_minor + shares[position],
                tax_code=known.tax_code or policy.default_tax_code,
                inclusive=policy.prices_include_tax if known.inclusive is None else known.inclusive,
                period_start=day(line.period_start),
                period_end=day(line.period_end),
            )
        )
    return tuple(taxable)


# --- outcome -> invoice lines -----------------------------------------------------------------


def apply_outcome(
    lines: Sequence[Line],
    taxable: Sequence[TaxableLine],
    outcome: TaxOutcome,
    currency: str,
    period: tuple[datetime, datetime],
    *,
    seller_tax_ids: Sequence[str] = (),
    buyer_tax_ids: Sequence[str] = (),
) -> tuple[Line, ...]:
    """The invoice's lines with their tax: each taxed line records its tax in its derivation;
    an inclusive line is stored at its price less its tax (`gross_minor` keeps the price);
    one TAX line per TaxAmount is appended. Nothing changes when the outcome has no amounts
    (the buyer's place is in no listed jurisdiction). The sum of the lines stays the sum of
    the prices after discounts, plus the exclusive lines' tax."""
    if not outcome.amounts:
        return tuple(lines)
    result = list(lines)
    for number, entry in enumerate(taxable):
        tax = outcome.tax_minor_per_line[number]
        line = result[entry.index]
        derivation = dict(line.derivation or {})
        derivation["tax_minor"] = tax
        if entry.inclusive:
            derivation["gross_minor"] = line.amount_minor
            derivation["net_minor"] = line.amount_minor - tax
            result[entry.index] = replace(
                line, amount_minor=line.amount_minor - tax, derivation=derivation
            )
        else:
            result[entry.index] = replace(line, derivation=derivation)
    result += [
        amount_to_line(
            amount, currency, period, seller_tax_ids=seller_tax_ids, buyer_tax_ids=buyer_tax_ids
        )
        for amount in outcome.amounts
    ]
    return tuple(result)


def with_plan(lines: Sequence[Line], plan_code: str) -> list[Line]:
    """The lines with `derivation["plan"]` set where unset: on an invoice shared by several
    subscriptions (a consolidated renewal) each line then still names the plan, and so the
    product and tax code, it bills."""
    return [
        line
        if (line.derivation or {}).get("plan")
        else replace(line, derivation={**(line.derivation or {}), "plan": plan_code})
        for line in lines
    ]


CREDITED_KINDS = frozenset(
    {LineKind.PRORATION_CREDIT, LineKind.CANCELLATION_CREDIT, LineKind.REPAIR}
)


def with_change_plans(lines: Sequence[Line], old_plan: str, new_plan: str) -> list[Line]:
    """A plan change's lines naming their plan: credits (and their repair) the plan they
    give back, charges the plan they bill, so each is taxed as its own product and price."""
    credited = with_plan([line for line in lines if line.kind in CREDITED_KINDS], old_plan)
    charged = with_plan([line for line in lines if line.kind not in CREDITED_KINDS], new_plan)
    first, second = iter(credited), iter(charged)
    return [next(first) if line.kind in CREDITED_KINDS else next(second) for line in lines]


def as_priced(lines: Sequence[Line]) -> tuple[Line, ...]:
    """The lines as priced, before tax: TAX lines dropped, inclusive lines back at their
    price. What a subscription's items were paid is recorded from these, so later credits
    are in the prices' own terms (and taxed again as such)."""
    priced = []
    for line in lines:
        if line.kind == LineKind.TAX:
            continue
        gross = (line.derivation or {}).get("gross_minor")
        priced.append(line if gross is None else replace(line, amount_minor=int(gross)))
    return tuple(priced)
