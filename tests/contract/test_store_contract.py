"""The store port's contract, on the SQL store (SQLite/PostgreSQL) and on the in-memory fake alike."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from suanli.domain.errors import AlreadyExists, Conflict
from suanli.domain.jobs.model import Job, JobEvent
from suanli.domain.jobs.spec import parse_spec
from suanli.domain.jobs.states import JobState
from suanli.domain.tenants import Role, Tenant, TenantKind, TenantStatus, User, UserStatus
from suanli.ports import JobFilter

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def tenant(name: str = "acme") -> Tenant:
    return Tenant(f"tnt_{name}", name, name, TenantKind.ENTERPRISE, True, "Qingdao", "", TenantStatus.ACTIVE, T0)


def job(job_id: str, key: str | None = None, state: JobState = JobState.QUEUED) -> Job:
    spec = parse_spec({"name": "t", "run": "x"})
    return Job(job_id, "tnt_acme", "usr_1", "t", spec.kind, state, spec, 50, T0, T0, idempotency_key=key)


@pytest.fixture
def seeded(store):
    with store.uow() as uow:
        uow.tenants.add(tenant())
        uow.users.add(User("usr_1", "tnt_acme", "ann", "Ann", "", Role.TENANT_MEMBER, UserStatus.ACTIVE, T0))
    return store


def test_a_failed_unit_of_work_leaves_nothing_behind(seeded):
    with pytest.raises(RuntimeError), seeded.uow() as uow:
        uow.tenants.add(tenant("globex"))
        uow.jobs.add(job("job_1"), [JobEvent("job_1", T0, None, JobState.QUEUED, "queued", "ann")])
        raise RuntimeError("boom")
    with seeded.uow() as uow:
        assert uow.tenants.get_by_name("globex") is None
        assert uow.jobs.get("job_1") is None
        assert uow.jobs.in_states([JobState.QUEUED]) == []


def test_unique_names_and_idempotency_keys(seeded):
    with pytest.raises(AlreadyExists), seeded.uow() as uow:
        uow.tenants.add(replace(tenant(), id="tnt_other"))
    with seeded.uow() as uow:
        uow.jobs.add(job("job_1", key="k"), [])
    with pytest.raises(AlreadyExists), seeded.uow() as uow:
        uow.jobs.add(job("job_2", key="k"), [])
    with seeded.uow() as uow:
        assert uow.jobs.get_by_idempotency_key("tnt_acme", "k").id == "job_1"
        assert uow.jobs.get("job_2") is None


def test_job_updates_are_compare_and_set(seeded):
    with seeded.uow() as uow:
        uow.jobs.add(job("job_1"), [])
    with seeded.uow() as uow:
        first = uow.jobs.get("job_1")
        moved = replace(first, state=JobState.CANCELLED)
        uow.jobs.transition(first, moved, JobEvent("job_1", T0, JobState.QUEUED, JobState.CANCELLED, "x", "ann"))
    with pytest.raises(Conflict), seeded.uow() as uow:
        uow.jobs.transition(
            first,
            replace(first, state=JobState.PLACED),
            JobEvent("job_1", T0, JobState.QUEUED, JobState.PLACED, "late", "scheduler"),
        )
    with seeded.uow() as uow:
        stored = uow.jobs.get("job_1")
        assert stored.state is JobState.CANCELLED and stored.version == 1
        assert [e.reason for e in uow.jobs.events("job_1")] == ["x"]
        assert [j.id for j in uow.jobs.in_states([JobState.CANCELLED])] == ["job_1"]
        assert uow.jobs.in_states([JobState.QUEUED]) == []


def test_listing_filters_and_pages_newest_first(seeded):
    with seeded.uow() as uow:
        for i in range(5):
            uow.jobs.add(job(f"job_{i}", state=JobState.QUEUED if i % 2 else JobState.FAILED), [])
    with seeded.uow() as uow:
        everything = uow.jobs.list(JobFilter(tenant_id="tnt_acme"), 10)
        assert [j.id for j in everything] == ["job_4", "job_3", "job_2", "job_1", "job_0"]
        page = uow.jobs.list(JobFilter(states=(JobState.QUEUED,)), 1, before_id="job_3")
        assert [j.id for j in page] == ["job_1"]
        assert uow.jobs.list(JobFilter(tenant_id="tnt_other"), 10) == []
