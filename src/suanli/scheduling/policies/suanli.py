"""`suanli`: the platform's own policy. It weighs, for every job at once, fit, speed, price, predicted
wait, fairness between tenants, priority and preemption, and backfills around reservations.

Order. Jobs go by priority first. Within a priority, the jobs that fit in what is left of their tenant's quota
come first (in the tenant's own order, each taking its cards from what is left; the rest of its backlog queues
with everyone else's); then tenants take
turns in proportion to their weights (fair queueing: a tenant's turn starts at what it holds now plus its
decayed usage, over its weight, and grows by the size of each of its jobs ahead), so the tenant furthest below
its share goes next. Within a tenant, the highest response ratio goes first ((waited + runtime) / runtime, as
in highest-response-ratio-next: short jobs go early, long ones age to the front).

Placement. For each job, every pool it fits is priced and timed: runtime on that pool's model (the
estimate, from nameplate FP16 and the tenant's history), start (now, or predicted from what runs there), and
cost (price x units x runtime). Among pools that can start it now, it takes the one that finishes it soonest;
pools finishing within 15% of that count as equally fast, and the cheapest of them wins. A job near the head
of the queue may instead wait for a pool that would finish it at least 25% sooner. Scarce room is kept for the
jobs that need it (`scheduling.scarcity`): a job that could run elsewhere leaves the room that waiting jobs can
use only there, and a model recently asked for by jobs that accept few others weighs as dearer; a job that needs
part of a node fills one already in use rather than break a whole free node (no dearer, at most 50% slower);
work expected to hold its room past a day fills at most half of any pool's cards or cores while another pool
finishes it at most 50% later (`scarcity.Lasting`), so every pool keeps room for work that comes later.

Reservations and backfill. The first jobs that cannot start (up to 8) get reservations in the pool where
they would finish first, starting when the running jobs there are expected to end (so nodes drain for them
early); a job reserved in a pool last cycle stays there unless another pool would finish it 25% sooner (the
nodes already drained for it are not given up for a small gain). Any later job starts now only if, by its own
max_runtime, it cannot delay a reservation.

Preemption. A waiting job may stop preemptible jobs of strictly lower priority (or, for a tenant inside its
quota, preemptible jobs of tenants borrowing beyond theirs, a tenant without a quota borrowing all it holds,
if the job keeps its tenant within the quota)
when that alone makes room for it in one pool; whole gangs are stopped, the least work lost first and none
the job does not need, and they are requeued. Jobs already being stopped (or cancelled) still hold their room
for a few cycles: that room is counted on first, one waiting job each, and what one job is promised is not
counted again for the next. Equal priorities never preempt each other and a reclaim never leaves its tenant
borrowing, so preemption cannot loop.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Hashable, Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np

from suanli.domain.money import format_price
from suanli.scheduling import fit, preemption
from suanli.scheduling.capacity import PoolFree
from suanli.scheduling.decisions import CycleResult, PoolReason, Preemption, ReasonCode
from suanli.scheduling.evaluate import Cycle, by_shape
from suanli.scheduling.policies import register
from suanli.scheduling.ranking import rank
from suanli.scheduling.scarcity import LASTING_SHARE, Contention, Lasting, Scarcity, pressure
from suanli.scheduling.snapshot import PendingJob, PoolState, RunningJob, Snapshot

RESERVE_TOP = 8
SPEED_SLACK = 0.15
WAIT_FOR_FASTER = 0.25
MAX_WAIT_FOR_FASTER = 0.1  # ... if that wait is at most this share of the job's runtime where it could start now
PREEMPT_SCAN = 16  # waiting jobs considered for preemption per cycle
PRESSURE_WEIGHT = 20.0
SLIP_TOLD = timedelta(hours=1)  # a reservation whose start has slipped this far since first promised says so

_MAX_RUNTIME = operator.attrgetter("max_runtime_s")


class Option:
    """A pool that can start the job now: on which nodes, for how long, and (worked out when first asked,
    as only the options about as fast as the fastest are priced) at what cost. A job's options share
    `amounts`: its unit-hours per (units, runtime), the same on every pool of one model."""

    __slots__ = ("_cost", "amounts", "job", "nodes", "pool", "runtime")

    def __init__(
        self,
        job: PendingJob,
        pool: PoolState,
        nodes: tuple[int, ...],
        runtime: float,
        amounts: dict[tuple[float, float], Decimal],
    ) -> None:
        self.job, self.pool, self.nodes, self.runtime = job, pool, nodes, runtime
        self.amounts = amounts
        self._cost: Decimal | None = None

    @property
    def cost(self) -> Decimal:
        if self._cost is None:
            job, pool = self.job, self.pool
            accel, cpus, _ = fit.demand_per_node(job, pool)
            units = (accel or cpus) * job.request.nodes
            amount = self.amounts.get((units, self.runtime))
            if amount is None:
                amount = self.amounts[units, self.runtime] = _unit_hours(units, self.runtime)
            self._cost = (pool.price_for(job.preemptible) or Decimal(0)) * amount
        return self._cost


class Suanli:
    name = "suanli"

    def decide(self, snapshot: Snapshot, pending: Sequence[PendingJob], now: datetime) -> CycleResult:
        cycle = Cycle(snapshot, now)
        shapes = by_shape(pending)
        ranked = rank(snapshot, pending, cycle, now, shapes)
        waiting: list[PendingJob] = []
        rejected: dict[str, tuple[PoolReason, ...]] = {}
        lead: dict[str, dict[str, PoolReason]] = {}
        notes: dict[str, str] = {}
        scarcity = Scarcity(cycle, shapes)
        contention = Contention(snapshot)
        lasting = Lasting(cycle)
        pressed = pressure(snapshot)
        checked, shortest = -1, None  # Cycle.marks when last checked for the end; each shape's shortest job
        for index, job in enumerate(ranked):
            if cycle.never_fits(job):
                rejected[job.job_id] = cycle.reasons(job)
                continue
            head = len(cycle.reservations) < RESERVE_TOP
            if not head and (cycle.stuck(job) or cycle.refused(job)):
                # no room for its shape, or none a job of its shape held no longer could use: nothing to try
                waiting.append(job)
                if cycle.marks != checked:
                    checked = cycle.marks
                    shortest = shortest or _shortest(shapes[0], pending)
                    if cycle.settled(shapes[1].values(), shortest):
                        # every reservation is made and no shape can start anywhere now: the rest simply wait
                        self._settle(cycle, ranked[index + 1 :], shapes[1].values(), waiting, rejected)
                        break
                continue
            options = [] if cycle.stuck(job) else self._options(cycle, job)
            spared = [o for o in options if not scarcity.contested(job, o.pool)] if scarcity.captive else options
            choices = spared or options
            spread = lasting.spread(job, choices)
            crowded = _fastest_then_cheapest(choices, pressed) if len(spread) < len(choices) else None
            choices = spread
            best = _fastest_then_cheapest(choices, pressed)
            if head:
                better = self._wait_for_faster(cycle, job, best)
                if better is not None and best is not None:
                    waiting.append(job)
                    why, slower = _faster_by(best, *better)
                    self._reserve(cycle, job, better[0], lead, notes, why, snapshot)
                    if job.job_id in lead:
                        lead[job.job_id][best.pool.pool_id] = slower
                    continue
            if best is not None:
                packed = scarcity.instead_of_breaking(job, best, choices, pressed)
                instead = best if packed else None
                best = _fastest_then_cheapest(packed, pressed) or best
                lighter = contention.lighter(job, best, choices, pressed)
                passed, best = (best, lighter) if lighter is not None else (None, best)
                explanation = _why(job, best, choices, len(options) - len(spared), instead, passed, crowded)
                cycle.place(job, best.pool, best.nodes, explanation)
                scarcity.placed(job, best.pool)
                lasting.placed(job, best.pool, best.runtime)
                continue
            waiting.append(job)
            if head:
                target = self._soonest_pool(cycle, job, snapshot.reserved.get(job.job_id))
                if target is not None:
                    self._reserve(cycle, job, target, lead, notes, "the soonest finish", snapshot)
        preemptions = self._preempt(cycle, snapshot, waiting, lead, notes, now)
        revisit = _revisit_at(snapshot, waiting, now)
        return cycle.result(cycle.explain(waiting, lead), rejected, preemptions, notes, revisit)

    @staticmethod
    def _settle(
        cycle: Cycle,
        rest: list[PendingJob],
        one_each: Iterable[PendingJob],
        waiting: list[PendingJob],
        rejected: dict[str, tuple[PoolReason, ...]],
    ) -> None:
        """Hand over the jobs left once nothing can start: those no pool can ever run are rejected, the rest wait
        (`one_each`: a job of each shape, to see whether any is never run)."""
        if not any(map(cycle.never_fits, one_each)):
            waiting += rest
            return
        for job in rest:
            if cycle.never_fits(job):
                rejected[job.job_id] = cycle.reasons(job)
            else:
                waiting.append(job)

    # ---------------------------------------------------------------------------- choosing a pool

    @staticmethod
    def _options(cycle: Cycle, job: PendingJob) -> list[Option]:
        """Pools that can start the job now without delaying a reservation."""
        options, room = [], False
        amounts: dict[tuple[float, float], Decimal] = {}
        for pool in cycle.candidates(job):
            nodes = cycle.fit_now(job, pool)
            if nodes is None:
                continue
            room = True
            if not cycle.backfill_ok(job, pool, nodes):
                continue
            runtime = cycle.runtime(job, pool)
            options.append(Option(job, pool, nodes, runtime, amounts))
        if not room:
            cycle.mark_stuck(job)
        elif not options:
            cycle.mark_refused(job)
        return options

    @staticmethod
    def _wait_for_faster(cycle: Cycle, job: PendingJob, best: Option | None) -> tuple[PoolState, float] | None:
        """A pool that, though busy now, would finish the job at least WAIT_FOR_FASTER sooner than `best`,
        for a wait of at most MAX_WAIT_FOR_FASTER of the job's runtime (the delay bought stays bounded), and the
        seconds from now to the job's expected end there."""
        if best is None or job.submitted_at < cycle.now - timedelta(seconds=MAX_WAIT_FOR_FASTER * best.runtime):
            return None
        threshold = best.runtime * (1 - WAIT_FOR_FASTER)
        target, soonest = None, threshold
        for pool in cycle.candidates(job):
            runtime = cycle.runtime(job, pool)
            if runtime >= soonest or pool.pool_id == best.pool.pool_id or not cycle.affordable(job, pool):
                continue
            start = cycle.predicted_start(job, pool)
            if start is None:
                continue
            wait = (start - cycle.now).total_seconds()
            if wait > MAX_WAIT_FOR_FASTER * best.runtime:
                continue
            if wait + runtime < soonest:
                target, soonest = pool, wait + runtime
        return None if target is None else (target, soonest)

    @staticmethod
    def _soonest_pool(cycle: Cycle, job: PendingJob, held: str | None = None) -> PoolState | None:
        """The pool that would finish the job first (the first in candidate order among equals), or `held`,
        the pool it was reserved in last cycle, unless the first finishes it WAIT_FOR_FASTER sooner. Pools are
        tried fastest first, and none is tried whose runtime alone already ends later than the best."""
        pools = [(cycle.runtime(job, p), k, p) for k, p in enumerate(cycle.candidates(job)) if cycle.affordable(job, p)]
        pools.sort(key=lambda t: (t[0], t[1]))
        best, best_key = None, (math.inf, math.inf)
        for runtime, k, pool in pools:
            if (runtime, k) >= best_key:
                if runtime > best_key[0]:
                    break
                continue
            start = cycle.predicted_start(job, pool)
            if start is None:
                continue
            finish = (start - cycle.now).total_seconds() + runtime
            if (finish, k) < best_key:
                best, best_key = pool, (finish, k)
        if held is not None and best is not None and held != best.pool_id:
            # the pool it was reserved in last cycle has drained for it: keep it unless another is much sooner
            kept = next(((runtime, pool) for runtime, _, pool in pools if pool.pool_id == held), None)
            start = cycle.predicted_start(job, kept[1]) if kept is not None else None
            if kept is not None and start is not None:
                finish = (start - cycle.now).total_seconds() + kept[0]
                if best_key[0] > finish * (1 - WAIT_FOR_FASTER):
                    return kept[1]
        return best

    @staticmethod
    def _reserve(
        cycle: Cycle,
        job: PendingJob,
        pool: PoolState,
        lead: dict[str, dict[str, PoolReason]],
        notes: dict[str, str],
        why: str,
        snapshot: Snapshot,
    ) -> None:
        reservation = cycle.reserve(job, pool, expected=True)
        if reservation is None:
            return
        hours = max(0.0, (reservation.start - cycle.now) / timedelta(hours=1))
        text = (
            f"reserved ({why}): expected to start in {hours:.1f} h ({reservation.start:%Y-%m-%d %H:%M} UTC), "
            "as the jobs running there are expected to end; nothing started later may delay it"
        )
        first = snapshot.promised.get(job.job_id) if snapshot.reserved.get(job.job_id) == pool.pool_id else None
        if first is not None and reservation.start - first >= SLIP_TOLD:
            # say so when the promise keeps receding (work there running past its expected end)
            text += (
                f"; first expected at {first:%Y-%m-%d %H:%M} UTC, "
                f"{(reservation.start - first) / timedelta(hours=1):.1f} h later now, as the work there has run "
                "longer than expected"
            )
        lead[job.job_id] = {
            pool.pool_id: PoolReason(pool.pool_id, pool.centre_name, pool.pool_name, ReasonCode.RESERVED, text)
        }
        notes[job.job_id] = f"waiting: {pool.centre_name}/{pool.pool_name} {text}"

    # ---------------------------------------------------------------------------- preemption

    def _preempt(
        self,
        cycle: Cycle,
        snapshot: Snapshot,
        waiting: list[PendingJob],
        lead: dict[str, dict[str, PoolReason]],
        notes: dict[str, str],
        now: datetime,
    ) -> list[Preemption]:
        # jobs asked to stop in an earlier cycle still hold their room for a few cycles: it is counted on first,
        # by one waiting job each, so no more is stopped than the room needs
        stopping = [r for r in snapshot.running if r.stopping]
        preemptible = [r for r in snapshot.running if r.preemptible and not r.stopping and r.requeues_left > 0]
        if not preemptible and not stopping:
            return []
        # those still protected make no room yet; with none movable, starving jobs are still told why they wait
        movable = stopping + [r for r in preemptible if preemption.stoppable(r, now)]
        borrowing = preemption.borrowing(snapshot)
        taken: set[str] = set()
        out: list[Preemption] = []
        promised: list[tuple[PoolFree, list[RunningJob], tuple[int, ...], tuple[int, float, float]]] = []
        now_ts = now.timestamp()
        starving = itertools.islice((j for j in waiting[PREEMPT_SCAN:] if preemption.starving(j, now_ts)), PREEMPT_SCAN)
        # (tenant, shape, priority, starving) for which no victims make room: the same holds for the tenant's later
        # jobs of that shape in this cycle (what is taken and given only grows)
        # (and the note a starving job of it is given)
        roomless: dict[tuple[str, Hashable, int, bool], str | None] = {}
        for job in [*waiting[:PREEMPT_SCAN], *starving]:  # the head in rank order, then jobs starving behind it
            alike = (job.tenant_id, job.key, job.priority, preemption.starving(job, now_ts))
            if alike in roomless:
                if (why_not := roomless[alike]) is not None:
                    _tell(notes, job.job_id, why_not)
                continue
            share = snapshot.tenants.get(job.tenant_id)
            room = None  # what the tenant may still reclaim: its quota less what it holds and was given this cycle
            if share is not None and share.quota > 0:
                room = share.quota - share.held - cycle.placed_compute.get(job.tenant_id, 0.0)
            inside_quota = room is not None and room > 0

            def victim(r: RunningJob, job: PendingJob = job, inside_quota: bool = inside_quota) -> bool:
                if r.job_id in taken:
                    return False
                return (
                    r.stopping
                    or r.priority < job.priority
                    or (
                        inside_quota
                        and r.tenant_id in borrowing
                        and r.priority <= job.priority
                        and r.tenant_id != job.tenant_id
                    )
                )

            plan = preemption.plan(cycle, job, [r for r in movable if victim(r)], room if inside_quota else None)
            starved = plan is None and preemption.starving(job, now_ts)
            if starved:
                plan = self._starved_plan(cycle, snapshot, job, [r for r in movable if r.job_id not in taken])
                why_not = preemption.unfair(cycle, snapshot, job, *plan) if plan else preemption.STARVED_NO_ROOM
                if why_not is not None:
                    _tell(notes, job.job_id, preemption.STARVED_NOTE + why_not)
                    if plan is not None:
                        continue  # not fair to stop them (yet: the job's wait grows)
            if plan is None:
                roomless[alike] = preemption.STARVED_NOTE + preemption.STARVED_NO_ROOM if starved else None
                continue
            pool, victims = plan
            taken.update(v.job_id for v in victims)
            promised.append(preemption.promise(cycle, job, pool, victims))
            cycle.count_compute(job, pool)  # the job will hold that room
            stops, text = preemption.stops(job, victims, starved)
            out += stops
            # beside any reservation it holds elsewhere (both promises stand until one of them starts it)
            lead.setdefault(job.job_id, {})[pool.pool_id] = PoolReason(
                pool.pool_id, pool.centre_name, pool.pool_name, ReasonCode.RESERVED, text
            )
            notes[job.job_id] = f"waiting: {pool.centre_name}/{pool.pool_name} {text}"
        for free, victims, nodes, (accel, cpus, mem) in reversed(promised):  # free capacity as it is now, again
            free.give(nodes, accel, cpus, mem)
            for v in victims:
                free.take(v.node_indices, v.per_node, v.cpus, v.memory_gib)
        return out

    @staticmethod
    def _starved_plan(
        cycle: Cycle, snapshot: Snapshot, job: PendingJob, movable: list[RunningJob]
    ) -> tuple[PoolState, list[RunningJob]] | None:
        """The room a starving job could make by stopping preemptible jobs of no higher priority of tenants
        richer than its own (per unit of weight); why it may not, if so, is `preemption.unfair`."""
        floor = preemption.per_weight(snapshot, job.tenant_id, cycle.placed_compute.get(job.tenant_id, 0.0))
        richer: dict[str, bool] = {}

        def fair(r: RunningJob) -> bool:
            if r.stopping:
                return True
            if r.tenant_id == job.tenant_id or r.priority > job.priority:
                return False
            if r.tenant_id not in richer:
                richer[r.tenant_id] = preemption.per_weight(snapshot, r.tenant_id) > floor
            return richer[r.tenant_id]

        return preemption.plan(cycle, job, [r for r in movable if fair(r)], math.inf)


