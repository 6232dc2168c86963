"""Voucher programmes and claims: publishing programme versions, applying (eligibility, covered usage,
caps and the budget, reserved under a lock so concurrent claims never overspend), and reading claims."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from suanli.billing.vouchers import (
    Failure,
    Selection,
    UsageItem,
    apply_caps,
    eligibility_failures,
    resource_class,
    select_lines,
    year_bounds,
)
from suanli.domain.errors import ClaimRefused, Conflict, FieldError, Forbidden, InvalidInput, NotFound
from suanli.domain.ids import new_id
from suanli.domain.ledger import ZERO, EntryKind, positive_amount, refunded_by_charge, tenant_receivable
from suanli.domain.tenants import REVIEW_ROLES, Principal, Role
from suanli.domain.vouchers import (
    RESERVING_STATES,
    Claim,
    ClaimEvent,
    ClaimLine,
    ClaimState,
    Mode,
    Programme,
    builtin_programmes,
    programme_from_mapping,
)
from suanli.ports import ClaimFilter, EntryFilter, UnitOfWork
from suanli.service.access import require_role, require_user, tenant_by_ref
from suanli.service.catalogue import effective_catalogue
from suanli.service.context import Context
from suanli.service.paging import all_entries

PLEDGE = (
    "We pledge that this claim and its evidence are true, complete and accurate, and accept clawback and the "
    "dishonesty blacklist if they are not. "
    "本单位承诺所提交申请及材料真实、完整、准确，如有虚假，愿退回补贴并承担相应责任。"
)
CONTRACT_MAX = 120

# ------------------------------------------------------------------------------------------ programmes


def publish_builtin(ctx: Context) -> list[Programme]:
    """Publish the programmes shipped as data, where that version is not yet stored (at start-up)."""
    now = ctx.clock.now()
    out = []
    with ctx.store.uow() as uow:
        for p in builtin_programmes():
            if uow.vouchers.programme(p.id, p.version) is None:
                stamped = replace(p, published_at=now, published_by="suanli (shipped data)")
                if uow.vouchers.publish(stamped):
                    out.append(stamped)
    return out


def publish_programme(ctx: Context, principal: Principal, raw: Mapping[str, object]) -> Programme:
    """Publish a programme, or a new version of one (city admins). A version is never rewritten: its number
    must be above the newest, and the budget may not fall below what is already committed."""
    require_role(principal, Role.CITY_ADMIN)
    programme = programme_from_mapping(raw)
    now = ctx.clock.now()
    with ctx.store.uow() as uow:
        newest = uow.vouchers.programme(programme.id)
        if newest is not None:
            if programme.version <= newest.version:
                raise Conflict(f"version {newest.version} is published; publish version {newest.version + 1}")
            if programme.mode is not newest.mode or programme.year != newest.year:
                raise InvalidInput([FieldError("mode", "a new version keeps the programme's mode and year")])
            _, committed = uow.vouchers.lock_fund(programme.id)
            if programme.annual_budget < committed:
                raise InvalidInput([FieldError("annual_budget", f"{committed} CNY is already committed")])
        stamped = replace(programme, published_at=now, published_by=principal.name or principal.user_id or "")
        if not uow.vouchers.publish(stamped):
            raise Conflict(f"version {programme.version} of {programme.id} is already published")
    return stamped


@dataclass(frozen=True)
class ProgrammeView:
    programme: Programme
    versions: list[int]
    committed: Decimal  # reserved by claims in review plus granted, net of clawbacks


def list_programme_views(ctx: Context, principal: Principal) -> list[ProgrammeView]:
    """Every programme's newest version, with its versions and what is committed."""
    require_user(principal)
    with ctx.store.uow() as uow:
        out = []
        for p in uow.vouchers.programmes():
            _, committed = uow.vouchers.fund(p.id)
            out.append(ProgrammeView(p, [v.version for v in uow.vouchers.versions(p.id)], committed))
        return out


def get_programme(ctx: Context, principal: Principal, programme_id: str, version: int | None = None) -> ProgrammeView:
    require_user(principal)
    with ctx.store.uow() as uow:
        programme = uow.vouchers.programme(programme_id, version)
        if programme is None:
            raise NotFound("voucher programme not found")
        _, committed = uow.vouchers.fund(programme_id)
        versions = [p.version for p in uow.vouchers.versions(programme_id)]
    return ProgrammeView(programme, versions, committed)


# ------------------------------------------------------------------------------------------ applying


@dataclass(frozen=True)
class ClaimInput:
    programme_id: str
    contract: str  # the contract or order claimed under: one claim per contract
    pledge: bool  # the truthfulness pledge must be given
    amount: Decimal | None = None  # deduct mode: the voucher asked for


