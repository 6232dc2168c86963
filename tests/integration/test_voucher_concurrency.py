"""Twenty claims at once never overspend a programme's budget or an entity's yearly cap (on PostgreSQL in
CI's second pass: the fund row is locked; on SQLite writers queue; in memory units of work serialise)."""

from __future__ import annotations

import threading
from decimal import Decimal

from suanli.domain.errors import ClaimRefused
from suanli.domain.tenants import Role, TenantKind
from suanli.ports import ClaimFilter
from suanli.service import tenants, vouchers
from suanli.service.auth import authenticate, create_token
from suanli.service.vouchers import ClaimInput
from tests.conftest import City

D = Decimal
N = 20


def _programme(city: City, budget: str, per_claim: str, per_entity: str) -> None:
    body = {
        "id": "rush-2026",
        "name": "Rush",
        "issuer": "Test bureau",
        "year": 2026,
        "mode": "deduct",
        "annual_budget": budget,
        "eligibility": {"cities": ["qingdao"], "kinds": ["enterprise"]},
        "providers": {"resource_classes": ["accelerator"]},
        "tiers": [{"name": "all", "rate": "0.2"}],
        "caps": {"per_claim": per_claim, "per_entity_year": per_entity},
    }
    vouchers.publish_programme(city.ctx, city.principal("admin"), body)


def _rush(city: City, claims: list[tuple[str, str]]) -> tuple[list[object], list[Exception]]:
    """Start every claim at once: (tenant admin's token, contract) each asking for 400 CNY."""
    done: list[object] = []
    failed: list[Exception] = []
    gate = threading.Barrier(len(claims))

    def one(token: str, contract: str) -> None:
        who = authenticate(city.ctx, token)
        gate.wait()
        try:
            done.append(
                vouchers.apply(city.ctx, who, who.tenant_id or "", ClaimInput("rush-2026", contract, True, D(400)))
            )
        except Exception as exc:  # noqa: BLE001 - collected and asserted on below
            failed.append(exc)

    threads = [threading.Thread(target=one, args=c) for c in claims]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return done, failed


def test_twenty_concurrent_claims_never_overspend_the_programme_budget(city: City):
    _programme(city, budget="5000", per_claim="400", per_entity="1000")
    admin = city.principal("admin")
    claims = []
    for i in range(N):
        t = tenants.create_tenant(
            city.ctx, admin, tenants.TenantInput(f"firm-{i}", f"Firm {i}", TenantKind.ENTERPRISE, True, "qingdao")
        )
        u = tenants.create_user(city.ctx, admin, t.id, tenants.UserInput(f"firm-{i}-admin", Role.TENANT_ADMIN))
        claims.append((create_token(city.ctx, admin, u.id, "t", None).secret, "V-1"))
    done, failed = _rush(city, claims)
    assert len(done) + len(failed) == N
    assert all(isinstance(e, ClaimRefused) and e.errors[0].field == "rules.programme_budget" for e in failed), failed
    stored = vouchers.list_claims(city.ctx, admin, ClaimFilter(programme_id="rush-2026"), 100, None)[0]
    assert sum(c.amount for c in stored) == D("5000.00")  # 12 x 400 + one cut to 200, the rest refused
    assert sorted(c.amount for c in stored)[0] == D("200.00") and len(stored) == 13 and len(failed) == 7
    assert vouchers.get_programme(city.ctx, admin, "rush-2026").committed == D("5000.00")


def test_twenty_concurrent_claims_by_one_entity_never_pass_its_yearly_cap(city: City):
    _programme(city, budget="100000", per_claim="400", per_entity="1000")
    tenants.update_tenant(city.ctx, city.principal("admin"), city.ids["acme"], {"registered_city": "Qingdao"})
    token = city.tokens["acme-admin"]
    done, failed = _rush(city, [(token, f"V-{i}") for i in range(N)])
    stored = vouchers.list_claims(city.ctx, city.principal("admin"), ClaimFilter(tenant_id="acme"), 100, None)[0]
    assert sum(c.amount for c in stored) == D("1000.00")  # 400 + 400 + 200
    assert len(stored) == 3 and len(failed) == N - 3
    assert all(e.errors[0].field == "rules.per_entity_year" for e in failed)  # type: ignore[attr-defined]


def test_usage_metered_at_once_on_two_centres_never_overdraws_a_deduct_voucher(city: City):
    from datetime import timedelta

    from suanli.service import agents, jobs, voucher_review
    from suanli.service.agents import UsageInput
    from suanli.service.scheduler import run_cycle
    from tests.integration.test_vouchers import qualify, reviewers, through_review

    _programme(city, budget="100000", per_claim="400", per_entity="1000")
    qualify(city, "acme")
    reviewers(city)
    acme = city.principal("acme-admin")
    claim = vouchers.apply(city.ctx, acme, "acme", ClaimInput("rush-2026", "V-1", True, D(30))).claim
    through_review(city, claim.id)
    leased = []
    for centre, model in (("gpu", "A100"), ("gpu", "H800")):
        body = {"name": "t", "resources": {"accelerators": f"{model}:8"}, "run": "echo hi"}
        jobs.submit_job(city.ctx, city.principal("acme-dev"), body)
        run_cycle(city.ctx)
        leased += [(centre, a.attempt_id) for a in agents.lease(city.ctx, city.agent(centre), 10)]
    assert len(leased) == 2
    now = city.ctx.clock.now()
    gate = threading.Barrier(2)
    errors: list[Exception] = []

    def meter(centre: str, attempt: str) -> None:
        usage = UsageInput(attempt, 8, 4 * 3600.0, 1.0, 1800.0, now - timedelta(minutes=30), now)
        gate.wait()
        try:
            agents.record_usage(city.ctx, city.agent(centre), usage)
        except Exception as exc:  # noqa: BLE001 - asserted on below
            errors.append(exc)

    threads = [threading.Thread(target=meter, args=x) for x in leased]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    view = vouchers.get_claim(city.ctx, acme, claim.id)
    # 20% of 72.00 (A100) and of 120.00 (H800) is 38.40: the 30.00 voucher covers 14.40 + 15.60 or 24.00 + 6.00
    assert view.claim.used == D("30.00") and len(view.lines) == 2
    assert sum(line.subsidy for line in view.lines) == D("30.00")
    assert voucher_review.payout(city.ctx, city.principal("admin"), claim.id, "F-1")[1].kind.value == "voucher_payout"