def _tell(notes: dict[str, str], job_id: str, text: str) -> None:
    """Give a waiting job a line of its own, after the one it has (its reservation), if any."""
    mine = notes.get(job_id)
    notes[job_id] = f"{mine}; {text}" if mine else f"waiting: {text}"


def _revisit_at(snapshot: Snapshot, waiting: Sequence[PendingJob], now: datetime) -> datetime | None:
    """When time alone could next change what preemption decides, while preemptible jobs run and jobs wait: the
    first waiting job coming to starve, or, while one already starves, the first stop protection running out."""
    preemptible = [r for r in snapshot.running if r.preemptible and not r.stopping and r.requeues_left > 0]
    if not preemptible or not waiting:
        return None
    now_ts = now.timestamp()
    due = np.fromiter(map(preemption.starves_at, waiting), float, len(waiting))
    later = due[due > now_ts]
    soonest = float(later.min()) if len(later) else math.inf
    if len(later) < len(due):  # some job starves already: it may stop a job whose protection runs out
        for r in preemptible:
            free_at = r.started_at.timestamp() + preemption.protection(r)
            if now_ts < free_at < soonest:
                soonest = free_at
    return datetime.fromtimestamp(soonest, now.tzinfo) if soonest < math.inf else None


def _shortest(keys: Sequence[Hashable], jobs: Sequence[PendingJob]) -> dict[Hashable, int]:
    """Each shape's shortest max_runtime among the jobs (`keys`: their shapes)."""
    shortest: dict[Hashable, int] = {}
    for key, seconds in zip(keys, map(_MAX_RUNTIME, jobs), strict=True):
        if seconds < shortest.get(key, seconds + 1):
            shortest[key] = seconds
    return shortest


