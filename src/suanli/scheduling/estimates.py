"""How long a job will run on each accelerator model.

The prior: the job's max_runtime, scaled down by how much of their max_runtime this tenant's jobs actually
use, and across models by nameplate FP16 (the max_runtime is taken to cover the slowest model the job
accepts). Once the tenant has run jobs of the same name, their measured runtimes (normalised by nameplate
FP16 to a reference speed) replace the prior. The history is plain data the scheduler's cache fills; the
estimate itself is a pure function of it.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

DEFAULT_USE_OF_WALLTIME = 0.5  # before a tenant's first finished job: users ask for about twice what they use
KEEP = 32  # observations kept per (tenant, name) and per tenant


@dataclass
class RuntimeHistory:
    """Recent measured runtimes: per (tenant, job name) in reference seconds, per tenant as used/asked."""

    work: dict[tuple[str, str], deque[float]] = field(default_factory=dict)
    use: dict[str, deque[float]] = field(default_factory=dict)

    def observe(
        self,
        tenant: str,
        name: str,
        model: str,
        seconds: float,
        walltime: float,
        speeds: Mapping[str, float],
        slowest: str | None,
    ) -> None:
        """Record a finished run: `seconds` on `model`; `slowest` is the slowest model the job accepted."""
        speed = speeds.get(model)
        if speed is None or seconds <= 0:
            return
        self.work.setdefault((tenant, name), deque(maxlen=KEEP)).append(seconds * speed)
        scale = speeds.get(slowest or model, speed) / speed  # max_runtime covers the slowest model
        if walltime > 0:
            self.use.setdefault(tenant, deque(maxlen=KEEP)).append(min(1.0, seconds / (walltime * scale)))


def estimate(
    tenant: str, name: str, walltime: float, models: Sequence[str], speeds: Mapping[str, float], history: RuntimeHistory
) -> dict[str, float]:
    """Expected seconds on each of `models` (never more than the walltime, never less than a second)."""
    known = [speeds[m] for m in models if m in speeds]
    if not known:
        return {}
    work = history.work.get((tenant, name))
    if work:
        reference = statistics.median(work)
        return {m: _clamp(reference / speeds[m], walltime) for m in models if m in speeds}
    used = history.use.get(tenant)
    share = statistics.median(used) if used else DEFAULT_USE_OF_WALLTIME
    slowest = min(known)
    return {m: _clamp(walltime * share * slowest / speeds[m], walltime) for m in models if m in speeds}


def _clamp(seconds: float, walltime: float) -> float:
    return max(1.0, min(seconds, walltime))
