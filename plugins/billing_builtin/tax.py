"""Built-in tax engines:

- `none`: out of scope everywhere, for jurisdictions the seller lists but does not collect in
  (and sellers not registered anywhere yet);
- `flat_rate`: one tax, the jurisdiction's, on every line, for simple sellers who collect
  where they are registered and need no place-of-supply rules. A line's tax code is looked up
  in the jurisdiction's `tax_codes`: a rate name (`reduced`) taxes it at that rate, a
  treatment (`exempt`, `zero_rated`, `out_of_scope`) gives that treatment with the note of
  `settings.notes.<treatment>` if any; a code not listed is taxed at `standard`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from billing.domain.tax import LineTax, TaxRequest, TaxRules, Treatment
from billing.plugins.engines import TaxEngine, TaxNotDetermined
from billing.plugins.hookspecs import hookimpl

_TREATMENTS = frozenset(t.value for t in Treatment) - {Treatment.TAXED.value}


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


class FlatRate:
    def determine(self, request: TaxRequest, rules: TaxRules) -> Sequence[LineTax]:
        jurisdiction = rules.jurisdiction_for(request.buyer.place)
        if jurisdiction is None:
            raise TaxNotDetermined(
                f"no jurisdiction of the tax rules covers {request.buyer.place.jurisdiction}"
            )
        notes = jurisdiction.settings.get("notes", {})
        decisions = []
        for line in request.lines:
            meaning = jurisdiction.treatment_of(line.tax_code) or "standard"
            if meaning in _TREATMENTS:
                decisions.append(
                    LineTax(
                        line.index,
                        jurisdiction.code,
                        jurisdiction.tax_name,
                        Treatment(meaning),
                        meaning,
                        note=str(notes.get(meaning, "")) if isinstance(notes, Mapping) else "",
                        reason=f"tax code {line.tax_code!r} is {meaning} in {jurisdiction.code}",
                    )
                )
            else:
                decisions.append(
                    LineTax(
                        line.index,
                        jurisdiction.code,
                        jurisdiction.tax_name,
                        Treatment.TAXED,
                        meaning,
                        reason=f"the {meaning} rate of {jurisdiction.code}, where the buyer is",
                    )
                )
        return tuple(decisions)


@hookimpl
def billing_register_tax_engines(register: Callable[[str, TaxEngine], None]) -> None:
    register("none", NoTax())
    register("flat_rate", FlatRate())
