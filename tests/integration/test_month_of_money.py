"""A month in the city, end to end through the HTTP API: tenants run jobs on several centres (agents report
state and usage), pay, get invoices; one draws a deduct-at-purchase voucher down as it runs, another claims a
reimbursement under Qingdao's programme; every claim goes through every review step by the right role and is
paid; then invoices, settlement statements and both programme reports reconcile with the ledger, and
`ledger verify` passes. Runs on every store (SQLite, PostgreSQL in CI's second pass, memory)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient

from suanli.service import vouchers
from suanli.service.scheduler import run_cycle
from tests.conftest import City
from tests.integration.conftest import bearer
from tests.integration.test_vouchers import qualify, reviewers

D = Decimal
MONTH = "2026-11"


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def run_job(api: TestClient, city: City, tenant: str, centre: str, model: str, hours: float) -> str:
    """Submit as the tenant's developer, place, and run it to success through the agent protocol; meter it."""
    spec = {"name": f"{tenant}-{model}", "resources": {"accelerators": f"{model}:8"}, "run": "train.py"}
    job = ok(api.post("/v1/jobs", json=spec, headers=bearer(city.tokens[f"{tenant}-dev"])), 201)
    for token in city.agent_tokens.values():  # every centre's agent is alive
        ok(api.post("/v1/agent/heartbeat", json={"pools": {}}, headers=bearer(token)))
    run_cycle(city.ctx)
    agent = bearer(city.agent_tokens[centre])
    (lease,) = ok(api.post("/v1/agent/lease", json={"limit": 1}, headers=agent))
    assert lease["job_id"] == job["id"]
    now = city.ctx.clock.now()
    start = now - timedelta(hours=hours)
    reports = [
        {"attempt_id": lease["attempt_id"], "state": "running", "at": start.isoformat()},
        {"attempt_id": lease["attempt_id"], "state": "succeeded", "at": now.isoformat(), "exit_code": 0},
    ]
    ok(api.post("/v1/agent/reports", json={"reports": reports}, headers=agent))
    usage = {
        "attempt_id": lease["attempt_id"],
        "accelerators": 8,
        "accelerator_seconds": 8 * hours * 3600,
        "cpu_seconds": 1.0,
        "wall_seconds": hours * 3600,
        "started_at": start.isoformat(),
        "ended_at": now.isoformat(),
    }
    for _ in range(2):  # an agent's resend is recorded once
        ok(api.post("/v1/agent/usage", json=usage, headers=agent))
    city.ctx.clock.advance(3600)
    return str(job["id"])


def review_all_steps(api: TestClient, city: City, claim_id: str) -> dict[str, Any]:
    claim: dict[str, Any] = {}
    for who in ("district", "admin", "expert", "admin"):
        body = {"decision": "approve", "reason": f"checked by {who}"}
        claim = ok(api.post(f"/v1/claims/{claim_id}/review", json=body, headers=bearer(city.tokens[who])))
    return claim


