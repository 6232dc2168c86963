"""Refunds of usage charges: part or all of a charge given back, borne by the centre and the platform in their
shares; a voucher subsidy on it clawed back in proportion; never more than was charged; the charge itself and
`ledger verify` stand; refunded usage is not claimed again."""

from __future__ import annotations

from decimal import Decimal

import pytest

from suanli.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from suanli.domain.ledger import EntryKind, provider_payable, tenant_receivable
from suanli.ports import EntryFilter
from suanli.service import billing, invoices, refunds, vouchers
from suanli.service.vouchers import ClaimInput
from tests.conftest import City
from tests.integration.conftest import bearer
from tests.integration.test_ledger import balance
from tests.integration.test_vouchers import pay, programme, qualify, reviewers, spend, through_review

D = Decimal


def usage_entry(city: City, attempt: str) -> str:
    entries = billing.list_entries(city.ctx, city.principal("admin"), EntryFilter(kinds=(EntryKind.USAGE,)), 50, None)
    return next(e.id for e in entries[0] if e.attempt_id == attempt)


def test_a_partial_then_a_full_refund_share_the_cost_and_never_exceed_the_charge(city: City):
    city.ctx.settings.billing.platform_fee_rate = D("0.10")
    entry = usage_entry(city, spend(city, "acme", 0.5))  # 72.00: centre 64.80, platform 7.20
    admin = city.principal("admin")
    first = refunds.refund_usage(city.ctx, admin, entry, D("20"), "two hours of a flaky node")
    assert first.clawback is None and first.entry.reference == f"refund:{entry}:1"
    assert {p.account: p.amount for p in first.entry.postings} == {
        tenant_receivable(city.ids["acme"]): D("-20.00"),
        provider_payable(city.ids["gpu"]): D("18.00"),
        "platform:revenue": D("2.00"),
    }
    with pytest.raises(InvalidInput) as exc:
        refunds.refund_usage(city.ctx, admin, entry, D("52.01"), "too much")
    assert exc.value.errors[0].field == "amount" and "at most 52.00" in exc.value.errors[0].message
    rest = refunds.refund_usage(city.ctx, admin, entry, None, "the rest")
    assert rest.entry.amount_for(tenant_receivable(city.ids["acme"])) == D("-52.00")
    assert balance(city, tenant_receivable(city.ids["acme"])) == 0
    assert balance(city, provider_payable(city.ids["gpu"])) == 0
    with pytest.raises(InvalidInput):
        refunds.refund_usage(city.ctx, admin, entry, None, "again")
    report = billing.verify_ledger(city.ctx)
    assert report.ok and report.usage_entries == 1  # the metered charge stands beside its refunds
    nov = invoices.tenant_invoice(city.ctx, admin, "acme", "2026-11")
    assert (nov.charged, nov.refunded, nov.closing) == (D("72.00"), D("72.00"), D("0.00"))


def test_a_refunded_deduction_is_clawed_back_in_proportion(city: City):
    vouchers.publish_builtin(city.ctx)
    qualify(city, "acme", startup=True)
    reviewers(city)
    view = vouchers.apply(city.ctx, city.principal("acme-admin"), "acme",
                          ClaimInput("deduct-example-2026", "V-1", True, D("500")))  # fmt: skip
    through_review(city, view.claim.id)
    entry = usage_entry(city, spend(city, "acme", 0.5))  # 72.00, 36.00 deducted (start-up tier, 50%)
    assert balance(city, tenant_receivable(city.ids["acme"])) == D("36.00")
    r = refunds.refund_usage(city.ctx, city.principal("admin"), entry, D("72.00"), "the job never started")
    assert r.clawback is not None and r.clawback.kind is EntryKind.CLAWBACK
    assert balance(city, tenant_receivable(city.ids["acme"])) == 0  # 36.00 paid back: no subsidy on refunded money
    claim = vouchers.get_claim(city.ctx, city.principal("admin"), view.claim.id).claim
    assert (claim.used, claim.clawed_back) == (D("36.00"), D("36.00"))
    assert billing.verify_ledger(city.ctx).ok


