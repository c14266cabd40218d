"""The `ledger` rule kind (ADR 0051, 0052): the reporting currency and its FX rates, and the
chart of accounts that names ledger accounts for finance. Its meaning checks and its build into
`LedgerRules` (the schema is `ledger_schema`, which the schema table imports).

```yaml
kind: ledger
reporting_currency: EUR
fx_rates:
  - {currency: USD, rate: 0.9184, effective_from: 2026-01-01}
chart:
  - {ledger_account: accounts_receivable, code: "1200", name: Trade debtors}
  - {ledger_account: revenue, code: "4000", name: Subscription revenue}
  - {ledger_account: "revenue:pro", code: "4010", name: Pro plan revenue}
```
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from billing.domain.ledger import BASE_ACCOUNTS, base_of
from billing.domain.ledger_rules import NO_LEDGER_RULES, ChartAccount, FxRate, LedgerRules
from billing.domain.money import currency_problem
from billing.rules.errors import RuleError
from billing.rules.ledger_schema import RATE_PLACES_MAX
from billing.rules.structure import ValidatedFile


def check_ledger(files: Sequence[ValidatedFile]) -> list[RuleError]:
    """What the schema cannot say: real currencies, positive rates, one rate per currency
    and day, a rate only beside a reporting currency, known base accounts, one chart entry
    per ledger account."""
    errors: list[RuleError] = []
    ledgers = [file for file in files if file.kind == "ledger"]
    for extra in ledgers[1:]:
        message = f"only one ledger file is allowed; {ledgers[0].name} already holds them"
        errors.append(extra.error(("kind",), message))
    for file in ledgers[:1]:
        reporting = file.data.get("reporting_currency") or ""
        problem = currency_problem(reporting) if reporting else None
        if problem is not None and ("reporting_currency",) not in file.broken:
            errors.append(file.error(("reporting_currency",), problem))
        errors += _rates(file, reporting)
        errors += _chart(file)
    return errors


def _rates(file: ValidatedFile, reporting: str) -> list[RuleError]:
    errors: list[RuleError] = []
    seen: set[tuple[str, object]] = set()
    for path, item in file.items("fx_rates"):
        if not reporting:
            return [file.error(path, "an FX rate needs a reporting_currency")]
        currency = item["currency"]
        if (problem := currency_problem(currency)) is not None:
            errors.append(file.error((*path, "currency"), problem))
        elif currency == reporting:
            errors.append(file.error((*path, "currency"), f"is the reporting currency {reporting}"))
        rate: Decimal = item["rate"]
        if rate <= 0 or _places(rate) > RATE_PLACES_MAX:
            message = f"must be above 0 with at most {RATE_PLACES_MAX} decimal places"
            errors.append(file.error((*path, "rate"), message))
        key = (currency, item["effective_from"])
        if key in seen:
            errors.append(file.error(path, f"a second {currency} rate from {key[1]}"))
        seen.add(key)
    return errors


def _chart(file: ValidatedFile) -> list[RuleError]:
    errors: list[RuleError] = []
    seen: set[str] = set()
    for path, item in file.items("chart"):
        name = item["ledger_account"]
        where = (*path, "ledger_account")
        if base_of(name) not in BASE_ACCOUNTS or name.endswith(":"):
            known = ", ".join(BASE_ACCOUNTS)
            message = f"{name!r} is not a ledger account (one of {known}, then :<qualifier>)"
            errors.append(file.error(where, message))
        if name in seen:
            errors.append(file.error(where, f"{name!r} is mapped twice"))
        seen.add(name)
    return errors


def build_ledger_rules(files: Sequence[ValidatedFile]) -> LedgerRules:
    ledgers = [file for file in files if file.kind == "ledger"]
    if not ledgers:
        return NO_LEDGER_RULES
    file = ledgers[0]
    return LedgerRules(
        reporting_currency=file.data.get("reporting_currency") or "",
        fx_rates=tuple(
            FxRate(item["currency"], item["rate"], item["effective_from"])
            for _, item in file.items("fx_rates")
        ),
        chart=tuple(
            ChartAccount(item["ledger_account"], item["code"], item["name"])
            for _, item in file.items("chart")
        ),
    )


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0
