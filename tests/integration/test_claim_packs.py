"""Voucher claim packs: the claim with its pledge and audit log, the metered usage behind each covered charge,
the tenant's invoices for those months, and a manifest whose hashes match; readable by whoever may read the claim."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from decimal import Decimal
from html import escape as html_escape

import pytest

from suanli.billing.claim_pack import to_zip
from suanli.domain.errors import NotFound
from suanli.service import claim_packs, vouchers
from suanli.service.vouchers import ClaimInput
from tests.conftest import City, heartbeat_all
from tests.integration.conftest import bearer
from tests.integration.test_vouchers import pay, qualify, reviewers, spend, through_review

D = Decimal


@pytest.fixture
def claimed(city: City, clock) -> City:
    """acme runs A100 time in November and Ascend time in December, pays, and claims under Qingdao's programme."""
    vouchers.publish_builtin(city.ctx)
    qualify(city, "acme")
    reviewers(city)
    spend(city, "acme", 500)  # 72,000.00 in November
    clock.advance(31 * 86400)
    heartbeat_all(city)
    spend(city, "acme", 500, centre="ai", model="Ascend910B")  # 50,000.00 in December
    pay(city, "acme", "122000", "BANK-1")
    view = vouchers.apply(city.ctx, city.principal("acme-admin"), "acme", ClaimInput("qingdao-2026", "HT-7", True))
    through_review(city, view.claim.id)
    city.ids["claim"] = view.claim.id
    return city


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {name: z.read(name) for name in z.namelist()}


def test_the_pack_holds_the_claim_its_evidence_and_the_invoices(claimed: City):
    pack = claim_packs.claim_pack(claimed.ctx, claimed.principal("district"), claimed.ids["claim"])
    assert pack.fees == D("122000.00") and pack.subsidy == D("24400.00") == pack.claim.amount
    a100, ascend = pack.evidence
    assert (a100.centre, a100.pool, a100.quantity, a100.unit, a100.price) == ("gpu", "a100", 4000, "accelerator_hour",
                                                                              D("18.00"))  # fmt: skip
    assert a100.accelerators == 8 and a100.wall_seconds == 500 * 3600 and a100.pflops_hours > 0
    assert (ascend.centre, ascend.line.model, ascend.line.base) == ("ai", "Ascend910B", D("50000.00"))
    assert [i.month for i in pack.invoices] == ["2026-11", "2026-12"]
    assert [e.to_state.value for e in pack.events][-1] == "approved"
    files = unzip(to_zip(pack))
    assert sorted(files) == ["claim.html", "evidence.csv", "invoices/2026-11.csv", "invoices/2026-11.html",
                             "invoices/2026-12.csv", "invoices/2026-12.html", "manifest.json"]  # fmt: skip
    manifest = json.loads(files["manifest.json"])
    assert manifest["claim"] == pack.claim.id
    assert all(hashlib.sha256(files[name]).hexdigest() == digest for name, digest in manifest["files"].items())
    rows = list(csv.DictReader(io.StringIO(files["evidence.csv"].decode())))
    assert [(r["centre"], r["fees_cny"], r["subsidy_cny"]) for r in rows] == [
        ("gpu", "72000.00", "14400.00"),
        ("ai", "50000.00", "10000.00"),
    ]
    html = files["claim.html"].decode()
    assert "HT-7" in html and "算力券申报材料" in html and html_escape(pack.claim.pledge) in html
    assert "charge" in files["invoices/2026-12.csv"].decode()


def test_the_pack_is_the_claims_readers_only(claimed: City):
    for who in ("acme-admin", "acme-dev", "auditor", "expert", "admin"):
        assert (
            claim_packs.claim_pack(claimed.ctx, claimed.principal(who), claimed.ids["claim"]).claim.contract == "HT-7"
        )
    for who in ("globex-admin", "operator"):
        with pytest.raises(NotFound):
            claim_packs.claim_pack(claimed.ctx, claimed.principal(who), claimed.ids["claim"])
    with pytest.raises(NotFound):
        claim_packs.claim_pack(claimed.ctx, claimed.principal("admin"), "vc_nope")


def test_the_api_serves_the_zip(api, claimed: City):
    r = api.get(f"/v1/claims/{claimed.ids['claim']}/pack", headers=bearer(claimed.tokens["expert"]))
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert "manifest.json" in unzip(r.content)
    other = api.get(f"/v1/claims/{claimed.ids['claim']}/pack", headers=bearer(claimed.tokens["globex-dev"]))
    assert other.status_code == 404 and other.headers["content-type"].startswith("application/problem+json")
