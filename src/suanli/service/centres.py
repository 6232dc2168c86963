"""Use cases for centres, pools and price cards, and the capacity views of a centre and of the city."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from suanli.domain.accelerators import Catalogue
from suanli.domain.centres import (
    Centre,
    CentreStatus,
    EngineKind,
    Pool,
    PoolShape,
    PriceCard,
    PriceUnit,
    price_in_effect,
)
from suanli.domain.errors import FieldError, Forbidden, InvalidInput, NotFound
from suanli.domain.ids import new_id
from suanli.domain.jobs.states import HOLDS_CAPACITY
from suanli.domain.money import parse_money
from suanli.domain.tenants import Principal, Role, TokenSecret, check_slug
from suanli.ports import UnitOfWork
from suanli.service.access import only_fields, require_role, require_user
from suanli.service.auth import mint_agent_token
from suanli.service.catalogue import effective_catalogue
from suanli.service.context import Context


@dataclass(frozen=True)
class CentreInput:
    name: str
    operator_tenant_id: str
    engine: EngineKind
    display_name: str = ""
    city: str = ""
    district: str = ""
    enabled: bool = True


@dataclass(frozen=True)
class PoolInput:
    name: str
    model: str
    nodes: int
    accelerators_per_node: int
    cpus_per_node: int
    memory_gib_per_node: int
    enabled: bool = True


@dataclass(frozen=True)
class PoolView:
    pool: Pool
    shape: PoolShape
    price: PriceCard | None
    accelerators_in_use: int
    cpus_in_use: float
    running_jobs: int


@dataclass(frozen=True)
class CentreView:
    centre: Centre
    status: CentreStatus
    pools: tuple[PoolView, ...]

    @property
    def pflops_fp16(self) -> Decimal:
        return sum((p.shape.pflops_fp16() for p in self.pools), Decimal(0))


def _require_operator_of(principal: Principal, centre: Centre) -> None:
    """City admins, and centre operators of the centre's operator tenant, manage a centre."""
    require_user(principal)
    if principal.role is Role.CITY_ADMIN:
        return
    if principal.role is Role.CENTRE_OPERATOR and principal.tenant_id == centre.operator_tenant_id:
        return
    raise Forbidden("only the centre's operators or a city admin may change it")


def create_centre(ctx: Context, principal: Principal, data: CentreInput) -> Centre:
    require_role(principal, Role.CITY_ADMIN)
    check_slug(data.name, "name")
    now = ctx.clock.now()
    centre = Centre(
        id=new_id("centre", now),
        name=data.name,
        display_name=data.display_name or data.name,
        operator_tenant_id=data.operator_tenant_id,
        engine=data.engine,
        city=data.city,
        district=data.district,
        enabled=data.enabled,
        created_at=now,
    )
    with ctx.store.uow() as uow:
        if uow.tenants.get(data.operator_tenant_id) is None:
            raise InvalidInput([FieldError("operator_tenant_id", "no such tenant")])
        uow.centres.add(centre)
    return centre


def update_centre(ctx: Context, principal: Principal, centre_id: str, changes: dict[str, object]) -> Centre:
    only_fields(changes, {"display_name", "city", "district", "enabled", "engine"})
    with ctx.store.uow() as uow:
        centre = _get_centre(uow, centre_id)
        _require_operator_of(principal, centre)
        updated = replace(centre, **changes)  # type: ignore[arg-type]
        uow.centres.update(updated)
    return updated


def _get_centre(uow: UnitOfWork, centre_id: str) -> Centre:
    centre = uow.centres.get(centre_id) or uow.centres.get_by_name(centre_id)
    if centre is None:
        raise NotFound("centre not found")
    return centre


