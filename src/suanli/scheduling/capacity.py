"""Free capacity inside one cycle: a pool's nodes indexed for best-fit gang selection, and the pool's
future (releases of running jobs, reservations for waiting ones) for start-time prediction and backfill.

Everything here works on `decide`'s own copies; nothing outlives a cycle.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from suanli.scheduling.snapshot import PoolState

EPS = 1e-9


class PoolFree:
    """Free accelerators, CPUs and memory per node, with nodes bucketed by their main free resource
    (accelerators; whole CPUs on CPU pools) so a gang's nodes are found without scanning the pool."""

    __slots__ = ("accel", "buckets", "cpu_pool", "cpus", "keys", "mem", "pool")

    def __init__(self, pool: PoolState) -> None:
        self.pool = pool
        self.cpu_pool = pool.is_cpu
        self.accel = [n.accelerators for n in pool.free]
        self.cpus = [n.cpus for n in pool.free]
        self.mem = [n.memory_gib for n in pool.free]
        self.buckets: dict[int, list[int]] = {}
        for i in range(len(self.accel)):
            self.buckets.setdefault(self._key(i), []).append(i)
        self.keys = sorted(self.buckets)

    def _key(self, i: int) -> int:
        return int(self.cpus[i] + EPS) if self.cpu_pool else self.accel[i]

    def _least_key(self, accel: int, cpus: float) -> int:
        # the lowest bucket a node with room can be in: a node with f >= cpus free cores has floor(f) >= floor(cpus)
        return math.floor(cpus) if self.cpu_pool else accel

    def fit(self, nodes: int, accel: int, cpus: float, mem: float) -> tuple[int, ...] | None:
        """`nodes` distinct nodes with room for (accel, cpus, mem) each, fullest first; None if fewer fit."""
        need = self._least_key(accel, cpus)
        chosen: list[int] = []
        for key in self.keys[bisect.bisect_left(self.keys, need) :]:
            for i in self.buckets[key]:
                if self.accel[i] >= accel and self.cpus[i] + EPS >= cpus and self.mem[i] + EPS >= mem:
                    chosen.append(i)
                    if len(chosen) == nodes:
                        return tuple(sorted(chosen))
        return None

    def count_fitting(self, accel: int, cpus: float, mem: float) -> int:
        need = self._least_key(accel, cpus)
        return sum(
            1
            for key in self.keys[bisect.bisect_left(self.keys, need) :]
            for i in self.buckets[key]
            if self.accel[i] >= accel and self.cpus[i] + EPS >= cpus and self.mem[i] + EPS >= mem
        )

    def take(self, indices: Iterable[int], accel: int, cpus: float, mem: float) -> None:
        self._adjust(indices, -accel, -cpus, -mem)

    def give(self, indices: Iterable[int], accel: int, cpus: float, mem: float) -> None:
        self._adjust(indices, accel, cpus, mem)

    def _adjust(self, indices: Iterable[int], accel: int, cpus: float, mem: float) -> None:
        for i in indices:
            old = self._key(i)
            self.accel[i] += accel
            self.cpus[i] += cpus
            self.mem[i] += mem
            new = self._key(i)
            if new != old:
                bucket = self.buckets[old]
                del bucket[bisect.bisect_left(bucket, i)]
                if not bucket:
                    del self.buckets[old]
                    del self.keys[bisect.bisect_left(self.keys, old)]
                if new not in self.buckets:
                    self.buckets[new] = []
                    bisect.insort(self.keys, new)
                bisect.insort(self.buckets[new], i)

    @property
    def total_free_accelerators(self) -> int:
        return sum(self.accel)


class Hold(NamedTuple):
    """Resources a running job holds on some nodes until it ends: by `deadline` at the latest (its
    max_runtime), by `expected` on the runtime estimate. (A named tuple: a cycle makes one per running job.)"""

    nodes: tuple[int, ...]
    accel: int
    cpus: float
    mem: float
    expected: datetime
    deadline: datetime
    job_id: str


