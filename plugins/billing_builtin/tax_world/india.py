"""Tax engine `india_gst`: CGST + SGST within a state, IGST between states (ADR 0030).

The `IN` jurisdiction's `tax_codes` map a code to its IGST rate name (`igst`: the 18% slab of
SaaS; `igst_<slab>` for another slab, e.g. `igst_low`) or a treatment; an unlisted code is
`igst`. The rates hold each slab three times: `igst<suffix>` (the whole rate) and
`cgst<suffix>`, `sgst<suffix>` (half each: the CGST and SGST Acts each levy half).

- **Indian seller** (registered in `IN-<state>` or `IN`; otherwise `settings.unregistered`):
  the place of supply of a service is the recipient's state (IGST Act 2017 s.12(2)); for a
  consumer without a state on record, the seller's state (s.12(2)(b)). Same state as the
  seller's address: CGST + SGST (or UTGST in a Union territory without a legislature), both
  under jurisdiction `IN` (the state is in the reason; the rates are the same in every
  state); another state: IGST.
  A business buyer needs its state (its GSTIN gives it; we do not parse it).
- **Foreign seller**: to a business with a GSTIN (`in_gst`) the recipient pays IGST under
  reverse charge (IGST Act s.5(3)); to a consumer IGST is charged when the seller is
  registered in `IN` (the OIDAR scheme, s.14), otherwise `settings.unregistered`.
- Exports of services by an Indian seller (buyer outside India) are zero-rated (IGST Act
  s.16): the buyer's country decides that engine, and the rules give that country what it
  needs (e.g. the `none` engine, or a `zero_rated` mapping); nothing here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from billing.domain.tax import LineTax, TaxableLine, TaxRequest, TaxRules, Treatment
from billing.plugins.engines import TaxNotDetermined
from billing_builtin.tax_world._common import (
    UNREGISTERED_CHOICES,
    is_business,
    is_treatment,
    jurisdiction,
    rate_or_treatment,
    settings_problems,
    unregistered,
)

GSTIN_TYPES = ("in_gst",)
# Union territories without a legislature levy UTGST instead of SGST (UTGST Act 2017).
UTGST_TERRITORIES = frozenset({"AN", "CH", "DH", "DN", "DD", "LA", "LD"})
NOTES = {
    "exempt": "Exempt supply (CGST Act 2017 s.11)",
    "zero_rated": "Zero-rated supply (IGST Act 2017 s.16)",
    "out_of_scope": "Not a supply subject to GST",
}
REVERSE_CHARGE = "Import of services: IGST payable by the recipient under reverse charge " + (
    "(IGST Act 2017 s.5(3))"
)
NOT_REGISTERED = "The supplier is not registered for GST in India"


def _rate_name(kind: str, igst_name: str) -> str:
    """`cgst_low` for kind `cgst` of the slab `igst_low`."""
    if not igst_name.startswith("igst"):
        raise TaxNotDetermined(
            f"IN: a tax code maps to {igst_name!r}; expected an IGST rate name (igst, igst_...)"
        )
    return kind + igst_name.removeprefix("igst")


class IndiaGst:
    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        return settings_problems(settings, {"unregistered": UNREGISTERED_CHOICES})

    def determine(self, request: TaxRequest, rules: TaxRules) -> Sequence[LineTax]:
        buyer, seller = request.buyer, request.seller
        if buyer.place.country != "IN":
            raise TaxNotDetermined(
                f"the india_gst engine taxes Indian buyers, not {buyer.place.country}"
            )
        india = jurisdiction(rules, "IN")
        b2b = is_business(buyer, GSTIN_TYPES, rules.policy, needs_id=True)
        day = request.invoice_date
        if seller.place.country != "IN":
            if b2b:
                return tuple(
                    LineTax(
                        line.index,
                        "IN",
                        "IGST",
                        Treatment.REVERSE_CHARGE,
                        rate_name="igst",
                        note=REVERSE_CHARGE,
                        reason="foreign supplier, recipient with a GSTIN",
                    )
                    for line in request.lines
                )
            if seller.registered_in("IN", day) is None:
                return unregistered(request, india, "IGST", NOT_REGISTERED)
            return tuple(
                self._one(
                    line,
                    rate_or_treatment(india, line.tax_code, "igst"),
                    "OIDAR supply to a consumer",
                )
                for line in request.lines
            )
        home = seller.place.subdivision
        if not home:
            raise TaxNotDetermined("the seller's Indian address needs its state")
        if (
            seller.registered_in(f"IN-{home}", day) is None
            and seller.registered_in("IN", day) is None
        ):
            return unregistered(request, india, "GST", NOT_REGISTERED)
        state = buyer.place.subdivision
        if not state:
            if b2b:
                raise TaxNotDetermined("an Indian business address needs its state")
            state = home  # IGST Act s.12(2)(b): a consumer without an address on record
        return tuple(
            tax
            for line in request.lines
            for tax in self._domestic(
                line, rate_or_treatment(india, line.tax_code, "igst"), home, state
            )
        )

    def _domestic(self, line: TaxableLine, slab: str, home: str, state: str) -> Sequence[LineTax]:
        if is_treatment(slab) or state != home:
            return (self._one(line, slab, f"inter-state supply: {home} to {state}"),)
        reason = f"intra-state supply in IN-{home}"
        state_tax = "UTGST" if home in UTGST_TERRITORIES else "SGST"
        return (
            LineTax(
                line.index, "IN", "CGST", Treatment.TAXED, _rate_name("cgst", slab), reason=reason
            ),
            LineTax(
                line.index,
                "IN",
                state_tax,
                Treatment.TAXED,
                _rate_name("sgst", slab),
                reason=reason,
            ),
        )

    def _one(self, line: TaxableLine, slab: str, reason: str) -> LineTax:
        if is_treatment(slab):
            return LineTax(
                line.index, "IN", "GST", Treatment(slab), note=NOTES.get(slab, ""), reason=reason
            )
        return LineTax(
            line.index, "IN", "IGST", Treatment.TAXED, _rate_name("igst", slab), reason=reason
        )
