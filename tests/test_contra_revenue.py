"""Credit notes and refunds in the books (issue 17, ADR 0052), through the API on both
databases: a credit note is contra revenue in the month it is issued; a refund paying out that
note's credit is not contra revenue again (the note was); a refund on its own, a concession,
is contra revenue in its own month. Revenue recognized by then is not taken back."""

from __future__ import annotations

from collections import defaultdict

from payments_fixtures import table
from refund_fixtures import Payments, payments_channel, payments_server
from test_recognition import revenue_by_period

__all__ = ["payments_channel", "payments_server"]  # module-scoped fixtures used below


def balances_by_period(pay: Payments, prefix: str) -> dict[str, int]:
    """period -> debit balance of the accounts starting with `prefix`."""
    server, tenant = pay.server, pay.tenant_id
    entries = {row["id"]: row for row in table(server, "journal_entries", tenant)}  # type: ignore[arg-type]
    out: dict[str, int] = defaultdict(int)
    for line in table(server, "journal_lines", tenant):  # type: ignore[arg-type]
        if line["account"].startswith(prefix):
            period = entries[line["entry_id"]]["period"]
            out[period] += int(line["debit_minor"]) - int(line["credit_minor"])
    return dict(sorted(out.items()))


def test_a_credit_note_and_a_refund_are_contra_revenue_in_their_month(  # type: ignore[no-untyped-def]
    payments_channel, payments_server, tenant
):
    pay = Payments(payments_channel, tenant, payments_server)
    invoice, _ = pay.paid_invoice()  # 50.00, April 2026, paid
    payment = pay.payment_of(invoice)

    pay.advance(pay.the_clock, "2026-05-10T00:00:00Z")
    note = pay.credit_note(invoice, 1000)  # the invoice is paid: 10.00 to the customer's credit
    pay.refund(payment, 1000, credit_note=note.name)  # pays that credit out

    pay.advance(pay.the_clock, "2026-06-03T00:00:00Z")
    pay.refund(payment, 500)  # a concession, tied to no note

    assert balances_by_period(pay, "contra_revenue") == {"2026-05": 1000, "2026-06": 500}
    assert balances_by_period(pay, "customer_credit") == {"2026-05": 0}  # given, paid out
    # April's service was earned in April, whatever was credited later.
    assert revenue_by_period(pay.server, tenant, invoice.name)["2026-04"] == {"revenue:pro": 5000}
