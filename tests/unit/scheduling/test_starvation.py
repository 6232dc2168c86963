"""No tenant starves: a job that has waited STARVE_AFTER_S since it was queued may stop preemptible work of its own
priority, of a tenant that holds more than its own will, when no other rule gives it room."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from suanli.scheduling import decide
from suanli.scheduling.fairness import TenantShare
from suanli.scheduling.policies.suanli import PREEMPT_SCAN, RESERVE_TOP
from suanli.scheduling.preemption import (
    LOSS_RATIO,
    STARVE_AFTER_S,
    STARVE_RATIO,
    STARVED_NO_ROOM,
    STARVED_NOTE,
    protection,
)
from suanli.scheduling.snapshot import PendingJob, RunningJob, Snapshot
from tests.unit.scheduling.builders import T0, job, pool, running

HOUR = 3600
DAY = 24 * HOUR


def city(*held, shares: dict[str, float] | None = None, nodes: int = 1) -> Snapshot:
    """One A100 pool with no free card, the running jobs `held`, and each tenant's holding in the city (default:
    "rich" holds 24 cards, here and elsewhere; "poor" none)."""
    if shares is None:
        shares = {"rich": 24.0}
    tenants = {t: TenantShare(t, held=h) for t, h in shares.items()}
    tenants.setdefault("poor", TenantShare("poor"))
    return Snapshot((pool("p", nodes=nodes, free=[0] * nodes),), tuple(held), tenants)


def service(job_id: str = "svc", tenant: str = "rich", **kw) -> RunningJob:
    """A preemptible service holding the pool's node for a year, running for a month so far."""
    kw = {"started_ago": 30 * DAY, "preemptible": True, **kw}
    return running(job_id, "p", (0,), 8, ends_in=300 * DAY, tenant=tenant, service=True, **kw)


def hungry(job_id: str = "hungry", age: float = 2 * DAY, **kw) -> PendingJob:
    """The poor tenant's 8-card job of an hour, waiting `age` seconds."""
    return job(job_id, per_node=8, tenant="poor", age=int(age), estimates={"A100": HOUR}, **kw)


def stops(snapshot: Snapshot, *waiting, at=T0) -> list[tuple[str, str]]:
    return [(p.job_id, p.for_job) for p in decide(snapshot, list(waiting), "suanli", at).preemptions]


def test_a_job_waiting_a_day_stops_a_richer_tenants_preemptible_service_of_its_priority():
    snapshot = city(service())
    result = decide(snapshot, [hungry(age=STARVE_AFTER_S + 60)], "suanli", T0)
    assert [(p.job_id, p.for_job) for p in result.preemptions] == [("svc", "hungry")]
    assert "has waited over 24 h" in result.preemptions[0].reason
    assert result.notes["hungry"].startswith("waiting: c1/p room is being made: 1 preemptible job(s) stopped")
    # a minute short of a day, it waits
    assert stops(snapshot, hungry(age=STARVE_AFTER_S - 60)) == []


def test_a_long_job_starves_only_after_waiting_several_times_its_runtime_and_a_service_after_a_day():
    snapshot = city(service())
    long = job("long", per_node=8, tenant="poor", estimates={"A100": DAY})
    assert stops(snapshot, replace(long, submitted_at=T0 - timedelta(days=3))) == []
    assert stops(snapshot, replace(long, submitted_at=T0 - timedelta(seconds=STARVE_RATIO * DAY + 60))) != []
    endless = job("endless", per_node=8, tenant="poor", age=DAY + 60, max_runtime=365 * DAY, service=True)
    assert stops(snapshot, endless) == [("svc", "endless")]


def test_a_starving_job_stops_only_preemptible_work_of_no_higher_priority_of_other_richer_tenants():
    waiting = hungry()
    assert stops(city(service(preemptible=False)), waiting) == []  # not preemptible
    assert stops(city(service(priority=60)), waiting) == []  # higher priority
    assert stops(city(service(tenant="poor"), shares={"poor": 0.0}), waiting) == []  # its own tenant's
    # the tenant it would take from would be left holding less than the starving one: 16 - 8 < 4 + 8 (or the
    # same, in a swap: 8 - 8 < 0 + 8, which the other could swap back a day later)
    assert stops(city(service(), shares={"rich": 16.0, "poor": 4.0}), waiting) == []
    assert stops(city(service(), shares={"rich": 8.0, "poor": 0.0}), waiting) == []
    # ... and richer enough, it is stopped: 24 - 8 >= 4 + 8
    assert stops(city(service(), shares={"rich": 24.0, "poor": 4.0}), waiting) == [("svc", "hungry")]
    # a lower priority is stopped in any case (the ordinary rule), richer or not
    assert stops(city(service(priority=10), shares={"rich": 8.0, "poor": 8.0}), waiting) == [("svc", "hungry")]


def test_a_starving_job_never_throws_away_more_than_twice_the_work_it_has_waited():
    assert LOSS_RATIO == 2.0
    # a batch job of the richer tenant that has run 5 days on 8 cards: more than twice 2 days waited on 8 cards
    batch = running("batch", "p", (0,), 8, ends_in=DAY, tenant="rich", preemptible=True, started_ago=5 * DAY)
    waiting = hungry()
    assert stops(city(batch), waiting) == []
    fresher = running("batch", "p", (0,), 8, ends_in=DAY, tenant="rich", preemptible=True, started_ago=4 * DAY)
    assert stops(city(fresher), waiting) == [("batch", "hungry")]
    # a service has no work to lose, however long it has run
    assert stops(city(service(started_ago=300 * DAY)), waiting) == [("svc", "hungry")]


