"""Repositories for centres, pools and price cards."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from suanli.domain.centres import Centre, EngineKind, Pool, PriceCard, PriceUnit
from suanli.store.repos_people import insert
from suanli.store.tables import CentreRow, PoolRow, PriceCardRow

_PRICE = Decimal("0.0001")


def _centre(row: CentreRow) -> Centre:
    return Centre(
        id=row.id,
        name=row.name,
        display_name=row.display_name,
        operator_tenant_id=row.operator_tenant_id,
        engine=EngineKind(row.engine),
        city=row.city,
        district=row.district,
        enabled=row.enabled,
        created_at=row.created_at,
        last_heartbeat_at=row.last_heartbeat_at,
        agent_info=dict(row.agent_info or {}),
    )


class SqlCentreRepo:
    def __init__(self, session: Session) -> None:
        self.s = session

    def add(self, centre: Centre) -> None:
        row = CentreRow(
            id=centre.id,
            name=centre.name,
            display_name=centre.display_name,
            operator_tenant_id=centre.operator_tenant_id,
            engine=centre.engine.value,
            city=centre.city,
            district=centre.district,
            enabled=centre.enabled,
            created_at=centre.created_at,
            last_heartbeat_at=centre.last_heartbeat_at,
            agent_info=dict(centre.agent_info),
        )
        insert(self.s, row, f"a centre named {centre.name!r}", "name")

    def get(self, centre_id: str) -> Centre | None:
        row = self.s.get(CentreRow, centre_id)
        return _centre(row) if row else None

    def get_by_name(self, name: str) -> Centre | None:
        row = self.s.scalar(select(CentreRow).where(CentreRow.name == name))
        return _centre(row) if row else None

    def list(self) -> list[Centre]:
        return [_centre(r) for r in self.s.scalars(select(CentreRow).order_by(CentreRow.name))]

    def update(self, centre: Centre) -> None:
        self.s.execute(
            update(CentreRow)
            .where(CentreRow.id == centre.id)
            .values(
                display_name=centre.display_name,
                engine=centre.engine.value,
                city=centre.city,
                district=centre.district,
                enabled=centre.enabled,
            )
        )

    def heartbeat(self, centre_id: str, at: datetime, agent_info: dict[str, object]) -> None:
        self.s.execute(
            update(CentreRow).where(CentreRow.id == centre_id).values(last_heartbeat_at=at, agent_info=agent_info)
        )


def _pool(row: PoolRow) -> Pool:
    return Pool(
        id=row.id,
        centre_id=row.centre_id,
        name=row.name,
        model=row.model,
        nodes=row.nodes,
        accelerators_per_node=row.accelerators_per_node,
        cpus_per_node=row.cpus_per_node,
        memory_gib_per_node=row.memory_gib_per_node,
        enabled=row.enabled,
        created_at=row.created_at,
        nodes_up=row.nodes_up,
    )


class SqlPoolRepo:
    def __init__(self, session: Session) -> None:
        self.s = session

    def add(self, pool: Pool) -> None:
        row = PoolRow(
            id=pool.id,
            centre_id=pool.centre_id,
            name=pool.name,
            model=pool.model,
            nodes=pool.nodes,
            accelerators_per_node=pool.accelerators_per_node,
            cpus_per_node=pool.cpus_per_node,
            memory_gib_per_node=pool.memory_gib_per_node,
            enabled=pool.enabled,
            created_at=pool.created_at,
            nodes_up=pool.nodes_up,
        )
        insert(self.s, row, f"a pool named {pool.name!r} in this centre", "name")

    def get(self, pool_id: str) -> Pool | None:
        row = self.s.get(PoolRow, pool_id)
        return _pool(row) if row else None

    def list(self, centre_id: str | None = None) -> list[Pool]:
        query = select(PoolRow).order_by(PoolRow.centre_id, PoolRow.name)
        if centre_id is not None:
            query = query.where(PoolRow.centre_id == centre_id)
        return [_pool(r) for r in self.s.scalars(query)]

    def update(self, pool: Pool) -> None:
        self.s.execute(
            update(PoolRow)
            .where(PoolRow.id == pool.id)
            .values(
                nodes=pool.nodes,
                accelerators_per_node=pool.accelerators_per_node,
                cpus_per_node=pool.cpus_per_node,
                memory_gib_per_node=pool.memory_gib_per_node,
                enabled=pool.enabled,
                nodes_up=pool.nodes_up,
            )
        )


def _card(row: PriceCardRow) -> PriceCard:
    return PriceCard(
        id=row.id,
        pool_id=row.pool_id,
        price=row.price.quantize(_PRICE),
        unit=PriceUnit(row.unit),
        preemptible_discount=row.preemptible_discount.quantize(_PRICE),
        valid_from=row.valid_from,
        valid_to=row.valid_to,
    )


class SqlPriceRepo:
    def __init__(self, session: Session) -> None:
        self.s = session

    def add(self, card: PriceCard, by: str, at: datetime) -> None:
        row = PriceCardRow(
            id=card.id,
            pool_id=card.pool_id,
            price=card.price,
            unit=card.unit.value,
            preemptible_discount=card.preemptible_discount,
            valid_from=card.valid_from,
            valid_to=card.valid_to,
            created_by=by,
            created_at=at,
        )
        insert(self.s, row, "this price card")

    def list(self, pool_id: str | None = None) -> list[PriceCard]:
        query = select(PriceCardRow).order_by(PriceCardRow.pool_id, PriceCardRow.valid_from, PriceCardRow.id)
        if pool_id is not None:
            query = query.where(PriceCardRow.pool_id == pool_id)
        return [_card(r) for r in self.s.scalars(query)]
