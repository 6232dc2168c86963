"""Small named fit rules. Each answers with a PoolReason when a pool does not take a job, or None.

Static rules depend only on the job and the pool's shape (a job failing them everywhere is rejected);
dynamic rules depend on the moment (status, price, free capacity) and make a job wait.
"""

from __future__ import annotations

from suanli.domain.centres import CentreStatus
from suanli.domain.jobs.request import Option, ResourceRequest
from suanli.domain.money import format_price
from suanli.scheduling.decisions import PoolReason, ReasonCode
from suanli.scheduling.snapshot import PendingJob, PoolState


def _reason(pool: PoolState, code: ReasonCode, message: str) -> PoolReason:
    return PoolReason(pool.pool_id, pool.centre_name, pool.pool_name, code, message)


def _num(value: float) -> str:
    return f"{value:g}"


def option_for_pool(request: ResourceRequest, pool: PoolState) -> Option | None:
    """The job's accelerator option this pool's model satisfies, if any."""
    return request.option_for(pool.model)


def static_reason(job: PendingJob, pool: PoolState) -> PoolReason | None:
    """Why `pool` can never run `job` as specified, or None if its shape and centre allow it."""
    request = job.request
    if job.allow_centres and pool.centre_name not in job.allow_centres:
        return _reason(pool, ReasonCode.CENTRE_NOT_ALLOWED, f"centre {pool.centre_name} is not in the job's allow list")
    if pool.centre_name in job.exclude_centres:
        return _reason(pool, ReasonCode.CENTRE_EXCLUDED, f"the job excludes centre {pool.centre_name}")
    if request.cpu_only:
        if not pool.is_cpu:
            return _reason(pool, ReasonCode.STACK_MISMATCH, f"CPU-only job; this pool has {pool.model} accelerators")
    else:
        option = option_for_pool(request, pool)
        if option is None:
            wanted = " or ".join(o.model for o in request.options)
            if pool.is_cpu:
                return _reason(pool, ReasonCode.STACK_MISMATCH, f"CPU pool; the job needs {wanted}")
            return _reason(pool, ReasonCode.MODEL_MISMATCH, f"pool has {pool.model}; the job needs {wanted}")
        if option.per_node > pool.accelerators_per_node:
            return _reason(
                pool,
                ReasonCode.TOO_MANY_ACCELERATORS,
                f"{pool.accelerators_per_node} {pool.model} per node; the job needs {option.per_node}",
            )
    if request.nodes > pool.node_count:
        return _reason(pool, ReasonCode.TOO_MANY_NODES, f"{pool.node_count} nodes; the job needs {request.nodes}")
    if request.cpus > pool.cpus_per_node:
        return _reason(
            pool,
            ReasonCode.CPUS_PER_NODE,
            f"{_num(pool.cpus_per_node)} CPUs per node; the job needs {_num(request.cpus)}",
        )
    if request.memory_gib > pool.memory_gib_per_node:
        return _reason(
            pool,
            ReasonCode.MEMORY_PER_NODE,
            f"{_num(pool.memory_gib_per_node)} GiB per node; the job needs {_num(request.memory_gib)}",
        )
    return None


def availability_reason(job: PendingJob, pool: PoolState) -> PoolReason | None:
    """Why `pool` cannot take `job` at this moment for reasons other than capacity (status, price)."""
    if pool.centre_status is CentreStatus.DISABLED:
        return _reason(pool, ReasonCode.CENTRE_DISABLED, f"centre {pool.centre_name} is out of service")
    if pool.centre_status is CentreStatus.OFFLINE:
        return _reason(pool, ReasonCode.CENTRE_OFFLINE, f"centre {pool.centre_name} is offline (no agent heartbeat)")
    if pool.centre_status is CentreStatus.DEGRADED:
        return _reason(
            pool,
            ReasonCode.CENTRE_DEGRADED,
            f"centre {pool.centre_name} is degraded (its agent cannot reach the engine)",
        )
    if not pool.enabled:
        return _reason(pool, ReasonCode.POOL_DISABLED, "pool is disabled by its operator")
    price = pool.price_for(job.preemptible)
    if price is None:
        return _reason(pool, ReasonCode.NO_PRICE, "no price card is in effect for this pool")
    if job.max_price is not None and price > job.max_price:
        unit = "core-hour" if pool.is_cpu else "accelerator-hour"
        return _reason(
            pool,
            ReasonCode.PRICE_ABOVE_MAX,
            f"price ¥{format_price(price)}/{unit} is above the job's max_price ¥{format_price(job.max_price)}",
        )
    return None


def demand_per_node(job: PendingJob, pool: PoolState) -> tuple[int, float, float]:
    """(accelerators, cpus, memory GiB) the job takes on each node of this pool."""
    return job.request.demand_on(pool.model)


def capacity_reason(job: PendingJob, pool: PoolState, fitting: int, up: int) -> PoolReason:
    """Explain a capacity shortfall: `fitting` of the pool's `up` nodes could take a share of the gang now (as
    many as the gang needs: room the policy keeps for jobs ahead)."""
    if fitting >= job.request.nodes:  # room it was not given: the policy keeps it for jobs ahead
        return _reason(
            pool,
            ReasonCode.LOWER_RANK,
            f"room now on {fitting} of {pool.node_count} node(s), but kept for jobs ahead: by its max_runtime the "
            "job would delay a reservation",
        )
    accel, cpus, memory = demand_per_node(job, pool)
    if pool.is_cpu:
        need = f"{job.request.nodes} node(s) x {_num(cpus)} CPUs / {_num(memory)} GiB"
    else:
        need = f"{job.request.nodes} node(s) x {accel} {pool.model}"
    down = pool.node_count - up
    down_text = f" ({down} node(s) down)" if down > 0 else ""
    return _reason(
        pool,
        ReasonCode.INSUFFICIENT_CAPACITY,
        f"pool busy: {fitting} of {pool.node_count} node(s) have room now{down_text}; the job needs {need}",
    )
