"""Billing use cases: charging metered usage, recording payments and payouts, reversals, statements and
the ledger check. Every money movement is one balanced, append-only ledger entry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from suanli.billing.rating import HOURS, Metered, Rated, rate, usage_entry
from suanli.billing.verify import VerifyReport, check_balanced, check_charges, check_refunds, check_vouchers
from suanli.domain.accelerators import Catalogue
from suanli.domain.centres import PriceUnit
from suanli.domain.errors import Conflict, FieldError, InvalidInput, NotFound
from suanli.domain.ids import new_id
from suanli.domain.jobs.model import Attempt
from suanli.domain.ledger import (
    PLATFORM_BANK,
    ZERO,
    Entry,
    EntryKind,
    positive_amount,
    postings,
    programme_granted,
    provider_payable,
    refunded_by_charge,
    reversal_postings,
    tenant_receivable,
)
from suanli.domain.tenants import Principal, Role
from suanli.ports import EntryFilter, UnitOfWork, UsageRecord
from suanli.service.access import given_reason, require_role, require_user, tenant_by_ref, visible_tenant
from suanli.service.catalogue import effective_catalogue
from suanli.service.context import Context
from suanli.service.paging import all_claims, all_entries
from suanli.service.voucher_review import deduct_usage

REFERENCE_MAX = 120


def metered(record: UsageRecord, attempt: Attempt) -> Metered:
    return Metered(
        attempt_id=record.attempt_id,
        job_id=record.job_id,
        tenant_id=record.tenant_id,
        centre_id=record.centre_id,
        model=record.model,
        accelerator_seconds=record.accelerator_seconds,
        wall_seconds=record.wall_seconds,
        nodes=max(1, len(attempt.node_indices)),
        cpus_per_node=attempt.cpus_per_node,
        ended_at=record.ended_at,
    )


def rate_record(catalogue: Catalogue, record: UsageRecord, attempt: Attempt) -> Rated:
    """The charge for a usage record at its attempt's fixed price."""
    return rate_metered(catalogue, metered(record, attempt), attempt.price)


def rate_metered(catalogue: Catalogue, usage: Metered, price: Decimal) -> Rated:
    model = catalogue.get(usage.model)
    is_cpu = model.is_cpu if model is not None else False
    unit = PriceUnit.CORE_HOUR if is_cpu else PriceUnit.ACCELERATOR_HOUR
    fp16 = model.fp16_tflops if model is not None else Decimal(0)
    return rate(usage, unit, price, fp16)


@dataclass(frozen=True)
class ChargeFacts:
    """What a charge line shows of a usage, interim usage or refund entry: the attempt, and how much of what."""

    attempt: Attempt
    job_id: str
    model: str
    quantity: Decimal  # unit-hours this entry charged (negative for a refund or reversal)
    unit: str
    price: Decimal


def charge_facts(uow: UnitOfWork, catalogue: Catalogue, entry: Entry, amount: Decimal) -> ChargeFacts | None:
    """The facts behind a charge of `amount` (the tenant's side of `entry`); None for other entries. A usage
    entry that charged exactly its rating shows the rated quantity; an interim period, a final charge less
    interim periods, or a refund shows the quantity its amount buys at the fixed price."""
    if entry.kind not in CHARGE_KINDS or entry.attempt_id is None:
        return None
    attempt = uow.attempts.get(entry.attempt_id)
    if attempt is None:
        return None
    record = uow.usage.get(attempt.id)
    unit = (
        PriceUnit.CORE_HOUR if (m := catalogue.get(attempt.model)) and m.is_cpu else PriceUnit.ACCELERATOR_HOUR
    ).value
    rated = rate_record(catalogue, record, attempt) if record is not None else None
    if rated is not None and entry.kind is EntryKind.USAGE and amount == rated.amount:
        quantity = rated.quantity
    else:
        quantity = (amount / attempt.price).quantize(HOURS) if attempt.price else Decimal(0)
    return ChargeFacts(attempt, attempt.job_id, attempt.model, quantity, unit, attempt.price)


