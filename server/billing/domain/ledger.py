"""The double-entry journal (ADR 0051): accounts, entries, the balance rule and the hash chain.

Pure. Postings name **ledger accounts**: a base account from the list below, optionally
qualified after a colon (`revenue:pro`, `tax_payable:DE`, `cash_clearing:stripe`). The base
fixes the account's type and normal side; the rules' chart of accounts maps ledger accounts to
the finance system's codes and names for reports and exports only, so posting never needs the
rules and a renamed GL code never rewrites history.

An entry balances per currency: the sum of its debits equals the sum of its credits, in the
transaction currency and, when the entry carries one, in the reporting currency. The journal
is append-only: a correction is a new entry whose `adjusts` names the entry it reverses.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final


class AccountType(StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    REVENUE = "revenue"
    CONTRA_REVENUE = "contra_revenue"
    EXPENSE = "expense"


# Base ledger accounts and their types. Debit-normal: asset, contra revenue, expense.
ACCOUNTS_RECEIVABLE: Final = "accounts_receivable"
CASH_CLEARING: Final = "cash_clearing"  # :<gateway>, or :manual for payments recorded by hand
DISPUTED_FUNDS: Final = "disputed_funds"  # withdrawn by a dispute, until won or lost
DEFERRED_REVENUE: Final = "deferred_revenue"  # billed, not yet earned
UNBILLED_RECEIVABLE: Final = "unbilled_receivable"  # earned, not yet billed (catch-up)
REVENUE: Final = "revenue"  # :<product line>
TAX_PAYABLE: Final = "tax_payable"  # :<jurisdiction>
CONTRA_REVENUE: Final = "contra_revenue"  # refunds and credit notes, :<product line> optional
DISPUTE_LOSSES: Final = "dispute_losses"
BAD_DEBT: Final = "bad_debt"  # write-offs (uncollectible), less recoveries
CUSTOMER_CREDIT: Final = "customer_credit"  # the customer's balance we owe or hold
ROUNDING: Final = "rounding"  # cash rounding and FX rounding differences

BASE_ACCOUNTS: Final[dict[str, AccountType]] = {
    ACCOUNTS_RECEIVABLE: AccountType.ASSET,
    CASH_CLEARING: AccountType.ASSET,
    DISPUTED_FUNDS: AccountType.ASSET,
    UNBILLED_RECEIVABLE: AccountType.ASSET,
    DEFERRED_REVENUE: AccountType.LIABILITY,
    TAX_PAYABLE: AccountType.LIABILITY,
    CUSTOMER_CREDIT: AccountType.LIABILITY,
    REVENUE: AccountType.REVENUE,
    CONTRA_REVENUE: AccountType.CONTRA_REVENUE,
    DISPUTE_LOSSES: AccountType.EXPENSE,
    BAD_DEBT: AccountType.EXPENSE,
    ROUNDING: AccountType.EXPENSE,
}
_DEBIT_NORMAL: Final = frozenset(
    {AccountType.ASSET, AccountType.CONTRA_REVENUE, AccountType.EXPENSE}
)
ACCOUNT_MAX: Final = 120  # characters of a ledger account, base and qualifier


def account(base: str, qualifier: str = "") -> str:
    """`revenue:pro`; ValueError for a base that is not a ledger account."""
    if base not in BASE_ACCOUNTS:
        raise ValueError(f"{base!r} is not a ledger account")
    name = f"{base}:{qualifier}" if qualifier else base
    if len(name) > ACCOUNT_MAX:
        raise ValueError(f"ledger account {name[:40]!r}… is longer than {ACCOUNT_MAX}")
    return name


def base_of(account_name: str) -> str:
    return account_name.split(":", 1)[0]


def account_type(account_name: str) -> AccountType:
    """The type of a ledger account by its base; KeyError for an unknown base."""
    return BASE_ACCOUNTS[base_of(account_name)]


def is_debit_normal(account_name: str) -> bool:
    return account_type(account_name) in _DEBIT_NORMAL


class EntryKind(StrEnum):
    """What caused an entry: one per business event that moves money or earns it."""

    INVOICE_FINALIZED = "invoice_finalized"
    INVOICE_VOIDED = "invoice_voided"
    CREDIT_NOTE = "credit_note"
    PAYMENT = "payment"
    REFUND = "refund"
    DISPUTE_OPENED = "dispute_opened"
    DISPUTE_WON = "dispute_won"
    DISPUTE_LOST = "dispute_lost"
    WRITE_OFF = "write_off"  # invoice marked uncollectible
    WRITE_OFF_RECOVERED = "write_off_recovered"  # a written-off invoice paid after all
    RECOGNITION = "recognition"  # deferred -> revenue, by the schedules
    ADJUSTMENT = "adjustment"  # a late event's correction, or a reversal


@dataclass(frozen=True)
class JournalLine:
    """One side of an entry: exactly one of debit and credit is positive, the other zero.
    Reporting amounts are set when the entry's currency differs from the reporting currency;
    else None."""

    account: str
    debit_minor: int = 0
    credit_minor: int = 0
    reporting_debit_minor: int | None = None
    reporting_credit_minor: int | None = None


@dataclass(frozen=True)
class JournalEntry:
    id: str  # jrn_<ULID>
    kind: EntryKind
    source: str  # the resource that caused it: invoices/inv_…, payments/pmt_…, ruleSets/… …
    posted_at: datetime  # the clock's time (UTC)
    period: str  # YYYY-MM in the seller's book-keeping zone (invoicing.numbering_time_zone)
    currency: str
    lines: tuple[JournalLine, ...]
    customer_id: str | None = None
    memo: str = ""
    adjusts: str | None = None  # the entry id (jrn_…) or period (YYYY-MM) this corrects
    reporting_currency: str = ""  # "" when the entry's currency is the reporting currency


class UnbalancedEntry(ValueError):
    """A posting bug, never the caller's input: the transaction must not commit."""


