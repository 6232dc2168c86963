"""The order in which `suanli` looks at waiting jobs: priority first; then the jobs that fit in what is left
of their tenant's quota; then fair queueing between tenants, by weight, from what each holds and has recently
used; highest response ratio first within a tenant. Columns are read in C and sorted with NumPy, as a cycle may
order 100,000 jobs."""

from __future__ import annotations

import itertools
import operator
from collections.abc import Hashable, Sequence
from datetime import datetime

import numpy as np

from suanli.scheduling.evaluate import Cycle, Shapes, by_shape
from suanli.scheduling.order import lexorder
from suanli.scheduling.snapshot import PendingJob, Snapshot

USAGE_WINDOW_S = 7 * 86400.0  # decayed usage over this window counts as an average rate held

_ID = operator.attrgetter("job_id")
_TENANT = operator.attrgetter("tenant_id")
_PRIORITY = operator.attrgetter("priority")
_SUBMITTED = operator.attrgetter("submitted_ts")
_SIZE = operator.attrgetter("request.size")
_QUICKEST = operator.attrgetter("quickest")


def rank(
    snapshot: Snapshot,
    pending: Sequence[PendingJob],
    cycle: Cycle,
    now: datetime,
    shapes: Shapes | None = None,
) -> list[PendingJob]:
    """Priority first; then the jobs that fit in what is left of their tenant's quota (`_outside_quota`); then
    fair queueing between tenants: each tenant's
    jobs, highest response ratio first, take turns by a counter that starts at what the tenant holds now
    (plus its recent usage, as an average rate) over its weight and grows by each job's size. The tenant
    furthest below its share goes next, whatever the size of its jobs; short jobs go first within a tenant
    and long ones age towards the front. `shapes`: `by_shape(pending)`, when the caller has it already."""
    n = len(pending)
    if n == 0:
        return []
    keys, one_each = shapes if shapes is not None else by_shape(pending)
    ids = list(map(_ID, pending))
    usable_by_shape: dict[Hashable, frozenset[str] | None] = {}  # None: every model the shape accepts
    for key, job in one_each.items():
        usable = frozenset(p.model for p in cycle.candidates(job))
        options = job.request.options
        usable_by_shape[key] = None if options and usable.issuperset(o.model for o in options) else usable
    if all(usable is None for usable in usable_by_shape.values()):
        best_a = np.fromiter(map(_QUICKEST, pending), dtype=float, count=n)
    else:
        best_a = np.array(
            [
                job.quickest if (usable := usable_by_shape[key]) is None else _quickest_on(job, usable)
                for key, job in zip(keys, pending, strict=True)
            ],
            dtype=float,
        )
    # columns read in C (map over attribute getters), not a Python loop per job: 100,000 jobs a cycle
    tenant_ids = list(map(_TENANT, pending))
    codes = {t: code for code, t in enumerate(dict.fromkeys(tenant_ids))}  # in order of first appearance
    tenants = list(codes)
    tenant_a = np.fromiter(map(codes.__getitem__, tenant_ids), dtype=np.int64, count=n)
    priority = np.fromiter(map(_PRIORITY, pending), dtype=np.int64, count=n)
    submitted = np.fromiter(map(_SUBMITTED, pending), dtype=float, count=n)
    sizes = np.fromiter(map(_SIZE, pending), dtype=float, count=n)
    ratio = (np.maximum(0.0, now.timestamp() - submitted) + best_a) / np.maximum(best_a, 60.0)
    # within each (priority, tenant): highest response ratio first, each job's turn is the tenant's counter
    within = lexorder((-priority, tenant_a, -ratio, submitted), ids)
    weights, starts = [], []
    for t in tenants:
        share = snapshot.tenants.get(t)
        weight = share.weight if share is not None and share.weight > 0 else 1.0
        weights.append(weight)
        starts.append((share.held + share.usage / USAGE_WINDOW_S) / weight if share is not None else 0.0)
    ordered_tenants = tenant_a[within]
    steps = sizes[within] / np.array(weights)[ordered_tenants]
    firsts = np.ones(n, dtype=bool)
    firsts[1:] = (np.diff(priority[within]) != 0) | (np.diff(ordered_tenants) != 0)
    edges = [*np.flatnonzero(firsts).tolist(), n]
    turn = np.empty(n)
    for a, b in itertools.pairwise(edges):
        # the counter starts at the tenant's standing and grows by each job's size (added in order)
        run = np.concatenate(([starts[int(ordered_tenants[a])]], steps[a : b - 1]))
        turn[within[a:b]] = np.cumsum(run)
    outside = _outside_quota(snapshot, tenants, ordered_tenants, sizes[within], within, n)
    order = lexorder((-priority, outside, turn, -ratio), ids)
    return list(map(pending.__getitem__, order.tolist()))


def _outside_quota(
    snapshot: Snapshot,
    tenants: list[str],
    ordered_tenants: np.ndarray,
    ordered_sizes: np.ndarray,
    within: np.ndarray,
    n: int,
) -> np.ndarray:
    """1 for each job not inside its tenant's quota, 0 for those that are: in the tenant's own order (`within`),
    each job whose cards fit in what is left of the quota (less what the tenant holds, a card counted as an
    A100-equivalent) takes that room; the rest of a tenant's backlog queues with everyone else's, so a tenant
    a little under its quota does not put all its queue ahead of every other tenant."""
    outside = np.ones(n, dtype=np.int64)
    for code, tenant in enumerate(tenants):
        share = snapshot.tenants.get(tenant)
        if share is None or share.quota <= 0 or share.held >= share.quota:
            continue
        room = share.quota - share.held
        at = np.flatnonzero((ordered_tenants == code) & (ordered_sizes <= room + 1e-9))
        for position, size in zip(at.tolist(), ordered_sizes[at].tolist(), strict=True):
            if size <= room + 1e-9:
                outside[within[position]] = 0
                room -= size
                if room < 1 - 1e-9:
                    break
    return outside


def _quickest_on(job: PendingJob, usable: frozenset[str]) -> float:
    """The job's expected runtime on the fastest of the models it can use now (its max_runtime if none)."""
    for seconds, model in job.fastest:
        if model in usable:
            return seconds
    return float(job.max_runtime_s)
