"""The life of a voucher claim after it is applied for: the review steps (each by its role, each recorded
with actor and reason), withdrawal, payout, clawback, and deduct-mode deductions as usage is metered.
Every money movement is a balanced ledger entry; the programme's fund row is locked whenever the budget
committed changes."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from suanli.billing.vouchers import (
    Failure,
    UsageItem,
    covered_line,
    eligibility_failures,
    resource_class,
    year_bounds,
    year_of,
)
from suanli.domain.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from suanli.domain.ids import new_id
from suanli.domain.ledger import (
    PLATFORM_BANK,
    ZERO,
    Entry,
    EntryKind,
    positive_amount,
    postings,
    programme_granted,
    programme_treasury,
    tenant_receivable,
    tenant_subsidy,
)
from suanli.domain.tenants import Principal, Role
from suanli.domain.vouchers import (
    GRANTED_STATES,
    OPEN_STATES,
    Claim,
    ClaimEvent,
    ClaimState,
    Mode,
    Programme,
    review_step,
)
from suanli.ports import ClaimFilter, EntryFilter, UnitOfWork
from suanli.service.access import given_reason, require_role, require_user
from suanli.service.catalogue import effective_catalogue
from suanli.service.context import Context
from suanli.service.paging import all_entries
from suanli.service.vouchers import ClaimView, get_claim


def _claim(uow: UnitOfWork, claim_id: str) -> tuple[Claim, Programme]:
    claim = uow.vouchers.get_claim(claim_id, lock=True)
    if claim is None:
        raise NotFound("claim not found")
    programme = uow.vouchers.programme(claim.programme_id, claim.programme_version)
    assert programme is not None
    return claim, programme


def _actor(principal: Principal) -> str:
    return principal.user_id or principal.name


def _release(uow: UnitOfWork, claim: Claim) -> None:
    """Give a claim's reservation back to the budget and its usage back to other claims."""
    uow.vouchers.lock_fund(claim.programme_id)
    uow.vouchers.commit(claim.programme_id, claim.tenant_id, -(claim.amount - claim.clawed_back))
    uow.vouchers.release_lines(claim.id)


def review(ctx: Context, principal: Principal, claim_id: str, approve: bool, reason: str) -> ClaimView:
    """Pass or reject the review step the claim waits for. Only that step's role may act: district
    reviewers the first review, city admins aggregation and approval, experts the expert review. Final
    approval of a reimbursement grants the subsidy in the ledger; of a deduct voucher, activates it."""
    require_user(principal)
    reason = reason.strip()
    if not approve and not reason:
        raise InvalidInput([FieldError("reason", "say why the claim is rejected")])
    now = ctx.clock.now()
    with ctx.store.uow() as uow:
        claim, programme = _claim(uow, claim_id)
        step = review_step(claim.state, claim.mode)
        if step is None:
            raise Conflict(f"the claim is {claim.state.value}; no review is pending")
        if principal.role is None or principal.role.value != step.role:
            raise Forbidden(f"the {step.name} is done by a {step.role}")
        if not approve:
            _release(uow, claim)
            to = ClaimState.REJECTED
        else:
            to = step.to
            if claim.state is ClaimState.SUBMITTED:
                tenant = uow.tenants.get(claim.tenant_id)
                assert tenant is not None
                failures = eligibility_failures(programme, tenant, None)
                if failures:
                    detail = "; ".join(f"{f.rule}: {f.reason}" for f in failures)
                    raise Conflict(f"the applicant no longer qualifies ({detail}); reject the claim instead")
            if to is ClaimState.APPROVED:
                _grant(uow, claim, principal, now)
        updated = replace(claim, state=to, updated_at=now)
        event = ClaimEvent(
            claim.id, now, claim.state, to, _actor(principal), step.role, reason or f"{step.name} passed"
        )
        uow.vouchers.update_claim(updated, event)
    return get_claim(ctx, principal, claim_id)


