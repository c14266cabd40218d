"""Country and subdivision codes (ISO 3166-1 alpha-2 and ISO 3166-2), from pycountry's copy
of the ISO data: a code is known or it is not, and the problem says which part is wrong.

Codes are upper case, as ISO writes them: `DE`, `CA-ON`, `US-WA`. Lower case is refused
rather than folded, so a rules file and the invoices built from it spell a code one way.
"""

from __future__ import annotations

import pycountry

# Schemes a seller registers for that cover many countries; they are not places.
REGISTRATION_SCHEMES = frozenset(
    {
        "EU-OSS",  # the Union One-Stop Shop (EU sellers, B2C across the EU)
        "EU-NONUNION-OSS",  # the non-Union scheme (non-EU sellers of services)
        "EU-IOSS",  # the Import One-Stop Shop (goods of at most EUR 150)
    }
)


def country_name(code: str) -> str | None:
    """The country's ISO short name; None for a code ISO 3166-1 does not assign."""
    if len(code) != 2 or code != code.upper():
        return None
    found = pycountry.countries.get(alpha_2=code)
    return None if found is None else str(found.name)


def subdivision_name(code: str) -> str | None:
    """The name of an ISO 3166-2 subdivision such as `CA-ON`; None if ISO lists none."""
    if code != code.upper() or "-" not in code:
        return None
    found = pycountry.subdivisions.get(code=code)  # type: ignore[no-untyped-call]
    return None if found is None else str(found.name)


def country_problem(code: str) -> str | None:
    """None for an assigned ISO 3166-1 alpha-2 code, else what is wrong with it."""
    if country_name(code) is not None:
        return None
    if len(code) == 2 and country_name(code.upper()) is not None:
        return f"country codes are upper case: {code.upper()!r}, not {code!r}"
    return f"unknown country code {code!r} (ISO 3166-1 alpha-2, such as DE or CA)"


def jurisdiction_problem(code: str) -> str | None:
    """None for a country (`DE`) or a country and one of its subdivisions (`CA-ON`)."""
    country, dash, rest = code.partition("-")
    problem = country_problem(country)
    if problem is not None or not dash:
        return problem
    if subdivision_name(code) is not None:
        return None
    if subdivision_name(code.upper()) is not None:
        return f"subdivision codes are upper case: {code.upper()!r}, not {code!r}"
    return f"unknown subdivision {rest!r} of {country} (ISO 3166-2, such as CA-ON or US-WA)"


def registration_problem(code: str) -> str | None:
    """A registration is for a place, or for a scheme such as `EU-OSS`."""
    if code in REGISTRATION_SCHEMES:
        return None
    problem = jurisdiction_problem(code)
    if problem is None:
        return None
    schemes = ", ".join(sorted(REGISTRATION_SCHEMES))
    return f"{problem}; or a scheme: {schemes}"
