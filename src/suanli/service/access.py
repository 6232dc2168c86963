"""Role checks shared by the use cases. Another tenant's data is reported as missing, never as forbidden."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from suanli.domain.errors import FieldError, Forbidden, InvalidInput, NotFound
from suanli.domain.tenants import JOB_ROLES, Principal, Role, Tenant
from suanli.ports import UnitOfWork


def require_role(principal: Principal, *roles: Role) -> None:
    if principal.is_agent or principal.role not in roles:
        allowed = ", ".join(r.value for r in roles)
        raise Forbidden(f"this needs one of the roles: {allowed}")


def require_user(principal: Principal) -> None:
    if principal.is_agent:
        raise Forbidden("centre agent tokens may only call the agent protocol")


def require_job_role(principal: Principal) -> None:
    if principal.is_agent or principal.role not in JOB_ROLES:
        raise Forbidden("only tenant members and tenant admins submit and manage jobs")


def require_writer(principal: Principal) -> None:
    """Auditors read everything and change nothing."""
    if principal.role is Role.AUDITOR:
        raise Forbidden("auditors have read-only access")


def visible_tenant(principal: Principal, tenant_id: str, what: str = "tenant") -> None:
    """NotFound unless the caller may see data of `tenant_id`."""
    if not principal.can_read_tenant(tenant_id):
        raise NotFound(f"{what} not found")


def only_fields(changes: Mapping[str, object], allowed: Iterable[str]) -> None:
    """InvalidInput naming each field of a PATCH that may not be changed."""
    unknown = sorted(set(changes) - set(allowed))
    if unknown:
        raise InvalidInput([FieldError(f, "cannot be changed") for f in unknown])


def tenant_by_ref(uow: UnitOfWork, ref: str) -> Tenant:
    """A tenant named by id or by name; NotFound otherwise."""
    tenant = uow.tenants.get(ref) or uow.tenants.get_by_name(ref)
    if tenant is None:
        raise NotFound("tenant not found")
    return tenant


def given_reason(reason: str, missing: str) -> str:
    """The reason a user gave for a change, stripped; `missing` is the error when there is none."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput([FieldError("reason", missing)])
    return reason
