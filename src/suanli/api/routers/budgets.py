"""Monthly budgets of a tenant and of its projects: what was charged and held this month, and what is left."""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter

from suanli.api.deps import Caller, Ctx
from suanli.api.dto_billing import BudgetIn, BudgetOut
from suanli.domain.money import FEN, parse_money
from suanli.service import budgets

router = APIRouter(prefix="/v1", tags=["billing"])


def _cap(body: BudgetIn) -> Decimal | None:
    return None if body.monthly_budget is None else parse_money(body.monthly_budget, "monthly_budget", quantum=FEN)


@router.get("/tenants/{tenant_id}/budget", summary="A tenant's monthly budget: charged, held and left")
def get_budget(tenant_id: str, ctx: Ctx, caller: Caller) -> BudgetOut:
    return BudgetOut.of(budgets.budget_status(ctx, caller, tenant_id))


@router.put("/tenants/{tenant_id}/budget", summary="Set or remove a tenant's monthly budget (its admins, city admins)")
def put_budget(tenant_id: str, body: BudgetIn, ctx: Ctx, caller: Caller) -> BudgetOut:
    return BudgetOut.of(budgets.set_budget(ctx, caller, tenant_id, _cap(body)))


@router.get(
    "/tenants/{tenant_id}/projects",
    summary="The tenant's projects with a budget or spending this month: cap, charged, held, left",
)
def list_project_budgets(tenant_id: str, ctx: Ctx, caller: Caller) -> list[BudgetOut]:
    return [BudgetOut.of(b) for b in budgets.project_budgets(ctx, caller, tenant_id)]


@router.get("/tenants/{tenant_id}/projects/{project}/budget", summary="A project's monthly budget")
def get_project_budget(tenant_id: str, project: str, ctx: Ctx, caller: Caller) -> BudgetOut:
    return BudgetOut.of(budgets.project_budget(ctx, caller, tenant_id, project))


@router.put(
    "/tenants/{tenant_id}/projects/{project}/budget",
    summary="Set or remove a project's monthly budget (the tenant's admins, city admins)",
)
def put_project_budget(tenant_id: str, project: str, body: BudgetIn, ctx: Ctx, caller: Caller) -> BudgetOut:
    return BudgetOut.of(budgets.set_project_budget(ctx, caller, tenant_id, project, _cap(body)))
