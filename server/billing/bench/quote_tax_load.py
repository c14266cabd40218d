"""QuoteTax, the checkout quote (issue 14), as a load process makes it.

Each call quotes a cart of three lines (49.00 of SaaS, 11.90 of SaaS priced with tax
included, a 9.99 e-book) dated 2026-04-01, for a buyer taken round-robin from a mix of EU
consumers and businesses with VAT numbers. The calls run on a tenant of their own, whose rule
set is the run's (`--rules-dir`) with the tax policy switched on, so the other scenarios'
invoices stay untaxed. Where those rules list no jurisdiction for a buyer's country, set-up
adds one with the built-in `flat_rate` engine (Germany 19% / 7%, France 20% / 5.5%), so every
quote goes through an engine and the arithmetic, never the out-of-scope shortcut.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import grpc
import yaml
from google.type import date_pb2

from billing.api.auth import mint_hs256_token
from billing_client import bearer_metadata
from billing_client.v1 import (
    customers_pb2,
    money_pb2,
    rules_pb2,
    rules_pb2_grpc,
    tax_pb2,
    tax_pb2_grpc,
)

QUOTE_DATE = date_pb2.Date(year=2026, month=4, day=1)
LINES = (
    tax_pb2.QuoteLine(amount=money_pb2.Money(currency_code="EUR", amount_minor=4900)),
    tax_pb2.QuoteLine(unit_amount="11.90", quantity="1", inclusive=True),
    tax_pb2.QuoteLine(
        amount=money_pb2.Money(currency_code="EUR", amount_minor=999), tax_code="ebook"
    ),
)
_BUSINESS = tax_pb2.QuoteBuyer.BUSINESS
BUYERS = (
    tax_pb2.QuoteBuyer(country="DE", postal_code="10115"),
    tax_pb2.QuoteBuyer(country="FR", postal_code="75001"),
    tax_pb2.QuoteBuyer(
        country="DE",
        customer_type=_BUSINESS,
        tax_ids=[customers_pb2.TaxId(type="eu_vat", value="DE136695976")],
    ),
    tax_pb2.QuoteBuyer(
        country="FR",
        customer_type=_BUSINESS,
        tax_ids=[customers_pb2.TaxId(type="eu_vat", value="FR40303265045")],
    ),
)
BENCH_FILE = "tax_bench.yaml"
_SELLER = """seller:
  name: Bench SAS
  country: FR
  tax_ids: [{type: eu_vat, value: FR40303265045}]
  registrations:
    - {jurisdiction: FR, number: FR40303265045, valid_from: 2020-01-01}
    - {jurisdiction: EU-OSS, number: FR40303265045, valid_from: 2021-07-01}
"""
_CODES = {
    "saas": "  - {code: saas, description: Software as a service}\n",
    "ebook": "  - {code: ebook, description: Electronic books}\n",
}
_JURISDICTIONS = {
    "DE": """  - code: DE
    name: Germany
    engine: flat_rate
    tax_name: VAT
    tax_point: invoice_date
    rates:
      - {name: standard, percent: 19, effective_from: 2007-01-01, source: "UStG §12(1)"}
      - {name: reduced, percent: 7, effective_from: 2007-01-01, source: "UStG §12(2)"}
    tax_codes: {ebook: reduced}
""",
    "FR": """  - code: FR
    name: France
    engine: flat_rate
    tax_name: VAT
    tax_point: invoice_date
    rates:
      - {name: standard, percent: 20, effective_from: 2014-01-01, source: "CGI art. 278"}
      - {name: reduced, percent: "5.5", effective_from: 2014-01-01, source: "CGI art. 278-0 bis"}
    tax_codes: {ebook: reduced}
""",
}


def tax_rule_files(files: Mapping[str, bytes]) -> dict[str, bytes]:
    """The run's rule files with the tax policy on, and what a quote needs that they lack."""
    out = dict(files)
    has_policy = False
    codes: set[str] = set()
    places: set[str] = set()
    for name, raw in files.items():
        data: Any = yaml.safe_load(raw) or {}
        if not isinstance(data, dict) or data.get("kind") != "tax":
            continue
        codes |= {str(c.get("code")) for c in data.get("tax_codes") or () if isinstance(c, dict)}
        places |= {
            str(j.get("code")) for j in data.get("jurisdictions") or () if isinstance(j, dict)
        }
        if "policy" in data:
            has_policy = True
            text = raw.decode()
            turned_on, count = re.subn(r"(?m)^(\s+enabled:\s*)false\b", r"\1true", text)
            if count == 0 and not (data["policy"] or {}).get("enabled"):
                raise ValueError(f"{name}: cannot switch the tax policy on")
            out[name] = turned_on.encode()
    extra = "kind: tax\n"
    if not has_policy:
        extra += "policy: {enabled: true}\n" + _SELLER
    missing_codes = [text for code, text in _CODES.items() if code not in codes]
    if missing_codes:
        extra += "tax_codes:\n" + "".join(missing_codes)
    missing_places = [text for code, text in _JURISDICTIONS.items() if code not in places]
    if missing_places:
        extra += "jurisdictions:\n" + "".join(missing_places)
    if extra != "kind: tax\n":
        out[BENCH_FILE] = extra.encode()
    return out


def set_up_tenant(
    target: str,
    secret: str,
    *,
    tenant_id: str,
    issuer: str,
    audience: str,
    tenant_claim: str,
    rule_files: Mapping[str, bytes],
    timeout_s: float,
) -> tuple[tuple[str, str], ...]:
    """A tenant of its own with the tax rules pushed; its call metadata."""
    token = mint_hs256_token(
        secret,
        tenant_id=tenant_id,
        subject="billing-bench",
        issuer=issuer,
        audience=audience,
        tenant_claim=tenant_claim,
        lifetime_s=6 * 3600,
    )
    metadata: tuple[tuple[str, str], ...] = tuple(bearer_metadata(token))
    with grpc.insecure_channel(target) as channel:
        rules_pb2_grpc.RuleServiceStub(channel).PushRuleSet(
            rules_pb2.PushRuleSetRequest(
                files=tax_rule_files(rule_files), request_id=uuid.uuid4().hex
            ),
            metadata=metadata,
            timeout=timeout_s,
        )
    return metadata


def quote_tax_call(
    channel: grpc.aio.Channel,
    metadata: tuple[tuple[str, str], ...],
    *,
    index: int,
    timeout_s: float,
) -> Callable[[int], Awaitable[None]]:
    stub = tax_pb2_grpc.TaxServiceStub(channel)
    requests = [
        tax_pb2.QuoteTaxRequest(buyer=buyer, lines=LINES, date=QUOTE_DATE, currency_code="EUR")
        for buyer in BUYERS
    ]

    async def call(n: int) -> None:
        request = requests[(index + n) % len(requests)]
        await stub.QuoteTax(request, timeout=timeout_s, metadata=metadata)

    return call