def _grant(uow: UnitOfWork, claim: Claim, principal: Principal, now: datetime) -> None:
    entry = Entry(
        id=new_id("entry", now),
        kind=EntryKind.VOUCHER,
        reference=f"voucher:{claim.id}",
        occurred_at=now,
        recorded_at=now,
        memo=f"{claim.programme_id} subsidy granted on claim {claim.id} ({claim.contract})",
        postings=postings(
            (programme_granted(claim.programme_id), claim.amount), (tenant_subsidy(claim.tenant_id), -claim.amount)
        ),
        actor=_actor(principal),
        tenant_id=claim.tenant_id,
    )
    uow.ledger.add(entry)


def withdraw(ctx: Context, principal: Principal, claim_id: str, reason: str) -> ClaimView:
    """The applicant withdraws a claim still in review; its reservation and usage are released."""
    require_role(principal, Role.TENANT_ADMIN)
    now = ctx.clock.now()
    with ctx.store.uow() as uow:
        claim, _ = _claim(uow, claim_id)
        if claim.tenant_id != principal.tenant_id:
            raise NotFound("claim not found")
        if claim.state not in OPEN_STATES:
            raise Conflict(f"the claim is {claim.state.value}; only a claim in review can be withdrawn")
        _release(uow, claim)
        event = ClaimEvent(
            claim.id, now, claim.state, ClaimState.WITHDRAWN, _actor(principal), "tenant_admin", reason or "withdrawn"
        )
        uow.vouchers.update_claim(replace(claim, state=ClaimState.WITHDRAWN, updated_at=now), event)
    return get_claim(ctx, principal, claim_id)


def payout(ctx: Context, principal: Principal, claim_id: str, bank_reference: str) -> tuple[ClaimView, Entry]:
    """Record the programme's payment (city admins). Reimburse: the approved subsidy (less clawbacks) paid
    to the tenant, once. Deduct: what was deducted and not yet settled, paid to the platform."""
    require_role(principal, Role.CITY_ADMIN)
    ref = bank_reference.strip()
    if not ref or len(ref) > 80:
        raise InvalidInput([FieldError("reference", "the payment's bank reference, 1-80 characters")])
    now = ctx.clock.now()
    with ctx.store.uow() as uow:
        claim, _ = _claim(uow, claim_id)
        if claim.mode is Mode.REIMBURSE:
            if claim.state is not ClaimState.APPROVED:
                raise Conflict(f"the claim is {claim.state.value}; only an approved reimbursement is paid out")
            amount = claim.amount - claim.clawed_back
            pair = (tenant_subsidy(claim.tenant_id), amount)
        else:
            if claim.state is not ClaimState.ACTIVE:
                raise Conflict(f"the voucher is {claim.state.value}; only an active voucher is settled")
            amount = claim.used - claim.clawed_back - _settled(uow, claim)
            pair = (PLATFORM_BANK, amount)
        if amount <= 0:
            raise Conflict("nothing is due on this claim")
        entry = Entry(
            id=new_id("entry", now),
            kind=EntryKind.VOUCHER_PAYOUT,
            reference=f"voucher_payout:{claim.id}:{ref}",
            occurred_at=now,
            recorded_at=now,
            memo=f"{claim.programme_id} paid {amount} CNY on claim {claim.id}, bank ref {ref}",
            postings=postings(pair, (programme_treasury(claim.programme_id), -amount)),
            actor=_actor(principal),
            tenant_id=claim.tenant_id,
        )
        if not uow.ledger.add(entry):
            raise Conflict(f"bank reference {ref!r} is already recorded for this claim")
        to = ClaimState.PAID if claim.mode is Mode.REIMBURSE else claim.state
        event = ClaimEvent(
            claim.id, now, claim.state, to, _actor(principal), "city_admin", f"paid {amount} CNY, ref {ref}"
        )
        uow.vouchers.update_claim(replace(claim, state=to, updated_at=now), event)
    return get_claim(ctx, principal, claim_id), entry