CHARGE_KINDS = frozenset({EntryKind.USAGE, EntryKind.INTERIM, EntryKind.REFUND, EntryKind.REVERSAL})


def charge_usage(ctx: Context, uow: UnitOfWork, record: UsageRecord, attempt: Attempt) -> Entry | None:
    """Post the charge for a newly recorded usage record, in the caller's unit of work (so the record and
    its charge commit together: a usage record is charged exactly once)."""
    rated = rate_record(effective_catalogue(uow), record, attempt)
    interim = all_entries(uow, EntryFilter(attempt_id=attempt.id, kinds=(EntryKind.INTERIM,)))
    already = sum((e.amount_for(tenant_receivable(record.tenant_id)) for e in interim), ZERO)
    entry = usage_entry(
        new_id("entry", ctx.clock.now()),
        metered(record, attempt),
        rated,
        ctx.settings.billing.platform_fee_rate,
        ctx.clock.now(),
        already,
    )
    if entry is not None and uow.ledger.add(entry):
        deduct_usage(uow, entry)
    return entry


# ------------------------------------------------------------------------------------------ payments


@dataclass(frozen=True)
class MoneyInput:
    amount: Decimal
    reference: str  # the bank's or the payer's reference: recording it twice records it once
    occurred_at: datetime | None = None
    memo: str = ""


def _check_reference(reference: str) -> str:
    ref = reference.strip()
    if not ref or len(ref) > REFERENCE_MAX or any(c.isspace() and c != " " for c in ref):
        raise InvalidInput([FieldError("reference", f"1-{REFERENCE_MAX} characters on one line")])
    return ref


def record_payment(ctx: Context, principal: Principal, tenant_id: str, data: MoneyInput) -> tuple[Entry, bool]:
    """A tenant's payment received (city admins). Returns the entry and whether this call recorded it."""
    require_role(principal, Role.CITY_ADMIN)
    amount = positive_amount(data.amount, "amount")
    ref = _check_reference(data.reference)
    now = ctx.clock.now()
    with ctx.store.uow() as uow:
        tenant = tenant_by_ref(uow, tenant_id)
        tenant_id = tenant.id
        entry = Entry(
            id=new_id("entry", now),
            kind=EntryKind.PAYMENT,
            reference=f"payment:{tenant_id}:{ref}",
            occurred_at=data.occurred_at or now,
            recorded_at=now,
            memo=data.memo or f"payment from {tenant.name}, ref {ref}",
            postings=postings((PLATFORM_BANK, amount), (tenant_receivable(tenant_id), -amount)),
            actor=principal.user_id or "",
            tenant_id=tenant_id,
        )
        return _add_once(uow, entry, amount)


def record_payout(ctx: Context, principal: Principal, centre_id: str, data: MoneyInput) -> tuple[Entry, bool]:
    """A payment made to a centre's operator for delivered usage (city admins)."""
    require_role(principal, Role.CITY_ADMIN)
    amount = positive_amount(data.amount, "amount")
    ref = _check_reference(data.reference)
    now = ctx.clock.now()
    with ctx.store.uow() as uow:
        centre = uow.centres.get(centre_id) or uow.centres.get_by_name(centre_id)
        if centre is None:
            raise NotFound("centre not found")
        centre_id = centre.id
        entry = Entry(
            id=new_id("entry", now),
            kind=EntryKind.PAYOUT,
            reference=f"payout:{centre_id}:{ref}",
            occurred_at=data.occurred_at or now,
            recorded_at=now,
            memo=data.memo or f"payout to {centre.name}, ref {ref}",
            postings=postings((provider_payable(centre_id), amount), (PLATFORM_BANK, -amount)),
            actor=principal.user_id or "",
            centre_id=centre_id,
        )
        return _add_once(uow, entry, amount)


def _add_once(uow: UnitOfWork, entry: Entry, amount: Decimal) -> tuple[Entry, bool]:
    if uow.ledger.add(entry):
        return entry, True
    earlier = uow.ledger.by_reference(entry.reference)
    assert earlier is not None
    if earlier.total_debits != amount:
        raise Conflict(f"reference already recorded with amount {earlier.total_debits} CNY (entry {earlier.id})")
    return earlier, False


