"""Refunds of usage charges (city admins): part or all of a metered charge given back to the tenant, e.g. for a
job a centre's fault spoiled. The centre's operator and the platform give back their shares of it; a voucher
subsidy that covered the charge is clawed back in proportion, in the same transaction, so no subsidy is ever
paid on money that was refunded. The metered charge itself stands: the refund is a new entry beside it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from suanli.domain.errors import Conflict, FieldError, InvalidInput, NotFound
from suanli.domain.ids import new_id
from suanli.domain.ledger import (
    ZERO,
    Entry,
    EntryKind,
    positive_amount,
    refund_postings,
    refund_reference,
    refunded_by_charge,
    refunded_entry,
    tenant_receivable,
)
from suanli.domain.money import FEN
from suanli.domain.tenants import Principal, Role
from suanli.domain.vouchers import GRANTED_STATES, OPEN_STATES
from suanli.ports import EntryFilter, UnitOfWork
from suanli.service.access import given_reason, require_role
from suanli.service.context import Context
from suanli.service.paging import all_entries
from suanli.service.voucher_review import claw_back


@dataclass(frozen=True)
class Refund:
    entry: Entry
    clawback: Entry | None  # the voucher subsidy taken back with it, if the charge was subsidised


def refunds_of(uow: UnitOfWork, usage: Entry) -> list[Entry]:
    """The refunds of a usage charge so far, oldest first."""
    filt = EntryFilter(attempt_id=usage.attempt_id, kinds=(EntryKind.REFUND,))
    return [e for e in all_entries(uow, filt) if refunded_entry(e) == usage.id]


def refund_usage(ctx: Context, principal: Principal, entry_id: str, amount: Decimal | None, reason: str) -> Refund:
    """Refund `amount` (None: all that is left) of the usage charge `entry_id`, with a reason."""
    require_role(principal, Role.CITY_ADMIN)
    reason = given_reason(reason, "say why the charge is refunded")
    now = ctx.clock.now()
    with ctx.store.uow() as uow:
        usage = uow.ledger.get(entry_id)
        if usage is None:
            raise NotFound("ledger entry not found")
        if usage.kind not in (EntryKind.USAGE, EntryKind.INTERIM):
            raise Conflict(f"a {usage.kind.value} entry is not a usage charge; only usage charges are refunded")
        uow.vouchers.lock_tenant(usage.tenant_id or "")  # refunds of one tenant's charges queue here
        charged = usage.amount_for(tenant_receivable(usage.tenant_id or ""))
        earlier = refunds_of(uow, usage)
        left = charged - refunded_by_charge(earlier).get(usage.id, ZERO)
        amount = left if amount is None else positive_amount(amount, "amount")
        if amount <= 0 or amount > left:
            raise InvalidInput(
                [FieldError("amount", f"at most {left} CNY of this {charged} CNY charge is left to refund")]
            )
        claim_id = uow.vouchers.covering(usage.id)
        claim = uow.vouchers.get_claim(claim_id, lock=True) if claim_id else None
        if claim is not None and claim.state in OPEN_STATES:
            raise Conflict(f"the charge is covered by claim {claim.id}, still in review; reject or withdraw it first")
        entry = Entry(
            id=new_id("entry", now),
            kind=EntryKind.REFUND,
            reference=refund_reference(usage.id, len(earlier) + 1),
            occurred_at=now,
            recorded_at=now,
            memo=f"refund of {amount} CNY of {usage.reference}: {reason}",
            postings=refund_postings(usage, amount),
            actor=principal.user_id or "",
            tenant_id=usage.tenant_id,
            centre_id=usage.centre_id,
            attempt_id=usage.attempt_id,
        )
        if not uow.ledger.add(entry):
            raise Conflict("another refund of this charge was recorded at the same moment; try again")
        clawback = None
        if claim is not None and claim.state in GRANTED_STATES:
            line = next(ln for ln in uow.vouchers.lines(claim.id) if ln.entry_id == usage.id)
            share = (line.subsidy * amount / line.base).quantize(FEN) if line.base else ZERO
            share = min(share, claim.granted - claim.clawed_back)
            if share > 0:
                why = f"{amount} CNY of the charge it covered was refunded ({reason})"
                clawback = claw_back(uow, claim, share, why, principal.user_id or "", now)
    return Refund(entry, clawback)
