"""The QuoteTax bench scenario's set-up and calls (billing.bench.quote_tax_load) against the
repository's rules/: the rule set with tax switched on is accepted, and every cart of the mix
is quoted with tax, so the benchmark measures quotes and not refusals."""

from __future__ import annotations

import grpc

from billing.bench.quote_tax_load import BUYERS, LINES, QUOTE_DATE, tax_rule_files
from billing_client.v1 import tax_pb2, tax_pb2_grpc
from billing_fixtures import Billing
from conftest import Tenant, rule_files


def test_the_bench_rules_turn_tax_on_and_every_cart_is_taxed(
    channel: grpc.Channel, tenant: Tenant
) -> None:
    Billing(channel, tenant.metadata).push(tax_rule_files(rule_files()))
    stub = tax_pb2_grpc.TaxServiceStub(channel)
    for buyer in BUYERS:
        quote = stub.QuoteTax(
            tax_pb2.QuoteTaxRequest(buyer=buyer, lines=LINES, date=QUOTE_DATE, currency_code="EUR"),
            metadata=tenant.metadata,
        )
        assert quote.jurisdiction == buyer.country
        assert len(quote.lines) == len(LINES)
        assert quote.net.amount_minor + quote.tax.amount_minor == quote.gross.amount_minor
        assert quote.taxes, buyer
    consumer = stub.QuoteTax(
        tax_pb2.QuoteTaxRequest(buyer=BUYERS[0], lines=LINES, date=QUOTE_DATE, currency_code="EUR"),
        metadata=tenant.metadata,
    )
    assert consumer.tax.amount_minor > 0