def _unit_hours(units: float, runtime: float) -> Decimal:
    """Units (accelerators, or cores) held for `runtime` seconds, in unit-hours to six places."""
    return Decimal(str(round(units * runtime / 3600, 6)))


def _faster_by(now: Option, faster: PoolState, finish: float) -> tuple[str, PoolReason]:
    """Why a job waits for the busy pool `faster`, where it ends `finish` seconds from now, rather than start on
    `now`'s pool: the reservation's words, and the reason the pool with room gives."""
    gain, here = (now.runtime - finish) / 3600, now.runtime / 3600
    pool = now.pool
    why = (
        f"it finishes sooner there than anywhere now: ~{gain:.1f} h sooner than starting now on "
        f"{pool.centre_name}/{pool.pool_name}, where it would run ~{here:.1f} h"
    )
    text = (
        f"room now, but {faster.centre_name}/{faster.pool_name} finishes the job ~{gain:.1f} h sooner "
        f"(~{here:.1f} h here), for a short wait"
    )
    return why, PoolReason(pool.pool_id, pool.centre_name, pool.pool_name, ReasonCode.SLOWER, text)


def _fastest_then_cheapest(options: Sequence[Option], pressed: dict[str, float] | None = None) -> Option | None:
    if not options:
        return None
    fastest = min(o.runtime for o in options)
    close = [o for o in options if o.runtime <= fastest * (1 + SPEED_SLACK)]
    if not pressed or len(close) == 1:
        return min(close, key=lambda o: (o.cost, o.runtime, o.pool.pool_id))
    return min(close, key=lambda o: (_weighted(o.cost, pressed.get(o.pool.model, 0.0)), o.runtime, o.pool.pool_id))