def reverse_entry(ctx: Context, principal: Principal, entry_id: str, reason: str) -> Entry:
    """Undo a payment or payout entered in error, by a new entry with every posting negated (city admins).
    Usage charges are not reversed here: they follow what the engine measured."""
    require_role(principal, Role.CITY_ADMIN)
    reason = given_reason(reason, "say why the entry is reversed")
    now = ctx.clock.now()
    with ctx.store.uow() as uow:
        entry = uow.ledger.get(entry_id)
        if entry is None:
            raise NotFound("ledger entry not found")
        if entry.kind not in (EntryKind.PAYMENT, EntryKind.PAYOUT):
            raise Conflict(f"a {entry.kind.value} entry cannot be reversed; only payments and payouts can")
        if uow.ledger.reversal_of(entry_id) is not None:
            raise Conflict("that entry has already been reversed")
        reversal = Entry(
            id=new_id("entry", now),
            kind=EntryKind.REVERSAL,
            reference=f"reversal:{entry_id}",
            occurred_at=now,
            recorded_at=now,
            memo=f"reverses {entry_id}: {reason}",
            postings=reversal_postings(entry),
            actor=principal.user_id or "",
            tenant_id=entry.tenant_id,
            centre_id=entry.centre_id,
            attempt_id=entry.attempt_id,
            reverses=entry_id,
        )
        if not uow.ledger.add(reversal):
            raise Conflict("that entry has already been reversed")
        return reversal


# ------------------------------------------------------------------------------------------ reading


@dataclass(frozen=True)
class TenantAccount:
    tenant_id: str
    balance: Decimal  # owed to the platform (negative: paid ahead)
    charged: Decimal  # usage charged in the period
    paid: Decimal  # payments in the period (net of reversals)
    since: datetime | None
    until: datetime | None
    subsidised: Decimal = ZERO  # voucher deductions from the bill in the period, net of clawbacks


def tenant_account(
    ctx: Context, principal: Principal, tenant_id: str, since: datetime | None = None, until: datetime | None = None
) -> TenantAccount:
    """A tenant's balance now, and what was charged and paid between `since` and `until`."""
    require_user(principal)
    with ctx.store.uow() as uow:
        tenant_id = tenant_by_ref(uow, tenant_id).id
        visible_tenant(principal, tenant_id)
        account = tenant_receivable(tenant_id)
        balance = uow.ledger.balances(account).get(account, ZERO)
        charged = paid = subsidised = ZERO
        for e in all_entries(uow, EntryFilter(account=account, since=since, until=until)):
            amount = e.amount_for(account)
            if e.kind in (EntryKind.VOUCHER, EntryKind.CLAWBACK):
                subsidised -= amount
            elif e.kind is EntryKind.REFUND:
                charged += amount  # charged net of refunds
            elif amount > 0:
                charged += amount
            else:
                paid -= amount
    return TenantAccount(tenant_id, balance, charged, paid, since, until, subsidised)


def _entry_scope(principal: Principal, uow: UnitOfWork, filt: EntryFilter) -> EntryFilter:
    """Platform roles see every entry; a centre operator its centres' entries; anyone else its tenant's."""
    require_user(principal)
    if principal.is_platform:
        return filt
    if principal.role is Role.CENTRE_OPERATOR and filt.centre_id is not None:
        centre = uow.centres.get(filt.centre_id)
        if centre is None or centre.operator_tenant_id != principal.tenant_id:
            raise NotFound("centre not found")
        return filt
    if filt.tenant_id is not None and filt.tenant_id != principal.tenant_id:
        raise NotFound("tenant not found")
    return EntryFilter(
        tenant_id=principal.tenant_id,
        centre_id=filt.centre_id,
        account=filt.account,
        kinds=filt.kinds,
        since=filt.since,
        until=filt.until,
    )