def test_a_charge_in_a_claim_under_review_is_not_refunded_and_refunded_usage_is_not_claimed(city: City):
    vouchers.publish_builtin(city.ctx)
    qualify(city, "acme")
    reviewers(city)
    programme(city)  # reimburse 20%, no minimum paid
    first = usage_entry(city, spend(city, "acme", 0.5))
    second = usage_entry(city, spend(city, "acme", 0.5))
    refunds.refund_usage(city.ctx, city.principal("admin"), second, D("72.00"), "centre outage")
    pay(city, "acme", "72", "BANK-1")
    view = vouchers.apply(city.ctx, city.principal("acme-admin"), "acme", ClaimInput("test-2026", "C-1", True))
    assert [line.entry_id for line in view.lines] == [first] and view.claim.amount == D("14.40")
    with pytest.raises(Conflict, match="still in review"):
        refunds.refund_usage(city.ctx, city.principal("admin"), first, D("10"), "late")


def test_only_city_admins_refund_and_only_usage_charges(api, city: City):
    entry = usage_entry(city, spend(city, "acme", 0.5))
    for who in ("acme-admin", "auditor", "operator"):
        with pytest.raises(Forbidden):
            refunds.refund_usage(city.ctx, city.principal(who), entry, None, "mine")
    with pytest.raises(InvalidInput) as exc:
        refunds.refund_usage(city.ctx, city.principal("admin"), entry, None, " ")
    assert exc.value.errors[0].field == "reason"
    with pytest.raises(NotFound):
        refunds.refund_usage(city.ctx, city.principal("admin"), "le_nope", None, "x")
    admin = bearer(city.tokens["admin"])
    r = api.post(f"/v1/ledger/entries/{entry}/refund", json={"amount": "1.005", "reason": "x"}, headers=admin)
    assert r.status_code == 422 and r.json()["field"] == "amount"
    r = api.post(f"/v1/ledger/entries/{entry}/refund", json={"amount": "10", "reason": "x"}, headers=admin)
    assert r.status_code == 201 and r.json()["refund"]["kind"] == "refund" and r.json()["clawback"] is None
    refund_id = r.json()["refund"]["id"]
    r = api.post(f"/v1/ledger/entries/{refund_id}/refund", json={"reason": "x"}, headers=admin)
    assert r.status_code == 409
    tenant = bearer(city.tokens["acme-admin"])
    assert api.post(f"/v1/ledger/entries/{entry}/refund", json={"reason": "x"}, headers=tenant).status_code == 403


def test_the_account_shows_charges_net_of_refunds_not_as_payments(city: City):
    entry = usage_entry(city, spend(city, "acme", 0.5))
    refunds.refund_usage(city.ctx, city.principal("admin"), entry, D("22"), "slow node")
    account = billing.tenant_account(city.ctx, city.principal("acme-dev"), "acme")
    assert (account.charged, account.paid, account.balance) == (D("50.00"), D("0.00"), D("50.00"))


def test_a_job_shows_its_metered_usage_and_what_it_was_charged_net_of_refunds(api, city: City):
    attempt = spend(city, "acme", 0.5)
    job_id = attempt.rsplit("-", 1)[0]
    refunds.refund_usage(city.ctx, city.principal("admin"), usage_entry(city, attempt), D("2"), "slow disk")
    body = api.get(f"/v1/jobs/{job_id}", headers=bearer(city.tokens["acme-dev"])).json()
    usage = body["attempt_history"][0]["usage"]
    assert (usage["accelerators"], usage["quantity"], usage["unit"], usage["charged"]) == (
        8, "4.000000", "accelerator_hour", "70.00"
    )  # fmt: skip
    assert D(usage["pflops_hours_fp16"]) > 0 and usage["wall_seconds"] == 1800
