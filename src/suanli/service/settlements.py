"""Provider settlement statements: a centre's month read off the ledger (its operator's payable account), with
the usage behind each delivery. The centre's own operators see theirs; city admins and auditors every one."""

from __future__ import annotations

from suanli.billing.invoice import month_bounds
from suanli.billing.settlement import DeliveryLine, PayoutLine, Statement
from suanli.domain.centres import Centre
from suanli.domain.errors import NotFound
from suanli.domain.ledger import ZERO, EntryKind, provider_payable, tenant_receivable
from suanli.domain.tenants import Principal, Role
from suanli.ports import EntryFilter, UnitOfWork
from suanli.service.access import require_user
from suanli.service.billing import charge_facts
from suanli.service.catalogue import effective_catalogue
from suanli.service.context import Context
from suanli.service.paging import all_entries


def _visible_centre(uow: UnitOfWork, principal: Principal, ref: str) -> Centre:
    centre = uow.centres.get(ref) or uow.centres.get_by_name(ref)
    if centre is None:
        raise NotFound("centre not found")
    if principal.is_platform:
        return centre
    if principal.role is Role.CENTRE_OPERATOR and principal.tenant_id == centre.operator_tenant_id:
        return centre
    raise NotFound("centre not found")  # others never learn whether it exists


def provider_statement(ctx: Context, principal: Principal, centre_ref: str, month: str) -> Statement:
    """The settlement statement of `centre_ref` for `month` (YYYY-MM, city time); its totals are the ledger's."""
    require_user(principal)
    start, end = month_bounds(month)
    with ctx.store.uow() as uow:
        centre = _visible_centre(uow, principal, centre_ref)
        account = provider_payable(centre.id)
        catalogue = effective_catalogue(uow)
        pools = {p.id: p.name for p in uow.pools.list(centre.id)}
        tenants = {t.id: t.name for t in uow.tenants.list()}
        operator = uow.tenants.get(centre.operator_tenant_id)
        opening = -uow.ledger.balances(account, until=start).get(account, ZERO)
        deliveries, payouts = [], []
        for entry in all_entries(uow, EntryFilter(account=account, since=start, until=end)):
            owed = -entry.amount_for(account)
            gross = entry.amount_for(tenant_receivable(entry.tenant_id or ""))
            facts = charge_facts(uow, catalogue, entry, gross)
            if facts is not None:
                a = facts.attempt
                deliveries.append(
                    DeliveryLine(
                        entry.occurred_at, entry.id, tenants.get(entry.tenant_id or "", entry.tenant_id or ""),
                        facts.job_id, a.id, pools.get(a.pool_id, a.pool_id), facts.model, facts.quantity, facts.unit,
                        facts.price, gross, gross - owed, owed,
                    )
                )  # fmt: skip
            else:
                payouts.append(PayoutLine(entry.occurred_at, entry.id, entry.kind.value, entry.memo, -owed))
        voucher_funded = ZERO
        for entry in all_entries(uow, EntryFilter(centre_id=centre.id, kinds=(EntryKind.VOUCHER,), since=start,
                                                  until=end)):  # fmt: skip
            voucher_funded -= entry.amount_for(tenant_receivable(entry.tenant_id or ""))
    return Statement(
        centre.id, centre.display_name or centre.name, operator.name if operator else centre.operator_tenant_id,
        month, opening, tuple(deliveries), tuple(payouts), voucher_funded, ctx.clock.now(),
    )  # fmt: skip