def test_work_that_started_before_a_job_came_does_not_hold_it_back_for_ever():
    """Batch work that had run 10 days when a job was queued has always run longer than the job has waited; the
    job may stop it once it has waited as long as that (10 days), not before."""

    def at(waited: float) -> list[tuple[str, str]]:
        batch = running(
            "batch", "p", (0,), 8, ends_in=300 * DAY, tenant="rich", preemptible=True, started_ago=10 * DAY + waited
        )
        return stops(city(batch), hungry(age=waited))

    assert at(2 * DAY) == [] and at(9 * DAY) == []
    assert at(10 * DAY + HOUR) == [("batch", "hungry")]


def test_a_requeued_job_counts_its_wait_from_when_it_was_queued_again():
    assert stops(city(service()), hungry(age=3 * DAY, queued_ago=HOUR)) == []
    assert stops(city(service()), hungry(age=3 * DAY, queued_ago=DAY)) != []


def test_a_job_starving_far_down_the_queue_is_looked_at():
    # the head is full of higher-priority jobs (priority ranks first) for a full H800 pool where nothing may be
    # stopped: the starving job ranks below the PREEMPT_SCAN jobs looked at first
    base = city(service())
    h800 = pool("q", "H800", nodes=1, free=[0], centre="c2")
    held = running("h", "q", (0,), 8, ends_in=DAY, tenant="other")
    snapshot = Snapshot((*base.pools, h800), (*base.running, held), base.tenants)
    ahead = [job(f"new{i}", "H800", per_node=8, tenant="other", priority=60) for i in range(PREEMPT_SCAN + 4)]
    result = decide(snapshot, [*ahead, hungry()], "suanli", T0)
    assert [(p.job_id, p.for_job) for p in result.preemptions] == [("svc", "hungry")]


def test_the_policy_says_when_time_alone_could_change_its_mind():
    waiting = hungry(age=DAY - HOUR)
    result = decide(city(service()), [waiting], "suanli", T0)
    assert result.preemptions == () and result.revisit_at == T0 + timedelta(hours=1)  # when the job starves
    # nothing preemptible runs: time alone changes nothing here
    assert decide(city(service(preemptible=False)), [waiting], "suanli", T0).revisit_at is None
    # a starving job, and the only job it could stop is still protected: look again when the protection ends
    young = service(started_ago=60)
    protected = decide(city(young), [hungry()], "suanli", T0)
    assert protected.preemptions == ()
    assert protected.revisit_at == young.started_at + timedelta(seconds=protection(young))


def test_a_starving_job_never_takes_what_a_tenant_is_guaranteed():
    waiting = hungry()
    contracted = city(service())
    contracted = Snapshot(
        contracted.pools, contracted.running, {**contracted.tenants, "rich": TenantShare("rich", held=24.0, quota=20.0)}
    )
    assert stops(contracted, waiting) == []  # 24 - 8 < 20
    borrowing = Snapshot(
        contracted.pools, contracted.running, {**contracted.tenants, "rich": TenantShare("rich", held=24.0, quota=16.0)}
    )
    assert stops(borrowing, waiting) == [("svc", "hungry")]


def test_a_starving_job_that_may_not_stop_anything_says_which_rule_holds_it_back_naming_no_other_tenant():
    def note(snapshot: Snapshot, waiting: PendingJob) -> str:
        result = decide(snapshot, [waiting], "suanli", T0)
        assert result.preemptions == ()
        return result.notes.get(waiting.job_id, "")

    waiting = hungry()
    poorer = note(city(service(), shares={"rich": 16.0, "poor": 4.0}), waiting)
    # after its reservation (the service's end, in 300 days), the rule that holds it back
    assert poorer.startswith("waiting: c1/p reserved")
    assert poorer.endswith(
        "; "
        + STARVED_NOTE
        + "stopping the jobs that would make its room would leave their tenant holding less than yours"
    )
    guaranteed = Snapshot(
        (pool("p", nodes=1, free=[0]),), (service(),), {"rich": TenantShare("rich", held=24.0, quota=20.0)}
    )
    assert note(guaranteed, waiting).endswith("are within their tenant's guaranteed quota")
    batch = running("batch", "p", (0,), 8, ends_in=DAY, tenant="rich", preemptible=True, started_ago=5 * DAY)
    assert note(city(batch), waiting).endswith(
        "have run more than 2 times as long as it has waited, and would lose that work"
    )
    assert note(city(service(started_ago=60)), waiting).endswith(STARVED_NOTE + STARVED_NO_ROOM)  # only protected
    assert note(city(service(priority=60)), waiting).endswith(STARVED_NOTE + STARVED_NO_ROOM)  # a higher priority
    for text in (poorer, note(guaranteed, waiting)):
        assert "rich" not in text
    # not starving yet: only its reservation
    assert STARVED_NOTE not in note(city(service(), shares={"rich": 16.0, "poor": 4.0}), hungry(age=HOUR))


def test_every_starving_job_of_a_shape_is_told_not_only_the_first():
    twins = [hungry(f"h{i}", age=2 * DAY - i) for i in range(RESERVE_TOP + 2)]  # the last two hold no reservation
    notes = decide(city(service(priority=60)), twins, "suanli", T0).notes
    assert [notes.get(j.job_id, "").endswith(STARVED_NOTE + STARVED_NO_ROOM) for j in twins] == [True] * len(twins)
    assert notes["h9"] == "waiting: " + STARVED_NOTE + STARVED_NO_ROOM