def validate_pool(data: PoolInput, catalogue: Catalogue) -> str:
    """The pool's model id, once its name, model and shape are found valid (else InvalidInput naming the field)."""
    check_slug(data.name, "name")
    model = catalogue.require(data.model, "model")
    errors = []
    if model.is_cpu and data.accelerators_per_node != 0:
        errors.append(FieldError("accelerators_per_node", f"{model.id} is a CPU node model: use 0"))
    if not model.is_cpu and not 1 <= data.accelerators_per_node <= 64:
        errors.append(FieldError("accelerators_per_node", "between 1 and 64 for an accelerator pool"))
    if not 1 <= data.nodes <= 100_000:
        errors.append(FieldError("nodes", "between 1 and 100000"))
    if not 1 <= data.cpus_per_node <= 4096:
        errors.append(FieldError("cpus_per_node", "between 1 and 4096"))
    if not 1 <= data.memory_gib_per_node <= 65536:
        errors.append(FieldError("memory_gib_per_node", "between 1 and 65536"))
    if errors:
        raise InvalidInput(errors)
    return model.id


def add_pool(ctx: Context, principal: Principal, centre_id: str, data: PoolInput) -> Pool:
    now = ctx.clock.now()
    with ctx.store.uow() as uow:
        centre = _get_centre(uow, centre_id)
        _require_operator_of(principal, centre)
        model_id = validate_pool(data, effective_catalogue(uow))
        pool = Pool(
            id=new_id("pool", now),
            centre_id=centre.id,
            name=data.name,
            model=model_id,
            nodes=data.nodes,
            accelerators_per_node=data.accelerators_per_node,
            cpus_per_node=data.cpus_per_node,
            memory_gib_per_node=data.memory_gib_per_node,
            enabled=data.enabled,
            created_at=now,
        )
        uow.pools.add(pool)
    return pool


def update_pool(ctx: Context, principal: Principal, pool_id: str, changes: dict[str, object]) -> Pool:
    only_fields(changes, {"nodes", "accelerators_per_node", "cpus_per_node", "memory_gib_per_node", "enabled"})
    with ctx.store.uow() as uow:
        pool = _get_pool(uow, pool_id)
        _require_operator_of(principal, _get_centre(uow, pool.centre_id))
        updated = replace(pool, **changes)  # type: ignore[arg-type]
        validate_pool(
            PoolInput(
                updated.name,
                updated.model,
                updated.nodes,
                updated.accelerators_per_node,
                updated.cpus_per_node,
                updated.memory_gib_per_node,
            ),
            effective_catalogue(uow),
        )
        uow.pools.update(updated)
    return updated


def _get_pool(uow: UnitOfWork, pool_id: str) -> Pool:
    pool = uow.pools.get(pool_id)
    if pool is None:
        raise NotFound("pool not found")
    return pool


def discount_problem(discount: Decimal) -> FieldError | None:
    """What is wrong with a preemptible discount already parsed as money (at least 0), if anything."""
    if discount > 1:
        return FieldError("preemptible_discount", 'a fraction between 0 and 1, e.g. "0.4" for 40% off')
    return None


def add_price(
    ctx: Context,
    principal: Principal,
    pool_id: str,
    price: object,
    preemptible_discount: object = "0",
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
) -> PriceCard:
    """Publish a price card for a pool: CNY per accelerator-hour (per core-hour for CPU pools)."""
    now = ctx.clock.now()
    amount = parse_money(price, "price")
    discount = parse_money(preemptible_discount, "preemptible_discount")
    start = valid_from or now
    errors = [problem] if (problem := discount_problem(discount)) is not None else []
    if start.tzinfo is None or (valid_to is not None and valid_to.tzinfo is None):
        errors.append(FieldError("valid_from", "give times with a timezone, e.g. 2026-12-01T00:00:00+08:00"))
    elif valid_to is not None and valid_to <= start:
        errors.append(FieldError("valid_to", "must be after valid_from"))
    if errors:
        raise InvalidInput(errors)
    with ctx.store.uow() as uow:
        pool = _get_pool(uow, pool_id)
        _require_operator_of(principal, _get_centre(uow, pool.centre_id))
        model = effective_catalogue(uow).get(pool.model)
        unit = PriceUnit.CORE_HOUR if model is not None and model.is_cpu else PriceUnit.ACCELERATOR_HOUR
        card = PriceCard(new_id("price", now), pool.id, amount, unit, discount, start, valid_to)
        uow.prices.add(card, by=principal.name, at=now)
    return card


