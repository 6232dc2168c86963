"""Repositories for tenants, users, API tokens and catalogue amendments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from suanli.domain.accelerators import AcceleratorModel, Stack
from suanli.domain.errors import AlreadyExists
from suanli.domain.money import FEN
from suanli.domain.tenants import ApiToken, Role, Tenant, TenantKind, TenantStatus, User, UserStatus
from suanli.store.tables import AcceleratorModelRow, ApiTokenRow, ProjectBudgetRow, TenantRow, UserRow


def insert(session: Session, row: object, what: str, field: str | None = None) -> None:
    """Insert one row inside a savepoint; a unique violation becomes AlreadyExists (the transaction lives on)."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise AlreadyExists(f"{what} already exists", field=field) from None


def _tenant(row: TenantRow) -> Tenant:
    return Tenant(
        id=row.id,
        name=row.name,
        display_name=row.display_name,
        kind=TenantKind(row.kind),
        sme=row.sme,
        registered_city=row.registered_city,
        industry=row.industry,
        status=TenantStatus(row.status),
        created_at=row.created_at,
        weight=row.weight,
        quota=row.quota,
        monthly_budget=row.monthly_budget.quantize(FEN) if row.monthly_budget is not None else None,
        startup=row.startup,
        blacklisted=row.blacklisted,
        major_accident_year=row.major_accident_year,
        related_parties=tuple(row.related_parties or ()),
    )


def _voucher_fields(tenant: Tenant) -> dict[str, object]:
    return {
        "startup": tenant.startup,
        "blacklisted": tenant.blacklisted,
        "major_accident_year": tenant.major_accident_year,
        "related_parties": list(tenant.related_parties),
    }


class SqlTenantRepo:
    def __init__(self, session: Session) -> None:
        self.s = session

    def project_budgets(self, tenant_ids: Sequence[str] | None = None) -> dict[tuple[str, str], Decimal]:
        q = select(ProjectBudgetRow)
        if tenant_ids is not None:
            q = q.where(ProjectBudgetRow.tenant_id.in_(list(tenant_ids)))
        return {(r.tenant_id, r.project): r.monthly_budget.quantize(FEN) for r in self.s.scalars(q)}

    def set_project_budget(self, tenant_id: str, project: str, monthly_budget: Decimal | None, at: datetime) -> None:
        row = self.s.get(ProjectBudgetRow, (tenant_id, project))
        if monthly_budget is None:
            if row is not None:
                self.s.delete(row)
        elif row is None:
            self.s.add(
                ProjectBudgetRow(tenant_id=tenant_id, project=project, monthly_budget=monthly_budget, updated_at=at)
            )
        else:
            row.monthly_budget, row.updated_at = monthly_budget, at
        self.s.flush()

    def add(self, tenant: Tenant) -> None:
        row = TenantRow(
            id=tenant.id,
            name=tenant.name,
            display_name=tenant.display_name,
            kind=tenant.kind.value,
            sme=tenant.sme,
            registered_city=tenant.registered_city,
            industry=tenant.industry,
            status=tenant.status.value,
            created_at=tenant.created_at,
            weight=tenant.weight,
            quota=tenant.quota,
            monthly_budget=tenant.monthly_budget,
            **_voucher_fields(tenant),
        )
        insert(self.s, row, f"a tenant named {tenant.name!r}", "name")

    def get(self, tenant_id: str) -> Tenant | None:
        row = self.s.get(TenantRow, tenant_id)
        return _tenant(row) if row else None

    def get_by_name(self, name: str) -> Tenant | None:
        row = self.s.scalar(select(TenantRow).where(TenantRow.name == name))
        return _tenant(row) if row else None

    def list(self) -> list[Tenant]:
        return [_tenant(r) for r in self.s.scalars(select(TenantRow).order_by(TenantRow.name))]

    def update(self, tenant: Tenant) -> None:
        self.s.execute(
            update(TenantRow)
            .where(TenantRow.id == tenant.id)
            .values(
                display_name=tenant.display_name,
                kind=tenant.kind.value,
                sme=tenant.sme,
                registered_city=tenant.registered_city,
                industry=tenant.industry,
                status=tenant.status.value,
                weight=tenant.weight,
                quota=tenant.quota,
                monthly_budget=tenant.monthly_budget,
                **_voucher_fields(tenant),
            )
        )


def _user(row: UserRow) -> User:
    return User(
        id=row.id,
        tenant_id=row.tenant_id,
        name=row.name,
        display_name=row.display_name,
        email=row.email,
        role=Role(row.role),
        status=UserStatus(row.status),
        created_at=row.created_at,
    )


