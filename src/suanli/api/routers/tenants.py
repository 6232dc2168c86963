"""Tenants, their users, API tokens, and `me`."""

from __future__ import annotations

from fastapi import APIRouter, status

from suanli.api.deps import Caller, Ctx
from suanli.api.dto import (
    MeOut,
    TenantCreate,
    TenantOut,
    TenantPatch,
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserCreate,
    UserOut,
)
from suanli.service import auth, tenants

router = APIRouter(prefix="/v1", tags=["tenants"])


@router.get("/me", summary="Who am I")
def me(ctx: Ctx, caller: Caller) -> MeOut:
    if caller.is_agent:
        return MeOut(user=None, tenant=None, centre_id=caller.centre_id)
    user = tenants.get_user(ctx, caller, caller.user_id or "")
    return MeOut(user=UserOut.of(user), tenant=TenantOut.of(tenants.get_tenant(ctx, caller, user.tenant_id)))


@router.post("/tenants", status_code=status.HTTP_201_CREATED, summary="Onboard a tenant (city admin)")
def create_tenant(body: TenantCreate, ctx: Ctx, caller: Caller) -> TenantOut:
    data = tenants.TenantInput(**body.model_dump())
    return TenantOut.of(tenants.create_tenant(ctx, caller, data))


@router.get("/tenants", summary="Tenants visible to the caller")
def list_tenants(ctx: Ctx, caller: Caller) -> list[TenantOut]:
    return [TenantOut.of(t) for t in tenants.list_tenants(ctx, caller)]


@router.get("/tenants/{tenant_id}")
def get_tenant(tenant_id: str, ctx: Ctx, caller: Caller) -> TenantOut:
    return TenantOut.of(tenants.get_tenant(ctx, caller, tenant_id))


@router.patch("/tenants/{tenant_id}", summary="Change a tenant's profile or status (city admin)")
def patch_tenant(tenant_id: str, body: TenantPatch, ctx: Ctx, caller: Caller) -> TenantOut:
    changes = body.model_dump(exclude_none=True)
    return TenantOut.of(tenants.update_tenant(ctx, caller, tenant_id, changes))


@router.post("/tenants/{tenant_id}/users", status_code=status.HTTP_201_CREATED)
def create_user(tenant_id: str, body: UserCreate, ctx: Ctx, caller: Caller) -> UserOut:
    return UserOut.of(tenants.create_user(ctx, caller, tenant_id, tenants.UserInput(**body.model_dump())))


@router.get("/tenants/{tenant_id}/users")
def list_users(tenant_id: str, ctx: Ctx, caller: Caller) -> list[UserOut]:
    return [UserOut.of(u) for u in tenants.list_users(ctx, caller, tenant_id)]


@router.post(
    "/users/{user_id}/tokens",
    status_code=status.HTTP_201_CREATED,
    summary="Create an API token; its secret is shown once",
)
def create_token(user_id: str, body: TokenCreate, ctx: Ctx, caller: Caller) -> TokenCreated:
    return TokenCreated.of(auth.create_token(ctx, caller, user_id, body.name, body.ttl_days))


@router.get("/users/{user_id}/tokens")
def list_tokens(user_id: str, ctx: Ctx, caller: Caller) -> list[TokenOut]:
    return [TokenOut.of(t) for t in auth.list_tokens(ctx, caller, user_id)]


@router.delete("/tokens/{token_id}", summary="Revoke a token")
def revoke_token(token_id: str, ctx: Ctx, caller: Caller) -> TokenOut:
    return TokenOut.of(auth.revoke_token(ctx, caller, token_id))
