"""Voucher programmes end to end on every store: eligibility, covered usage, caps and budget, the review
workflow by role with its audit log, payout, clawback, deduct-at-purchase, and no double subsidy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from suanli.domain.errors import ClaimRefused, Conflict, Forbidden, InvalidInput, NotFound
from suanli.domain.ledger import (
    PLATFORM_BANK,
    EntryKind,
    programme_granted,
    programme_treasury,
    tenant_receivable,
    tenant_subsidy,
)
from suanli.domain.tenants import Role
from suanli.domain.vouchers import ClaimState
from suanli.ports import ClaimFilter, EntryFilter
from suanli.service import agents, billing, jobs, tenants, voucher_review, vouchers
from suanli.service.agents import UsageInput
from suanli.service.auth import create_token
from suanli.service.billing import MoneyInput
from suanli.service.scheduler import run_cycle
from suanli.service.vouchers import ClaimInput
from suanli.store.uow import SqlStore
from tests.conftest import City
from tests.integration.conftest import bearer

D = Decimal


def spend(city: City, who: str, hours: float, centre: str = "gpu", model: str = "A100") -> str:
    """Run one 8-accelerator job for `hours` and meter it (A100 at 18.00, Ascend910B at 12.50 per card-hour)."""
    body = {"name": "t", "resources": {"accelerators": f"{model}:8"}, "run": "echo hi"}
    jobs.submit_job(city.ctx, city.principal(f"{who}-dev"), body)
    run_cycle(city.ctx)
    (assignment,) = agents.lease(city.ctx, city.agent(centre), 10)
    attempt = assignment.attempt_id
    now = city.ctx.clock.now()
    acc_s = 8 * hours * 3600
    agents.record_usage(
        city.ctx, city.agent(centre), UsageInput(attempt, 8, acc_s, 1.0, acc_s / 8, now - timedelta(hours=hours), now)
    )
    return attempt


def pay(city: City, tenant: str, amount: str, ref: str) -> None:
    billing.record_payment(city.ctx, city.principal("admin"), tenant, MoneyInput(D(amount), ref))


def qualify(city: City, *names: str, **fields: object) -> None:
    for name in names:
        changes = {"registered_city": "Qingdao", **fields}
        tenants.update_tenant(city.ctx, city.principal("admin"), city.ids[name], changes)


def reviewers(city: City) -> None:
    admin = city.principal("admin")
    for name, role in (("district", Role.DISTRICT_REVIEWER), ("expert", Role.EXPERT)):
        user = tenants.create_user(city.ctx, admin, admin.tenant_id or "", tenants.UserInput(name, role))
        city.tokens[name] = create_token(city.ctx, admin, user.id, "test", None).secret


def through_review(city: City, claim_id: str) -> vouchers.ClaimView:
    view = None
    for who in ("district", "admin", "expert", "admin"):
        view = voucher_review.review(city.ctx, city.principal(who), claim_id, True, "")
    assert view is not None
    return view


def balance(city: City, account: str) -> Decimal:
    return billing.account_balances(city.ctx, city.principal("admin")).get(account, D("0.00"))


def programme(city: City, **overrides: object) -> str:
    """Publish a small test programme (reimburse unless told) and return its id."""
    body: dict[str, object] = {
        "id": "test-2026",
        "name": "Test vouchers",
        "issuer": "Test bureau",
        "year": 2026,
        "mode": "reimburse",
        "annual_budget": "1500",
        "eligibility": {"cities": ["qingdao"], "kinds": ["enterprise"]},
        "providers": {"resource_classes": ["accelerator", "domestic_accelerator"]},
        "tiers": [{"name": "all", "rate": "0.2"}],
        "caps": {"per_entity_year": "1000"},
        **overrides,
    }
    return vouchers.publish_programme(city.ctx, city.principal("admin"), body).id


@pytest.fixture
def vcity(city: City) -> City:
    vouchers.publish_builtin(city.ctx)
    qualify(city, "acme", "globex")
    reviewers(city)
    return city


def test_the_shipped_programmes_are_published_once_as_data(city: City):
    assert {p.id for p in vouchers.publish_builtin(city.ctx)} == {"qingdao-2026", "deduct-example-2026"}
    assert vouchers.publish_builtin(city.ctx) == []
    view = vouchers.get_programme(city.ctx, city.principal("acme-dev"), "qingdao-2026")
    p = view.programme
    assert (p.annual_budget, p.cap_per_entity_year, p.eligibility.min_paid) == (D(20000000), D(1000000), D(100000))
    assert p.tiers[0].rate == D("0.20") and p.mode.value == "reimburse" and view.versions == [1]


def test_a_new_version_is_published_and_the_old_one_kept(vcity: City):
    admin = vcity.principal("admin")
    programme(vcity)
    with pytest.raises(Conflict, match="publish version 2"):
        programme(vcity)
    programme(vcity, version=2, tiers=[{"name": "all", "rate": "0.3"}])
    view = vouchers.get_programme(vcity.ctx, admin, "test-2026")
    assert view.versions == [1, 2] and view.programme.tiers[0].rate == D("0.3")
    assert vouchers.get_programme(vcity.ctx, admin, "test-2026", 1).programme.tiers[0].rate == D("0.2")
    with pytest.raises(Forbidden):
        vouchers.publish_programme(vcity.ctx, vcity.principal("acme-admin"), {"id": "x"})
    with pytest.raises(InvalidInput) as bad:
        vouchers.publish_programme(vcity.ctx, admin, {"id": "bad", "year": 2026, "tiers": [{"rate": "1.5"}]})
    fields = {e.field for e in bad.value.errors}
    assert {"name", "mode", "annual_budget", "tiers[0].rate", "eligibility.cities"} <= fields


def test_qingdao_reimburses_20_percent_of_paid_fees_through_every_review_step(vcity: City):
    spend(vcity, "acme", 1000)  # 8 x 1000 h x 18.00 = 144,000.00
    pay(vcity, "acme", "144000", "BANK-1")
    acme = vcity.principal("acme-admin")
    view = vouchers.apply(vcity.ctx, acme, "acme", ClaimInput("qingdao-2026", "CONTRACT-1", True))
    claim = view.claim
    assert (claim.state, claim.base, claim.amount, claim.limited_by) == (
        ClaimState.SUBMITTED,
        D("144000.00"),
        D("28800.00"),
        "",
    )
    assert len(view.lines) == 1 and view.lines[0].rate == D("0.20")
    assert vouchers.get_programme(vcity.ctx, acme, "qingdao-2026").committed == D("28800.00")

    with pytest.raises(Forbidden, match="district first review is done by a district_reviewer"):
        voucher_review.review(vcity.ctx, vcity.principal("admin"), claim.id, True, "")
    with pytest.raises(Forbidden):
        voucher_review.review(vcity.ctx, acme, claim.id, True, "")
    voucher_review.review(vcity.ctx, vcity.principal("district"), claim.id, True, "invoices match the ledger")
    voucher_review.review(vcity.ctx, vcity.principal("admin"), claim.id, True, "")
    with pytest.raises(Forbidden, match="expert review is done by a expert"):
        voucher_review.review(vcity.ctx, vcity.principal("admin"), claim.id, True, "")
    voucher_review.review(vcity.ctx, vcity.principal("expert"), claim.id, True, "")
    assert balance(vcity, programme_granted("qingdao-2026")) == 0
    view = voucher_review.review(vcity.ctx, vcity.principal("admin"), claim.id, True, "approved by the bureau")
    assert view.claim.state is ClaimState.APPROVED
    assert balance(vcity, programme_granted("qingdao-2026")) == D("28800.00")
    assert balance(vcity, tenant_subsidy(vcity.ids["acme"])) == D("-28800.00")

    view, entry = voucher_review.payout(vcity.ctx, vcity.principal("admin"), claim.id, "TREASURY-7")
    assert view.claim.state is ClaimState.PAID and entry.kind is EntryKind.VOUCHER_PAYOUT
    assert balance(vcity, tenant_subsidy(vcity.ids["acme"])) == 0
    assert balance(vcity, programme_treasury("qingdao-2026")) == D("-28800.00")
    with pytest.raises(Conflict):
        voucher_review.payout(vcity.ctx, vcity.principal("admin"), claim.id, "TREASURY-8")

    log = [(e.from_state, e.to_state, e.role) for e in view.events]
    assert [x[1] for x in log] == [
        ClaimState.SUBMITTED,
        ClaimState.DISTRICT_APPROVED,
        ClaimState.AGGREGATED,
        ClaimState.EXPERT_APPROVED,
        ClaimState.APPROVED,
        ClaimState.PAID,
    ]
    assert [x[2] for x in log] == [
        "tenant_admin",
        "district_reviewer",
        "city_admin",
        "expert",
        "city_admin",
        "city_admin",
    ]
    assert view.events[1].reason == "invoices match the ledger" and view.events[1].actor
    assert billing.verify_ledger(vcity.ctx).ok
    assert sum(billing.account_balances(vcity.ctx, vcity.principal("admin")).values()) == 0


def test_a_refused_claim_names_every_rule_that_failed_and_changes_nothing(vcity: City):
    spend(vcity, "acme", 10)  # 1,440.00: far below Qingdao's 100,000 minimum
    pay(vcity, "acme", "1440", "BANK-1")
    tenants.update_tenant(
        vcity.ctx, vcity.principal("admin"), vcity.ids["acme"], {"blacklisted": True, "major_accident_year": 2025}
    )
    with pytest.raises(ClaimRefused) as refused:
        vouchers.apply(vcity.ctx, vcity.principal("acme-admin"), "acme", ClaimInput("qingdao-2026", "C-1", True))
    assert {e.field for e in refused.value.errors} == {"rules.min_paid", "rules.blacklist", "rules.safety"}
    assert "100000" in next(e.message for e in refused.value.errors if e.field == "rules.min_paid")
    tenants.update_tenant(vcity.ctx, vcity.principal("admin"), vcity.ids["globex"], {"registered_city": "Jinan"})
    with pytest.raises(ClaimRefused) as refused:
        vouchers.apply(vcity.ctx, vcity.principal("globex-admin"), "globex", ClaimInput("qingdao-2026", "C-1", True))
    assert "rules.registered_city" in {e.field for e in refused.value.errors}
    with pytest.raises(InvalidInput, match="pledge"):
        vouchers.apply(vcity.ctx, vcity.principal("acme-admin"), "acme", ClaimInput("qingdao-2026", "C-1", False))
    assert vouchers.list_claims(vcity.ctx, vcity.principal("admin"), ClaimFilter(), 10, None)[0] == []
    assert vouchers.get_programme(vcity.ctx, vcity.principal("admin"), "qingdao-2026").committed == 0


def test_usage_at_a_related_partys_centre_is_not_covered(vcity: City):
    programme(vcity)
    spend(vcity, "acme", 1)
    pay(vcity, "acme", "144", "BANK-1")
    tenants.update_tenant(vcity.ctx, vcity.principal("admin"), vcity.ids["acme"], {"related_parties": ["ops"]})
    with pytest.raises(ClaimRefused) as refused:
        vouchers.apply(vcity.ctx, vcity.principal("acme-admin"), "acme", ClaimInput("test-2026", "C-1", True))
    fields = {e.field: e.message for e in refused.value.errors}
    assert "rules.nothing_to_claim" in fields and "related party" in fields["rules.related_party"]


def test_only_usage_actually_paid_for_is_claimed_and_the_rest_waits(vcity: City):
    programme(vcity, annual_budget="100000", caps={})
    spend(vcity, "acme", 1)  # 144.00
    spend(vcity, "acme", 2)  # 288.00
    pay(vcity, "acme", "200", "BANK-1")
    acme = vcity.principal("acme-admin")
    view = vouchers.apply(vcity.ctx, acme, "acme", ClaimInput("test-2026", "C-1", True))
    assert (view.claim.base, view.claim.amount, view.unpaid) == (D("144.00"), D("28.80"), D("288.00"))
    with pytest.raises(ClaimRefused, match="no eligible, paid, unclaimed usage"):
        vouchers.apply(vcity.ctx, acme, "acme", ClaimInput("test-2026", "C-2", True))
    pay(vcity, "acme", "232", "BANK-2")
    view = vouchers.apply(vcity.ctx, acme, "acme", ClaimInput("test-2026", "C-2", True))
    assert (view.claim.base, view.claim.amount) == (D("288.00"), D("57.60"))
    with pytest.raises(Conflict, match="one claim per contract"):
        vouchers.apply(vcity.ctx, acme, "acme", ClaimInput("test-2026", "C-2", True))


def test_caps_per_entity_and_the_programme_budget_cut_claims_and_say_so(vcity: City):
    programme(vcity)  # budget 1,500; per entity 1,000; 20%
    spend(vcity, "acme", 50)  # 7,200.00 -> 1,440.00 asked
    pay(vcity, "acme", "7200", "BANK-1")
    view = vouchers.apply(vcity.ctx, vcity.principal("acme-admin"), "acme", ClaimInput("test-2026", "C-1", True))
    assert (view.claim.requested, view.claim.amount, view.claim.limited_by) == (
        D("1440.00"),
        D("1000.00"),
        "per_entity_year",
    )
    assert "cut to 1000.00 by per_entity_year" in view.events[0].reason


def test_the_budget_is_never_overspent_and_a_rejection_gives_it_back(vcity: City):
    programme(vcity, mode="deduct", caps={"per_claim": "600"})
    acme, globex = vcity.principal("acme-admin"), vcity.principal("globex-admin")
    a = vouchers.apply(vcity.ctx, acme, "acme", ClaimInput("test-2026", "V-1", True, D("600")))
    b = vouchers.apply(vcity.ctx, globex, "globex", ClaimInput("test-2026", "V-1", True, D("600")))
    c = vouchers.apply(vcity.ctx, acme, "acme", ClaimInput("test-2026", "V-2", True, D("600")))
    assert (a.claim.amount, b.claim.amount, c.claim.amount) == (D("600.00"), D("600.00"), D("300.00"))
    assert c.claim.limited_by == "programme_budget"
    with pytest.raises(ClaimRefused) as refused:
        vouchers.apply(vcity.ctx, globex, "globex", ClaimInput("test-2026", "V-2", True, D("1")))
    assert refused.value.errors[0].field == "rules.programme_budget"
    with pytest.raises(InvalidInput, match="reason"):
        voucher_review.review(vcity.ctx, vcity.principal("district"), b.claim.id, False, " ")
    view = voucher_review.review(vcity.ctx, vcity.principal("district"), b.claim.id, False, "duplicate invoices")
    assert view.claim.state is ClaimState.REJECTED and view.events[-1].reason == "duplicate invoices"
    assert vouchers.get_programme(vcity.ctx, acme, "test-2026").committed == D("900.00")
    d = vouchers.apply(vcity.ctx, globex, "globex", ClaimInput("test-2026", "V-2", True, D("600")))
    assert d.claim.amount == D("600.00")
    with pytest.raises(Conflict, match="no review is pending"):
        voucher_review.review(vcity.ctx, vcity.principal("district"), b.claim.id, True, "")


def test_a_deduct_voucher_shrinks_each_bill_at_the_single_highest_tier(vcity: City):
    # acme is an SME start-up: tiers 20% (other accelerators), 30% (domestic), 50% (start-ups) -> 50% applies
    qualify(vcity, "acme", startup=True)
    view = vouchers.apply(
        vcity.ctx, vcity.principal("acme-admin"), "acme", ClaimInput("deduct-example-2026", "V-1", True, D("50"))
    )
    claim = through_review(vcity, view.claim.id).claim
    assert claim.state is ClaimState.ACTIVE
    spend(vcity, "acme", 0.5)  # 72.00 -> 36.00 deducted
    receivable = tenant_receivable(vcity.ids["acme"])
    assert balance(vcity, receivable) == D("36.00")
    spend(vcity, "acme", 0.5)  # 72.00 -> only 14.00 left on the voucher
    assert balance(vcity, receivable) == D("94.00")
    claim = vouchers.get_claim(vcity.ctx, vcity.principal("acme-dev"), claim.id)
    assert (claim.claim.used, claim.claim.remaining) == (D("50.00"), 0)
    assert [line.tier for line in claim.lines] == ["start-ups", "start-ups"]
    account = billing.tenant_account(vcity.ctx, vcity.principal("acme-admin"), vcity.ids["acme"])
    assert (account.balance, account.charged, account.paid, account.subsidised) == (
        D("94.00"),
        D("144.00"),
        D("0.00"),
        D("50.00"),
    )
    _, entry = voucher_review.payout(vcity.ctx, vcity.principal("admin"), claim.claim.id, "FUND-1")
    assert balance(vcity, PLATFORM_BANK) == D("50.00") and entry.kind is EntryKind.VOUCHER_PAYOUT
    with pytest.raises(Conflict, match="nothing is due"):
        voucher_review.payout(vcity.ctx, vcity.principal("admin"), claim.claim.id, "FUND-2")
    assert billing.verify_ledger(vcity.ctx).ok


def test_no_usage_is_subsidised_twice_across_programmes(vcity: City):
    programme(vcity, id="deduct-a", mode="deduct", annual_budget="1000", caps={})
    programme(vcity, id="reimburse-b", annual_budget="1000", caps={})
    acme = vcity.principal("acme-admin")
    claim = vouchers.apply(vcity.ctx, acme, "acme", ClaimInput("deduct-a", "V-1", True, D("1000"))).claim
    through_review(vcity, claim.id)
    spend(vcity, "acme", 0.5)  # 72.00, 20% deducted under deduct-a
    pay(vcity, "acme", "72", "BANK-1")
    with pytest.raises(ClaimRefused, match="no eligible, paid, unclaimed usage"):
        vouchers.apply(vcity.ctx, acme, "acme", ClaimInput("reimburse-b", "C-1", True))
    entries, _ = billing.list_entries(vcity.ctx, acme, EntryFilter(kinds=(EntryKind.VOUCHER,)), 10, None)
    assert len(entries) == 1 and entries[0].amount_for(tenant_receivable(vcity.ids["acme"])) == D("-14.40")


def test_clawback_is_a_new_entry_and_frees_the_budget(vcity: City):
    programme(vcity, annual_budget="100000", caps={})
    spend(vcity, "acme", 1)
    pay(vcity, "acme", "144", "BANK-1")
    claim = vouchers.apply(vcity.ctx, vcity.principal("acme-admin"), "acme", ClaimInput("test-2026", "C-1", True)).claim
    through_review(vcity, claim.id)
    voucher_review.payout(vcity.ctx, vcity.principal("admin"), claim.id, "T-1")
    admin = vcity.principal("admin")
    with pytest.raises(InvalidInput, match="at most 28.80"):
        voucher_review.clawback(vcity.ctx, admin, claim.id, D("30"), "fraud")
    with pytest.raises(Forbidden):
        voucher_review.clawback(vcity.ctx, vcity.principal("auditor"), claim.id, D("10"), "fraud")
    view, entry = voucher_review.clawback(vcity.ctx, admin, claim.id, D("10.80"), "part of the usage was refunded")
    assert entry.kind is EntryKind.CLAWBACK and view.claim.clawed_back == D("10.80")
    assert balance(vcity, tenant_receivable(vcity.ids["acme"])) == D("10.80")  # paid in full, owes the clawback
    assert balance(vcity, programme_granted("test-2026")) == D("18.00")
    assert vouchers.get_programme(vcity.ctx, admin, "test-2026").committed == D("18.00")
    assert "clawback 10.80 CNY" in view.events[-1].reason


def test_tenants_see_only_their_own_claims_and_withdraw_only_open_ones(vcity: City):
    programme(vcity, mode="deduct")
    acme = vcity.principal("acme-admin")
    claim = vouchers.apply(vcity.ctx, acme, "acme", ClaimInput("test-2026", "V-1", True, D("100"))).claim
    with pytest.raises(NotFound):
        vouchers.get_claim(vcity.ctx, vcity.principal("globex-admin"), claim.id)
    assert vouchers.list_claims(vcity.ctx, vcity.principal("globex-admin"), ClaimFilter(), 10, None)[0] == []
    with pytest.raises(NotFound):
        vouchers.list_claims(vcity.ctx, vcity.principal("globex-admin"), ClaimFilter(tenant_id="acme"), 10, None)
    assert [c.id for c in vouchers.list_claims(vcity.ctx, vcity.principal("expert"), ClaimFilter(), 10, None)[0]] == [
        claim.id
    ]
    with pytest.raises(NotFound):
        voucher_review.withdraw(vcity.ctx, vcity.principal("globex-admin"), claim.id, "")
    with pytest.raises(Forbidden):
        vouchers.apply(vcity.ctx, vcity.principal("acme-dev"), "acme", ClaimInput("test-2026", "V-2", True, D("1")))
    view = voucher_review.withdraw(vcity.ctx, acme, claim.id, "applied by mistake")
    assert view.claim.state is ClaimState.WITHDRAWN
    assert vouchers.get_programme(vcity.ctx, acme, "test-2026").committed == 0
    with pytest.raises(Conflict):
        voucher_review.withdraw(vcity.ctx, acme, claim.id, "")
    # a withdrawn contract may be claimed again
    vouchers.apply(vcity.ctx, acme, "acme", ClaimInput("test-2026", "V-1", True, D("100")))


def test_published_programmes_and_the_audit_log_cannot_be_edited(store, vcity: City):
    if not isinstance(store, SqlStore):
        pytest.skip("database triggers: SQL stores only")
    programme(vcity, mode="deduct")
    vouchers.apply(vcity.ctx, vcity.principal("acme-admin"), "acme", ClaimInput("test-2026", "V-1", True, D("100")))
    for sql in (
        "UPDATE voucher_events SET reason = 'changed'",
        "DELETE FROM voucher_events",
        "UPDATE voucher_programmes SET published_by = 'someone else'",
        "DELETE FROM voucher_programmes",
    ):
        with pytest.raises(Exception, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(sql))
    assert vouchers.get_programme(vcity.ctx, vcity.principal("admin"), "test-2026").programme.published_by == "admin"


def test_ledger_verify_checks_the_vouchers_against_the_ledger(vcity: City):
    programme(vcity, mode="deduct")
    view = vouchers.apply(
        vcity.ctx, vcity.principal("acme-admin"), "acme", ClaimInput("test-2026", "V-9", True, D("40"))
    )
    through_review(vcity, view.claim.id)
    spend(vcity, "acme", 0.5)  # 72.00: 14.40 deducted
    report = billing.verify_ledger(vcity.ctx)
    assert report.ok and report.claims == 1
    with vcity.ctx.store.uow() as uow:  # a fund that lost track of a reservation
        uow.vouchers.commit("test-2026", vcity.ids["acme"], D("-5"))
    found = billing.verify_ledger(vcity.ctx).findings
    assert [(f.rule, f.subject) for f in found] == [("voucher-committed", "test-2026")]


def test_closing_a_deduct_programmes_year_releases_what_vouchers_left_unused(api, vcity: City, clock):
    programme(vcity, mode="deduct")
    view = vouchers.apply(
        vcity.ctx, vcity.principal("acme-admin"), "acme", ClaimInput("test-2026", "V-7", True, D("500"))
    )
    through_review(vcity, view.claim.id)
    spend(vcity, "acme", 0.5)  # 72.00: 14.40 drawn
    admin = vcity.principal("admin")
    with pytest.raises(Conflict, match="runs until 2027-01-01"):
        voucher_review.close_year(vcity.ctx, admin, "test-2026")
    clock.t = datetime(2026, 12, 31, 16, 0, 1, tzinfo=UTC)  # just past midnight in Qingdao
    with pytest.raises(Forbidden):
        voucher_review.close_year(vcity.ctx, vcity.principal("acme-admin"), "test-2026")
    closed = voucher_review.close_year(vcity.ctx, admin, "test-2026")
    assert (closed.vouchers, closed.released) == (1, D("485.60"))
    claim = vouchers.get_claim(vcity.ctx, admin, view.claim.id)
    assert (claim.claim.amount, claim.claim.used, claim.claim.remaining) == (D("14.40"), D("14.40"), 0)
    assert "485.60 CNY unused released" in claim.events[-1].reason
    assert vouchers.get_programme(vcity.ctx, admin, "test-2026").committed == D("14.40")
    assert voucher_review.close_year(vcity.ctx, admin, "test-2026").released == 0  # once is enough
    assert billing.verify_ledger(vcity.ctx).ok
    with pytest.raises(Conflict, match="only deduct"):
        voucher_review.close_year(vcity.ctx, admin, "qingdao-2026")
    r = api.post("/v1/voucher-programmes/test-2026/close", headers=bearer(vcity.tokens["admin"]))
    assert r.status_code == 200 and r.json() == {"programme_id": "test-2026", "vouchers": 0, "released": "0.00"}