class SqlUserRepo:
    def __init__(self, session: Session) -> None:
        self.s = session

    def add(self, user: User) -> None:
        row = UserRow(
            id=user.id,
            tenant_id=user.tenant_id,
            name=user.name,
            display_name=user.display_name,
            email=user.email,
            role=user.role.value,
            status=user.status.value,
            created_at=user.created_at,
        )
        insert(self.s, row, f"a user named {user.name!r}", "name")

    def get(self, user_id: str) -> User | None:
        row = self.s.get(UserRow, user_id)
        return _user(row) if row else None

    def get_by_name(self, name: str) -> User | None:
        row = self.s.scalar(select(UserRow).where(UserRow.name == name))
        return _user(row) if row else None

    def list(self, tenant_id: str | None = None) -> list[User]:
        query = select(UserRow).order_by(UserRow.name)
        if tenant_id is not None:
            query = query.where(UserRow.tenant_id == tenant_id)
        return [_user(r) for r in self.s.scalars(query)]

    def count(self) -> int:
        return int(self.s.scalar(select(func.count()).select_from(UserRow)) or 0)

    def update(self, user: User) -> None:
        self.s.execute(
            update(UserRow)
            .where(UserRow.id == user.id)
            .values(display_name=user.display_name, email=user.email, role=user.role.value, status=user.status.value)
        )


def _token(row: ApiTokenRow) -> ApiToken:
    return ApiToken(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        secret_hash=row.secret_hash,
        created_at=row.created_at,
        user_id=row.user_id,
        centre_id=row.centre_id,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


class SqlTokenRepo:
    def __init__(self, session: Session) -> None:
        self.s = session

    def add(self, token: ApiToken) -> None:
        row = ApiTokenRow(
            id=token.id,
            name=token.name,
            prefix=token.prefix,
            secret_hash=token.secret_hash,
            user_id=token.user_id,
            centre_id=token.centre_id,
            created_at=token.created_at,
            expires_at=token.expires_at,
            revoked_at=token.revoked_at,
            last_used_at=token.last_used_at,
        )
        insert(self.s, row, "this token")

    def get(self, token_id: str) -> ApiToken | None:
        row = self.s.get(ApiTokenRow, token_id)
        return _token(row) if row else None

    def find_by_hash(self, secret_hash: str) -> ApiToken | None:
        row = self.s.scalar(select(ApiTokenRow).where(ApiTokenRow.secret_hash == secret_hash))
        return _token(row) if row else None

    def list(self, user_id: str | None = None, centre_id: str | None = None) -> list[ApiToken]:
        query = select(ApiTokenRow).order_by(ApiTokenRow.id)
        if user_id is not None:
            query = query.where(ApiTokenRow.user_id == user_id)
        if centre_id is not None:
            query = query.where(ApiTokenRow.centre_id == centre_id)
        return [_token(r) for r in self.s.scalars(query)]

    def revoke(self, token_id: str, at: datetime) -> None:
        self.s.execute(
            update(ApiTokenRow)
            .where(ApiTokenRow.id == token_id, ApiTokenRow.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    def touch(self, token_id: str, at: datetime) -> None:
        self.s.execute(update(ApiTokenRow).where(ApiTokenRow.id == token_id).values(last_used_at=at))


def _model(row: AcceleratorModelRow) -> AcceleratorModel:
    return AcceleratorModel(
        id=row.id,
        vendor=row.vendor,
        memory_gib=row.memory_gib.normalize(),
        fp16_tflops=row.fp16_tflops.normalize(),
        stack=Stack(row.stack),
        domestic=row.domestic,
        source=row.source,
        aliases=tuple(row.aliases.get("aliases", [])),
        unit=row.unit,
        origin="operator",
    )


class SqlCatalogueRepo:
    def __init__(self, session: Session) -> None:
        self.s = session

    def amendments(self) -> list[AcceleratorModel]:
        return [_model(r) for r in self.s.scalars(select(AcceleratorModelRow).order_by(AcceleratorModelRow.id))]

    def upsert(self, model: AcceleratorModel, by: str, at: datetime) -> None:
        row = self.s.get(AcceleratorModelRow, model.id) or AcceleratorModelRow(id=model.id)
        row.vendor = model.vendor
        row.memory_gib = model.memory_gib
        row.fp16_tflops = model.fp16_tflops
        row.stack = model.stack.value
        row.domestic = model.domestic
        row.unit = model.unit
        row.aliases = {"aliases": list(model.aliases)}
        row.source = model.source
        row.updated_by = by
        row.updated_at = at
        self.s.add(row)
        self.s.flush()
