"""The effective accelerator catalogue (built-in file amended by operators) and its amendments."""

from __future__ import annotations

from collections.abc import Mapping

from suanli.domain.accelerators import AcceleratorModel, Catalogue, builtin_catalogue, model_from_mapping
from suanli.domain.tenants import Principal, Role
from suanli.ports import UnitOfWork
from suanli.service.access import require_role
from suanli.service.context import Context


def effective_catalogue(uow: UnitOfWork) -> Catalogue:
    """The built-in catalogue with every operator amendment applied."""
    return builtin_catalogue().amended(uow.catalogue.amendments())


def get_catalogue(ctx: Context) -> Catalogue:
    with ctx.store.uow() as uow:
        return effective_catalogue(uow)


def amend_catalogue(ctx: Context, principal: Principal, raw: Mapping[str, object]) -> AcceleratorModel:
    """Add a model or correct a figure (centre operators and city admins); the source must be cited."""
    require_role(principal, Role.CENTRE_OPERATOR, Role.CITY_ADMIN)
    model = model_from_mapping(raw, origin="operator")
    with ctx.store.uow() as uow:
        uow.catalogue.upsert(model, by=principal.name, at=ctx.clock.now())
    return model
