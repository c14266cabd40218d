"""HTML invoices from a Jinja2 template that finance edits (`rules/templates/invoice.html`).

The template receives preformatted strings (the view below), so it needs no logic of its own
to print a correct amount or date; autoescaping is always on and undefined names fail the
render instead of printing nothing.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from billing.documents._format import Formatter
from billing.documents._model import (
    DocumentError,
    DocumentLine,
    DocumentTax,
    InvoiceDocument,
    LineExplanation,
)

INVOICE_TEMPLATE = "invoice.html"
# Template directories kept compiled at once; a server has one or two (rules, tests).
_ENVIRONMENTS_MAX = 8
PERIOD_SEPARATOR = " \N{EN DASH} "
# Rule set versions are SHA-256 hex digests; the document prints their first 12 digits, as
# git prints a commit.
RULE_SET_SHORT = 12
# A pricing step as the usage pricing writes it: "<what>: <quantity> x <unit> + <flat> =
# <amount>", numbers as plain decimals. Anything else is printed as written.
_STEP = re.compile(
    r"^(?P<what>.+): (?P<quantity>\S+) x (?P<unit>\S+) \+ (?P<flat>\S+) = (?P<amount>\S+)$"
)


def render_html(doc: InvoiceDocument, template_dir: Path) -> str:
    """The invoice as a standalone HTML page, from `template_dir/invoice.html`."""
    return render_template(doc, template_dir, for_pdf=False)


def render_template(doc: InvoiceDocument, template_dir: Path, *, for_pdf: bool) -> str:
    """Render the invoice template; `for_pdf` is passed to it so that it can leave out
    what only a browser understands (the stylesheet)."""
    template = _template(template_dir)
    context = invoice_context(doc)
    context["for_pdf"] = for_pdf
    try:
        return template.render(context)
    except jinja2.TemplateError as exc:
        raise DocumentError(f"{INVOICE_TEMPLATE} in {template_dir} failed: {exc}") from exc


def invoice_context(doc: InvoiceDocument) -> dict[str, Any]:
    """The template's variables. Every amount, quantity and date is a formatted string."""
    fmt = Formatter.for_document(doc.locale, doc.currency, doc.time_zone)
    seller, customer = doc.seller, doc.customer
    return {
        "doc": doc,  # the raw data, for whatever the view does not cover
        "seller": {
            "name": seller.name,
            "address_lines": seller.address_lines,
            "legal_lines": tuple(seller.legal_text.splitlines()),
            "logo": seller.logo_path,
            "tax_ids": tuple(
                {"label": _tax_id_label(t.type), "value": t.value} for t in seller.tax_ids
            ),
        },
        "customer": {
            "name": customer.name,
            "address_lines": customer.address_lines,
            "tax_ids": tuple(
                {"label": _tax_id_label(t.type), "value": t.value} for t in customer.tax_ids
            ),
        },
        "invoice": {
            "number": doc.number,
            "status": doc.status,
            "issue_date": fmt.date(doc.issued_at),
            "due_date": fmt.date(doc.due_at),
            "currency": doc.currency,
            "locale": doc.locale,
            "time_zone": doc.time_zone,
        },
        "lines": tuple(_line_view(line, fmt) for line in doc.lines),
        "taxes": tuple(_tax_view(tax, fmt) for tax in doc.taxes),
        "tax_notes": doc.tax_notes,
        "totals": {
            "subtotal": fmt.money(doc.subtotal_minor),
            "discount": fmt.money(-doc.discount_minor),  # a deduction
            "has_discount": doc.discount_minor != 0,
            "tax": fmt.money(doc.tax_minor),
            "has_taxes": bool(doc.taxes),
            "total": fmt.money(doc.total_minor),
            "credit_applied": fmt.money(-doc.credit_applied_minor),  # a deduction
            "has_credit": doc.credit_applied_minor != 0,
            "amount_due": fmt.money(doc.amount_due_minor),
        },
        "explanations": {
            "show": doc.show_explanations,
            "rule_set": doc.rule_set,
            "rule_set_short": doc.rule_set[:RULE_SET_SHORT],
            # Formatted only when shown: a thousand lines of derivations cost a render.
            "lines": tuple(_explanation_view(line, fmt) for line in doc.lines)
            if doc.show_explanations
            else (),
        },
    }


