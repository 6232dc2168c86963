"""The double-entry ledger's value types: accounts, postings and entries (balanced, append-only, in fen).

Sign convention: a posting's amount is positive for a debit and negative for a credit, so every entry's
postings sum to zero and an account's balance is the sum of its postings. A tenant's receivable with a
positive balance means the tenant owes; a provider's payable with a negative balance means the platform
owes the centre's operator.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from suanli.domain.errors import FieldError, InvalidInput
from suanli.domain.money import FEN

ZERO = Decimal("0.00")


class EntryKind(StrEnum):
    USAGE = "usage"  # metered usage of one attempt, rated at the price fixed when it was placed
    INTERIM = "interim_usage"  # a long-running service's running time in one metering period, charged as it runs
    PAYMENT = "payment"  # a tenant paid the platform
    PAYOUT = "payout"  # the platform paid a centre's operator
    REVERSAL = "reversal"  # undoes an earlier entry (corrections are new entries, never edits)
    VOUCHER = "voucher"  # a voucher subsidy granted (reimburse: on approval; deduct: as usage is metered)
    VOUCHER_PAYOUT = "voucher_payout"  # a programme paid what it granted (to the tenant, or to the platform)
    CLAWBACK = "clawback"  # a granted subsidy taken back (refund or fraud): a new, balancing entry
    REFUND = "refund"  # part or all of a usage charge given back to the tenant, borne by the centre and platform


class AccountKind(StrEnum):
    TENANT = "tenant"
    PROVIDER = "provider"
    PLATFORM = "platform"
    PROGRAMME = "programme"


# Accounts are named by code: "tenant:<id>:receivable", "provider:<centre id>:payable", "platform:<name>".
PLATFORM_BANK = "platform:bank"  # money actually received or paid out
PLATFORM_REVENUE = "platform:revenue"  # the platform's service fee on usage


def tenant_receivable(tenant_id: str) -> str:
    """What the tenant owes the platform (debit balance) or has prepaid (credit balance)."""
    return f"tenant:{tenant_id}:receivable"


def provider_payable(centre_id: str) -> str:
    """What the platform owes the centre's operator for delivered usage (credit balance)."""
    return f"provider:{centre_id}:payable"


def tenant_subsidy(tenant_id: str) -> str:
    """Voucher subsidy granted to the tenant and not yet paid to it (credit balance)."""
    return f"tenant:{tenant_id}:subsidy"


def programme_granted(programme_id: str) -> str:
    """Every subsidy a programme has granted, net of clawbacks (debit balance): its spend."""
    return f"programme:{programme_id}:granted"


def programme_treasury(programme_id: str) -> str:
    """What the programme's funders have actually paid out (credit balance)."""
    return f"programme:{programme_id}:treasury"


def account_owner(code: str) -> tuple[AccountKind, str]:
    """("tenant", id) for "tenant:<id>:receivable" and so on; ("platform", name) for platform accounts."""
    kind, _, rest = code.partition(":")
    return AccountKind(kind), rest.split(":", 1)[0]


@dataclass(frozen=True, slots=True)
class Posting:
    account: str
    amount: Decimal  # fen; positive debit, negative credit


@dataclass(frozen=True, slots=True)
class Entry:
    """One balanced transaction. `reference` is unique: recording the same fact twice records it once."""

    id: str
    kind: EntryKind
    reference: str
    occurred_at: datetime
    recorded_at: datetime
    memo: str
    postings: tuple[Posting, ...]
    actor: str = ""  # who caused it: a user id, "agent:<centre id>", "system"
    tenant_id: str | None = None
    centre_id: str | None = None
    attempt_id: str | None = None  # for usage entries (and their reversals): the metered attempt
    reverses: str | None = None  # for reversals: the entry undone

    def amount_for(self, account: str) -> Decimal:
        return sum((p.amount for p in self.postings if p.account == account), ZERO)

    @property
    def total_debits(self) -> Decimal:
        return sum((p.amount for p in self.postings if p.amount > 0), ZERO)


class UnbalancedEntry(ValueError):
    """An entry whose postings do not sum to zero, or that is otherwise malformed; never stored."""


def check_postings(postings: Sequence[Posting]) -> None:
    """Refuse anything but two or more whole-fen, non-zero postings on distinct accounts that sum to zero."""
    if len(postings) < 2:
        raise UnbalancedEntry("an entry needs at least two postings")
    seen: set[str] = set()
    for p in postings:
        if not isinstance(p.amount, Decimal):
            raise UnbalancedEntry(f"{p.account}: amounts must be Decimal, got {type(p.amount).__name__}")
        if not p.amount.is_finite() or p.amount != p.amount.quantize(FEN):
            raise UnbalancedEntry(f"{p.account}: {p.amount} is not a whole number of fen")
        if p.amount == 0:
            raise UnbalancedEntry(f"{p.account}: zero posting")
        if p.account in seen:
            raise UnbalancedEntry(f"{p.account}: posted twice in one entry")
        seen.add(p.account)
    total = sum((p.amount for p in postings), ZERO)
    if total != 0:
        raise UnbalancedEntry(f"postings sum to {total}, not 0")


def postings(*pairs: tuple[str, Decimal]) -> tuple[Posting, ...]:
    """Postings from (account, amount) pairs, dropping zero amounts (e.g. a zero platform fee)."""
    return tuple(Posting(a, x.quantize(FEN)) for a, x in pairs if x != 0)


def reversal_postings(entry: Entry) -> tuple[Posting, ...]:
    return tuple(Posting(p.account, -p.amount) for p in entry.postings)


def balances(entries: Iterable[Entry]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for e in entries:
        for p in e.postings:
            out[p.account] = out.get(p.account, ZERO) + p.amount
    return out


def positive_amount(value: Decimal, field: str) -> Decimal:
    """A payment or payout amount: more than zero, whole fen."""
    if value <= 0:
        raise InvalidInput([FieldError(field, "must be more than 0")])
    if value != value.quantize(FEN):
        raise InvalidInput([FieldError(field, "at most 2 decimal places (whole fen)")])
    return value.quantize(FEN)


def refund_reference(usage_entry_id: str, n: int) -> str:
    """The `n`th refund of a usage charge (several partial refunds may follow one charge)."""
    return f"refund:{usage_entry_id}:{n}"


def refunded_entry(refund: Entry) -> str:
    """The usage entry a refund gives money back on."""
    return refund.reference.split(":")[1]


def refunded_by_charge(entries: Iterable[Entry]) -> dict[str, Decimal]:
    """Per usage entry, what its refunds among `entries` gave back to the tenant (other entries are ignored)."""
    out: dict[str, Decimal] = {}
    for e in entries:
        if e.kind is EntryKind.REFUND:
            usage = refunded_entry(e)
            out[usage] = out.get(usage, ZERO) - e.amount_for(tenant_receivable(e.tenant_id or ""))
    return out


def refund_postings(usage: Entry, amount: Decimal) -> tuple[Posting, ...]:
    """Postings giving `amount` of a usage charge back: each party of the charge gives back its share (the
    centre's operator in proportion to what it was owed, the platform the rest), so the books stay balanced."""
    tenant = next(p for p in usage.postings if p.account.startswith("tenant:"))
    provider = next((p for p in usage.postings if p.account.startswith("provider:")), None)
    provider_share = (-provider.amount * amount / tenant.amount).quantize(FEN) if provider else ZERO
    parts = [(tenant.account, -amount)]
    if provider is not None:
        parts.append((provider.account, provider_share))
    others = [p for p in usage.postings if p is not tenant and p is not provider]
    if others:
        parts.append((others[0].account, amount - provider_share))
    return postings(*parts)
