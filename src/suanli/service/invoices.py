"""Monthly invoices: a tenant's month read off the ledger (its receivable account) and the usage records behind
each charge. Tenants see their own; city admins and auditors anyone's."""

from __future__ import annotations

from datetime import datetime

from suanli.billing.invoice import ChargeLine, Invoice, OtherLine, month_bounds
from suanli.domain.ledger import ZERO, EntryKind, tenant_receivable
from suanli.domain.tenants import Principal, Tenant
from suanli.ports import EntryFilter, UnitOfWork
from suanli.service.access import require_user, tenant_by_ref, visible_tenant
from suanli.service.billing import charge_facts
from suanli.service.catalogue import effective_catalogue
from suanli.service.context import Context
from suanli.service.paging import all_entries


def tenant_invoice(ctx: Context, principal: Principal, tenant_ref: str, month: str) -> Invoice:
    """The invoice of `tenant_ref` for `month` (YYYY-MM, in the city's time); its totals are the ledger's."""
    require_user(principal)
    month_bounds(month)  # a bad month is refused before anything is read
    with ctx.store.uow() as uow:
        tenant = tenant_by_ref(uow, tenant_ref)
        visible_tenant(principal, tenant.id)
        return build_invoice(uow, tenant, month, ctx.clock.now())


def build_invoice(uow: UnitOfWork, tenant: Tenant, month: str, now: datetime) -> Invoice:
    """The invoice, read in the caller's unit of work (the caller has checked who may see it)."""
    start, end = month_bounds(month)
    account = tenant_receivable(tenant.id)
    catalogue = effective_catalogue(uow)
    labels = {p.id: (c.name, p.name) for c in uow.centres.list() for p in uow.pools.list(c.id)}
    opening = uow.ledger.balances(account, until=start).get(account, ZERO)
    charges, others = [], []
    for entry in all_entries(uow, EntryFilter(account=account, since=start, until=end)):
        amount = entry.amount_for(account)
        facts = charge_facts(uow, catalogue, entry, amount)
        if facts is not None and entry.kind is not EntryKind.REFUND:
            centre, pool = labels.get(facts.attempt.pool_id, (facts.attempt.centre_id, facts.attempt.pool_id))
            job = uow.jobs.get(facts.job_id)
            charges.append(
                ChargeLine(
                    entry.occurred_at, entry.id, facts.job_id, facts.attempt.id, centre, pool, facts.model,
                    facts.quantity, facts.unit, facts.price, amount, (job.spec.project or "") if job else "",
                )
            )  # fmt: skip
        else:
            others.append(OtherLine(entry.occurred_at, entry.id, entry.kind.value, entry.memo, amount))
    return Invoice(tenant.id, tenant.display_name or tenant.name, month, opening, tuple(charges), tuple(others), now)