def _line_view(line: DocumentLine, fmt: Formatter) -> dict[str, str]:
    start, end = fmt.date(line.period_start), fmt.date(line.period_end)
    return {
        "description": line.description,
        "period_start": start,
        "period_end": end,
        "period": f"{start}{PERIOD_SEPARATOR}{end}" if start and end else start or end,
        "quantity": fmt.number(line.quantity),
        "unit_amount": fmt.amount(line.unit_amount),
        "amount": fmt.money(line.amount_minor),
        "proration": line.proration,
    }


def _tax_view(tax: DocumentTax, fmt: Formatter) -> dict[str, str]:
    """`VAT DE 19 %` over its base; a non-taxed treatment says which instead of a rate."""
    treatment = "" if tax.treatment == "taxed" else tax.treatment.replace("_", " ")
    return {
        "name": f"{tax.tax_name} {tax.jurisdiction}",
        "jurisdiction": tax.jurisdiction,
        "tax_name": tax.tax_name,
        "rate": treatment or f"{fmt.number(tax.percent.normalize())}%",
        "rate_name": tax.rate_name,
        "treatment": tax.treatment,
        "taxable": fmt.money(tax.taxable_minor),
        "tax": fmt.money(tax.tax_minor),
        "note": tax.note,
    }


def _explanation_view(line: DocumentLine, fmt: Formatter) -> dict[str, Any]:
    """One line's derivation in words and local numbers; empty strings for what the line's
    derivation does not record."""
    why = line.explanation or LineExplanation()
    steps = [_step(step, fmt) for step in why.steps]
    if why.steps_left_out:
        steps.append(f"and {why.steps_left_out} more steps")
    return {
        **_line_view(line, fmt),
        "rule_entry": why.rule_entry,
        "metric": why.metric,
        "steps": tuple(steps),
        "base": "" if why.base is None else fmt.amount(why.base),
        "unrounded": "" if why.unrounded is None else fmt.amount(why.unrounded),
        "rounding": _rounding(why.rounding, fmt),
    }


def _step(step: str, fmt: Formatter) -> str:
    """`units 1 to 100: 100 x 0.10 + 0 = 10.00` with the locale's numbers, a multiplication
    sign for the `x` and a zero flat amount left out; another shape is printed as written."""
    found = _STEP.match(step)
    if found is None:
        return step
    try:
        quantity, unit, flat, amount = (
            Decimal(found[name]) for name in ("quantity", "unit", "flat", "amount")
        )
    except InvalidOperation:
        return step
    if not all(n.is_finite() for n in (quantity, unit, flat, amount)):
        return step
    text = f"{found['what']}: {fmt.decimal(quantity)} \N{MULTIPLICATION SIGN} {fmt.decimal(unit)}"
    if flat:
        text += f" + {fmt.decimal(flat)}"
    return f"{text} = {fmt.decimal(amount)}"


def _rounding(mode: str, fmt: Formatter) -> str:
    """`half_up` -> `half up to 0.01`: the mode, and the minor unit it rounds to."""
    if not mode:
        return ""
    return f"{mode.replace('_', ' ')} to {fmt.decimal(Decimal(1).scaleb(-fmt.exponent))}"


def _tax_id_label(tax_id_type: str) -> str:
    """`eu_vat` -> `EU VAT`: the customer tax id types are Stripe-style codes."""
    return tax_id_type.replace("_", " ").upper()


def _template(template_dir: Path) -> jinja2.Template:
    env = _environment(template_dir.resolve())
    try:
        return env.get_template(INVOICE_TEMPLATE)
    except jinja2.TemplateNotFound:
        raise DocumentError(f"no {INVOICE_TEMPLATE} in {template_dir}") from None
    except jinja2.TemplateSyntaxError as exc:
        raise DocumentError(f"{exc.filename or INVOICE_TEMPLATE}:{exc.lineno}: {exc}") from exc


@lru_cache(maxsize=_ENVIRONMENTS_MAX)
def _environment(template_dir: Path) -> jinja2.Environment:
    # auto_reload (the default) re-reads a template whose file changed, so an edit by
    # finance shows on the next render without a restart.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
