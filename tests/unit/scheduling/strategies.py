"""Hypothesis draws shared by the scheduling property tests."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

from suanli.scheduling.snapshot import RunningJob
from tests.unit.scheduling.builders import running

HOUR = 3600


def running_job(
    draw: st.DrawFn,
    job_id: str,
    pool_id: str,
    node: int,
    size: int,
    *,
    tenants: Sequence[str],
    priorities: Sequence[int] = (10, 50, 90),
    hours: int = 24,
) -> RunningJob:
    """A job holding `size` accelerators on one node: any tenant and priority, maybe preemptible, maybe being
    stopped, some too recently started to preempt (or requeued before, or with no requeue left)."""
    return running(
        job_id,
        pool_id,
        (node,),
        size,
        ends_in=draw(st.integers(1, hours)) * HOUR,
        tenant=draw(st.sampled_from(tenants)),
        priority=draw(st.sampled_from(priorities)),
        preemptible=draw(st.booleans()),
        started_ago=draw(st.sampled_from([60, 600, 3 * HOUR])),
        stopping=draw(st.integers(0, 4)) == 0,
        requeues=draw(st.sampled_from([0, 0, 1, 3])),
        requeues_left=draw(st.sampled_from([10, 10, 1, 0])),
    )