def entry_problem(entry: JournalEntry) -> str | None:
    """Why the entry may not be written, or None: at least two lines, each line one-sided
    and non-negative, a known account, debits equal to credits (and the same in the
    reporting currency when it has one)."""
    if len(entry.lines) < 2:
        return f"{entry.id}: an entry needs at least two lines, it has {len(entry.lines)}"
    for i, line in enumerate(entry.lines):
        if base_of(line.account) not in BASE_ACCOUNTS:
            return f"{entry.id}: line {i} names {line.account!r}, not a ledger account"
        if line.debit_minor < 0 or line.credit_minor < 0:
            return f"{entry.id}: line {i} has a negative side"
        if (line.debit_minor > 0) == (line.credit_minor > 0) and (
            line.debit_minor or line.credit_minor
        ):
            return f"{entry.id}: line {i} is both a debit and a credit"
    debits = sum(line.debit_minor for line in entry.lines)
    credits = sum(line.credit_minor for line in entry.lines)
    if debits != credits:
        return f"{entry.id}: debits {debits} != credits {credits} ({entry.currency})"
    if debits == 0:
        return f"{entry.id}: an entry of zero moves nothing"
    if entry.reporting_currency:
        r_debits = sum(line.reporting_debit_minor or 0 for line in entry.lines)
        r_credits = sum(line.reporting_credit_minor or 0 for line in entry.lines)
        if r_debits != r_credits:
            return (
                f"{entry.id}: reporting debits {r_debits} != credits {r_credits}"
                f" ({entry.reporting_currency})"
            )
    return None


def check_balanced(entries: Iterable[JournalEntry]) -> None:
    for entry in entries:
        if (problem := entry_problem(entry)) is not None:
            raise UnbalancedEntry(problem)


def lines(*pairs: tuple[str, int]) -> tuple[JournalLine, ...]:
    """Lines from signed amounts: positive is a debit, negative a credit; zeros are dropped.
    `lines((ar, 1200), (deferred, -1000), (tax, -200))`."""
    return tuple(
        JournalLine(name, debit_minor=max(amount, 0), credit_minor=max(-amount, 0))
        for name, amount in pairs
        if amount != 0
    )


def signed(line: JournalLine) -> int:
    """Debit positive, credit negative."""
    return line.debit_minor - line.credit_minor


# --- the hash chain ----------------------------------------------------------------------------

GENESIS: Final = bytes(32)  # the hash before a tenant's first sealed entry


def canonical(entry: JournalEntry) -> bytes:
    """The bytes an entry's hash covers: every field, in a fixed order, as compact JSON.
    Instants as ISO 8601 UTC with microseconds, so both databases give the same bytes."""
    body = {
        "id": entry.id,
        "kind": entry.kind.value,
        "source": entry.source,
        "posted_at": entry.posted_at.isoformat(timespec="microseconds"),
        "period": entry.period,
        "currency": entry.currency,
        "customer_id": entry.customer_id,
        "memo": entry.memo,
        "adjusts": entry.adjusts,
        "reporting_currency": entry.reporting_currency,
        "lines": [
            [
                line.account,
                line.debit_minor,
                line.credit_minor,
                line.reporting_debit_minor,
                line.reporting_credit_minor,
            ]
            for line in entry.lines
        ],
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def chain_hash(previous: bytes, entry: JournalEntry) -> bytes:
    """sha256(previous hash || canonical entry)."""
    return hashlib.sha256(previous + canonical(entry)).digest()


@dataclass(frozen=True)
class Seal:
    """An entry's place in its tenant's chain: written once, never changed."""

    seq: int  # 1, 2, … per tenant
    entry_id: str
    hash: bytes


def seal(previous: Seal | None, entries: Sequence[JournalEntry]) -> list[Seal]:
    """Seals for `entries` (in chain order) after `previous` (None: the first)."""
    seq, prev_hash = (previous.seq, previous.hash) if previous else (0, GENESIS)
    out = []
    for entry in entries:
        seq += 1
        prev_hash = chain_hash(prev_hash, entry)
        out.append(Seal(seq, entry.id, prev_hash))
    return out
