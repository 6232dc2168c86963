"""Fairness between tenants: weights, usage decayed with a half-life, and quotas that may be borrowed beyond.

Usage is "standard compute": accelerator-seconds weighted by nameplate FP16 and counted in A100-equivalents,
so an hour on an H800 counts about three A100-hours (DOMAIN.md: compute is measured in FP16).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

REFERENCE_TFLOPS = 312.0  # one A100's dense FP16: the unit of standard compute


@dataclass(frozen=True, slots=True)
class TenantShare:
    tenant_id: str
    weight: float = 1.0
    usage: float = 0.0  # decayed A100-equivalent seconds used
    held: float = 0.0  # A100-equivalents held right now
    quota: float = 0.0  # guaranteed A100-equivalents (0: none)


def standard_compute(accelerators: int, cpus: float, cpus_per_node: float, nodes: int, tflops: float) -> float:
    """A100-equivalents held by `nodes` nodes taking `accelerators` each of a model of `tflops` nameplate FP16,
    or, without accelerators, `cpus` cores each of a node of `cpus_per_node` (a whole node counting as one)."""
    units = accelerators if accelerators else cpus / (cpus_per_node or 1)
    return units * nodes * tflops / REFERENCE_TFLOPS


def decay(value: float, seconds: float, half_life_s: float) -> float:
    return value * math.pow(0.5, max(0.0, seconds) / half_life_s) if half_life_s > 0 else value


def normalised(shares: Mapping[str, TenantShare]) -> tuple[dict[str, float], dict[str, float]]:
    """Each tenant's share of all usage and of all weight (Slurm's U and S)."""
    total_usage = sum(s.usage for s in shares.values())
    total_weight = sum(s.weight for s in shares.values()) or 1.0
    usage = {t: (s.usage / total_usage if total_usage > 0 else 0.0) for t, s in shares.items()}
    weight = {t: s.weight / total_weight for t, s in shares.items()}
    return usage, weight


def fairshare_factor(tenant: str, usage: Mapping[str, float], weight: Mapping[str, float]) -> float:
    """Slurm's classic fair-share factor 2^(-U/S): 1 for a tenant that used nothing, 0.5 at exactly its
    share, towards 0 the more it used beyond it."""
    s = weight.get(tenant, 0.0)
    if s <= 0:
        return 0.0
    return math.pow(2.0, -usage.get(tenant, 0.0) / s)
