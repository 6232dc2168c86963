"""The voucher API: programmes as data, claims validated as problem+json, review by role, isolation."""

from __future__ import annotations

from tests.conftest import City
from tests.integration.conftest import bearer
from tests.integration.test_vouchers import qualify, reviewers, spend


def test_the_shipped_programmes_are_listed_with_their_rules(api, city: City):
    r = api.get("/v1/voucher-programmes", headers=bearer(city.tokens["acme-dev"]))
    assert r.status_code == 200
    by_id = {p["id"]: p for p in r.json()}
    qingdao = by_id["qingdao-2026"]
    assert (qingdao["mode"], qingdao["annual_budget"], qingdao["versions"]) == ("reimburse", "20000000.00", [1])
    assert qingdao["data"]["caps"]["per_entity_year"] == "1000000.00"
    assert qingdao["data"]["eligibility"]["min_paid"] == "100000.00"
    assert by_id["deduct-example-2026"]["mode"] == "deduct"


def test_a_bad_programme_is_refused_naming_each_field(api, city: City):
    admin = bearer(city.tokens["admin"])
    body = {"id": "Bad Id", "year": 1, "mode": "gift", "annual_budget": 1.5, "tiers": []}
    r = api.post("/v1/voucher-programmes", json=body, headers=admin)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"id", "year", "mode", "annual_budget", "tiers", "name", "issuer"} <= fields
    r = api.post("/v1/voucher-programmes", json=body, headers=bearer(city.tokens["auditor"]))
    assert r.status_code == 403


def test_bad_claims_are_problems_naming_the_field_or_the_rule(api, city: City):
    acme = bearer(city.tokens["acme-admin"])
    ok = {"programme_id": "deduct-example-2026", "contract": "V-1", "pledge": True, "amount": "100"}
    cases = [
        ({**ok, "pledge": False}, "pledge"),
        ({**ok, "amount": 100.5}, "amount"),
        ({**ok, "amount": "-1"}, "amount"),
        ({**ok, "programme_id": "nope"}, "programme_id"),
        ({**ok, "contract": " "}, "contract"),
        ({**ok, "extra": 1}, "extra"),
    ]
    for body, field in cases:
        r = api.post("/v1/tenants/acme/claims", json=body, headers=acme)
        assert r.status_code == 422 and r.json()["field"] == field, (body, r.json())
    r = api.post("/v1/tenants/acme/claims", json=ok, headers=acme)  # acme is registered nowhere yet
    assert r.status_code == 422 and r.json()["type"].endswith("claim-refused")
    assert "rules.registered_city" in {e["field"] for e in r.json()["errors"]}
    r = api.post("/v1/tenants/globex/claims", json=ok, headers=acme)
    assert r.status_code == 404
    assert api.get("/v1/claims", headers=bearer(city.tokens["admin"])).json()["items"] == []


def test_a_deduct_voucher_through_the_api_from_application_to_settlement(api, city: City):
    qualify(city, "acme")
    reviewers(city)
    acme = bearer(city.tokens["acme-admin"])
    body = {"programme_id": "deduct-example-2026", "contract": "V-1", "pledge": True, "amount": "1000"}
    r = api.post("/v1/tenants/acme/claims", json=body, headers=acme)
    assert r.status_code == 201, r.json()
    claim = r.json()
    assert claim["state"] == "submitted" and claim["next_step"] == "district first review (district_reviewer)"
    url = f"/v1/claims/{claim['id']}"
    assert api.get(url, headers=bearer(city.tokens["globex-admin"])).status_code == 404
    r = api.post(f"{url}/review", json={"decision": "approve"}, headers=bearer(city.tokens["auditor"]))
    assert r.status_code == 403
    for who in ("district", "admin", "expert", "admin"):
        r = api.post(
            f"{url}/review", json={"decision": "approve", "reason": f"ok by {who}"}, headers=bearer(city.tokens[who])
        )
        assert r.status_code == 200, r.json()
    assert r.json()["state"] == "active" and r.json()["next_step"] is None
    spend(city, "acme", 0.5)  # 72.00 on A100 at the 20% tier: 14.40 deducted
    detail = api.get(url, headers=acme).json()
    assert detail["used"] == "14.40" and detail["lines"][0]["tier"] == "other accelerators"
    assert [e["role"] for e in detail["events"]] == [
        "tenant_admin",
        "district_reviewer",
        "city_admin",
        "expert",
        "city_admin",
    ]
    r = api.post(f"{url}/payout", json={"reference": "FUND-1"}, headers=bearer(city.tokens["admin"]))
    assert r.status_code == 201 and r.json()["kind"] == "voucher_payout"
    r = api.post(f"{url}/clawback", json={"amount": "20", "reason": "fraud"}, headers=bearer(city.tokens["admin"]))
    assert r.status_code == 422 and r.json()["field"] == "amount"
    listed = api.get("/v1/claims?state=active", headers=bearer(city.tokens["expert"])).json()["items"]
    assert [c["id"] for c in listed] == [claim["id"]]
    assert api.get("/v1/claims?state=bogus", headers=acme).json()["field"] == "state"
