"""Tax id formats and checksums, through python-stdnum (ADR 0031). Pure: no registry is asked.

Each tax id type maps to the stdnum module that knows its format. `eu_vat` takes a number of
any member state, told by its prefix (`DE`, `FR`, `EL` for Greece, `XI` for Northern Ireland).
A type without a module is kept as given (trimmed) and marked as unchecked.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from types import ModuleType

from stdnum.exceptions import ValidationError

# type -> (stdnum module, issuing country; "" = from the number's prefix)
_MODULES: dict[str, tuple[str, str]] = {
    "eu_vat": ("stdnum.eu.vat", ""),
    "gb_vat": ("stdnum.gb.vat", "GB"),
    "ch_vat": ("stdnum.ch.vat", "CH"),
    "no_vat": ("stdnum.no.mva", "NO"),
    "au_abn": ("stdnum.au.abn", "AU"),
    "nz_gst": ("stdnum.nz.ird", "NZ"),
    "ca_bn": ("stdnum.ca.bn", "CA"),
    "in_gst": ("stdnum.in_.gstin", "IN"),
    "sg_uen": ("stdnum.sg.uen", "SG"),
    "jp_cn": ("stdnum.jp.cn", "JP"),
    "us_ein": ("stdnum.us.ein", "US"),
}
# The prefixes of EU VAT numbers that are not the ISO country code.
_VAT_PREFIX_COUNTRY = {"EL": "GR", "XI": "GB"}

CHECKED_TYPES = frozenset(_MODULES)


@dataclass(frozen=True)
class CheckedTaxId:
    value: str  # the compact form: no spaces, dots or dashes, upper case
    country: str  # the issuing country (ISO 3166-1 alpha-2); "" when unknown
    checked: bool  # False: no format check exists for this type


class BadTaxId(ValueError):
    """A tax id whose format or checksum is wrong; the message says why, plainly."""


@cache
def _module(name: str) -> ModuleType:
    return importlib.import_module(name)


def check_tax_id(tax_id_type: str, value: str) -> CheckedTaxId:
    """The compact form and country of a tax id, or BadTaxId saying what is wrong."""
    known = _MODULES.get(tax_id_type)
    if known is None:
        return CheckedTaxId(value.strip(), "", checked=False)
    module_name, country = known
    module = _module(module_name)
    try:
        compact: str = module.validate(value)
    except ValidationError as exc:
        raise BadTaxId(_why(tax_id_type, exc)) from None
    if not country:
        prefix = compact[:2]
        country = _VAT_PREFIX_COUNTRY.get(prefix, prefix)
    return CheckedTaxId(compact, country, checked=True)


def vat_prefix(compact: str) -> tuple[str, str]:
    """An EU VAT number as VIES asks for it: (member state prefix, the rest)."""
    return compact[:2], compact[2:]


def _why(tax_id_type: str, exc: ValidationError) -> str:
    kind = type(exc).__name__
    reasons = {
        "InvalidChecksum": "its check digit is wrong",
        "InvalidLength": "it has the wrong number of characters",
        "InvalidFormat": "it has characters or a layout this type never has",
        "InvalidComponent": "a part of it is not valid (a wrong country prefix, region or"
        " office code)",
    }
    reason = reasons.get(kind, "it is not valid")
    return f"is not a valid {tax_id_type} number: {reason}"
