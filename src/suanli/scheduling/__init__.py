"""The functional core of scheduling: `decide(snapshot, pending, policy, now)` is pure and explained.

It never reads a clock, a database or the network. The live server and the simulator both call it through
`service.scheduler.run_cycle`, which loads the snapshot and applies the result through ports.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from suanli.scheduling.decisions import CycleResult
from suanli.scheduling.policies import Policy, get_policy
from suanli.scheduling.policies import cheapest as _cheapest  # noqa: F401 - registers "cheapest"
from suanli.scheduling.policies import fifo as _fifo  # noqa: F401 - registers "fifo"
from suanli.scheduling.policies import slurm as _slurm  # noqa: F401 - registers "slurm"
from suanli.scheduling.policies import suanli as _suanli  # registers "suanli", the default
from suanli.scheduling.snapshot import PendingJob, Snapshot

DEFAULT_POLICY = _suanli.Suanli.name


def decide(snapshot: Snapshot, pending: Sequence[PendingJob], policy: Policy | str, now: datetime) -> CycleResult:
    """Place what can be placed now; give every other job a reason per pool."""
    chosen = get_policy(policy) if isinstance(policy, str) else policy
    return chosen.decide(snapshot, pending, now)
