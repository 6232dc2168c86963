"""Voucher programme reports for the city: budget committed, granted and paid, enterprises served, and where the
subsidy went (industry, centre, accelerator class), read off the claims and cross-checked with the ledger. City
admins and auditors see them."""

from __future__ import annotations

from suanli.billing.programme_report import ClaimFacts, ProgrammeReport
from suanli.domain.errors import NotFound
from suanli.domain.ledger import ZERO, programme_granted, programme_treasury
from suanli.domain.tenants import Principal, Role
from suanli.ports import ClaimFilter
from suanli.service.access import require_role
from suanli.service.context import Context
from suanli.service.paging import all_claims


def programme_report(ctx: Context, principal: Principal, programme_id: str) -> ProgrammeReport:
    """The report of a programme (its newest version's rules; claims under every version)."""
    require_role(principal, Role.CITY_ADMIN, Role.AUDITOR)
    with ctx.store.uow() as uow:
        programme = uow.vouchers.programme(programme_id)
        if programme is None:
            raise NotFound("voucher programme not found")
        tenants = {t.id: t for t in uow.tenants.list()}
        centres = {c.id: c.name for c in uow.centres.list()}
        facts = []
        for claim in all_claims(uow, ClaimFilter(programme_id=programme.id)):
            tenant = tenants.get(claim.tenant_id)
            lines = tuple((line, centres.get(line.centre_id, line.centre_id)) for line in uow.vouchers.lines(claim.id))
            name = tenant.name if tenant else claim.tenant_id
            facts.append(ClaimFacts(claim, name, tenant.industry if tenant else "", lines))
        _, committed = uow.vouchers.fund(programme.id)
        booked = uow.ledger.balances(f"programme:{programme.id}:")
        granted = booked.get(programme_granted(programme.id), ZERO)
        paid = -booked.get(programme_treasury(programme.id), ZERO)
    return ProgrammeReport(programme, committed, granted, paid, tuple(facts), ctx.clock.now())
