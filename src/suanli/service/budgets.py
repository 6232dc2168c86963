"""Monthly budgets: caps on what a tenant, and each of its projects, may spend per calendar month (city time).
The scheduler holds each placed job's worst case against every budget the job counts against; the charge
replaces the hold when the usage arrives."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from suanli.billing.budget import HOLD_GRACE, budget_left, month_start
from suanli.domain.errors import FieldError, Forbidden, InvalidInput
from suanli.domain.jobs.spec import NAME_RE
from suanli.domain.ledger import ZERO
from suanli.domain.tenants import Principal, Tenant
from suanli.ports import UnitOfWork
from suanli.scheduling.snapshot import budget_key
from suanli.service.access import require_user, tenant_by_ref, visible_tenant
from suanli.service.context import Context


def budgets_left(uow: UnitOfWork, now: datetime) -> dict[str, Decimal]:
    """What each capped tenant, and each capped project (`budget_key`), may still commit this month. Tenants
    and projects without a budget are absent: nothing caps them."""
    capped = {t.id: t.monthly_budget for t in uow.tenants.list() if t.monthly_budget is not None}
    projects = uow.tenants.project_budgets()
    out: dict[str, Decimal] = {}
    start, grace = month_start(now), now - HOLD_GRACE
    if capped:
        ids = list(capped)
        charged = uow.ledger.usage_charged_since(ids, start)
        held = uow.attempts.open_holds(ids, grace)
        out.update({t: budget_left(cap, charged.get(t, ZERO), held.get(t, ZERO)) for t, cap in capped.items()})
    if projects:
        ids = sorted({t for t, _ in projects})
        charged_p = uow.ledger.usage_charged_by_project(ids, start)
        held_p = uow.attempts.open_holds_by_project(ids, grace)
        for key, cap in projects.items():
            out[budget_key(*key)] = budget_left(cap, charged_p.get(key, ZERO), held_p.get(key, ZERO))
    return out


@dataclass(frozen=True)
class BudgetStatus:
    tenant_id: str
    monthly_budget: Decimal | None
    month_start: datetime
    charged: Decimal  # usage charged this month
    held: Decimal  # worst cases held for jobs placed and not yet charged
    left: Decimal | None  # what may still be committed (None: no cap)
    project: str | None = None  # None: the tenant's own budget


def budget_status(ctx: Context, principal: Principal, tenant_ref: str) -> BudgetStatus:
    require_user(principal)
    now = ctx.clock.now()
    with ctx.store.uow() as uow:
        tenant = tenant_by_ref(uow, tenant_ref)
        visible_tenant(principal, tenant.id)
        start = month_start(now)
        charged = uow.ledger.usage_charged_since([tenant.id], start).get(tenant.id, ZERO)
        held = uow.attempts.open_holds([tenant.id], now - HOLD_GRACE).get(tenant.id, ZERO)
    cap = tenant.monthly_budget
    left = budget_left(cap, charged, held) if cap is not None else None
    return BudgetStatus(tenant.id, cap, start, charged, held, left)


def _manageable(uow: UnitOfWork, principal: Principal, tenant_ref: str) -> Tenant:
    tenant = tenant_by_ref(uow, tenant_ref)
    visible_tenant(principal, tenant.id)
    if not principal.can_manage_tenant(tenant.id):
        raise Forbidden("only the tenant's admins or a city admin set its budgets")
    return tenant


def set_budget(ctx: Context, principal: Principal, tenant_ref: str, monthly_budget: Decimal | None) -> BudgetStatus:
    """Set (or with None remove) a tenant's monthly spending cap: its own tenant admins, or city admins.
    Jobs already placed keep running; new placements are held against the new cap from the next cycle."""
    require_user(principal)
    with ctx.store.uow() as uow:
        tenant = _manageable(uow, principal, tenant_ref)
        uow.tenants.update(replace(tenant, monthly_budget=monthly_budget))
    return budget_status(ctx, principal, tenant.id)


# ------------------------------------------------------------------------------------------ projects


def check_project(project: str) -> str:
    if not NAME_RE.match(project or ""):
        raise InvalidInput(
            [FieldError("project", "1-63 letters, digits, '.', '_' or '-', starting with a letter or digit")]
        )
    return project


def project_budgets(ctx: Context, principal: Principal, tenant_ref: str) -> list[BudgetStatus]:
    """Every capped project of the tenant, and every project it charged or holds anything to this month."""
    require_user(principal)
    with ctx.store.uow() as uow:
        tenant = tenant_by_ref(uow, tenant_ref)
        visible_tenant(principal, tenant.id)
        return _project_statuses(uow, tenant.id, ctx.clock.now())


def project_budget(ctx: Context, principal: Principal, tenant_ref: str, project: str) -> BudgetStatus:
    """One project's budget: its cap (None: none), and what it charged and holds this month."""
    require_user(principal)
    check_project(project)
    with ctx.store.uow() as uow:
        tenant = tenant_by_ref(uow, tenant_ref)
        visible_tenant(principal, tenant.id)
        return _project_statuses(uow, tenant.id, ctx.clock.now(), project)[0]


def _project_statuses(uow: UnitOfWork, tenant_id: str, now: datetime, only: str | None = None) -> list[BudgetStatus]:
    start = month_start(now)
    caps = {p: cap for (_, p), cap in uow.tenants.project_budgets([tenant_id]).items()}
    charged = {p: v for (_, p), v in uow.ledger.usage_charged_by_project([tenant_id], start).items()}
    held = {p: v for (_, p), v in uow.attempts.open_holds_by_project([tenant_id], now - HOLD_GRACE).items()}
    projects = [only] if only is not None else sorted(caps.keys() | charged.keys() | held.keys())
    out = []
    for project in projects:
        cap, c, h = caps.get(project), charged.get(project, ZERO), held.get(project, ZERO)
        left = budget_left(cap, c, h) if cap is not None else None
        out.append(BudgetStatus(tenant_id, cap, start, c, h, left, project))
    return out


def set_project_budget(
    ctx: Context, principal: Principal, tenant_ref: str, project: str, monthly_budget: Decimal | None
) -> BudgetStatus:
    """Set (or with None remove) a project's monthly cap: the tenant's admins, or city admins. Jobs name their
    project in their spec (`project:`); the tenant's own cap, if any, still applies to them too."""
    require_user(principal)
    check_project(project)
    with ctx.store.uow() as uow:
        tenant = _manageable(uow, principal, tenant_ref)
        uow.tenants.set_project_budget(tenant.id, project, monthly_budget, ctx.clock.now())
    return project_budget(ctx, principal, tenant.id, project)
