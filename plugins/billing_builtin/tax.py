"""Built-in tax engine `none`: no tax, for sellers not (yet) registered anywhere."""

from __future__ import annotations

from collections.abc import Callable

from billing.plugins.engines import TaxEngine, TaxRequest, TaxResult
from billing.plugins.hookspecs import hookimpl


class NoTax:
    def calculate(self, request: TaxRequest) -> TaxResult:
        return TaxResult(tuple(0 for _ in request.lines), "no tax engine configured")


@hookimpl
def billing_register_tax_engines(register: Callable[[str, TaxEngine], None]) -> None:
    register("none", NoTax())
