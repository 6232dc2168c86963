"""Voucher programme reports: committed, granted, paid and clawed back as the ledger has them; enterprises
served; fees and subsidy by industry, centre and accelerator class summing exactly to what was granted; the
funding split; city admins and auditors only."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from decimal import Decimal

import pytest

from suanli.billing.programme_report import to_html
from suanli.domain.errors import Forbidden, NotFound
from suanli.service import programme_reports, voucher_review, vouchers
from suanli.service.vouchers import ClaimInput
from tests.conftest import City
from tests.integration.conftest import bearer
from tests.integration.test_vouchers import pay, qualify, reviewers, spend, through_review

D = Decimal


@pytest.fixture
def served(city: City) -> City:
    """acme (manufacturing): 144,000 of A100 time, claimed, approved and paid (28,800). globex (software): 72,000
    of A100 and 50,000 of Ascend time, claimed and approved (24,400), 400 clawed back, not yet paid."""
    vouchers.publish_builtin(city.ctx)
    qualify(city, "acme", industry="manufacturing")
    qualify(city, "globex", industry="software")
    reviewers(city)
    spend(city, "acme", 1000)
    pay(city, "acme", "144000", "BANK-1")
    spend(city, "globex", 500)
    spend(city, "globex", 500, centre="ai", model="Ascend910B")
    pay(city, "globex", "122000", "BANK-2")
    for who, contract in (("acme", "HT-1"), ("globex", "HT-2")):
        view = vouchers.apply(city.ctx, city.principal(f"{who}-admin"), who, ClaimInput("qingdao-2026", contract, True))
        through_review(city, view.claim.id)
        city.ids[f"claim-{who}"] = view.claim.id
    voucher_review.payout(city.ctx, city.principal("admin"), city.ids["claim-acme"], "TREASURY-1")
    voucher_review.clawback(city.ctx, city.principal("admin"), city.ids["claim-globex"], D("400"), "double-counted")
    return city


def test_the_report_reconciles_with_the_ledger_and_breaks_the_subsidy_down(served: City):
    r = programme_reports.programme_report(served.ctx, served.principal("auditor"), "qingdao-2026")
    assert (r.budget, r.committed, r.granted, r.clawed_back, r.paid) == (
        D("20000000"), D("52800.00"), D("52800.00"), D("400.00"), D("28800.00")
    )  # fmt: skip
    assert r.reconciles and r.granted_in_ledger == r.granted and r.left == D("19947200.00")
    assert r.enterprises_served() == 2 and r.in_review == 0
    assert r.by_state() == [("approved", 1, D("24400.00")), ("paid", 1, D("28800.00"))]
    industry = {s.key: (s.fees, s.subsidy) for s in r.by_industry()}
    assert industry == {"manufacturing": (D("144000.00"), D("28800.00")), "software": (D("122000.00"), D("24000.00"))}
    centre = {s.key: (s.fees, s.subsidy) for s in r.by_centre()}
    assert centre["ai"][0] == D("50000.00") and centre["gpu"][0] == D("216000.00")
    # globex's 24,000 net is spread over its two charges by their subsidy (14,400 : 10,000), to the fen
    assert centre["gpu"][1] == D("28800.00") + D("14163.93") and centre["ai"][1] == D("9836.07")
    assert {s.key for s in r.by_class()} == {"accelerator", "domestic_accelerator"}
    for shares in (r.by_industry(), r.by_centre(), r.by_class()):
        assert sum(s.subsidy for s in shares) == r.granted  # every breakdown adds up exactly
    assert r.funding() == [("city", D("0.5"), D("26400.00"), D("14400.00")),
                           ("district", D("0.5"), D("26400.00"), D("14400.00"))]  # fmt: skip


def test_a_claim_in_review_is_committed_but_not_granted(served: City):
    spend(served, "acme", 10, model="H800")  # 8 x 10 h x 30.00 = 2,400.00 (the A100s are still held)
    pay(served, "acme", "2400", "BANK-3")
    vouchers.apply(served.ctx, served.principal("acme-admin"), "acme", ClaimInput("qingdao-2026", "HT-3", True))
    r = programme_reports.programme_report(served.ctx, served.principal("admin"), "qingdao-2026")
    assert r.in_review == D("480.00") and r.committed == D("53280.00") and r.granted == D("52800.00")
    assert ("submitted", 1, D("480.00")) in r.by_state() and r.enterprises_served() == 2


def test_only_the_city_sees_programme_reports(served: City):
    for who in ("acme-admin", "operator", "district"):
        with pytest.raises(Forbidden):
            programme_reports.programme_report(served.ctx, served.principal(who), "qingdao-2026")
    with pytest.raises(NotFound):
        programme_reports.programme_report(served.ctx, served.principal("admin"), "no-such-programme")


def test_the_api_serves_json_csv_and_html(api, served: City):
    admin = bearer(served.tokens["admin"])
    body = api.get("/v1/voucher-programmes/qingdao-2026/report", headers=admin).json()
    assert body["totals"]["granted"] == "52800.00" and body["reconciles"] is True and body["enterprises_served"] == 2
    assert {x["key"]: x["subsidy"] for x in body["by_industry"]} == {
        "manufacturing": "28800.00",
        "software": "24000.00",
    }
    r = api.get("/v1/voucher-programmes/qingdao-2026/report?format=csv", headers=admin)
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert {row["key"]: row["amount_cny"] for row in rows if row["section"] == "total"}["paid"] == "28800.00"
    assert [row["paid_cny"] for row in rows if row["section"] == "funder"] == ["14400.00", "14400.00"]
    page = api.get("/v1/voucher-programmes/qingdao-2026/report?format=html", headers=admin).text
    assert "服务企业 Enterprises served" in page and "一致 reconciles" in page
    assert (
        api.get("/v1/voucher-programmes/qingdao-2026/report", headers=bearer(served.tokens["acme-dev"])).status_code
        == 403
    )


def test_the_html_page_escapes_programme_text(served: City):
    r = programme_reports.programme_report(served.ctx, served.principal("admin"), "qingdao-2026")
    page = to_html(replace(r, programme=replace(r.programme, issuer="<script>x</script>")))
    assert "<script>x" not in page and "&lt;script&gt;x" in page
