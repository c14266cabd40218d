"""Built-in tax engine `none`: out of scope everywhere, for jurisdictions the seller lists
but does not collect in (and sellers not registered anywhere yet)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from billing.domain.tax import LineTax, TaxRequest, TaxRules, Treatment
from billing.plugins.engines import TaxEngine
from billing.plugins.hookspecs import hookimpl


class NoTax:
    def determine(self, request: TaxRequest, rules: TaxRules) -> Sequence[LineTax]:
        return tuple(
            LineTax(
                line.index,
                request.buyer.place.jurisdiction,
                "tax",
                Treatment.OUT_OF_SCOPE,
                reason="the seller collects no tax here",
            )
            for line in request.lines
        )


@hookimpl
def billing_register_tax_engines(register: Callable[[str, TaxEngine], None]) -> None:
    register("none", NoTax())
