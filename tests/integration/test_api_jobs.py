"""Submitting, listing, reading and cancelling jobs through the API, and every bad input refused."""

from __future__ import annotations

import json

from suanli.domain.jobs.states import JobState
from suanli.service.scheduler import run_cycle
from tests.conftest import City
from tests.integration.conftest import bearer

JOB = {"name": "train", "resources": {"accelerators": "A100:1"}, "run": "echo hi"}


def count_jobs(city: City) -> int:
    with city.ctx.store.uow() as uow:
        return len(uow.jobs.in_states(list(JobState)))


def submit(api, city: City, body=JOB, who="acme-dev", **headers):
    return api.post("/v1/jobs", json=body, headers={**bearer(city.tokens[who]), **headers})


def test_submit_json_and_yaml(api, city: City):
    created = submit(api, city)
    assert created.status_code == 201
    job = created.json()
    assert job["state"] == "queued" and job["accelerators"] == ["A100:1"]
    assert created.headers["location"] == f"/v1/jobs/{job['id']}"
    yaml_body = "name: from-yaml\nresources:\n  accelerators: 910B:4\nrun: echo yaml\nmax_runtime: 30m\n"
    answer = api.post(
        "/v1/jobs", content=yaml_body, headers={**bearer(city.tokens["acme-dev"]), "Content-Type": "application/yaml"}
    )
    assert answer.status_code == 201 and answer.json()["name"] == "from-yaml"
    detail = api.get(f"/v1/jobs/{answer.json()['id']}", headers=bearer(city.tokens["acme-dev"])).json()
    assert detail["spec"]["max_runtime"] == 1800
    assert detail["spec"]["resources"]["accelerators"] == [{"model": "910B", "count": 4}]


def test_same_idempotency_key_returns_the_first_job(api, city: City):
    first = submit(api, city, **{"Idempotency-Key": "abc"})
    again = submit(api, city, **{"Idempotency-Key": "abc"})
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert count_jobs(city) == 1
    # the same key with a different spec is refused and changes nothing
    different = submit(api, city, {**JOB, "run": "echo other"}, **{"Idempotency-Key": "abc"})
    assert different.status_code == 422 and different.json()["field"] == "Idempotency-Key"
    # keys are per tenant
    other_tenant = submit(api, city, who="globex-dev", **{"Idempotency-Key": "abc"})
    assert other_tenant.status_code == 201
    assert count_jobs(city) == 2


def test_bad_input_is_refused_with_the_field_and_changes_nothing(api, city: City):
    cases = [
        ("malformed yaml", "name: t\nrun: [oops\n", "application/yaml", ""),
        ("malformed json", '{"name": "t", ', "application/json", ""),
        ("unknown field", json.dumps({**JOB, "gpus": 1}), "application/json", "gpus"),
        ("negative nodes", json.dumps({**JOB, "num_nodes": -1}), "application/json", "num_nodes"),
        ("absurd runtime", json.dumps({**JOB, "max_runtime": "999d"}), "application/json", "max_runtime"),
        ("float money", json.dumps({**JOB, "max_price": "1e400"}), "application/json", "max_price"),
        ("not a mapping", "[1, 2]", "application/json", ""),
    ]
    for what, body, content_type, field in cases:
        answer = api.post(
            "/v1/jobs", content=body, headers={**bearer(city.tokens["acme-dev"]), "Content-Type": content_type}
        )
        assert answer.status_code == 422, what
        problem = answer.json()
        assert answer.headers["content-type"] == "application/problem+json"
        assert problem["detail"], what
        assert problem.get("field", "") == field, (what, problem)
    assert count_jobs(city) == 0


def test_unknown_accelerator_lists_the_known_ones(api, city: City):
    answer = submit(api, city, {**JOB, "resources": {"accelerators": "TPUv5:8"}})
    assert answer.status_code == 422
    assert answer.json()["field"] == "resources.accelerators"
    assert "known models" in answer.json()["detail"] and "H800" in answer.json()["detail"]


