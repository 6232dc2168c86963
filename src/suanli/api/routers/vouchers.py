"""Compute vouchers (算力券): programmes as versioned data, claims, their review, payout and clawback."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, status

from suanli.api.deps import Caller, Ctx
from suanli.api.dto_billing import EntryOut
from suanli.api.dto_vouchers import (
    ClaimCreate,
    ClaimDetail,
    ClaimOut,
    ClaimPage,
    ClawbackIn,
    PayoutIn,
    ProgrammeOut,
    ReasonIn,
    ReviewIn,
)
from suanli.domain.errors import FieldError, InvalidInput
from suanli.domain.money import FEN, parse_money
from suanli.domain.vouchers import ClaimState
from suanli.ports import ClaimFilter
from suanli.service import voucher_review, vouchers

router = APIRouter(prefix="/v1", tags=["vouchers"])


@router.get("/voucher-programmes", summary="Voucher programmes (newest version of each)")
def list_programmes(ctx: Ctx, caller: Caller) -> list[ProgrammeOut]:
    return [ProgrammeOut.of(view) for view in vouchers.list_programme_views(ctx, caller)]


@router.post(
    "/voucher-programmes",
    status_code=status.HTTP_201_CREATED,
    summary="Publish a programme or a new version of one (city admin); versions are never rewritten",
)
def publish_programme(body: Annotated[dict[str, Any], Body()], ctx: Ctx, caller: Caller) -> ProgrammeOut:
    p = vouchers.publish_programme(ctx, caller, body)
    return ProgrammeOut.of(vouchers.get_programme(ctx, caller, p.id, p.version))


@router.get("/voucher-programmes/{programme_id}", summary="One programme: its rules, versions and budget committed")
def get_programme(
    programme_id: str, ctx: Ctx, caller: Caller, version: Annotated[int | None, Query(ge=1)] = None
) -> ProgrammeOut:
    return ProgrammeOut.of(vouchers.get_programme(ctx, caller, programme_id, version))


@router.post(
    "/tenants/{tenant_id}/claims",
    status_code=status.HTTP_201_CREATED,
    summary="Apply for a voucher or a reimbursement (tenant admin, with the truthfulness pledge)",
)
def apply(tenant_id: str, body: ClaimCreate, ctx: Ctx, caller: Caller) -> ClaimDetail:
    amount = None if body.amount is None else parse_money(body.amount, "amount", quantum=FEN)
    data = vouchers.ClaimInput(body.programme_id, body.contract, body.pledge, amount)
    return ClaimDetail.of_view(vouchers.apply(ctx, caller, tenant_id, data))


def _states(raw: str | None) -> tuple[ClaimState, ...]:
    if not raw:
        return ()
    try:
        return tuple(ClaimState(s.strip()) for s in raw.split(",") if s.strip())
    except ValueError:
        known = ", ".join(s.value for s in ClaimState)
        raise InvalidInput([FieldError("state", f"unknown state in {raw!r}; states: {known}")]) from None


@router.get("/claims", summary="Voucher claims visible to the caller (tenants: their own; reviewers: all)")
def list_claims(
    ctx: Ctx,
    caller: Caller,
    tenant: str | None = None,
    programme: str | None = None,
    state: Annotated[str | None, Query(description="comma-separated states")] = None,
    year: int | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> ClaimPage:
    filt = ClaimFilter(tenant_id=tenant, programme_id=programme, states=_states(state), year=year)
    items, next_cursor = vouchers.list_claims(ctx, caller, filt, limit, cursor)
    return ClaimPage(items=[ClaimOut.of(c) for c in items], next_cursor=next_cursor)


@router.get("/claims/{claim_id}", summary="A claim with the usage it covers and its audit log")
def get_claim(claim_id: str, ctx: Ctx, caller: Caller) -> ClaimDetail:
    return ClaimDetail.of_view(vouchers.get_claim(ctx, caller, claim_id))


@router.post("/claims/{claim_id}/review", summary="Pass or reject the step the claim waits for (that step's role)")
def review(claim_id: str, body: ReviewIn, ctx: Ctx, caller: Caller) -> ClaimDetail:
    view = voucher_review.review(ctx, caller, claim_id, body.decision == "approve", body.reason)
    return ClaimDetail.of_view(view)


@router.post("/claims/{claim_id}/withdraw", summary="Withdraw a claim still in review (its tenant admin)")
def withdraw(claim_id: str, body: ReasonIn, ctx: Ctx, caller: Caller) -> ClaimDetail:
    return ClaimDetail.of_view(voucher_review.withdraw(ctx, caller, claim_id, body.reason))


@router.post(
    "/claims/{claim_id}/payout",
    status_code=status.HTTP_201_CREATED,
    summary="Record the programme's payment on a claim (city admin)",
)
def payout(claim_id: str, body: PayoutIn, ctx: Ctx, caller: Caller) -> EntryOut:
    _, entry = voucher_review.payout(ctx, caller, claim_id, body.reference)
    return EntryOut.of(entry)


@router.post(
    "/claims/{claim_id}/clawback",
    status_code=status.HTTP_201_CREATED,
    summary="Claw back part or all of a granted subsidy, by a new entry (city admin)",
)
def clawback(claim_id: str, body: ClawbackIn, ctx: Ctx, caller: Caller) -> EntryOut:
    amount = parse_money(body.amount, "amount", quantum=FEN)
    _, entry = voucher_review.clawback(ctx, caller, claim_id, amount, body.reason)
    return EntryOut.of(entry)


@router.post(
    "/voucher-programmes/{programme_id}/close",
    summary="After a deduct programme's year: shrink active vouchers to what they drew, release the rest (city admin)",
)
def close_year(programme_id: str, ctx: Ctx, caller: Caller) -> dict[str, str | int]:
    closed = voucher_review.close_year(ctx, caller, programme_id)
    return {"programme_id": closed.programme_id, "vouchers": closed.vouchers, "released": format(closed.released, "f")}
