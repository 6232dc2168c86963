"""Authentication (401), roles (403) and tenant isolation (404, never 403) across the API."""

from __future__ import annotations

from tests.conftest import City
from tests.integration.conftest import bearer

JOB = {"name": "t", "resources": {"accelerators": "A100:1"}, "run": "echo hi"}


def test_health_needs_no_token(api):
    assert api.get("/healthz").json()["status"] == "ok"
    assert api.get("/readyz").json() == {"status": "ready", "database": "ok"}


def test_everything_else_needs_a_valid_token(api, city: City):
    missing = api.get("/v1/jobs")
    assert missing.status_code == 401
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.headers["www-authenticate"] == "Bearer"
    assert api.get("/v1/jobs", headers=bearer("sl_not-a-token")).status_code == 401
    assert api.get("/v1/jobs", headers={"Authorization": "Basic abc"}).status_code == 401


def test_expired_tokens_are_refused(api, city: City, clock):
    token = city.tokens["acme-dev"]
    assert api.get("/v1/me", headers=bearer(token)).status_code == 200
    clock.advance(91 * 86400)  # default lifetime is 90 days
    expired = api.get("/v1/me", headers=bearer(token))
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]


def test_revoked_tokens_are_refused(api, city: City):
    fresh = api.post(
        f"/v1/users/{city.ids['acme-dev']}/tokens", json={"name": "laptop"}, headers=bearer(city.admin_token)
    ).json()
    assert fresh["token"].startswith("sl_")
    assert api.get("/v1/me", headers=bearer(fresh["token"])).status_code == 200
    assert api.delete(f"/v1/tokens/{fresh['id']}", headers=bearer(city.tokens["acme-admin"])).status_code == 200
    revoked = api.get("/v1/me", headers=bearer(fresh["token"]))
    assert revoked.status_code == 401 and "revoked" in revoked.json()["detail"]


def test_tokens_are_stored_hashed_and_listed_without_secrets(api, city: City):
    created = api.post(
        f"/v1/users/{city.ids['acme-dev']}/tokens", json={"name": "ci"}, headers=bearer(city.tokens["acme-dev"])
    ).json()
    listed = api.get(f"/v1/users/{city.ids['acme-dev']}/tokens", headers=bearer(city.tokens["acme-dev"])).json()
    assert created["token"] not in str(listed)
    with city.ctx.store.uow() as uow:
        stored = uow.tokens.get(created["id"])
    assert stored is not None and created["token"] not in stored.secret_hash and len(stored.secret_hash) == 64


def test_a_tenant_never_sees_another_tenants_job(api, city: City):
    job = api.post("/v1/jobs", json=JOB, headers=bearer(city.tokens["acme-dev"])).json()
    other = bearer(city.tokens["globex-admin"])
    for path in (
        f"/v1/jobs/{job['id']}",
        f"/v1/jobs/{job['id']}/events",
        f"/v1/jobs/{job['id']}/logs",
        f"/v1/jobs/{job['id']}/why",
    ):
        answer = api.get(path, headers=other)
        assert answer.status_code == 404, path
    assert api.post(f"/v1/jobs/{job['id']}/cancel", headers=other).status_code == 404
    assert api.get("/v1/jobs", headers=other).json()["items"] == []
    # the tenant filter is ignored for tenants: they cannot list another tenant's jobs by asking
    assert api.get(f"/v1/jobs?tenant={city.ids['acme']}", headers=other).json()["items"] == []
    assert api.get(f"/v1/tenants/{city.ids['acme']}", headers=other).status_code == 404
    assert api.get(f"/v1/tenants/{city.ids['acme']}/users", headers=other).status_code == 404


def test_city_admins_and_auditors_see_every_tenant(api, city: City):
    api.post("/v1/jobs", json=JOB, headers=bearer(city.tokens["acme-dev"]))
    for who in ("admin", "auditor"):
        items = api.get("/v1/jobs", headers=bearer(city.tokens[who])).json()["items"]
        assert len(items) == 1, who


def test_auditors_change_nothing(api, city: City):
    auditor = bearer(city.tokens["auditor"])
    assert api.post("/v1/tenants", json={"name": "x", "kind": "enterprise"}, headers=auditor).status_code == 403
    assert api.post("/v1/jobs", json=JOB, headers=auditor).status_code == 403
    assert (
        api.post(
            f"/v1/tenants/{city.ids['acme']}/users", json={"name": "sneaky", "role": "tenant_member"}, headers=auditor
        ).status_code
        == 403
    )


def test_roles_are_enforced(api, city: City):
    dev = bearer(city.tokens["acme-dev"])
    assert api.post("/v1/tenants", json={"name": "x", "kind": "enterprise"}, headers=dev).status_code == 403
    assert (
        api.post("/v1/centres", json={"name": "c", "operator_tenant_id": city.ids["ops"]}, headers=dev).status_code
        == 403
    )
    # a tenant admin adds members to their own tenant, but cannot mint city admins
    admin = bearer(city.tokens["acme-admin"])
    assert (
        api.post(
            f"/v1/tenants/{city.ids['acme']}/users", json={"name": "new-dev", "role": "tenant_member"}, headers=admin
        ).status_code
        == 201
    )
    assert (
        api.post(
            f"/v1/tenants/{city.ids['acme']}/users", json={"name": "boss", "role": "city_admin"}, headers=admin
        ).status_code
        == 403
    )
    # members cancel only their own jobs; admins cancel any of their tenant's
    job = api.post("/v1/jobs", json=JOB, headers=admin).json()
    assert api.post(f"/v1/jobs/{job['id']}/cancel", headers=dev).status_code == 403
    assert api.post(f"/v1/jobs/{job['id']}/cancel", headers=admin).json()["state"] == "cancelled"


def test_agent_tokens_only_speak_the_agent_protocol_for_their_centre(api, city: City):
    agent = bearer(city.agent_tokens["gpu"])
    assert api.get("/v1/jobs", headers=agent).status_code == 403
    assert api.post("/v1/jobs", json=JOB, headers=agent).status_code == 403
    assert api.get("/v1/agent/centre", headers=agent).json()["name"] == "gpu"
    assert api.post("/v1/agent/lease", json={}, headers=bearer(city.tokens["acme-dev"])).status_code == 403


def test_suspended_tenant_cannot_submit(api, city: City):
    api.patch(f"/v1/tenants/{city.ids['acme']}", json={"status": "suspended"}, headers=bearer(city.admin_token))
    answer = api.post("/v1/jobs", json=JOB, headers=bearer(city.tokens["acme-dev"]))
    assert answer.status_code == 403 and "suspended" in answer.json()["detail"]