@dataclass(frozen=True)
class ClaimView:
    claim: Claim
    programme: Programme
    lines: list[ClaimLine]
    events: list[ClaimEvent]
    refused: tuple[tuple[str, Failure], ...] = ()  # at application: usage left out and why
    unpaid: Decimal = ZERO  # at application: eligible fees left out because not yet paid


def paid_in_year(uow: UnitOfWork, tenant_id: str, year: int) -> Decimal:
    """What the tenant actually paid in the year (payments net of their reversals)."""
    since, until = year_bounds(year)
    account = tenant_receivable(tenant_id)
    paid = ZERO
    filt = EntryFilter(account=account, kinds=(EntryKind.PAYMENT, EntryKind.REVERSAL), since=since, until=until)
    for e in all_entries(uow, filt):
        if e.kind is EntryKind.PAYMENT or (e.reverses and _is_payment(uow, e.reverses)):
            paid -= e.amount_for(account)
    return paid


def _is_payment(uow: UnitOfWork, entry_id: str) -> bool:
    entry = uow.ledger.get(entry_id)
    return entry is not None and entry.kind is EntryKind.PAYMENT


def usage_items(uow: UnitOfWork, tenant_id: str, year: int) -> list[UsageItem]:
    """The tenant's usage charges in the year, net of refunds (a wholly refunded charge is left out), with where
    they ran and on what."""
    receivable = tenant_receivable(tenant_id)
    catalogue = effective_catalogue(uow)
    centres = {c.id: c for c in uow.centres.list()}
    since, until = year_bounds(year)
    filt = EntryFilter(tenant_id=tenant_id, kinds=(EntryKind.USAGE, EntryKind.INTERIM, EntryKind.REFUND), since=since)
    found = list(all_entries(uow, filt))
    refunded = refunded_by_charge(found)  # a refund may come in a later year than its charge
    usage = [e for e in found if e.kind is not EntryKind.REFUND and e.occurred_at < until]
    items: list[UsageItem] = []
    for e in usage:
        attempt = uow.attempts.get(e.attempt_id or "")  # a service's interim charges precede its usage record
        centre = centres.get(e.centre_id or "")
        charged = e.amount_for(receivable) - refunded.get(e.id, ZERO)
        if attempt is None or centre is None or charged <= 0:
            continue
        items.append(
            UsageItem(
                entry_id=e.id,
                centre_id=centre.id,
                centre_name=centre.name,
                operator_tenant_id=centre.operator_tenant_id,
                model=attempt.model,
                resource_class=resource_class(catalogue.get(attempt.model)),
                occurred_at=e.occurred_at,
                charged=charged,
            )
        )
    return items


def _refuse(failures: list[Failure]) -> ClaimRefused:
    return ClaimRefused([FieldError(f"rules.{f.rule}", f.reason) for f in failures])


def _check_contract(contract: str) -> str:
    value = contract.strip()
    if not value or len(value) > CONTRACT_MAX or any(c in value for c in "\r\n\t"):
        raise InvalidInput([FieldError("contract", f"1-{CONTRACT_MAX} characters on one line")])
    return value


def apply(ctx: Context, principal: Principal, tenant_ref: str, data: ClaimInput) -> ClaimView:
    """A tenant admin applies under a programme. Reimburse: the claim covers the year's eligible usage that
    was actually paid for, at the best tier per line. Deduct: a voucher of `amount`. Either way the amount is
    cut by the caps and the remaining budget and reserved at once; a refusal names each rule that failed."""
    require_role(principal, Role.TENANT_ADMIN)
    if not data.pledge:
        raise InvalidInput([FieldError("pledge", "the truthfulness pledge is required")])
    contract = _check_contract(data.contract)
    now = ctx.clock.now()
    with ctx.store.uow() as uow:
        tenant = tenant_by_ref(uow, tenant_ref)
        if tenant.id != principal.tenant_id:
            raise NotFound("tenant not found")
        programme = uow.vouchers.programme(data.programme_id)
        if programme is None:
            raise InvalidInput([FieldError("programme_id", f"no voucher programme {data.programme_id!r}")])
        uow.vouchers.lock_tenant(tenant.id)
        if any(c.state in RESERVING_STATES for c in uow.vouchers.by_contract(tenant.id, contract)):
            raise Conflict(f"contract {contract!r} is already claimed (one claim per contract)")
        selection: Selection | None = None
        if programme.mode is Mode.REIMBURSE:
            if data.amount is not None:
                raise InvalidInput([FieldError("amount", "a reimbursement is computed from paid usage; omit it")])
            paid = paid_in_year(uow, tenant.id, programme.year)
            failures = eligibility_failures(programme, tenant, paid)
            if failures:
                raise _refuse(failures)
            selection = select_lines(
                programme,
                tenant,
                _unclaimed(uow, tenant.id, programme.year),
                _paid_room(uow, tenant.id, programme.year, paid),
            )
            requested = selection.subsidy
            if requested == 0:
                why = [f for _, f in selection.refused[:5]] or [Failure("usage", "no paid usage left to claim")]
                raise _refuse([Failure("nothing_to_claim", "no eligible, paid, unclaimed usage in the year"), *why])
        else:
            if data.amount is None:
                raise InvalidInput([FieldError("amount", "the voucher amount to apply for")])
            requested = positive_amount(data.amount, "amount")
            failures = eligibility_failures(programme, tenant, None)
            if failures:
                raise _refuse(failures)
        _, committed = uow.vouchers.lock_fund(programme.id)
        capped = apply_caps(requested, programme, uow.vouchers.entity_committed(programme.id, tenant.id), committed)
        if capped.amount <= 0:
            raise _refuse([Failure(capped.limited_by, _cap_reason(capped.limited_by, programme))])
        claim = Claim(
            id=new_id("claim", now),
            programme_id=programme.id,
            programme_version=programme.version,
            tenant_id=tenant.id,
            year=programme.year,
            mode=programme.mode,
            state=ClaimState.SUBMITTED,
            contract=contract,
            pledge=f"{PLEDGE} — {principal.name}",
            requested=requested,
            base=selection.base if selection else ZERO,
            amount=capped.amount,
            limited_by=capped.limited_by,
            used=ZERO,
            clawed_back=ZERO,
            created_at=now,
            updated_at=now,
            applied_by=principal.user_id or "",
        )
        lines = list(selection.lines) if selection else []
        event = ClaimEvent(claim.id, now, None, ClaimState.SUBMITTED, claim.applied_by, "tenant_admin", _applied(claim))
        uow.vouchers.commit(programme.id, tenant.id, claim.amount)
        uow.vouchers.add_claim(claim, lines, event)
    return ClaimView(
        claim,
        programme,
        lines,
        [event],
        selection.refused if selection else (),
        selection.unpaid if selection else ZERO,
    )


