"""Locale-aware amounts, numbers and dates, with Babel (CLDR data), never through float."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import NumberPattern, format_currency, format_decimal, get_currency_symbol

from billing.documents._model import DocumentError
from billing.domain.money import Money, UnknownCurrency, minor_unit_exponent


def parse_locale(tag: str) -> Locale:
    """A Babel locale from a BCP 47 tag ("de-DE"); "de_DE" is accepted too."""
    try:
        return Locale.parse(tag.replace("_", "-"), sep="-")
    except (UnknownLocaleError, ValueError) as exc:
        raise DocumentError(f"unknown locale {tag!r}: {exc}") from None


def parse_time_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise DocumentError(f"{name!r} is not an IANA time zone") from None


@dataclass(frozen=True)
class Formatter:
    """Formats one document's values: its currency, in its locale and time zone."""

    locale: Locale
    currency: str
    time_zone: ZoneInfo
    exponent: int  # the ISO 4217 minor unit of `currency`

    @classmethod
    def for_document(cls, locale: str, currency: str, time_zone: str) -> Formatter:
        try:
            exponent = minor_unit_exponent(currency)
        except UnknownCurrency as exc:
            raise DocumentError(str(exc)) from None
        return cls(parse_locale(locale), currency, parse_time_zone(time_zone), exponent)

    def money(self, amount_minor: int) -> str:
        """Integer minor units as the locale writes the currency: 123456 EUR in de-DE is
        `1.234,56 €` (with a no-break space), in en-US `€1,234.56`."""
        return self.amount(Money(self.currency, amount_minor).to_decimal())

    def amount(self, value: Decimal) -> str:
        """An exact major-unit amount, shown with at least the currency's ISO 4217 decimals
        and never rounded: a unit price of 0.0004 USD stays `$0.0004`.

        Babel would otherwise use CLDR's digits, which differ from ISO 4217 for a few
        currencies (IQD: CLDR 0, ISO 3) and would round a real amount away.
        """
        pattern = copy.copy(self._currency_pattern())
        pattern.frac_prec = (self.exponent, self.exponent)
        text = format_currency(
            value,
            self.currency,
            format=pattern,
            locale=self.locale,
            currency_digits=False,
            decimal_quantization=False,  # widen for finer values instead of rounding
        )
        return _space_currency(text, get_currency_symbol(self.currency, self.locale))

    def number(self, value: Decimal) -> str:
        """A quantity, exactly: `2.5` in en-US, `2,5` in de-DE."""
        return format_decimal(value, locale=self.locale, decimal_quantization=False)

    def decimal(self, value: Decimal) -> str:
        """A number with exactly the decimals it was written with, as a derivation shows
        its arithmetic: `0.10` stays `0.10` (`0,10` in de-DE), where `number` gives `0.1`."""
        exponent = value.as_tuple().exponent
        digits = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        pattern = copy.copy(self._decimal_pattern())
        pattern.frac_prec = (digits, digits)
        return format_decimal(value, format=pattern, locale=self.locale)

    def date(self, moment: datetime | None) -> str:
        """The calendar date of an instant in the document's time zone (naive = UTC);
        medium format: `Nov 24, 2026` in en-US, `24.11.2026` in de-DE."""
        if moment is None:
            return ""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return format_date(moment.astimezone(self.time_zone).date(), "medium", self.locale)

    def _currency_pattern(self) -> NumberPattern:
        pattern = self.locale.currency_formats["standard"]
        if not isinstance(pattern, NumberPattern):  # CLDR always has one; say so if not
            raise DocumentError(f"locale {self.locale} has no standard currency format")
        return pattern

    def _decimal_pattern(self) -> NumberPattern:
        pattern = self.locale.decimal_formats[None]
        if not isinstance(pattern, NumberPattern):  # CLDR always has one; say so if not
            raise DocumentError(f"locale {self.locale} has no standard decimal format")
        return pattern


def _space_currency(text: str, symbol: str) -> str:
    """CLDR's currency spacing, which Babel leaves out: a symbol ending (or starting) with
    a letter is kept from the digits by a no-break space, `CHF 12.50` and not `CHF12.50`."""
    at = text.find(symbol)
    if at < 0 or not symbol:
        return text
    end = at + len(symbol)
    if symbol[-1].isalpha() and end < len(text) and text[end].isdigit():
        return f"{text[:end]}\xa0{text[end:]}"
    if symbol[0].isalpha() and at > 0 and text[at - 1].isdigit():
        return f"{text[:at]}\xa0{text[at:]}"
    return text
