"""Built-in European VAT engines (ADR 0029): `eu_vat` for the 27 member states, `uk_vat`
(GB), `ch_vat` (CH and LI, one VAT territory) and `no_vat` (NO). They decide where each line
is taxed and how (a named rate, reverse charge, exempt...) with the legal note; the core does
the arithmetic. Rates and tax points are data in `rules/tax_eu.yaml` and
`rules/tax_europe.yaml`."""

from __future__ import annotations

from collections.abc import Callable

from billing.plugins.engines import TaxEngine
from billing.plugins.hookspecs import hookimpl
from billing_builtin.tax_europe.eu import EuVat
from billing_builtin.tax_europe.national import NORWAY, SWITZERLAND, UK, NationalVat

__all__ = ["EuVat", "NationalVat", "billing_register_tax_engines"]


@hookimpl
def billing_register_tax_engines(register: Callable[[str, TaxEngine], None]) -> None:
    register("eu_vat", EuVat())
    for territory in (UK, SWITZERLAND, NORWAY):
        register(territory.engine, NationalVat(territory))
