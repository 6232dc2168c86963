"""Computing centres, their pools of identical nodes, and the price cards of those pools."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from suanli.domain.accelerators import AcceleratorModel


class EngineKind(StrEnum):
    LOCAL = "local"
    SLURM = "slurm"
    KUBERNETES = "kubernetes"
    RAY = "ray"
    FEDERATION = "federation"


class CentreStatus(StrEnum):
    """What the scheduler sees: only ONLINE centres receive new placements."""

    ONLINE = "online"  # enabled, and its agent's heartbeat is fresh
    OFFLINE = "offline"  # enabled, but no heartbeat for longer than the timeout (or never)
    DEGRADED = "degraded"  # its agent is alive but cannot reach the centre's engine
    DISABLED = "disabled"  # taken out of service by its operator or the city


class PriceUnit(StrEnum):
    ACCELERATOR_HOUR = "accelerator_hour"  # card-hour, for accelerator pools
    CORE_HOUR = "core_hour"  # for CPU pools


def centre_status(
    enabled: bool, last_heartbeat: datetime | None, now: datetime, timeout: timedelta, engine_down: bool = False
) -> CentreStatus:
    """Derive a centre's status from its operator switch, the age of its agent's last heartbeat, and whether
    that agent can reach its engine."""
    if not enabled:
        return CentreStatus.DISABLED
    if last_heartbeat is None or now - last_heartbeat > timeout:
        return CentreStatus.OFFLINE
    if engine_down:
        return CentreStatus.DEGRADED
    return CentreStatus.ONLINE


@dataclass(frozen=True, slots=True)
class Centre:
    id: str
    name: str
    display_name: str
    operator_tenant_id: str
    engine: EngineKind
    city: str
    district: str
    enabled: bool
    created_at: datetime
    last_heartbeat_at: datetime | None = None
    agent_info: dict[str, object] = field(default_factory=dict)

    def status(self, now: datetime, timeout: timedelta) -> CentreStatus:
        return centre_status(self.enabled, self.last_heartbeat_at, now, timeout, bool(self.engine_error))

    @property
    def engine_error(self) -> str:
        """What the agent last said about its engine being unreachable ("" when it answers)."""
        return str(self.agent_info.get("engine_error") or "")

    @property
    def engine_down_since(self) -> datetime | None:
        """When the agent first failed to reach its engine, in the current outage."""
        since = self.agent_info.get("engine_error_since")
        if not self.engine_error or not isinstance(since, str):
            return None
        try:
            return datetime.fromisoformat(since)
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class Pool:
    """A set of identical nodes in one centre. `nodes_up` is what the agent last reported (None: all)."""

    id: str
    centre_id: str
    name: str
    model: str
    nodes: int
    accelerators_per_node: int
    cpus_per_node: int
    memory_gib_per_node: int
    enabled: bool
    created_at: datetime
    nodes_up: int | None = None


@dataclass(frozen=True, slots=True)
class PoolShape:
    """The hardware of one pool: `nodes` identical nodes, each with the given resources."""

    model: AcceleratorModel
    nodes: int
    accelerators_per_node: int  # 0 for a CPU pool
    cpus_per_node: int
    memory_gib_per_node: int

    @property
    def price_unit(self) -> PriceUnit:
        return PriceUnit.CORE_HOUR if self.model.is_cpu else PriceUnit.ACCELERATOR_HOUR

    @property
    def units(self) -> int:
        """Units the catalogue figure counts: accelerators, or nodes for a CPU pool."""
        return self.nodes if self.model.is_cpu else self.nodes * self.accelerators_per_node

    def pflops_fp16(self) -> Decimal:
        """Nameplate dense FP16 capacity of the whole pool in PFLOPS."""
        return self.model.fp16_tflops * self.units / Decimal(1000)


@dataclass(frozen=True, slots=True)
class PriceCard:
    """A pool's price for a window of time. `preemptible_discount` 0.4 means preemptible jobs pay 60%."""

    id: str
    pool_id: str
    price: Decimal  # CNY per unit-hour
    unit: PriceUnit
    preemptible_discount: Decimal
    valid_from: datetime
    valid_to: datetime | None

    def covers(self, at: datetime) -> bool:
        return self.valid_from <= at and (self.valid_to is None or at < self.valid_to)

    def effective_price(self, preemptible: bool) -> Decimal:
        if not preemptible:
            return self.price
        return (self.price * (Decimal(1) - self.preemptible_discount)).quantize(Decimal("0.0001"))


def price_in_effect(cards: Iterable[PriceCard], at: datetime) -> PriceCard | None:
    """The card that applies at `at`: of those covering it, the one that started last (a newer card wins)."""
    covering = [c for c in cards if c.covers(at)]
    if not covering:
        return None
    return max(covering, key=lambda c: (c.valid_from, c.id))
