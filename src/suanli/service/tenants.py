"""Use cases for tenants (organisations) and their users, and the first city admin (bootstrap)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from suanli.domain.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from suanli.domain.ids import new_id
from suanli.domain.tenants import (
    PLATFORM_ROLES,
    REVIEW_ROLES,
    USER_NAME_RE,
    Principal,
    Role,
    Tenant,
    TenantKind,
    TenantStatus,
    TokenSecret,
    User,
    UserStatus,
    check_slug,
)
from suanli.ports import UnitOfWork
from suanli.service.access import only_fields, require_role, require_user, require_writer, visible_tenant
from suanli.service.auth import mint_user_token
from suanli.service.context import Context


@dataclass(frozen=True)
class TenantInput:
    name: str
    display_name: str
    kind: TenantKind
    sme: bool = False
    registered_city: str = ""
    industry: str = ""
    weight: float = 1.0
    quota: float = 0.0


@dataclass(frozen=True)
class UserInput:
    name: str
    role: Role
    display_name: str = ""
    email: str = ""


def create_tenant(ctx: Context, principal: Principal, data: TenantInput) -> Tenant:
    require_role(principal, Role.CITY_ADMIN)
    check_slug(data.name, "name")
    now = ctx.clock.now()
    tenant = Tenant(
        id=new_id("tenant", now),
        name=data.name,
        display_name=data.display_name or data.name,
        kind=data.kind,
        sme=data.sme,
        registered_city=data.registered_city,
        industry=data.industry,
        status=TenantStatus.ACTIVE,
        created_at=now,
        weight=data.weight,
        quota=data.quota,
    )
    _check_share(tenant.weight, tenant.quota)
    with ctx.store.uow() as uow:
        uow.tenants.add(tenant)
    return tenant


def _check_share(weight: float, quota: float) -> None:
    errors = []
    if not 0 < weight <= 1000:
        errors.append(FieldError("weight", "a fair-share weight between 0 (exclusive) and 1000"))
    if not 0 <= quota <= 1_000_000:
        errors.append(FieldError("quota", "guaranteed A100-equivalent accelerators, 0 or more"))
    if errors:
        raise InvalidInput(errors)


UPDATABLE = frozenset(
    {"display_name", "kind", "sme", "registered_city", "industry", "status", "weight", "quota"}
    | {"startup", "blacklisted", "major_accident_year", "related_parties"}
)


def _related(uow: UnitOfWork, tenant_id: str, refs: object) -> tuple[str, ...]:
    """Related parties named by tenant id or name, stored as ids (a tenant is never its own)."""
    if not isinstance(refs, list | tuple):
        raise InvalidInput([FieldError("related_parties", "a list of tenant names or ids")])
    out: list[str] = []
    for i, ref in enumerate(refs):
        other = uow.tenants.get(str(ref)) or uow.tenants.get_by_name(str(ref))
        if other is None or other.id == tenant_id:
            raise InvalidInput([FieldError(f"related_parties[{i}]", f"no other tenant {ref!r}")])
        if other.id not in out:
            out.append(other.id)
    return tuple(out)


def update_tenant(ctx: Context, principal: Principal, tenant_id: str, changes: dict[str, object]) -> Tenant:
    """City admins change a tenant's profile or status (e.g. suspend it)."""
    require_role(principal, Role.CITY_ADMIN)
    only_fields(changes, UPDATABLE)
    with ctx.store.uow() as uow:
        tenant = uow.tenants.get(tenant_id)
        if tenant is None:
            raise NotFound("tenant not found")
        if "related_parties" in changes:
            changes = {**changes, "related_parties": _related(uow, tenant.id, changes["related_parties"])}
        year = changes.get("major_accident_year")
        if year is not None and (not isinstance(year, int) or not 1900 <= year <= 2100):
            raise InvalidInput([FieldError("major_accident_year", "a calendar year")])
        updated = replace(tenant, **changes)  # type: ignore[arg-type]
        _check_share(updated.weight, updated.quota)
        uow.tenants.update(updated)
    return updated


def get_tenant(ctx: Context, principal: Principal, tenant_id: str) -> Tenant:
    require_user(principal)
    visible_tenant(principal, tenant_id)
    with ctx.store.uow() as uow:
        tenant = uow.tenants.get(tenant_id)
    if tenant is None:
        raise NotFound("tenant not found")
    return tenant


def list_tenants(ctx: Context, principal: Principal) -> list[Tenant]:
    require_user(principal)
    with ctx.store.uow() as uow:
        if principal.is_platform:
            return uow.tenants.list()
        tenant = uow.tenants.get(principal.tenant_id or "")
        return [tenant] if tenant else []


def create_user(ctx: Context, principal: Principal, tenant_id: str, data: UserInput) -> User:
    """City admins add anyone anywhere; tenant admins add members, admins and operators to their own tenant."""
    require_user(principal)
    require_writer(principal)
    if not principal.can_manage_tenant(tenant_id):
        visible_tenant(principal, tenant_id)
        raise Forbidden("only this tenant's admins or a city admin may add users")
    if data.role in PLATFORM_ROLES | REVIEW_ROLES and principal.role is not Role.CITY_ADMIN:
        raise Forbidden(f"only a city admin may grant the {data.role.value} role")
    if not USER_NAME_RE.match(data.name):
        raise InvalidInput([FieldError("name", "1-128 characters: letters, digits and . _ @ + -")])
    now = ctx.clock.now()
    user = User(
        id=new_id("user", now),
        tenant_id=tenant_id,
        name=data.name,
        display_name=data.display_name or data.name,
        email=data.email,
        role=data.role,
        status=UserStatus.ACTIVE,
        created_at=now,
    )
    with ctx.store.uow() as uow:
        if uow.tenants.get(tenant_id) is None:
            raise NotFound("tenant not found")
        uow.users.add(user)
    return user


def list_users(ctx: Context, principal: Principal, tenant_id: str) -> list[User]:
    require_user(principal)
    visible_tenant(principal, tenant_id)
    with ctx.store.uow() as uow:
        return uow.users.list(tenant_id)


def get_user(ctx: Context, principal: Principal, user_id: str) -> User:
    require_user(principal)
    with ctx.store.uow() as uow:
        user = uow.users.get(user_id)
    if user is None or not principal.can_read_tenant(user.tenant_id):
        raise NotFound("user not found")
    return user


def bootstrap(ctx: Context, tenant_name: str = "city", admin_name: str = "admin") -> TokenSecret:
    """Create the platform's own tenant and first city admin, and return the admin's token.

    Allowed only while the database has no users at all, so it cannot be used to take over a platform.
    """
    check_slug(tenant_name, "tenant")
    now = ctx.clock.now()
    with ctx.store.uow() as uow:
        if uow.users.count() > 0:
            raise Conflict("this platform already has users; ask a city admin for a token")
        tenant = Tenant(
            id=new_id("tenant", now),
            name=tenant_name,
            display_name="City compute platform",
            kind=TenantKind.GOVERNMENT,
            sme=False,
            registered_city="",
            industry="public administration",
            status=TenantStatus.ACTIVE,
            created_at=now,
        )
        uow.tenants.add(tenant)
        admin = User(
            new_id("user", now), tenant.id, admin_name, admin_name, "", Role.CITY_ADMIN, UserStatus.ACTIVE, now
        )
        uow.users.add(admin)
        return mint_user_token(uow, admin.id, "bootstrap", now, ttl=None)