def _applied(claim: Claim) -> str:
    cut = f", cut to {claim.amount} by {claim.limited_by}" if claim.limited_by else ""
    return f"applied with the truthfulness pledge for {claim.requested} CNY{cut}"


def _cap_reason(rule: str, p: Programme) -> str:
    return {
        "per_claim": f"the cap per claim is {p.cap_per_claim} CNY",
        "per_entity_year": f"the {p.cap_per_entity_year} CNY cap per entity for {p.year} is used up",
        "programme_budget": f"the programme's {p.annual_budget} CNY budget is committed in full",
    }.get(rule, rule)


def _reimburse_claims(uow: UnitOfWork, tenant_id: str, year: int) -> list[Claim]:
    filt = ClaimFilter(tenant_id=tenant_id, states=tuple(RESERVING_STATES), mode=Mode.REIMBURSE, year=year)
    return uow.vouchers.claims(filt)


def _paid_room(uow: UnitOfWork, tenant_id: str, year: int, paid: Decimal) -> Decimal:
    """Payments not yet used as evidence by another reimbursement claim of the year."""
    return paid - sum((c.base for c in _reimburse_claims(uow, tenant_id, year)), ZERO)


def _unclaimed(uow: UnitOfWork, tenant_id: str, year: int) -> list[UsageItem]:
    items = usage_items(uow, tenant_id, year)
    covered = uow.vouchers.covered([i.entry_id for i in items])
    return [i for i in items if i.entry_id not in covered]


# ------------------------------------------------------------------------------------------ reading


def may_read_claims(principal: Principal) -> bool:
    """City admins, auditors and reviewers read every claim; tenants their own."""
    return principal.is_platform or principal.role in REVIEW_ROLES


def get_claim(ctx: Context, principal: Principal, claim_id: str) -> ClaimView:
    require_user(principal)
    with ctx.store.uow() as uow:
        claim = uow.vouchers.get_claim(claim_id)
        if claim is None or not (may_read_claims(principal) or claim.tenant_id == principal.tenant_id):
            raise NotFound("claim not found")
        programme = uow.vouchers.programme(claim.programme_id, claim.programme_version)
        assert programme is not None
        return ClaimView(claim, programme, uow.vouchers.lines(claim.id), uow.vouchers.events(claim.id))


def list_claims(
    ctx: Context, principal: Principal, filt: ClaimFilter, limit: int, cursor: str | None
) -> tuple[list[Claim], str | None]:
    require_user(principal)
    if not may_read_claims(principal):
        if filt.tenant_id not in (None, principal.tenant_id):
            raise NotFound("tenant not found")
        if principal.tenant_id is None:
            raise Forbidden("no tenant")
        filt = replace(filt, tenant_id=principal.tenant_id)
    with ctx.store.uow() as uow:
        if filt.tenant_id is not None:
            filt = replace(filt, tenant_id=tenant_by_ref(uow, filt.tenant_id).id)
        page = uow.vouchers.claims(filt, cursor, limit + 1)
    more = len(page) > limit
    page = page[:limit]
    return page, (page[-1].id if more and page else None)
