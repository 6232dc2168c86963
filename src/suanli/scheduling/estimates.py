"""How long a job will run on each accelerator model.

A job is taken to run `(fp16(slowest) / fp16(model)) ** g` times as long on `model` as on the slowest model it
accepts, and its max_runtime to cover that slowest model. `g` is the tenant's *gain*: how much of the
nameplate FP16 ratio its jobs really get (1: all of it, the prior; 0: none, as for a service whose lifetime
does not depend on the card; training sits between, memory-bound work lower). It is learned per tenant from
its finished runs by a least-squares fit of log(used share of max_runtime) on log(speed ratio), pulled towards
the prior while the runs say little (ridge regression towards g = 1), and kept in [0, 1].

The prior for a new job: its max_runtime, times the share of their max_runtime this tenant's jobs actually use
(on the slowest model), scaled across models by the gain. Once the tenant has run jobs of the same name, their
measured runtimes (carried across models by the gain) replace the prior. The history is plain data the
scheduler's cache fills; the estimate itself is a pure function of it.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

DEFAULT_USE_OF_WALLTIME = 0.5  # before a tenant's first finished job: users ask for about twice what they use
PRIOR_GAIN = 1.0  # before the runs say otherwise, jobs get the whole nameplate speed-up
PRIOR_WEIGHT = 1.0  # how much spread of log speed ratios the runs need to outweigh the prior (ridge penalty)
KEEP = 32  # observations kept per (tenant, name)
KEEP_TENANT = 64  # observations kept per tenant for its use of max_runtime and its gain


@dataclass
class RuntimeHistory:
    """Recent measured runs: per (tenant, job name) the model and seconds; per tenant the points
    (log speed ratio over the slowest accepted model, log share of max_runtime used) its gain is fitted to."""

    runs: dict[tuple[str, str], deque[tuple[str, float]]] = field(default_factory=dict)
    use: dict[str, deque[tuple[float, float]]] = field(default_factory=dict)
    _fits: dict[str, tuple[float, float]] = field(default_factory=dict)  # tenant -> (gain, share)

    def observe(
        self,
        tenant: str,
        name: str,
        model: str,
        seconds: float,
        walltime: float,
        speeds: Mapping[str, float],
        slowest: str | None,
        service: bool = False,
    ) -> None:
        """Record a finished run: `seconds` on `model`; `slowest` is the slowest model the job accepted. A
        service's lifetime says nothing of the tenant's gain, so it feeds only its own name's history."""
        speed = speeds.get(model)
        if speed is None or speed <= 0 or seconds <= 0:
            return
        self.runs.setdefault((tenant, name), deque(maxlen=KEEP)).append((model, seconds))
        if walltime > 0 and not service:
            base = speeds.get(slowest or model, speed)
            ratio = math.log(max(speed / base, 1.0)) if base > 0 else 0.0
            used = math.log(min(1.0, seconds / walltime))
            self.use.setdefault(tenant, deque(maxlen=KEEP_TENANT)).append((ratio, used))
            self._fits.pop(tenant, None)

    def fit(self, tenant: str) -> tuple[float, float]:
        """The tenant's gain and the share of max_runtime its jobs use on their slowest model."""
        known = self._fits.get(tenant)
        if known is None:
            known = self._fits[tenant] = _fit(self.use.get(tenant, ()))
        return known

    def gain(self, tenant: str) -> float:
        """How much of the nameplate speed-up this tenant's jobs get (0..1)."""
        return self.fit(tenant)[0]


def estimate(
    tenant: str,
    name: str,
    walltime: float,
    models: Sequence[str],
    speeds: Mapping[str, float],
    history: RuntimeHistory,
    service: bool = False,
) -> dict[str, float]:
    """Expected seconds on each of `models` (never more than the walltime, never less than a second). A
    service runs as long as its owner keeps it, whatever the card: its gain is 0."""
    known = [m for m in models if m in speeds and speeds[m] > 0]
    if not known:
        return {}
    gain, share = history.fit(tenant)
    if service:
        gain = 0.0
    runs = history.runs.get((tenant, name))
    if runs:
        out = {}
        for m in known:
            carried = [s * (speeds[model] / speeds[m]) ** gain for model, s in runs if model in speeds]
            out[m] = _clamp(statistics.median(carried) if carried else walltime * share, walltime)
        return out
    slowest = min(speeds[m] for m in known)
    return {m: _clamp(walltime * share * (slowest / speeds[m]) ** gain, walltime) for m in known}


def _fit(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    if not points:
        return PRIOR_GAIN, DEFAULT_USE_OF_WALLTIME
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in points)
    # used = a - g * ratio, fitted with a penalty PRIOR_WEIGHT * (g - PRIOR_GAIN)^2
    gain = min(1.0, max(0.0, (PRIOR_WEIGHT * PRIOR_GAIN - sxy) / (sxx + PRIOR_WEIGHT)))
    share = math.exp(statistics.median(y + gain * x for x, y in points))
    return gain, min(1.0, share)


def _clamp(seconds: float, walltime: float) -> float:
    return max(1.0, min(seconds, walltime))