def _settled(uow: UnitOfWork, claim: Claim) -> Decimal:
    prefix = f"voucher_payout:{claim.id}:"
    filt = EntryFilter(tenant_id=claim.tenant_id, kinds=(EntryKind.VOUCHER_PAYOUT,))
    treasury = programme_treasury(claim.programme_id)
    return -sum((e.amount_for(treasury) for e in all_entries(uow, filt) if e.reference.startswith(prefix)), ZERO)


def clawback(
    ctx: Context, principal: Principal, claim_id: str, amount: Decimal, reason: str
) -> tuple[ClaimView, Entry]:
    """Take back part or all of a granted subsidy (refund or fraud; city admins), by a new entry: before
    payout it cancels the grant, after payout (or for a deduction) the tenant owes it back."""
    require_role(principal, Role.CITY_ADMIN)
    amount = positive_amount(amount, "amount")
    reason = given_reason(reason, "say why the subsidy is clawed back")
    now = ctx.clock.now()
    with ctx.store.uow() as uow:
        claim, _ = _claim(uow, claim_id)
        if claim.state not in GRANTED_STATES:
            raise Conflict(f"the claim is {claim.state.value}; nothing has been granted")
        left = claim.granted - claim.clawed_back
        if amount > left:
            raise InvalidInput([FieldError("amount", f"at most {left} CNY granted on this claim is left to claw back")])
        entry = claw_back(uow, claim, amount, reason, _actor(principal), now)
    return get_claim(ctx, principal, claim_id), entry


def claw_back(uow: UnitOfWork, claim: Claim, amount: Decimal, reason: str, actor: str, now: datetime) -> Entry:
    """Post a clawback of `amount` (at most what is granted and not yet clawed back) on a granted claim, in the
    caller's unit of work: the ledger entry, the budget and entity cap given back, the claim and its audit log."""
    debit = (
        tenant_subsidy(claim.tenant_id) if claim.state is ClaimState.APPROVED else tenant_receivable(claim.tenant_id)
    )
    entry = Entry(
        id=new_id("entry", now),
        kind=EntryKind.CLAWBACK,
        reference=f"clawback:{claim.id}:{new_id('entry', now)}",
        occurred_at=now,
        recorded_at=now,
        memo=f"clawback of {amount} CNY on claim {claim.id}: {reason}",
        postings=postings((debit, amount), (programme_granted(claim.programme_id), -amount)),
        actor=actor,
        tenant_id=claim.tenant_id,
    )
    uow.ledger.add(entry)
    uow.vouchers.lock_fund(claim.programme_id)
    uow.vouchers.commit(claim.programme_id, claim.tenant_id, -amount)
    event = ClaimEvent(claim.id, now, claim.state, claim.state, actor, "city_admin", f"clawback {amount} CNY: {reason}")
    uow.vouchers.update_claim(replace(claim, clawed_back=claim.clawed_back + amount, updated_at=now), event)
    return entry


# ------------------------------------------------------------------------------------------ deduct mode


