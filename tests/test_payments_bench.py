"""The PayInvoice bench scenario's set-up and calls (billing.bench.pay_invoice_load) against
the repository's rules/: the invoices it makes stay open until the load pays them (sent, not
collected or emailed), each load process pays its own share once, and a process that runs out
says so instead of paying an invoice twice."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest

from billing.bench import pay_invoice_load
from billing.bench.pay_invoice_load import OutOfInvoices
from conftest import AUDIENCE, ISSUER, SECRET, Server, rule_files


def test_the_bench_invoices_are_open_until_each_is_paid_once(server: Server) -> None:
    metadata = pay_invoice_load.set_up(
        server.target,
        SECRET,
        tenant_id=f"t_{uuid.uuid4().hex[:16]}",
        issuer=ISSUER,
        audience=AUDIENCE,
        tenant_claim="tenant_id",
        rule_files=rule_files(),
        invoices=12,
        progress=lambda _text: None,
    )
    invoices = pay_invoice_load.open_invoices(server.target, metadata)
    assert len(invoices) == 12
    shares = pay_invoice_load.share(invoices, 5)
    assert sorted(name for share in shares for name in share) == sorted(invoices)
    assert [len(s) for s in shares] == [3, 3, 2, 2, 2]

    async def pay_first_share() -> None:
        async with grpc.aio.insecure_channel(server.target) as channel:
            call = pay_invoice_load.pay_invoice_call(
                channel, metadata, shares[0], run_tag="t", index=0, timeout_s=10
            )
            for n in range(len(shares[0])):
                await call(n)  # raises unless the attempt succeeded
            with pytest.raises(OutOfInvoices):
                await call(len(shares[0]))

    asyncio.run(pay_first_share())
    assert sorted(pay_invoice_load.open_invoices(server.target, metadata)) == sorted(
        set(invoices) - set(shares[0])
    )


def test_bench_invoicing_rules_send_and_do_not_email() -> None:
    files = pay_invoice_load.send_invoices(
        {"invoicing.yaml": b"kind: invoicing\ncollection_method: charge_automatically\n"}
    )
    assert files["invoicing.yaml"] == (
        b"kind: invoicing\ncollection_method: send_invoice\nemail_invoices: false\n"
    )