@dataclass(slots=True)
class Reservation:
    """Nodes promised to a waiting job from `start` to `end`; `slack` is what each of those nodes has left
    over at `start` after the promise (a backfilled job may use no more than that across `start`)."""

    job_id: str
    nodes: tuple[int, ...]
    accel: int
    cpus: float
    mem: float
    start: datetime
    end: datetime
    slack: dict[int, list[float]]


class Timeline:
    """A pool's capacity over time: what frees up as running jobs end, and what reservations promise."""

    def __init__(self, pool: PoolState, running: Sequence[Hold]) -> None:
        self.pool = pool
        self.running = list(running)
        self.reservations: list[Reservation] = []
        self._sorted: dict[str, tuple[int, list[tuple[datetime, int, Hold]]]] = {}
        self._times_key: tuple[object, ...] | None = None
        self._times_list: list[datetime] = []
        self._times_merged = 0  # reservations whose ends are in `_times_list`

    def _releases(self, expected: bool) -> list[tuple[datetime, int, Hold]]:
        key = "expected" if expected else "deadline"
        cached = self._sorted.get(key)
        if cached is None or cached[0] != len(self.running):
            order = sorted(((h.expected if expected else h.deadline), n, h) for n, h in enumerate(self.running))
            cached = self._sorted[key] = (len(self.running), order)
        return cached[1]

    def earliest_start(
        self,
        now_free: PoolFree,
        nodes: int,
        accel: int,
        cpus: float,
        mem: float,
        duration: float,
        now: datetime,
        *,
        expected: bool,
    ) -> tuple[datetime, tuple[int, ...]] | None:
        """When, and on which nodes, a gang could start and hold its nodes `duration` seconds without
        breaking a reservation, if running jobs end at their expected time (`expected`) or at their
        deadline. None if never within the known future. Nodes are re-checked only as releases touch them."""
        free_a = list(now_free.accel)
        free_c = list(now_free.cpus)
        free_m = list(now_free.mem)
        size = len(free_a)

        def fits(i: int) -> bool:
            return free_a[i] >= accel and free_c[i] + EPS >= cpus and free_m[i] + EPS >= mem

        # nodes with room now: on an accelerator pool only those in buckets of at least `accel` free can fit
        near = (
            range(size)
            if now_free.cpu_pool
            else (i for key in now_free.keys[bisect.bisect_left(now_free.keys, accel) :] for i in now_free.buckets[key])
        )
        ok = {i for i in near if fits(i)}
        releases = self._releases(expected)
        ends = {r.end for r in self.reservations if r.end > now} if self.reservations else ()
        k = 0
        for t in self._times(expected, now):
            # a try can succeed only where it could not before: a node that fits has gained room, or a
            # reservation has ended (otherwise the nodes are as they were and reservations only add up)
            worth = t == now or t in ends
            while k < len(releases) and releases[k][0] <= t:
                h = releases[k][2]
                for i in h.nodes:
                    if i < size:
                        free_a[i] += h.accel
                        free_c[i] += h.cpus
                        free_m[i] += h.mem
                        if fits(i):
                            ok.add(i)
                            worth = True
                k += 1
            if not worth:
                continue
            chosen = self._choose(ok, free_a, free_c, free_m, t, nodes, accel, cpus, mem, duration)
            if chosen is not None:
                return t, chosen
        return None

    def _times(self, expected: bool, now: datetime) -> list[datetime]:
        """`now`, then every later moment a running job ends or a reservation does, in order (the ends of
        reservations made since the list was built are merged in)."""
        key = (expected, now, len(self.running))
        if self._times_key != key:
            later = {t for t, _, _ in self._releases(expected) if t > now}
            self._times_key, self._times_list, self._times_merged = key, [now, *sorted(later)], 0
        times = self._times_list
        for r in self.reservations[self._times_merged :]:
            if r.end > now:
                i = bisect.bisect_left(times, r.end, 1)
                if i == len(times) or times[i] != r.end:
                    times.insert(i, r.end)
        self._times_merged = len(self.reservations)
        return times

    def _choose(
        self,
        ok: set[int],
        free_a: list[int],
        free_c: list[float],
        free_m: list[float],
        start: datetime,
        nodes: int,
        accel: int,
        cpus: float,
        mem: float,
        duration: float,
    ) -> tuple[int, ...] | None:
        """Best-fit nodes among `ok` once overlapping reservations take their share (None if too few)."""
        if len(ok) < nodes:
            return None
        blocked = self._blocked(start, start + timedelta(seconds=duration))
        usable = [i for i in ok if i not in blocked]
        for i, b in blocked.items():
            if (
                i in ok
                and free_a[i] - b[0] >= accel
                and free_c[i] - b[1] + EPS >= cpus
                and free_m[i] - b[2] + EPS >= mem
            ):
                usable.append(i)
        if len(usable) < nodes:
            return None
        usable.sort(key=lambda i: (free_a[i], free_c[i], i))
        return tuple(sorted(usable[:nodes]))

    def reserve(
        self,
        job_id: str,
        now_free: PoolFree,
        nodes: int,
        accel: int,
        cpus: float,
        mem: float,
        duration: float,
        now: datetime,
        *,
        expected: bool = False,
        found: tuple[datetime, tuple[int, ...]] | None = None,
    ) -> Reservation | None:
        """Promise a waiting gang its earliest start: by running jobs' deadlines (a promise the running jobs
        cannot break), or by their expected ends (`expected`: sooner, and nodes drain for it sooner). Either
        way nothing started later may delay it. None if it cannot be placed in the known future. `found`: the
        (start, nodes) `earliest_start` gave for this demand, when already known."""
        if found is None:
            found = self.earliest_start(now_free, nodes, accel, cpus, mem, duration, now, expected=expected)
        if found is None:
            return None
        start, chosen = found
        end = start + timedelta(seconds=duration)
        free = self._free_at(now_free, start, expected)
        blocked = self._blocked(start, end)
        zero = [0.0, 0.0, 0.0]
        slack = {
            i: [free[i][k] - blocked.get(i, zero)[k] - need for k, need in enumerate((accel, cpus, mem))]
            for i in chosen
        }
        reservation = Reservation(job_id, chosen, accel, cpus, mem, start, end, slack)
        self.reservations.append(reservation)
        return reservation

    def _blocked(self, start: datetime, end: datetime) -> dict[int, list[float]]:
        """What reservations overlapping [start, end) hold on each of their nodes."""
        blocked: dict[int, list[float]] = {}
        for r in self.reservations:
            if r.end > start and r.start < end:
                for i in r.nodes:
                    b = blocked.setdefault(i, [0.0, 0.0, 0.0])
                    b[0] += r.accel
                    b[1] += r.cpus
                    b[2] += r.mem
        return blocked

    def _free_at(self, now_free: PoolFree, t: datetime, expected: bool) -> list[list[float]]:
        free = [[now_free.accel[i], now_free.cpus[i], now_free.mem[i]] for i in range(len(now_free.accel))]
        for h in self.running:
            if (h.expected if expected else h.deadline) <= t:
                for i in h.nodes:
                    if i < len(free):
                        free[i][0] += h.accel
                        free[i][1] += h.cpus
                        free[i][2] += h.mem
        return free

    def backfill_ok(
        self, nodes: Sequence[int], end: datetime, accel: int, cpus: float, mem: float, now: datetime
    ) -> bool:
        """May a job hold these nodes from now until `end` (its deadline) without delaying a reservation?"""
        for r in self.reservations:
            if r.start >= end:
                continue
            for i in nodes:
                slack = r.slack.get(i)
                if slack is not None and (slack[0] < accel or slack[1] + EPS < cpus or slack[2] + EPS < mem):
                    return False
        return True

    def charge(self, nodes: Sequence[int], end: datetime, accel: int, cpus: float, mem: float) -> None:
        """Record that a backfilled job uses part of the reservations' slack until `end`."""
        for r in self.reservations:
            if r.start >= end:
                continue
            for i in nodes:
                slack = r.slack.get(i)
                if slack is not None:
                    slack[0] -= accel
                    slack[1] -= cpus
                    slack[2] -= mem
