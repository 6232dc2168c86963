"""API tokens: minted once and shown once, stored as SHA-256 hashes; resolving a bearer token to a Principal."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import replace
from datetime import datetime, timedelta

from suanli.domain.errors import FieldError, InvalidInput, NotFound, Unauthenticated
from suanli.domain.ids import new_id
from suanli.domain.tenants import ApiToken, Principal, Role, TenantStatus, TokenSecret, UserStatus
from suanli.ports import UnitOfWork
from suanli.service.access import require_user
from suanli.service.context import Context

TOKEN_PREFIX = "sl_"
AGENT_TOKEN_PREFIX = "sla_"
_TOUCH_EVERY = timedelta(minutes=1)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _new_token(
    uow: UnitOfWork,
    prefix: str,
    name: str,
    now: datetime,
    *,
    user_id: str | None = None,
    centre_id: str | None = None,
    ttl: timedelta | None = None,
) -> TokenSecret:
    if not name or len(name) > 100:
        raise InvalidInput([FieldError("name", "a token name of 1-100 characters")])
    secret = prefix + secrets.token_urlsafe(32)
    token = ApiToken(
        id=new_id("token", now),
        name=name,
        prefix=secret[:10],
        secret_hash=hash_secret(secret),
        created_at=now,
        user_id=user_id,
        centre_id=centre_id,
        expires_at=now + ttl if ttl is not None else None,
    )
    uow.tokens.add(token)
    return TokenSecret(token.id, secret, token.prefix, token.expires_at)


def mint_user_token(uow: UnitOfWork, user_id: str, name: str, now: datetime, ttl: timedelta | None) -> TokenSecret:
    """Create a token for a user; the secret is returned here and never again."""
    return _new_token(uow, TOKEN_PREFIX, name, now, user_id=user_id, ttl=ttl)


def mint_agent_token(uow: UnitOfWork, centre_id: str, name: str, now: datetime) -> TokenSecret:
    """Create a centre agent's token: it may call only the agent protocol, for that centre only."""
    return _new_token(uow, AGENT_TOKEN_PREFIX, name, now, centre_id=centre_id)


def authenticate(ctx: Context, secret: str | None) -> Principal:
    """The principal behind a bearer token; Unauthenticated (401) for a missing, wrong, revoked or expired one."""
    if not secret:
        raise Unauthenticated("missing bearer token: send `Authorization: Bearer <token>`")
    now = ctx.clock.now()
    with ctx.store.uow() as uow:
        token = uow.tokens.find_by_hash(hash_secret(secret))
        if token is None:
            raise Unauthenticated("unknown token")
        if token.revoked_at is not None:
            raise Unauthenticated("this token has been revoked")
        if token.expires_at is not None and now >= token.expires_at:
            raise Unauthenticated("this token has expired; create a new one")
        if token.last_used_at is None or now - token.last_used_at > _TOUCH_EVERY:
            uow.tokens.touch(token.id, now)
        if token.centre_id is not None:
            centre = uow.centres.get(token.centre_id)
            name = centre.name if centre else token.centre_id
            return Principal(token.id, None, None, None, centre_id=token.centre_id, name=f"agent:{name}")
        assert token.user_id is not None
        user = uow.users.get(token.user_id)
        if user is None or user.status is not UserStatus.ACTIVE:
            raise Unauthenticated("this token's user is disabled")
        return Principal(token.id, user.id, user.tenant_id, user.role, name=user.name)


def create_token(ctx: Context, principal: Principal, user_id: str, name: str, ttl_days: int | None) -> TokenSecret:
    """A user makes a token for themself; tenant admins and city admins for their users."""
    require_user(principal)
    now = ctx.clock.now()
    if ttl_days is not None and not 1 <= ttl_days <= 3650:
        raise InvalidInput([FieldError("ttl_days", "between 1 and 3650 days")])
    with ctx.store.uow() as uow:
        user = uow.users.get(user_id)
        if user is None or not (principal.user_id == user_id or principal.can_manage_tenant(user.tenant_id)):
            raise NotFound("user not found")
        days = ttl_days if ttl_days is not None else ctx.settings.auth.token_ttl_days
        return mint_user_token(uow, user.id, name, now, timedelta(days=days))


def list_tokens(ctx: Context, principal: Principal, user_id: str) -> list[ApiToken]:
    require_user(principal)
    with ctx.store.uow() as uow:
        user = uow.users.get(user_id)
        if user is None or not (
            principal.user_id == user_id
            or principal.can_manage_tenant(user.tenant_id)
            or principal.role is Role.AUDITOR
        ):
            raise NotFound("user not found")
        return uow.tokens.list(user_id=user_id)


def revoke_token(ctx: Context, principal: Principal, token_id: str) -> ApiToken:
    require_user(principal)
    now = ctx.clock.now()
    with ctx.store.uow() as uow:
        token = uow.tokens.get(token_id)
        if token is None:
            raise NotFound("token not found")
        allowed = principal.role is Role.CITY_ADMIN or token.user_id == principal.user_id
        if token.user_id is not None and not allowed:
            owner = uow.users.get(token.user_id)
            allowed = owner is not None and principal.can_manage_tenant(owner.tenant_id)
        if token.centre_id is not None and not allowed:
            centre = uow.centres.get(token.centre_id)
            allowed = (
                centre is not None
                and principal.role is Role.CENTRE_OPERATOR
                and centre.operator_tenant_id == principal.tenant_id
            )
        if not allowed:
            raise NotFound("token not found")
        uow.tokens.revoke(token_id, now)
        return replace(token, revoked_at=token.revoked_at or now)


def tenant_is_active(uow: UnitOfWork, tenant_id: str) -> bool:
    tenant = uow.tenants.get(tenant_id)
    return tenant is not None and tenant.status is TenantStatus.ACTIVE
