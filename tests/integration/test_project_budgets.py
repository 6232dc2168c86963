"""Per-project monthly budgets: jobs name their project; a project's cap holds its jobs' worst cases, says
"budget" with the project's figures when it cannot cover one, and settles into the charges; the tenant's cap
still applies; only the tenant's admins and city admins set one."""

from __future__ import annotations

from decimal import Decimal

import pytest

from suanli.billing.invoice import to_csv, to_html
from suanli.domain.errors import Forbidden, InvalidInput, NotFound
from suanli.domain.jobs.states import JobState
from suanli.service import agents, budgets, invoices, jobs
from suanli.service.scheduler import run_cycle
from tests.conftest import City
from tests.integration.conftest import bearer
from tests.integration.test_agent_protocol import report
from tests.integration.test_ledger import use

D = Decimal


def submit(city: City, project: str | None, who: str = "acme-dev") -> str:
    body = {"name": "t", "resources": {"accelerators": "A100:8"}, "run": "x", "max_runtime": "1h"}
    if project:
        body["project"] = project
    return jobs.submit_job(city.ctx, city.principal(who), body)[0].id


def state(city: City, job_id: str) -> JobState:
    return jobs.get_job(city.ctx, city.principal("admin"), job_id).job.state


def test_a_projects_budget_holds_its_jobs_and_settles_into_the_charges(city: City):
    admin = city.principal("acme-admin")
    budgets.set_project_budget(city.ctx, admin, "acme", "vision", D("200"))  # one 144.00 worst case fits
    first, second = submit(city, "vision"), submit(city, "vision")
    other = submit(city, "nlp")  # no cap on nlp
    run_cycle(city.ctx)
    assert (state(city, first), state(city, other)) == (JobState.PLACED, JobState.PLACED)
    assert state(city, second) is JobState.QUEUED
    why = jobs.why(city.ctx, city.principal("acme-dev"), second).summary
    assert "project vision's monthly budget" in why and "¥56.00" in why
    status = budgets.project_budget(city.ctx, city.principal("acme-dev"), "acme", "vision")
    assert (status.held, status.charged, status.left) == (D("144.00"), D("0.00"), D("56.00"))

    (lease,) = [a for a in agents.lease(city.ctx, city.agent("gpu"), 10) if a.job_id == first]
    report(city, lease.attempt_id, "running")
    report(city, lease.attempt_id, "succeeded", exit_code=0)
    use(city, lease.attempt_id)  # half an hour: 72.00 charged, the hold released
    status = budgets.project_budget(city.ctx, city.principal("acme-dev"), "acme", "vision")
    assert (status.held, status.charged, status.left) == (D("0.00"), D("72.00"), D("128.00"))
    invoice = invoices.tenant_invoice(city.ctx, city.principal("acme-admin"), "acme", "2026-11")
    assert invoice.by_project() == [("vision", D("72.00"))] and invoice.charges[0].project == "vision"
    assert "按项目 By project" in to_html(invoice) and ",vision\n" in to_csv(invoice)
    run_cycle(city.ctx)
    assert state(city, second) is JobState.QUEUED  # 128.00 left < 144.00
    budgets.set_project_budget(city.ctx, city.principal("admin"), "acme", "vision", D("300"))
    run_cycle(city.ctx)
    assert state(city, second) is JobState.PLACED
    listed = {b.project: b for b in budgets.project_budgets(city.ctx, city.principal("acme-dev"), "acme")}
    assert sorted(listed) == ["nlp", "vision"] and listed["nlp"].monthly_budget is None
    assert listed["nlp"].held == D("144.00") and listed["vision"].left == D("84.00")  # 300 - 72 - 144


def test_the_tenants_own_budget_still_caps_a_projects_jobs(city: City):
    budgets.set_project_budget(city.ctx, city.principal("acme-admin"), "acme", "vision", D("1000"))
    budgets.set_budget(city.ctx, city.principal("acme-admin"), "acme", D("100"))
    job_id = submit(city, "vision")
    run_cycle(city.ctx)
    assert state(city, job_id) is JobState.QUEUED
    assert "the tenant's monthly budget" in jobs.why(city.ctx, city.principal("acme-dev"), job_id).summary


def test_who_may_set_and_see_project_budgets_and_names_are_checked(city: City):
    with pytest.raises(Forbidden):
        budgets.set_project_budget(city.ctx, city.principal("acme-dev"), "acme", "vision", D("1"))
    with pytest.raises(NotFound):
        budgets.set_project_budget(city.ctx, city.principal("globex-admin"), "acme", "vision", D("1"))
    with pytest.raises(NotFound):
        budgets.project_budgets(city.ctx, city.principal("globex-dev"), "acme")
    with pytest.raises(InvalidInput) as exc:
        budgets.set_project_budget(city.ctx, city.principal("acme-admin"), "acme", "-bad name", D("1"))
    assert exc.value.errors[0].field == "project"
    with pytest.raises(InvalidInput) as exc:
        submit(city, "no/slashes")
    assert exc.value.errors[0].field == "project"


def test_the_api_sets_lists_and_clears_project_budgets(api, city: City):
    admin = bearer(city.tokens["acme-admin"])
    url = "/v1/tenants/acme/projects/vision/budget"
    for bad in ("-1", "1.001", 3.5):
        r = api.put(url, json={"monthly_budget": bad}, headers=admin)
        assert r.status_code == 422 and r.json()["field"] == "monthly_budget", bad
    r = api.put(url, json={"monthly_budget": "800"}, headers=admin)
    assert r.status_code == 200 and r.json()["project"] == "vision" and r.json()["left"] == "800.00"
    assert api.put(url, json={"monthly_budget": "1"}, headers=bearer(city.tokens["acme-dev"])).status_code == 403
    listed = api.get("/v1/tenants/acme/projects", headers=bearer(city.tokens["acme-dev"])).json()
    assert [(b["project"], b["monthly_budget"]) for b in listed] == [("vision", "800.00")]
    assert api.get("/v1/tenants/acme/projects", headers=bearer(city.tokens["globex-dev"])).status_code == 404
    r = api.put(url, json={"monthly_budget": None}, headers=admin)
    assert r.json()["monthly_budget"] is None
    assert api.get("/v1/tenants/acme/projects", headers=admin).json() == []
    bad = api.put("/v1/tenants/acme/projects/-x/budget", json={"monthly_budget": "1"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["field"] == "project"