def test_a_month_of_usage_billing_and_both_voucher_programmes_reconcile(api: TestClient, city: City):
    vouchers.publish_builtin(city.ctx)
    qualify(city, "acme", industry="manufacturing", startup=True)  # deduct programme: start-up tier, 50%
    qualify(city, "globex", industry="software")
    reviewers(city)
    admin, acme, globex = (bearer(city.tokens[w]) for w in ("admin", "acme-admin", "globex-admin"))

    # acme applies for a 5,000.00 deduct-at-purchase voucher before it runs anything
    body = {"programme_id": "deduct-example-2026", "contract": "V-ACME-1", "pledge": True, "amount": "5000"}
    voucher = ok(api.post("/v1/tenants/acme/claims", json=body, headers=acme), 201)
    assert review_all_steps(api, city, voucher["id"])["state"] == "active"

    # the month's work: 2 tenants x 2 centres
    run_job(api, city, "acme", "gpu", "A100", 10)  # 1,440.00; 720.00 deducted
    run_job(api, city, "acme", "ai", "Ascend910B", 20)  # 2,000.00; 1,000.00 deducted
    run_job(api, city, "globex", "gpu", "A100", 400)  # 57,600.00
    run_job(api, city, "globex", "ai", "Ascend910B", 500)  # 50,000.00
    run_job(api, city, "globex", "gpu", "H800", 2)  # 480.00

    ok(api.post("/v1/tenants/globex/payments", json={"amount": "108080", "reference": "ICBC-G1"}, headers=admin), 201)
    ok(api.post("/v1/tenants/acme/payments", json={"amount": "1720", "reference": "ICBC-A1"}, headers=admin), 201)

    # invoices: each tenant's month, its totals the ledger's
    acme_inv = ok(api.get(f"/v1/tenants/acme/invoices/{MONTH}", headers=bearer(city.tokens["acme-dev"])))
    assert acme_inv["totals"] == {"opening": "0.00", "charged": "3440.00", "refunded": "0.00", "subsidised": "1720.00",
                                  "paid": "1720.00", "adjusted": "0.00", "closing": "0.00"}  # fmt: skip
    globex_inv = ok(api.get(f"/v1/tenants/globex/invoices/{MONTH}", headers=globex))
    assert globex_inv["totals"]["charged"] == "108080.00" and globex_inv["totals"]["closing"] == "0.00"
    assert len(globex_inv["charges"]) == 3
    for tenant, token in (("acme", acme), ("globex", globex)):
        assert ok(api.get(f"/v1/tenants/{tenant}/account", headers=token))["balance"] == "0.00"

    # globex, having paid 108,080.00 (over the 100,000.00 threshold), claims 20% under Qingdao's programme
    body = {"programme_id": "qingdao-2026", "contract": "HT-GLOBEX-2026", "pledge": True}
    claim = ok(api.post("/v1/tenants/globex/claims", json=body, headers=globex), 201)
    assert (claim["base"], claim["amount"]) == ("108080.00", "21616.00") and len(claim["lines"]) == 3
    assert api.post("/v1/claims/x/review", json={"decision": "approve"}, headers=globex).status_code in (403, 404)
    assert review_all_steps(api, city, claim["id"])["state"] == "approved"
    paid = ok(api.post(f"/v1/claims/{claim['id']}/payout", json={"reference": "TREASURY-G1"}, headers=admin), 201)
    assert paid["kind"] == "voucher_payout"
    ok(api.post(f"/v1/claims/{voucher['id']}/payout", json={"reference": "FUND-A1"}, headers=admin), 201)
    pack = api.get(f"/v1/claims/{claim['id']}/pack", headers=bearer(city.tokens["expert"]))
    assert pack.status_code == 200 and pack.headers["content-type"] == "application/zip"

    # settlement statements: the centres are owed every charge in full, whoever subsidised it
    ops = bearer(city.tokens["operator"])
    gpu = ok(api.get(f"/v1/centres/gpu/settlements/{MONTH}", headers=ops))["totals"]
    ai = ok(api.get(f"/v1/centres/ai/settlements/{MONTH}", headers=ops))["totals"]
    assert (gpu["gross"], gpu["voucher_funded"], ai["gross"], ai["voucher_funded"]) == (
        "59520.00", "720.00", "52000.00", "1000.00"
    )  # fmt: skip
    assert D(gpu["gross"]) + D(ai["gross"]) == D(acme_inv["totals"]["charged"]) + D(globex_inv["totals"]["charged"])

    # programme reports reconcile with the ledger
    qd = ok(api.get("/v1/voucher-programmes/qingdao-2026/report", headers=admin))
    assert qd["totals"] == {**qd["totals"], "granted": "21616.00", "paid": "21616.00", "committed": "21616.00"}
    assert qd["reconciles"] and qd["enterprises_served"] == 1
    assert {x["key"]: x["subsidy"] for x in qd["by_industry"]} == {"software": "21616.00"}
    dd = ok(api.get("/v1/voucher-programmes/deduct-example-2026/report", headers=admin))
    assert dd["totals"] == {**dd["totals"], "granted": "1720.00", "paid": "1720.00", "committed": "5000.00"}
    assert dd["reconciles"] and {x["key"]: x["subsidy"] for x in dd["by_centre"]} == {"ai": "1000.00", "gpu": "720.00"}

    balances = ok(api.get("/v1/ledger/balances", headers=admin))
    assert sum(D(v) for v in balances.values()) == 0
    assert balances["programme:qingdao-2026:granted"] == qd["granted_in_ledger"] == "21616.00"
    # paid in by the tenants (108,080 + 1,720) and by the deduct fund (1,720); Qingdao's fund pays globex directly
    assert balances["platform:bank"] == "111520.00" and balances["programme:qingdao-2026:treasury"] == "-21616.00"
    verify = ok(api.get("/v1/ledger/verify", headers=bearer(city.tokens["auditor"])))
    assert verify["ok"] and verify["claims"] == 2 and verify["usage_records"] == 5 and verify["usage_entries"] == 5
