"""Built-in tax engines outside Europe (ADR 0030): `canada`, `india_gst`, `us_sales_tax`,
`au_gst`, `nz_gst`, `sg_gst`, `jp_ct`. Their rates are data in `rules/tax_americas.yaml` and
`rules/tax_apac.yaml`; one module per family."""

from __future__ import annotations

from collections.abc import Callable

from billing.plugins.engines import TaxEngine
from billing.plugins.hookspecs import hookimpl
from billing_builtin.tax_world.apac import PROFILES, CountryGst
from billing_builtin.tax_world.canada import Canada
from billing_builtin.tax_world.india import IndiaGst
from billing_builtin.tax_world.us import UsSalesTax

__all__ = ["Canada", "CountryGst", "IndiaGst", "UsSalesTax", "billing_register_tax_engines"]


@hookimpl
def billing_register_tax_engines(register: Callable[[str, TaxEngine], None]) -> None:
    register("canada", Canada())
    register("india_gst", IndiaGst())
    register("us_sales_tax", UsSalesTax())
    for name, profile in PROFILES.items():
        register(name, CountryGst(profile))