def _weighted(cost: Decimal, pressure: float) -> Decimal:
    """The cost as the choice weighs it: up to (1 + PRESSURE_WEIGHT) times dearer on the most pressed model."""
    return cost * Decimal(str(round(1 + PRESSURE_WEIGHT * pressure, 6)))


def _why(
    job: PendingJob,
    chosen: Option,
    options: Sequence[Option],
    spared: int = 0,
    instead: Option | None = None,
    passed: Option | None = None,
    crowded: Option | None = None,
) -> str:
    """Why this pool: its runtime and price, how it compares with the other pools with room, and what it
    leaves to others (`spared` pools kept for captive jobs; `instead`, the pool it passed over so as not to
    break a whole free node there; `passed`, the one a lasting job left to jobs with fewer alternatives;
    `crowded`, the pool it would have taken but for lasting work filling more than LASTING_SHARE of it)."""
    unit = "core-hour" if chosen.pool.is_cpu else "accelerator-hour"
    price = format_price(chosen.pool.price_for(job.preemptible) or Decimal(0))
    hours = chosen.runtime / 3600
    text = f"finishes in ~{hours:.1f} h at ¥{price}/{unit} (~¥{format_price(chosen.cost)} in all)"
    if instead is not None:
        text += (
            f"; fills a node already in use rather than break a whole free node on {instead.pool.label} "
            f"(~{instead.runtime / 3600:.1f} h, ~¥{format_price(instead.cost)}), left to jobs that need whole nodes"
        )
    else:
        text += _compared(chosen, options)
    if spared:
        text += f"; {spared} pool(s) left to waiting jobs that can run nowhere else"
    if crowded is not None and crowded.pool.pool_id != chosen.pool.pool_id:
        text += (
            f"; {crowded.pool.label} (~{crowded.runtime / 3600:.1f} h, ~¥{format_price(crowded.cost)}) passed over, "
            f"as work lasting past a day would then hold more than {LASTING_SHARE:.0%} of its cards or cores "
            "(room kept for work that may need it)"
        )
    if passed is not None:
        text += (
            f"; it holds its cards for ~{chosen.runtime / 86400:.1f} days, so {passed.pool.label} "
            f"({passed.pool.model}, ~{passed.runtime / 3600:.1f} h) is left to jobs that can use fewer models"
        )
    return text


def _compared(chosen: Option, options: Sequence[Option]) -> str:
    """How the chosen pool compares with the others that could start the job now (speed, then price)."""
    text = ""
    fastest = min(o.runtime for o in options)
    close = [o for o in options if o.runtime <= fastest * (1 + SPEED_SLACK)]
    cheaper = [o for o in close if o.cost < chosen.cost]
    if len(options) > 1:
        text += (
            "; the fastest start"
            if chosen.runtime == fastest
            else f"; within {SPEED_SLACK:.0%} of the fastest of {len(options)} pools with room"
            + ("" if cheaper else ", and the cheapest of those")
        )
    if cheaper:
        text += (
            f"; {min(cheaper, key=lambda o: o.cost).pool.label} is cheaper but in demand by jobs that can use few "
            "other models"
        )
    return text


register(Suanli.name)(Suanli)
