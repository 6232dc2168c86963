"""Monthly budgets end to end: holds at placement, the "budget" reason, settlement when usage is charged."""

from __future__ import annotations

from decimal import Decimal

import pytest

from suanli.domain.errors import Forbidden, NotFound
from suanli.domain.jobs.states import JobState
from suanli.service import agents, budgets, jobs
from suanli.service.scheduler import run_cycle
from tests.conftest import City
from tests.integration.conftest import bearer
from tests.integration.test_agent_protocol import report
from tests.integration.test_ledger import use


def submit(city: City, who: str = "acme-dev") -> str:
    body = {"name": "t", "resources": {"accelerators": "A100:8"}, "run": "x", "max_runtime": "1h"}
    return jobs.submit_job(city.ctx, city.principal(who), body)[0].id


def test_a_job_waits_for_budget_then_runs_and_its_hold_settles_into_the_charge(city: City):
    budgets.set_budget(city.ctx, city.principal("acme-admin"), "acme", Decimal("100"))
    job_id = submit(city)  # worst case 8 x 1 h x 18.00 = 144.00
    run_cycle(city.ctx)
    view = jobs.get_job(city.ctx, city.principal("acme-dev"), job_id)
    assert view.job.state is JobState.QUEUED
    assert "budget" in view.job.state_reason and "¥144.00" in view.job.state_reason
    assert "¥100.00" in jobs.why(city.ctx, city.principal("acme-dev"), job_id).summary
    other = submit(city, "globex-dev")  # another tenant's job of the same shape is not held up
    run_cycle(city.ctx)
    assert jobs.get_job(city.ctx, city.principal("globex-dev"), other).job.state is JobState.PLACED

    status = budgets.set_budget(city.ctx, city.principal("admin"), "acme", Decimal("200"))
    assert status.left == Decimal("200")
    run_cycle(city.ctx)
    assert jobs.get_job(city.ctx, city.principal("acme-dev"), job_id).job.state is JobState.PLACED
    status = budgets.budget_status(city.ctx, city.principal("acme-dev"), "acme")
    assert (status.held, status.charged, status.left) == (Decimal("144.00"), Decimal("0.00"), Decimal("56.00"))

    (lease,) = [a for a in agents.lease(city.ctx, city.agent("gpu"), 10) if a.job_id == job_id]
    report(city, lease.attempt_id, "running")
    report(city, lease.attempt_id, "succeeded", exit_code=0)
    assert budgets.budget_status(city.ctx, city.principal("acme-dev"), "acme").held == Decimal(
        "144.00"
    )  # until metered
    use(city, lease.attempt_id)  # half an hour: 72.00
    status = budgets.budget_status(city.ctx, city.principal("acme-dev"), "acme")
    assert (status.held, status.charged, status.left) == (Decimal("0.00"), Decimal("72.00"), Decimal("128.00"))


def test_only_the_tenant_admins_and_city_admins_set_a_budget(city: City):
    with pytest.raises(Forbidden):
        budgets.set_budget(city.ctx, city.principal("acme-dev"), "acme", Decimal("1"))
    with pytest.raises(NotFound):
        budgets.set_budget(city.ctx, city.principal("globex-admin"), "acme", Decimal("1"))
    with pytest.raises(NotFound):
        budgets.budget_status(city.ctx, city.principal("globex-dev"), "acme")
    assert budgets.budget_status(city.ctx, city.principal("auditor"), "acme").monthly_budget is None


def test_budget_api_validates_and_clears(api, city: City):
    admin = bearer(city.tokens["acme-admin"])
    for bad in (10.5, "-1", "1.001", "lots"):
        r = api.put("/v1/tenants/acme/budget", json={"monthly_budget": bad}, headers=admin)
        assert r.status_code == 422 and r.json()["field"] == "monthly_budget", bad
    r = api.put("/v1/tenants/acme/budget", json={"monthly_budget": "5000"}, headers=admin)
    assert r.status_code == 200 and r.json()["monthly_budget"] == "5000.00" and r.json()["left"] == "5000.00"
    r = api.put("/v1/tenants/acme/budget", json={"monthly_budget": None}, headers=admin)
    assert r.json()["monthly_budget"] is None and r.json()["left"] is None
    member = bearer(city.tokens["acme-dev"])
    assert api.put("/v1/tenants/acme/budget", json={"monthly_budget": "1"}, headers=member).status_code == 403
    assert api.get("/v1/tenants/acme/budget", headers=bearer(city.tokens["globex-dev"])).status_code == 404
