"""Room that only some waiting jobs can use.

A job that can run in several pools should not take the last room of a pool that other waiting jobs need
because they can run nowhere else (a pod that fits only the H800s, code that builds only for CANN). Each cycle
counts, per pool, the units (accelerators; cores in CPU pools) asked for by waiting jobs whose only candidate
is that pool: its *captive demand*. A pool is *contested* for a flexible job when taking the job's room would
leave less free than that demand; the job then prefers its other pools, and takes a contested one only when
it has nothing else.

Across cycles, `pressure` reads the scheduler cache's recent (decayed) demand per model from jobs that accept
at most RESTRICTED models, relative to the model's capacity: a model specialised work has been asking for
weighs as dearer when a flexible job chooses among equally fast pools, so long-running flexible work does not
settle there before that work arrives.

Lasting work is spread. Before anyone has asked for a model that only some jobs can use, nothing says which pools
to keep: a flexible service placed on the cheapest pool in an empty city holds it for months, and the jobs that
come later and can run only there wait for months behind it. So work expected to hold its room past a day may fill
at most LASTING_SHARE of any pool's cards (or cores) while another pool can take it, finishing at most LASTING_SLACK
later (`Lasting`): every pool keeps room that short or captive work can count on.

Whole nodes. A job that needs part of a node fills a node already in use rather than break a wholly free one,
where that costs it no more and it finishes at most PACKING_SLACK later; while waiting jobs need whole nodes of
the pool it would break one in, at any speed (`Scarcity.instead_of_breaking`). Within a pool, nodes are already
chosen fullest first; this keeps small jobs from spreading over pools (the fastest first, then the next) until
no pool has a free node left for the jobs that need whole ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from decimal import Decimal
from typing import Protocol, TypeVar

from suanli.scheduling import fit
from suanli.scheduling.evaluate import Cycle, Shapes
from suanli.scheduling.snapshot import PendingJob, PoolState, Snapshot

RESTRICTED = 2  # a job that accepts at most this many accelerator models adds to their recent demand
PACKING_SLACK = 0.5  # a part-node job takes a used node over a whole free one if it finishes at most this much later
LASTING_S = 86_400  # a job expected to hold its cards longer than this (a day) is lasting: see Contention
LASTING_SLACK = 0.5  # a lasting job moves to a less contended model if it finishes at most this much later
CONTENTION_RATIO = 0.5  # ... where the models' contention is at most this share of the chosen model's
LASTING_SHARE = 0.5  # lasting work may fill at most this share of a pool's cards or cores while it can go elsewhere


class Choice(Protocol):
    """A pool that can start a job now, on these nodes, for this long, at this cost (the policy's option)."""

    @property
    def pool(self) -> PoolState: ...
    @property
    def nodes(self) -> tuple[int, ...]: ...
    @property
    def runtime(self) -> float: ...
    @property
    def cost(self) -> Decimal: ...


C = TypeVar("C", bound=Choice)


def units(job: PendingJob, pool: PoolState) -> float:
    """What the job takes from the pool: accelerators, or cores in a CPU pool, over all its nodes."""
    accel, cpus, _ = fit.demand_per_node(job, pool)
    return (cpus if pool.is_cpu else accel) * job.request.nodes


class Scarcity:
    def __init__(self, cycle: Cycle, shapes: Shapes) -> None:
        """`shapes`: `by_shape` of the waiting jobs (each job's shape key, one job per shape)."""
        self.cycle = cycle
        self.captive: dict[str, float] = {}
        self.free: dict[str, float] = {}
        self._only: dict[Hashable, str | None] = {}
        self._whole: dict[Hashable, list[PoolState]] = {}
        self.whole: dict[str, int] = {}  # pool -> whole nodes its waiting whole-node jobs ask for
        keys, one_each = shapes
        count = Counter(keys)
        for key, job in one_each.items():
            pool = self._sole_pool(job)
            if pool is not None:
                self.captive[pool.pool_id] = self.captive.get(pool.pool_id, 0.0) + count[key] * units(job, pool)
            for pool in self._whole_pools(job):
                self.whole[pool.pool_id] = self.whole.get(pool.pool_id, 0) + count[key] * job.request.nodes
        for pool_id in self.captive:
            free = cycle.free[pool_id]
            self.free[pool_id] = float(sum(free.cpus) if free.cpu_pool else sum(free.accel))

    def _sole_pool(self, job: PendingJob) -> PoolState | None:
        key = job.key
        if key not in self._only:
            pools = self.cycle.candidates(job)
            self._only[key] = pools[0].pool_id if len(pools) == 1 else None
        only = self._only[key]
        return self.cycle.pools[only] if only is not None else None

    def _whole_pools(self, job: PendingJob) -> list[PoolState]:
        """The job's candidate pools in which it needs every accelerator of a node."""
        key = job.key
        pools = self._whole.get(key)
        if pools is None:
            pools = self._whole[key] = [p for p in self.cycle.candidates(job) if _needs_whole(job, p)]
        return pools

    def breaks_whole(self, job: PendingJob, pool: PoolState, nodes: Sequence[int]) -> bool:
        """Would the job take part of a node that is wholly free?"""
        if pool.is_cpu or _needs_whole(job, pool):
            return False
        free = self.cycle.free[pool.pool_id].accel
        return any(free[i] >= pool.accelerators_per_node for i in nodes)

    def instead_of_breaking(
        self, job: PendingJob, chosen: C, options: Sequence[C], pressed: dict[str, float] | None = None
    ) -> list[C]:
        """If `chosen` would break a whole free node: the options that fill nodes already in use instead, cost
        no more, are on models no more in demand (`pressed`) than the chosen one's, and finish the job at most
        PACKING_SLACK later (at any speed while waiting jobs need whole nodes of the chosen pool). Else none."""
        if not self.breaks_whole(job, chosen.pool, chosen.nodes):
            return []
        pressed = pressed or {}
        limit = pressed.get(chosen.pool.model, 0.0)
        kept = [
            o
            for o in options
            if o is not chosen
            and pressed.get(o.pool.model, 0.0) <= limit
            and not self.breaks_whole(job, o.pool, o.nodes)
            and o.cost <= chosen.cost  # priced last: most options in an empty city break a whole node too
        ]
        if self.whole.get(chosen.pool.pool_id, 0) > 0:
            return kept
        return [o for o in kept if o.runtime <= chosen.runtime * (1 + PACKING_SLACK)]

    def contested(self, job: PendingJob, pool: PoolState) -> bool:
        """Taking this job's room here would leave less than the jobs that can run only here still need."""
        need = self.captive.get(pool.pool_id, 0.0)
        if need <= 0 or self._sole_pool(job) is not None:
            return False
        return self.free[pool.pool_id] - units(job, pool) < need

    def placed(self, job: PendingJob, pool: PoolState) -> None:
        """The job took room in the pool this cycle."""
        for p in self._whole_pools(job):
            self.whole[p.pool_id] -= job.request.nodes
        if pool.pool_id not in self.captive:
            return
        taken = units(job, pool)
        self.free[pool.pool_id] -= taken
        if self._sole_pool(job) is not None:
            self.captive[pool.pool_id] -= taken


def _needs_whole(job: PendingJob, pool: PoolState) -> bool:
    """The job takes every accelerator of each node it uses in this (accelerator) pool."""
    return not pool.is_cpu and fit.demand_per_node(job, pool)[0] >= pool.accelerators_per_node


def units_per_model(snapshot: Snapshot) -> dict[str, float]:
    """The city's units of each model: accelerators, or nodes of a CPU pool."""
    units: dict[str, float] = {}
    for pool in snapshot.pools:
        units[pool.model] = units.get(pool.model, 0.0) + (
            len(pool.free) if pool.is_cpu else len(pool.free) * pool.accelerators_per_node
        )
    return units


def restricted_demand(asked: Mapping[frozenset[str], float]) -> dict[str, float]:
    """Recent demand per model from jobs that accept at most RESTRICTED models, each job's units spread
    evenly over its models (`asked`: recent units per set of accepted models, as `Snapshot.asked`)."""
    demand: dict[str, float] = {}
    for models, units in asked.items():
        if len(models) <= RESTRICTED:
            for model in models:
                demand[model] = demand.get(model, 0.0) + units / len(models)
    return demand


def pressure(snapshot: Snapshot) -> dict[str, float]:
    """Recent demand on each model relative to its capacity, scaled so the most pressed model is 1."""
    ratio = {m: snapshot.demand.get(m, 0.0) / c for m, c in units_per_model(snapshot).items() if c > 0}
    top = max(ratio.values(), default=0.0)
    return {m: r / top for m, r in ratio.items()} if top > 0 else {}


class Contention:
    """Who else recently asked for each model, from a lasting job's point of view.

    A job that holds its cards for days where jobs with fewer alternatives will want them (CUDA-only code
    beside code that also builds for CANN or DTK, say) leaves those jobs waiting for days. A model's
    *contention* for a job accepting models O is the units recently asked for (decayed, `Snapshot.asked`) by
    jobs that accept that model but not all of O, each job's units spread evenly over the models it accepts,
    per card of the model in the city. Jobs that can go wherever this one can are not counted."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.asked = snapshot.asked
        self.cards = units_per_model(snapshot)
        self._of: dict[frozenset[str], dict[str, float]] = {}

    def of(self, job: PendingJob) -> dict[str, float]:
        """Each of the job's models' contention (absent: none)."""
        options = frozenset(o.model for o in job.request.options)
        known = self._of.get(options)
        if known is None:
            units: dict[str, float] = {}
            for models, asked in self.asked.items():
                if models >= options:
                    continue
                share = asked / len(models)
                for model in models & options:
                    units[model] = units.get(model, 0.0) + share
            known = self._of[options] = {m: u / self.cards[m] for m, u in units.items() if self.cards.get(m)}
        return known

    def lighter(
        self, job: PendingJob, chosen: C, options: Sequence[C], pressed: dict[str, float] | None = None
    ) -> C | None:
        """For a lasting job: an option on a model at most CONTENTION_RATIO of the chosen one's contention and
        no more in demand by restricted jobs (`pressed`), finishing at most LASTING_SLACK later; the least
        contended, then the soonest. None if the job is not lasting or there is none."""
        if chosen.runtime <= LASTING_S or not self.asked:
            return None
        contention = self.of(job)
        base = contention.get(chosen.pool.model, 0.0)
        if base <= 0:
            return None
        pressed = pressed or {}
        limit = chosen.runtime * (1 + LASTING_SLACK)
        most = pressed.get(chosen.pool.model, 0.0)
        kept = [
            o
            for o in options
            if o.runtime <= limit
            and contention.get(o.pool.model, 0.0) <= base * CONTENTION_RATIO
            and pressed.get(o.pool.model, 0.0) <= most * CONTENTION_RATIO
        ]
        return min(kept, key=lambda o: (contention.get(o.pool.model, 0.0), o.runtime, o.pool.pool_id), default=None)


class Lasting:
    """How much of each pool is held by lasting work: running jobs expected to end more than LASTING_S from now,
    and the lasting jobs placed this cycle, as a share of the pool's cards (and, apart, of its cores)."""

    def __init__(self, cycle: Cycle) -> None:
        self.held: dict[str, list[float]] = {}  # pool -> [cards, cores] held by lasting work
        horizon = cycle.now.timestamp() + LASTING_S
        for pool_id, timeline in cycle.timelines.items():
            cards = cores = 0.0
            for h in timeline.running:
                if h.expected.timestamp() > horizon:
                    cards += h.accel * len(h.nodes)
                    cores += h.cpus * len(h.nodes)
            self.held[pool_id] = [cards, cores]

    def share_with(self, job: PendingJob, pool: PoolState) -> float:
        """The largest share of the pool's cards or cores lasting work would hold with this job."""
        nodes = len(pool.free)
        if nodes == 0:
            return 1.0
        accel, cpus, _ = fit.demand_per_node(job, pool)
        cards, cores = self.held[pool.pool_id]
        n = job.request.nodes
        card_share = (cards + accel * n) / (nodes * pool.accelerators_per_node) if pool.accelerators_per_node else 0.0
        core_share = (cores + cpus * n) / (nodes * pool.cpus_per_node) if pool.cpus_per_node else 0.0
        return max(card_share, core_share)

    def spread(self, job: PendingJob, options: Sequence[C]) -> list[C]:
        """For a job that would hold its room past a day: the options that keep lasting work within LASTING_SHARE
        of their pool, when one of them finishes it at most LASTING_SLACK later than the soonest of all; else
        all of them (it takes a full pool rather than wait)."""
        if not options or min(o.runtime for o in options) <= LASTING_S:
            return list(options)
        kept = [o for o in options if self.share_with(job, o.pool) <= LASTING_SHARE]
        if not kept or len(kept) == len(options):
            return list(options)
        if min(o.runtime for o in kept) > min(o.runtime for o in options) * (1 + LASTING_SLACK):
            return list(options)
        return kept

    def placed(self, job: PendingJob, pool: PoolState, runtime: float) -> None:
        """The job took room in the pool this cycle (counted when it is lasting)."""
        if runtime <= LASTING_S:
            return
        accel, cpus, _ = fit.demand_per_node(job, pool)
        held = self.held[pool.pool_id]
        held[0] += accel * job.request.nodes
        held[1] += cpus * job.request.nodes
