"""Centres, pools, price cards, the catalogue and city capacity through the API."""

from __future__ import annotations

from datetime import timedelta

from suanli.service import agents
from tests.conftest import City
from tests.integration.conftest import bearer


def test_centres_show_pools_prices_status_and_capacity(api, city: City):
    centres = {c["name"]: c for c in api.get("/v1/centres", headers=bearer(city.tokens["acme-dev"])).json()}
    assert set(centres) == {"ai", "gpu", "hpc"}
    gpu = centres["gpu"]
    assert gpu["status"] == "online"
    pools = {p["name"]: p for p in gpu["pools"]}
    assert pools["a100"]["price"]["price"] == "18.0000" and pools["a100"]["price"]["unit"] == "accelerator_hour"
    # 2 nodes x 8 A100 x 312 TFLOPS + 1 x 8 H800 x 989.4 TFLOPS
    assert pools["a100"]["pflops_fp16"] == "4.992"
    assert gpu["pflops_fp16"] == "12.9072"
    hpc = centres["hpc"]["pools"][0]
    assert hpc["price"]["unit"] == "core_hour" and hpc["stack"] == "cpu"
    capacity = api.get("/v1/capacity", headers=bearer(city.tokens["acme-dev"])).json()
    assert capacity["centres"] == 3 and capacity["centres_online"] == 3
    assert capacity["accelerators_total"] == 16 + 16 + 8
    assert capacity["by_model"] == {"Ascend910B": 16, "A100": 16, "H800": 8, "CPU-X86": 4}


def test_a_centre_without_heartbeat_goes_offline(api, city: City, clock):
    clock.advance(31)
    centres = api.get("/v1/centres", headers=bearer(city.tokens["acme-dev"])).json()
    assert {c["status"] for c in centres} == {"offline"}


def test_operator_manages_its_own_centres_only(api, city: City):
    operator = bearer(city.tokens["operator"])
    pool = api.post(
        f"/v1/centres/{city.ids['gpu']}/pools",
        json={
            "name": "l40s",
            "model": "L40S",
            "nodes": 4,
            "accelerators_per_node": 8,
            "cpus_per_node": 64,
            "memory_gib_per_node": 512,
        },
        headers=operator,
    )
    assert pool.status_code == 201 and pool.json()["model"] == "L40S"
    price = api.post(
        f"/v1/pools/{pool.json()['id']}/prices", json={"price": "6.80", "preemptible_discount": "0.5"}, headers=operator
    )
    assert price.status_code == 201 and price.json()["price"] == "6.8000"
    other_ops = api.post(
        f"/v1/tenants/{city.ids['acme']}/users",
        json={"name": "intruder", "role": "centre_operator"},
        headers=bearer(city.admin_token),
    ).json()
    token = api.post(f"/v1/users/{other_ops['id']}/tokens", json={}, headers=bearer(city.admin_token)).json()["token"]
    refused = api.post(f"/v1/pools/{pool.json()['id']}/prices", json={"price": "1"}, headers=bearer(token))
    assert refused.status_code == 403


def test_pool_and_price_validation(api, city: City):
    admin = bearer(city.admin_token)
    base = {
        "name": "p",
        "model": "A100",
        "nodes": 1,
        "accelerators_per_node": 8,
        "cpus_per_node": 64,
        "memory_gib_per_node": 512,
    }
    cases = [
        ({**base, "model": "Z9000"}, "model"),
        ({**base, "accelerators_per_node": 0}, "accelerators_per_node"),
        ({**base, "model": "CPU-X86"}, "accelerators_per_node"),
        ({**base, "nodes": -2}, "nodes"),
        ({**base, "name": "Bad Name"}, "name"),
        ({**base, "colour": "red"}, "colour"),
    ]
    for body, field in cases:
        answer = api.post(f"/v1/centres/{city.ids['gpu']}/pools", json=body, headers=admin)
        assert answer.status_code == 422 and answer.json()["field"] == field, (body, answer.json())
    pool = city.ids["gpu/a100"]
    for body, field in [
        ({"price": 12.5}, "price"),
        ({"price": "-1"}, "price"),
        ({"price": "abc"}, "price"),
        ({"price": "1", "preemptible_discount": "1.5"}, "preemptible_discount"),
        (
            {"price": "1", "valid_from": "2026-12-01T00:00:00+08:00", "valid_to": "2026-11-01T00:00:00+08:00"},
            "valid_to",
        ),
    ]:
        answer = api.post(f"/v1/pools/{pool}/prices", json=body, headers=admin)
        assert answer.status_code == 422 and answer.json()["field"] == field, (body, answer.json())
    duplicate = api.post(f"/v1/centres/{city.ids['gpu']}/pools", json={**base, "name": "a100"}, headers=admin)
    assert duplicate.status_code == 409


def test_a_newer_price_card_takes_over_when_it_starts(api, city: City, clock):
    admin = bearer(city.admin_token)
    pool = city.ids["gpu/a100"]
    start = (clock.now() + timedelta(hours=1)).isoformat()
    api.post(f"/v1/pools/{pool}/prices", json={"price": "15", "valid_from": start}, headers=admin)

    def current() -> str:
        centre = api.get("/v1/centres/gpu", headers=admin).json()
        return next(p for p in centre["pools"] if p["name"] == "a100")["price"]["price"]

    assert current() == "18.0000"
    clock.advance(3601)
    agents.heartbeat(city.ctx, city.agent("gpu"), {}, [], {})
    assert current() == "15.0000"
    assert len(api.get(f"/v1/pools/{pool}/prices", headers=admin).json()) == 2


def test_operators_amend_the_catalogue_with_a_source(api, city: City):
    operator = bearer(city.tokens["operator"])
    body = {
        "id": "MLU590-H",
        "vendor": "Cambricon",
        "memory_gib": "96",
        "fp16_tflops": "350",
        "stack": "neuware",
        "domestic": True,
        "source": "vendor acceptance report 2026-10",
    }
    assert api.post("/v1/catalogue/accelerators", json=body, headers=operator).status_code == 201
    catalogue = api.get("/v1/catalogue/accelerators", headers=bearer(city.tokens["acme-dev"])).json()
    added = next(m for m in catalogue["models"] if m["id"] == "MLU590-H")
    assert added["origin"] == "operator" and added["fp16_tflops"] == "350"
    missing_source = api.post("/v1/catalogue/accelerators", json={**body, "source": ""}, headers=operator)
    assert missing_source.status_code == 422 and missing_source.json()["field"] == "source"
    assert api.post("/v1/catalogue/accelerators", json=body, headers=bearer(city.tokens["acme-dev"])).status_code == 403


def test_tenant_and_user_validation(api, city: City):
    admin = bearer(city.admin_token)
    assert (
        api.post("/v1/tenants", json={"name": "Bad_Name", "kind": "enterprise"}, headers=admin).json()["field"]
        == "name"
    )
    assert api.post("/v1/tenants", json={"name": "ok", "kind": "alien"}, headers=admin).json()["field"] == "kind"
    assert api.post("/v1/tenants", json={"name": "acme", "kind": "enterprise"}, headers=admin).status_code == 409
    assert (
        api.post(f"/v1/tenants/{city.ids['acme']}/users", json={"name": "x", "role": "king"}, headers=admin).json()[
            "field"
        ]
        == "role"
    )