def list_prices(ctx: Context, principal: Principal, pool_id: str) -> list[PriceCard]:
    require_user(principal)
    with ctx.store.uow() as uow:
        _get_pool(uow, pool_id)
        return uow.prices.list(pool_id)


def create_agent_token(ctx: Context, principal: Principal, centre_id: str, name: str = "agent") -> TokenSecret:
    with ctx.store.uow() as uow:
        centre = _get_centre(uow, centre_id)
        _require_operator_of(principal, centre)
        return mint_agent_token(uow, centre.id, name, ctx.clock.now())


def centre_views(ctx: Context, uow: UnitOfWork, only: str | None = None) -> list[CentreView]:
    """Every centre (or one) with its status, pools, prices in effect and what is in use now."""
    now = ctx.clock.now()
    catalogue = effective_catalogue(uow)
    centres = [_get_centre(uow, only)] if only else uow.centres.list()
    pools = uow.pools.list(centres[0].id if only else None)
    cards: dict[str, list[PriceCard]] = {}
    for card in uow.prices.list():
        cards.setdefault(card.pool_id, []).append(card)
    used: dict[str, tuple[int, float, int]] = {}
    for attempt in uow.attempts.in_states(sorted(HOLDS_CAPACITY)):
        n = len(attempt.node_indices)
        accel, cpus, jobs = used.get(attempt.pool_id, (0, 0.0, 0))
        used[attempt.pool_id] = (accel + attempt.per_node * n, cpus + attempt.cpus_per_node * n, jobs + 1)
    views = []
    for centre in centres:
        pool_views = []
        for pool in (p for p in pools if p.centre_id == centre.id):
            model = catalogue.get(pool.model)
            if model is None:
                continue
            shape = PoolShape(
                model, pool.nodes, pool.accelerators_per_node, pool.cpus_per_node, pool.memory_gib_per_node
            )
            accel, cpus, jobs = used.get(pool.id, (0, 0.0, 0))
            pool_views.append(PoolView(pool, shape, price_in_effect(cards.get(pool.id, []), now), accel, cpus, jobs))
        views.append(CentreView(centre, centre.status(now, ctx.heartbeat_timeout), tuple(pool_views)))
    return views


def list_centres(ctx: Context, principal: Principal) -> list[CentreView]:
    """All centres: every signed-in user may see what the city offers and at what price."""
    require_user(principal)
    with ctx.store.uow() as uow:
        return centre_views(ctx, uow)


def get_centre(ctx: Context, principal: Principal, centre_id: str) -> CentreView:
    require_user(principal)
    with ctx.store.uow() as uow:
        return centre_views(ctx, uow, only=centre_id)[0]


@dataclass(frozen=True)
class CityCapacity:
    centres: int
    centres_online: int
    pflops_fp16: Decimal
    pflops_fp16_online: Decimal
    accelerators_total: int
    accelerators_in_use: int
    units_by_model: dict[str, int]  # accelerators per model (nodes for CPU models)


def city_capacity(ctx: Context, principal: Principal) -> CityCapacity:
    """The city's nameplate capacity in PFLOPS FP16, what is online, and what is in use."""
    views = list_centres(ctx, principal)
    by_model: dict[str, int] = {}
    total = online = Decimal(0)
    accel = used = 0
    for view in views:
        total += view.pflops_fp16
        if view.status is CentreStatus.ONLINE:
            online += view.pflops_fp16
        for p in view.pools:
            by_model[p.pool.model] = by_model.get(p.pool.model, 0) + p.shape.units
            accel += p.pool.nodes * p.pool.accelerators_per_node
            used += p.accelerators_in_use
    online_count = sum(v.status is CentreStatus.ONLINE for v in views)
    return CityCapacity(len(views), online_count, total, online, accel, used, by_model)