def list_entries(
    ctx: Context, principal: Principal, filt: EntryFilter, limit: int, cursor: str | None
) -> tuple[list[Entry], str | None]:
    """A page of ledger entries in recording order; the cursor is the last id of the previous page."""
    with ctx.store.uow() as uow:
        if filt.tenant_id is not None:
            filt = replace(filt, tenant_id=tenant_by_ref(uow, filt.tenant_id).id)
        if filt.centre_id is not None:
            centre = uow.centres.get(filt.centre_id) or uow.centres.get_by_name(filt.centre_id)
            if centre is None:
                raise NotFound("centre not found")
            filt = replace(filt, centre_id=centre.id)
        scoped = _entry_scope(principal, uow, filt)
        page = uow.ledger.entries(scoped, cursor, limit + 1)
    more = len(page) > limit
    page = page[:limit]
    return page, (page[-1].id if more and page else None)


def get_entry(ctx: Context, principal: Principal, entry_id: str) -> Entry:
    """One entry, if the caller may see it (otherwise it does not exist for them)."""
    require_user(principal)
    with ctx.store.uow() as uow:
        entry = uow.ledger.get(entry_id)
        if entry is None or not _may_see(principal, uow, entry):
            raise NotFound("ledger entry not found")
        return entry


def _may_see(principal: Principal, uow: UnitOfWork, entry: Entry) -> bool:
    if principal.is_platform:
        return True
    if entry.tenant_id is not None and entry.tenant_id == principal.tenant_id:
        return True
    if principal.role is Role.CENTRE_OPERATOR and entry.centre_id is not None:
        centre = uow.centres.get(entry.centre_id)
        return centre is not None and centre.operator_tenant_id == principal.tenant_id
    return False


def account_balances(ctx: Context, principal: Principal, prefix: str = "") -> dict[str, Decimal]:
    """Every account's balance (city admins and auditors): the trial balance."""
    require_role(principal, Role.CITY_ADMIN, Role.AUDITOR)
    with ctx.store.uow() as uow:
        return dict(sorted(uow.ledger.balances(prefix).items()))


def verify_ledger(ctx: Context, principal: Principal | None = None, batch: int = 1000) -> VerifyReport:
    """Prove the books: every entry balances, and every usage record is charged exactly once at its rated
    amount. `principal` None is the server itself (the CLI's direct check)."""
    if principal is not None:
        require_role(principal, Role.CITY_ADMIN, Role.AUDITOR)
    expected: dict[str, Decimal] = {}
    with ctx.store.uow() as uow:
        catalogue = effective_catalogue(uow)
        findings = check_balanced(uow.ledger.unbalanced())
        after: str | None = None
        while True:
            records: Sequence[UsageRecord] = uow.usage.page(after, batch)
            for record in records:
                attempt = uow.attempts.get(record.attempt_id)
                assert attempt is not None
                expected[record.attempt_id] = rate_record(catalogue, record, attempt).amount
            if len(records) < batch:
                break
            after = records[-1].attempt_id
        charged = uow.ledger.charged_by_attempt()
        claims = all_claims(uow)
        lines = {c.id: uow.vouchers.lines(c.id) for c in claims}
        programmes = {(p.id, p.version): p for q in uow.vouchers.programmes() for p in uow.vouchers.versions(q.id)}
        funds = {pid: uow.vouchers.fund(pid) for pid, _ in programmes}
        booked = uow.ledger.balances("programme:")
        granted = {pid: booked.get(programme_granted(pid), ZERO) for pid in funds}
        refunds = refunded_by_charge(all_entries(uow, EntryFilter(kinds=(EntryKind.REFUND,))))
        charges = {}
        for usage_id in refunds:
            usage_entry = uow.ledger.get(usage_id)
            ok = usage_entry is not None and usage_entry.kind in (EntryKind.USAGE, EntryKind.INTERIM)
            charges[usage_id] = usage_entry.amount_for(tenant_receivable(usage_entry.tenant_id or "")) if ok else None
    findings += check_charges(expected, charged)
    findings += check_refunds(refunds, charges)
    findings += check_vouchers(claims, lines, programmes, funds, granted)
    return VerifyReport(
        entries_unbalanced=sum(1 for f in findings if f.rule == "balanced"),
        usage_records=len(expected),
        usage_entries=sum(n for n, _ in charged.values()),
        findings=tuple(findings),
        claims=len(claims),
    )
