"""The billing API: payments recorded once, money validated as problem+json, isolation, the ledger check."""

from __future__ import annotations

from tests.conftest import City
from tests.integration.conftest import bearer
from tests.integration.test_agent_protocol import placed_and_leased
from tests.integration.test_ledger import use


def test_payments_through_the_api_are_recorded_once_and_show_in_the_account(api, city: City):
    _, attempt = placed_and_leased(city)
    use(city, attempt)
    admin = bearer(city.tokens["admin"])
    body = {"amount": "30.50", "reference": "ICBC-2026-0001"}
    first = api.post("/v1/tenants/acme/payments", json=body, headers=admin)
    assert first.status_code == 201 and first.json()["kind"] == "payment"
    again = api.post("/v1/tenants/acme/payments", json=body, headers=admin)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    clash = api.post("/v1/tenants/acme/payments", json={**body, "amount": "31"}, headers=admin)
    assert clash.status_code == 409
    account = api.get(f"/v1/tenants/{city.ids['acme']}/account", headers=bearer(city.tokens["acme-dev"])).json()
    assert account == {**account, "balance": "41.50", "charged": "72.00", "paid": "30.50"}
    postings = {p["account"]: p["amount"] for p in first.json()["postings"]}
    assert postings == {"platform:bank": "30.50", f"tenant:{city.ids['acme']}:receivable": "-30.50"}


def test_bad_money_is_a_problem_naming_the_field_and_changes_nothing(api, city: City):
    admin = bearer(city.tokens["admin"])
    for amount in (12.5, "abc", "1.001", "-3", "0"):
        r = api.post("/v1/tenants/acme/payments", json={"amount": amount, "reference": "R"}, headers=admin)
        assert r.status_code == 422, amount
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["field"] == "amount"
    r = api.post("/v1/tenants/acme/payments", json={"amount": "1", "reference": "R", "extra": 1}, headers=admin)
    assert r.status_code == 422
    assert api.get("/v1/ledger/balances", headers=admin).json() == {}


def test_money_is_private_to_its_tenant_and_read_only_for_auditors(api, city: City):
    _, attempt = placed_and_leased(city)
    use(city, attempt)
    globex = bearer(city.tokens["globex-admin"])
    assert api.get("/v1/tenants/acme/account", headers=globex).status_code == 404
    assert api.get("/v1/ledger/entries?tenant=acme", headers=globex).status_code == 404
    assert api.get("/v1/ledger/entries", headers=globex).json()["items"] == []
    entry = api.get("/v1/ledger/entries", headers=bearer(city.tokens["acme-dev"])).json()["items"][0]
    assert api.get(f"/v1/ledger/entries/{entry['id']}", headers=globex).status_code == 404
    auditor = bearer(city.tokens["auditor"])
    assert api.get(f"/v1/ledger/entries/{entry['id']}", headers=auditor).status_code == 200
    refused = api.post("/v1/tenants/acme/payments", json={"amount": "1", "reference": "A"}, headers=auditor)
    assert refused.status_code == 403
    assert api.get("/v1/ledger/verify", headers=globex).status_code == 403
    check = api.get("/v1/ledger/verify", headers=auditor).json()
    assert check["ok"] and check["usage_records"] == 1 and check["usage_entries"] == 1


def test_a_payout_settles_what_is_owed_to_the_centre_and_can_be_reversed(api, city: City):
    _, attempt = placed_and_leased(city)
    use(city, attempt)
    admin = bearer(city.tokens["admin"])
    payout = api.post("/v1/centres/gpu/payouts", json={"amount": "72.00", "reference": "P1"}, headers=admin)
    assert payout.status_code == 201
    provider = f"provider:{city.ids['gpu']}:payable"
    assert api.get("/v1/ledger/balances?prefix=provider:", headers=admin).json() == {provider: "0.00"}
    undo = api.post(f"/v1/ledger/entries/{payout.json()['id']}/reversal", json={"reason": "sent twice"}, headers=admin)
    assert undo.status_code == 201 and undo.json()["reverses"] == payout.json()["id"]
    assert api.get("/v1/ledger/balances?prefix=provider:", headers=admin).json() == {provider: "-72.00"}
    kinds = [e["kind"] for e in api.get("/v1/ledger/entries?kind=payout,reversal", headers=admin).json()["items"]]
    assert kinds == ["payout", "reversal"]
    assert api.get("/v1/ledger/entries?kind=bogus", headers=admin).json()["field"] == "kind"