def test_impossible_resources_are_refused_at_submit(api, city: City):
    too_many = submit(api, city, {**JOB, "resources": {"accelerators": "A100:16"}})
    assert too_many.status_code == 422
    assert too_many.json()["field"] == "resources.accelerators"
    assert "8 A100 per node; the job needs 16" in too_many.json()["detail"]
    too_wide = submit(api, city, {**JOB, "num_nodes": 3, "resources": {"accelerators": "H800:8"}})
    assert too_wide.status_code == 422 and too_wide.json()["field"] == "num_nodes"
    too_fat = submit(api, city, {**JOB, "resources": {"accelerators": "A100:1", "memory": 4096}})
    assert too_fat.status_code == 422 and too_fat.json()["field"] == "resources.memory"
    unknown_centre = submit(api, city, {**JOB, "centres": {"allow": ["atlantis"]}})
    assert unknown_centre.status_code == 422 and unknown_centre.json()["field"] == "centres.allow"
    assert count_jobs(city) == 0


def test_oversized_spec_is_refused_before_it_is_parsed(api, city: City):
    city.ctx.settings.limits.max_spec_bytes = 10_000
    big = {**JOB, "files": {"data.txt": "x" * 20_000}}
    answer = submit(api, city, big)
    assert answer.status_code == 413 and answer.json()["title"] == "Payload too large"
    city.ctx.settings.limits.max_spec_bytes = 2_000_000
    city.ctx.settings.limits.max_files_bytes = 10_000
    answer = submit(api, city, big)
    assert answer.status_code == 413 and answer.json()["field"] == "files"
    assert count_jobs(city) == 0


def test_cancel_queued_then_finished_is_a_conflict(api, city: City):
    job = submit(api, city).json()
    cancelled = api.post(f"/v1/jobs/{job['id']}/cancel", headers=bearer(city.tokens["acme-dev"]))
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    again = api.post(f"/v1/jobs/{job['id']}/cancel", headers=bearer(city.tokens["acme-dev"]))
    assert again.status_code == 409
    assert "already been cancelled" in again.json()["detail"]
    events = api.get(f"/v1/jobs/{job['id']}/events", headers=bearer(city.tokens["acme-dev"])).json()
    assert [e["to_state"] for e in events] == ["submitted", "queued", "cancelled"]


def test_unknown_job_is_404(api, city: City):
    answer = api.get("/v1/jobs/job_nope", headers=bearer(city.tokens["acme-dev"]))
    assert answer.status_code == 404 and answer.json()["type"].endswith("/not-found")


def test_list_filters_and_cursor_pagination(api, city: City):
    ids = [submit(api, city, {**JOB, "name": f"j{i}"}).json()["id"] for i in range(7)]
    token = bearer(city.tokens["acme-dev"])
    api.post(f"/v1/jobs/{ids[0]}/cancel", headers=token)
    seen, cursor = [], None
    while True:
        page = api.get("/v1/jobs", params={"limit": 3, **({"cursor": cursor} if cursor else {})}, headers=token).json()
        seen += [j["id"] for j in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))
    assert [j["id"] for j in api.get("/v1/jobs?state=cancelled", headers=token).json()["items"]] == [ids[0]]
    assert len(api.get("/v1/jobs?state=queued,cancelled", headers=token).json()["items"]) == 7
    assert [j["name"] for j in api.get("/v1/jobs?name=j3", headers=token).json()["items"]] == ["j3"]
    bad = api.get("/v1/jobs?state=sleeping", headers=token)
    assert bad.status_code == 422 and bad.json()["field"] == "state"
    assert api.get("/v1/jobs?limit=0", headers=token).json()["field"] == "limit"


def test_why_explains_per_pool_then_the_placement(api, city: City):
    token = bearer(city.tokens["acme-dev"])
    job = submit(api, city, {**JOB, "max_price": "15", "resources": {"accelerators": ["A100:8", "H800:8"]}}).json()
    assert "not considered" in api.get(f"/v1/jobs/{job['id']}/why", headers=token).json()["summary"]
    run_cycle(city.ctx)
    why = api.get(f"/v1/jobs/{job['id']}/why", headers=token).json()
    assert why["state"] == "queued"
    by_pool = {r["pool"]: r["code"] for r in why["reasons"]}
    assert by_pool == {
        "a100": "price_above_max",
        "h800": "price_above_max",
        "npu": "model_mismatch",
        "cpu": "stack_mismatch",
    }
    cheap = submit(api, city, {**JOB, "name": "cheap"}).json()
    run_cycle(city.ctx)
    placed = api.get(f"/v1/jobs/{cheap['id']}/why", headers=token).json()
    assert placed["state"] == "placed" and placed["placement"]["price"] == "18.0000"
    assert "finishes in" in placed["summary"]
