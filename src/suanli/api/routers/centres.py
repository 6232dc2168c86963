"""Centres, pools, price cards, agent tokens, the accelerator catalogue and city capacity."""

from __future__ import annotations

from fastapi import APIRouter, status

from suanli.api.deps import Caller, Ctx
from suanli.api.dto import (
    AcceleratorModelIn,
    AcceleratorModelOut,
    CapacityOut,
    CatalogueOut,
    CentreCreate,
    CentreOut,
    CentrePatch,
    PoolCreate,
    PoolOut,
    PoolPatch,
    PriceCreate,
    PriceOut,
    TokenCreate,
    TokenCreated,
)
from suanli.service import catalogue, centres
from suanli.service.access import require_user

router = APIRouter(prefix="/v1", tags=["centres"])


@router.post("/centres", status_code=status.HTTP_201_CREATED, summary="Register a centre (city admin)")
def create_centre(body: CentreCreate, ctx: Ctx, caller: Caller) -> CentreOut:
    centre = centres.create_centre(ctx, caller, centres.CentreInput(**body.model_dump()))
    return CentreOut.of(centres.get_centre(ctx, caller, centre.id))


@router.get("/centres", summary="Every centre with status, pools, prices and use")
def list_centres(ctx: Ctx, caller: Caller) -> list[CentreOut]:
    return [CentreOut.of(v) for v in centres.list_centres(ctx, caller)]


@router.get("/centres/{centre_id}", summary="One centre, by id or name")
def get_centre(centre_id: str, ctx: Ctx, caller: Caller) -> CentreOut:
    return CentreOut.of(centres.get_centre(ctx, caller, centre_id))


@router.patch("/centres/{centre_id}")
def patch_centre(centre_id: str, body: CentrePatch, ctx: Ctx, caller: Caller) -> CentreOut:
    centre = centres.update_centre(ctx, caller, centre_id, body.model_dump(exclude_none=True))
    return CentreOut.of(centres.get_centre(ctx, caller, centre.id))


@router.post("/centres/{centre_id}/pools", status_code=status.HTTP_201_CREATED)
def create_pool(centre_id: str, body: PoolCreate, ctx: Ctx, caller: Caller) -> PoolOut:
    pool = centres.add_pool(ctx, caller, centre_id, centres.PoolInput(**body.model_dump()))
    view = centres.get_centre(ctx, caller, pool.centre_id)
    return PoolOut.of(next(p for p in view.pools if p.pool.id == pool.id))


@router.patch("/pools/{pool_id}")
def patch_pool(pool_id: str, body: PoolPatch, ctx: Ctx, caller: Caller) -> PoolOut:
    pool = centres.update_pool(ctx, caller, pool_id, body.model_dump(exclude_none=True))
    view = centres.get_centre(ctx, caller, pool.centre_id)
    return PoolOut.of(next(p for p in view.pools if p.pool.id == pool.id))


@router.post("/pools/{pool_id}/prices", status_code=status.HTTP_201_CREATED, summary="Publish a price card")
def create_price(pool_id: str, body: PriceCreate, ctx: Ctx, caller: Caller) -> PriceOut:
    card = centres.add_price(
        ctx, caller, pool_id, body.price, body.preemptible_discount, body.valid_from, body.valid_to
    )
    return PriceOut.of(card)


@router.get("/pools/{pool_id}/prices")
def list_prices(pool_id: str, ctx: Ctx, caller: Caller) -> list[PriceOut]:
    return [PriceOut.of(c) for c in centres.list_prices(ctx, caller, pool_id)]


@router.post(
    "/centres/{centre_id}/agent-tokens",
    status_code=status.HTTP_201_CREATED,
    summary="Create the token a centre's agent uses; shown once",
)
def create_agent_token(centre_id: str, body: TokenCreate, ctx: Ctx, caller: Caller) -> TokenCreated:
    return TokenCreated.of(centres.create_agent_token(ctx, caller, centre_id, body.name))


@router.get("/capacity", summary="The city's capacity in PFLOPS FP16 and what is in use")
def capacity(ctx: Ctx, caller: Caller) -> CapacityOut:
    c = centres.city_capacity(ctx, caller)
    return CapacityOut(
        centres=c.centres,
        centres_online=c.centres_online,
        pflops_fp16=format(c.pflops_fp16.normalize(), "f"),
        pflops_fp16_online=format(c.pflops_fp16_online.normalize(), "f"),
        accelerators_total=c.accelerators_total,
        accelerators_in_use=c.accelerators_in_use,
        by_model=c.units_by_model,
    )


@router.get("/catalogue/accelerators", tags=["catalogue"], summary="The accelerator catalogue")
def get_catalogue(ctx: Ctx, caller: Caller) -> CatalogueOut:
    require_user(caller)
    return CatalogueOut.of(catalogue.get_catalogue(ctx))


@router.post(
    "/catalogue/accelerators",
    tags=["catalogue"],
    status_code=status.HTTP_201_CREATED,
    summary="Add a model or amend a figure (operators, city admins); cite the source",
)
def amend_catalogue(body: AcceleratorModelIn, ctx: Ctx, caller: Caller) -> AcceleratorModelOut:
    raw = body.model_dump(exclude_none=True)
    return AcceleratorModelOut.of(catalogue.amend_catalogue(ctx, caller, raw))
