"""Tenants (organisations), users, roles and what each role may do."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from suanli.domain.errors import FieldError, InvalidInput


class TenantKind(StrEnum):
    ENTERPRISE = "enterprise"
    UNIVERSITY = "university"
    RESEARCH_INSTITUTE = "research_institute"
    GOVERNMENT = "government"


class TenantStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class Role(StrEnum):
    TENANT_MEMBER = "tenant_member"
    TENANT_ADMIN = "tenant_admin"
    CENTRE_OPERATOR = "centre_operator"
    CITY_ADMIN = "city_admin"
    AUDITOR = "auditor"
    DISTRICT_REVIEWER = "district_reviewer"  # voucher claims: district first review
    EXPERT = "expert"  # voucher claims: expert review


class UserStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


# Roles whose holders see and act across every tenant (read-only for auditors).
PLATFORM_ROLES = frozenset({Role.CITY_ADMIN, Role.AUDITOR})
# Roles that review voucher claims (granted by city admins only; they see claims, not tenants' jobs).
REVIEW_ROLES = frozenset({Role.DISTRICT_REVIEWER, Role.EXPERT})
# Roles that may submit and manage jobs for their own tenant.
JOB_ROLES = frozenset({Role.TENANT_MEMBER, Role.TENANT_ADMIN})

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
USER_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")


def check_slug(value: str, field: str) -> None:
    """Names of tenants, centres and pools: 1-63 lower-case letters, digits or '-' (they appear in URLs)."""
    if not SLUG_RE.match(value):
        raise InvalidInput(
            [FieldError(field, "1-63 lower-case letters, digits or '-', not starting or ending with '-'")]
        )


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    name: str
    display_name: str
    kind: TenantKind
    sme: bool
    registered_city: str
    industry: str
    status: TenantStatus
    created_at: datetime
    weight: float = 1.0  # fair-share weight relative to other tenants
    quota: float = 0.0  # guaranteed capacity in A100-equivalent accelerators (0: none; it may still borrow)
    monthly_budget: Decimal | None = None  # spending cap per calendar month in CNY (None: no cap)
    # What voucher programmes check (kept by city admins):
    startup: bool = False  # a start-up (or incubated start-up team)
    blacklisted: bool = False  # on the dishonesty (credit) blacklist
    major_accident_year: int | None = None  # year of the last major safety accident, if any
    related_parties: tuple[str, ...] = ()  # tenant ids of related parties (e.g. a centre operator it owns)


@dataclass(frozen=True, slots=True)
class User:
    id: str
    tenant_id: str
    name: str
    display_name: str
    email: str
    role: Role
    status: UserStatus
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A stored token: only the SHA-256 of its secret is kept. Belongs to a user or to a centre's agent."""

    id: str
    name: str
    prefix: str
    secret_hash: str
    created_at: datetime
    user_id: str | None = None
    centre_id: str | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    def usable(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a user (with a role in a tenant) or a centre agent (`centre_id` set)."""

    token_id: str
    user_id: str | None
    tenant_id: str | None
    role: Role | None
    centre_id: str | None = None
    name: str = ""

    @property
    def is_agent(self) -> bool:
        return self.centre_id is not None

    @property
    def is_platform(self) -> bool:
        return self.role in PLATFORM_ROLES

    def can_read_tenant(self, tenant_id: str) -> bool:
        return self.is_platform or (self.tenant_id == tenant_id and not self.is_agent)

    def can_manage_tenant(self, tenant_id: str) -> bool:
        """Manage members and tokens of a tenant: its admins and city admins."""
        return self.role is Role.CITY_ADMIN or (self.role is Role.TENANT_ADMIN and self.tenant_id == tenant_id)


@dataclass(frozen=True, slots=True)
class TokenSecret:
    """A freshly minted token: `secret` is shown to its owner once and only its hash is stored."""

    token_id: str
    secret: str
    prefix: str
    expires_at: datetime | None
