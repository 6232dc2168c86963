"""Scenarios: what a city's tenants have agreed beyond what a trace records. The shared traces carry one
priority and no quotas, so a plain replay never exercises guarantees or preemption; a scenario gives the
heaviest tenants contracted capacity (a quota, in A100-equivalents) and has the others submit part of their
work preemptible, at the pool's discount, as tenants of a city platform do (bench/city-qingdao.yaml).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from suanli.domain.accelerators import Catalogue
from suanli.domain.errors import FieldError, InvalidInput
from suanli.scheduling.fairness import standard_compute


@dataclass(frozen=True)
class Scenario:
    """Contracts and preemptible work laid over a trace.

    contract_tenants: share of the trace's tenants (the heaviest, by card-hours asked for) holding a contract;
    contracted:       share of the city's standard compute those contracts guarantee, split evenly among them;
    preemptible:      share of the other tenants' jobs submitted preemptible (drawn per job for a seed).
    """

    name: str
    contract_tenants: float = 0.0
    contracted: float = 0.0
    preemptible: float = 0.0

    def contracts(self, demand: Mapping[str, float], city_compute: float) -> dict[str, float]:
        """Tenant -> its quota in A100-equivalents, for the heaviest tenants by `demand` (card-hours asked
        for); at least one contract when any share is asked for."""
        if self.contract_tenants <= 0 or self.contracted <= 0 or not demand:
            return {}
        heaviest = sorted(demand, key=lambda t: (-demand[t], t))
        chosen = heaviest[: max(1, round(self.contract_tenants * len(heaviest)))]
        quota = round(self.contracted * city_compute / len(chosen), 1)
        return dict.fromkeys(chosen, quota)

    def submits_preemptible(self, seed: int, key: str) -> bool:
        """Whether a job of a tenant without a contract is submitted preemptible (deterministic for a seed)."""
        return self.preemptible > 0 and random.Random(f"{seed}:preemptible:{key}").random() < self.preemptible


def city_compute(pools: list[tuple[str, int, int]], catalogue: Catalogue) -> float:
    """The city's standard compute in A100-equivalents, from (model, nodes, accelerators per node) of each pool
    (a whole CPU node counting as one unit of its model, as `fairness.standard_compute` counts it)."""
    total = 0.0
    for model, nodes, per_node in pools:
        spec = catalogue.get(model)
        tflops = float(spec.fp16_tflops) if spec is not None else 0.0
        total += standard_compute(per_node, 1.0, 1.0, nodes, tflops)  # no cards: all of a node's cores
    return total


def parse(raw: Mapping[str, Any] | None) -> dict[str, Scenario]:
    """The `scenarios:` section of a city model file; a share outside 0..1 is refused with its field."""
    out = {}
    for name, fields in (raw or {}).items():
        values = {}
        for key in ("contract_tenants", "contracted", "preemptible"):
            raw_value = (fields or {}).get(key, 0.0)
            try:
                value = float(raw_value)
            except (TypeError, ValueError):
                value = math.nan
            if not 0 <= value <= 1:  # NaN fails too
                raise InvalidInput([FieldError(f"scenarios.{name}.{key}", "a share between 0 and 1")])
            values[key] = value
        unknown = sorted(set(fields or {}) - set(values))
        if unknown:
            raise InvalidInput([FieldError(f"scenarios.{name}.{unknown[0]}", "not a scenario field")])
        out[str(name)] = Scenario(str(name), **values)
    return out