def deduct_usage(uow: UnitOfWork, usage: Entry) -> Entry | None:
    """Deduct mode: draw the tenant's active voucher down by its share of a usage charge just posted (in
    the same unit of work). At most one voucher covers a charge, whatever the programme."""
    tenant_id = usage.tenant_id or ""
    filt = ClaimFilter(
        tenant_id=tenant_id, states=(ClaimState.ACTIVE,), mode=Mode.DEDUCT, year=year_of(usage.occurred_at)
    )
    if not uow.vouchers.claims(filt, limit=1):
        return None
    charged = usage.amount_for(tenant_receivable(tenant_id))
    if charged <= 0:
        return None  # a final charge that only settles what interim charges already took
    uow.vouchers.lock_tenant(tenant_id)
    tenant = uow.tenants.get(tenant_id)
    attempt = uow.attempts.get(usage.attempt_id or "")  # interim charges come before the usage record
    centre = uow.centres.get(usage.centre_id or "")
    if tenant is None or attempt is None or centre is None:
        return None
    item = UsageItem(
        entry_id=usage.id,
        centre_id=centre.id,
        centre_name=centre.name,
        operator_tenant_id=centre.operator_tenant_id,
        model=attempt.model,
        resource_class=resource_class(effective_catalogue(uow).get(attempt.model)),
        occurred_at=usage.occurred_at,
        charged=charged,
    )
    for found in uow.vouchers.claims(filt):
        claim = uow.vouchers.get_claim(found.id, lock=True)
        programme = uow.vouchers.programme(found.programme_id, found.programme_version)
        if claim is None or programme is None or claim.remaining <= 0:
            continue
        if eligibility_failures(programme, tenant, None):
            continue
        line = covered_line(programme, tenant, item, item.charged)
        if isinstance(line, Failure):
            continue
        subsidy = min(line.subsidy, claim.remaining)
        line = replace(line, subsidy=subsidy)
        if not uow.vouchers.add_line(claim.id, line):
            return None
        entry = Entry(
            id=new_id("entry", usage.recorded_at),
            kind=EntryKind.VOUCHER,
            reference=f"voucher:{claim.id}:{usage.id}",
            occurred_at=usage.occurred_at,
            recorded_at=usage.recorded_at,
            memo=f"{programme.id} deducts {subsidy} CNY ({line.tier}, {line.rate}) from {usage.reference}",
            postings=postings((programme_granted(programme.id), subsidy), (tenant_receivable(tenant_id), -subsidy)),
            actor="system",
            tenant_id=tenant_id,
            centre_id=centre.id,
        )
        uow.ledger.add(entry)
        uow.vouchers.update_claim(replace(claim, used=claim.used + subsidy), None)
        return entry
    return None


# ------------------------------------------------------------------------------------------ year end


@dataclass(frozen=True)
class YearClosed:
    programme_id: str
    vouchers: int  # deduct vouchers closed with something unused
    released: Decimal  # their unused face value, given back to the programme's budget and the entities' caps


def close_year(ctx: Context, principal: Principal, programme_id: str) -> YearClosed:
    """After a deduct-at-purchase programme's year has ended (city time), shrink every active voucher to what it
    drew and give the unused rest back to the budget, so reports show what was really committed. Vouchers never
    cover usage of another year in any case. City admins; running it again releases nothing more."""
    require_role(principal, Role.CITY_ADMIN)
    now = ctx.clock.now()
    vouchers = 0
    released = ZERO
    with ctx.store.uow() as uow:
        programme = uow.vouchers.programme(programme_id)
        if programme is None:
            raise NotFound("voucher programme not found")
        if programme.mode is not Mode.DEDUCT:
            raise Conflict("only deduct-at-purchase programmes are closed; reimbursements are claimed after payment")
        _, year_end = year_bounds(programme.year)
        if now < year_end:
            raise Conflict(f"the {programme.year} programme year runs until {year_end.isoformat()} (city time)")
        for found in uow.vouchers.claims(ClaimFilter(programme_id=programme.id, states=(ClaimState.ACTIVE,))):
            claim = uow.vouchers.get_claim(found.id, lock=True)
            if claim is None or claim.amount <= claim.used:
                continue
            unused = claim.amount - claim.used
            uow.vouchers.lock_fund(programme.id)
            uow.vouchers.commit(programme.id, claim.tenant_id, -unused)
            reason = f"programme year {programme.year} closed: {unused} CNY unused released to the budget"
            event = ClaimEvent(claim.id, now, claim.state, claim.state, _actor(principal), "city_admin", reason)
            uow.vouchers.update_claim(replace(claim, amount=claim.used, updated_at=now), event)
            vouchers += 1
            released += unused
    return YearClosed(programme_id, vouchers, released)
