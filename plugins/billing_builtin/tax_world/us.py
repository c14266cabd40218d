"""Tax engine `us_sales_tax`: state sales tax at the state's base rate (ADR 0030).

Each state is a jurisdiction `US-XX` in the rules, with its base state rate (`standard`; no
local, county or district rates: those need an address-level provider, see below) and what a
tax code is there (`tax_codes`: `standard`, another rate name such as Texas' `saas`, or
`exempt` / `out_of_scope` where SaaS is not taxable, e.g. California, Florida).

Order of decision, per request:
1. The buyer's address must name its state.
2. `settings.provider: <engine>` on the state (else on `US`) hands the whole request to that
   registered tax engine (an Avalara-like plugin answering with rates, `LineTax.rate`). The
   name is checked when the rules are loaded (`check_settings`) and again when used.
3. A state or territory the rules do not list (US-PR): out of scope ("no sales tax nexus")
   unless the seller is registered there, which is an error (the rules miss its rates).
4. `settings.state_sales_tax: false` (AK, DE, MT, NH, OR): out of scope, no state sales tax.
5. Economic nexus: without a registration `US-XX` active on the invoice date, out of scope
   with the note "no sales tax nexus".
6. Otherwise each line at the rate its tax code names (unlisted: `standard`). Exemption
   certificates are applied by the core, never here.

Texas taxes 80% of the price of data processing services, SaaS included (Tax Code
§151.351): modelled as a `saas` rate of 5 (6.25 x 80%) so the base stays the whole price.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from billing.domain.tax import Jurisdiction, LineTax, TaxRequest, TaxRules, Treatment
from billing.plugins.engines import TaxEngine, TaxNotDetermined
from billing_builtin.tax_world._common import (
    line_tax,
    rate_or_treatment,
    settings_problems,
)

ENGINE_NAME = "us_sales_tax"
NO_NEXUS = "no sales tax nexus"
NOTES = {
    "exempt": "Not taxable in this state",
    "out_of_scope": "Not subject to this state's sales tax",
    "zero_rated": "Taxable at 0% in this state",
}

Resolver = Callable[[str], TaxEngine]


def _installed() -> Mapping[str, TaxEngine]:
    from billing.plugins.registry import load_engines  # at call time: never during loading

    engines: Mapping[str, TaxEngine] = load_engines().by_kind["tax_engine"]
    return engines


def registered_engine(name: str) -> TaxEngine:
    """The tax engine `name` among every installed plugin's (loaded once per process)."""
    engines = _installed()
    if name not in engines:
        raise TaxNotDetermined(f"settings.provider names {name!r}, which no plugin registers")
    return engines[name]


def registered_names() -> Collection[str]:
    return tuple(_installed())


class UsSalesTax:
    def __init__(
        self,
        resolve: Resolver = registered_engine,
        names: Callable[[], Collection[str]] = registered_names,
    ) -> None:
        self._resolve = resolve
        self._names = names

    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        """At load: the settings' shapes, and a provider that is another registered engine."""
        problems = settings_problems(
            settings, {"provider": str, "state_sales_tax": bool, "taxability_source": str}
        )
        provider = settings.get("provider")
        if isinstance(provider, str) and provider:
            if provider == ENGINE_NAME:
                problems.append(f"settings.provider names {ENGINE_NAME} itself")
            elif provider not in self._names():
                known = ", ".join(sorted(set(self._names()) - {ENGINE_NAME})) or "none"
                problems.append(
                    f"settings.provider names {provider!r}, which no plugin registers"
                    f" (registered: {known})"
                )
        return problems

    def determine(self, request: TaxRequest, rules: TaxRules) -> Sequence[LineTax]:
        place = request.buyer.place
        if place.country != "US":
            raise TaxNotDetermined(f"the us_sales_tax engine taxes US buyers, not {place.country}")
        if not place.subdivision:
            raise TaxNotDetermined("a US address needs its state")
        state = rules.jurisdictions.get(place.jurisdiction)
        provider = self._provider(state, rules)
        if provider:
            if provider == ENGINE_NAME:
                raise TaxNotDetermined(f"{place.jurisdiction}: settings.provider names this engine")
            return self._resolve(provider).determine(request, rules)
        if state is None:
            return self._unlisted(request, place.jurisdiction, rules)
        if state.settings.get("state_sales_tax", True) is False:
            return self._all(request, state, "No state sales tax", "the state levies no sales tax")
        if request.seller.registered_in(state.code, request.invoice_date) is None:
            return self._all(request, state, NO_NEXUS, f"no registration in {state.code}")
        reason = f"seller registered in {state.code} (nexus)"
        return tuple(
            line_tax(
                line,
                state.code,
                state.tax_name,
                rate_or_treatment(state, line.tax_code),
                reason=reason,
                notes=NOTES,
            )
            for line in request.lines
        )

    @staticmethod
    def _provider(state: Jurisdiction | None, rules: TaxRules) -> str:
        country = rules.jurisdictions.get("US")
        name = (state.settings.get("provider") if state else "") or (
            country.settings.get("provider") if country else ""
        )
        return str(name or "")

    @staticmethod
    def _unlisted(request: TaxRequest, code: str, rules: TaxRules) -> Sequence[LineTax]:
        """A state or territory the rules do not list (US-PR...): out of scope when the seller
        is not registered there; an error when it is (the rules miss its rates)."""
        if request.seller.registered_in(code, request.invoice_date) is not None:
            raise TaxNotDetermined(
                f"the seller is registered in {code}, which the tax rules do not list"
            )
        country = rules.jurisdictions.get("US")
        tax_name = country.tax_name if country else "sales tax"
        return tuple(
            LineTax(
                line.index,
                code,
                tax_name,
                Treatment.OUT_OF_SCOPE,
                note=NO_NEXUS,
                reason=f"{code} is not in the tax rules and the seller is not registered there",
            )
            for line in request.lines
        )

    @staticmethod
    def _all(request: TaxRequest, state: Jurisdiction, note: str, reason: str) -> Sequence[LineTax]:
        return tuple(
            LineTax(
                line.index,
                state.code,
                state.tax_name,
                Treatment.OUT_OF_SCOPE,
                note=note,
                reason=reason,
            )
            for line in request.lines
        )
