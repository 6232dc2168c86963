"""Small hand-made snapshots and jobs for the scheduling tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from suanli.domain.accelerators import Stack
from suanli.domain.centres import CentreStatus
from suanli.domain.jobs.request import Option, ResourceRequest
from suanli.scheduling.snapshot import NodeFree, PendingJob, PoolState, RunningJob

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
STACKS = {"A100": Stack.CUDA, "H800": Stack.CUDA, "Ascend910B": Stack.CANN, "CPU-X86": Stack.CPU}


def pool(
    pid: str,
    model: str = "A100",
    nodes: int = 2,
    per_node: int = 8,
    price: str = "10",
    *,
    free: list[int] | None = None,
    centre: str = "c1",
    status: CentreStatus = CentreStatus.ONLINE,
    cpus: float = 64,
    memory: float = 512,
) -> PoolState:
    free_accel = free if free is not None else [per_node] * nodes
    return PoolState(
        pool_id=pid,
        pool_name=pid,
        centre_id=f"id-{centre}",
        centre_name=centre,
        model=model,
        stack=STACKS[model],
        accelerators_per_node=per_node,
        cpus_per_node=cpus,
        memory_gib_per_node=memory,
        node_count=nodes,
        free=tuple(NodeFree(a, cpus, memory) for a in free_accel),
        centre_status=status,
        price=Decimal(price),
        price_card_id=f"card-{pid}",
        preemptible_discount=Decimal("0.5"),
    )


def job(
    jid: str,
    model: str | None = "A100",
    per_node: int = 1,
    nodes: int = 1,
    *,
    priority: int = 50,
    age: int = 0,
    max_price: str | None = None,
    cpus: float = 1,
    memory: float = 1,
    preemptible: bool = False,
    allow: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    tenant: str = "tenant",
    alternatives: tuple[str, ...] = (),
    max_runtime: int = 86400,
    estimates: dict[str, float] | None = None,
    queued_ago: int | None = None,
    service: bool = False,
) -> PendingJob:
    models = (model, *alternatives) if model else ()
    options = tuple(Option(m, per_node, STACKS[m]) for m in models)
    return PendingJob(
        jid,
        tenant,
        priority,
        T0 - timedelta(seconds=age),
        ResourceRequest(options, nodes, cpus, memory),
        preemptible,
        Decimal(max_price) if max_price else None,
        frozenset(allow),
        frozenset(exclude),
        max_runtime_s=max_runtime,
        estimates=estimates or {},
        queued_at=None if queued_ago is None else T0 - timedelta(seconds=queued_ago),
        service=service,
    )


def running(
    job_id: str,
    pool_id: str,
    nodes: tuple[int, ...],
    per_node: int,
    *,
    ends_in: float,
    deadline_in: float | None = None,
    tenant: str = "tenant",
    priority: int = 50,
    preemptible: bool = False,
    started_ago: float = 600,
    stopping: bool = False,
    requeues: int = 0,
    requeues_left: int = 10,
    service: bool = False,
) -> RunningJob:
    return RunningJob(
        job_id,
        tenant,
        pool_id,
        nodes,
        per_node,
        1,
        1,
        priority,
        preemptible,
        T0 - timedelta(seconds=started_ago),
        T0 + timedelta(seconds=ends_in),
        T0 + timedelta(seconds=deadline_in if deadline_in is not None else ends_in),
        stopping=stopping,
        requeues=requeues,
        requeues_left=requeues_left,
        service=service,
    )
