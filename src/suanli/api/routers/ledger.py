"""Money: tenants' accounts, payments and payouts, the ledger's entries, trial balance and check."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from suanli.api.deps import Caller, Ctx
from suanli.api.dto_billing import (
    AccountOut,
    EntryOut,
    EntryPage,
    MoneyIn,
    RefundIn,
    RefundOut,
    ReversalIn,
    VerifyOut,
)
from suanli.domain.errors import FieldError, InvalidInput
from suanli.domain.ledger import EntryKind
from suanli.domain.money import FEN, parse_money
from suanli.ports import EntryFilter
from suanli.service import billing, refunds

router = APIRouter(prefix="/v1", tags=["billing"])


def _money_input(body: MoneyIn) -> billing.MoneyInput:
    amount = parse_money(body.amount, "amount", quantum=FEN)
    return billing.MoneyInput(amount=amount, reference=body.reference, occurred_at=body.occurred_at, memo=body.memo)


@router.get("/tenants/{tenant_id}/account", summary="A tenant's balance, and what was charged and paid")
def tenant_account(
    tenant_id: str, ctx: Ctx, caller: Caller, since: datetime | None = None, until: datetime | None = None
) -> AccountOut:
    return AccountOut.of(billing.tenant_account(ctx, caller, tenant_id, since, until))


@router.post(
    "/tenants/{tenant_id}/payments",
    status_code=status.HTTP_201_CREATED,
    summary="Record a payment received from a tenant (city admin); a repeated reference is recorded once",
)
def record_payment(tenant_id: str, body: MoneyIn, ctx: Ctx, caller: Caller, response: Response) -> EntryOut:
    entry, new = billing.record_payment(ctx, caller, tenant_id, _money_input(body))
    if not new:
        response.status_code = status.HTTP_200_OK
    return EntryOut.of(entry)


@router.post(
    "/centres/{centre_id}/payouts",
    status_code=status.HTTP_201_CREATED,
    summary="Record a payment made to a centre's operator (city admin)",
)
def record_payout(centre_id: str, body: MoneyIn, ctx: Ctx, caller: Caller, response: Response) -> EntryOut:
    entry, new = billing.record_payout(ctx, caller, centre_id, _money_input(body))
    if not new:
        response.status_code = status.HTTP_200_OK
    return EntryOut.of(entry)


def _kinds(raw: str | None) -> tuple[EntryKind, ...]:
    if not raw:
        return ()
    try:
        return tuple(EntryKind(k.strip()) for k in raw.split(",") if k.strip())
    except ValueError:
        known = ", ".join(k.value for k in EntryKind)
        raise InvalidInput([FieldError("kind", f"unknown kind in {raw!r}; kinds: {known}")]) from None


@router.get("/ledger/entries", summary="Ledger entries visible to the caller, in recording order")
def list_entries(
    ctx: Ctx,
    caller: Caller,
    tenant: str | None = None,
    centre: str | None = None,
    account: str | None = None,
    kind: Annotated[str | None, Query(description="comma-separated kinds")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> EntryPage:
    filt = EntryFilter(
        tenant_id=tenant, centre_id=centre, account=account, kinds=_kinds(kind), since=since, until=until
    )
    items, next_cursor = billing.list_entries(ctx, caller, filt, min(limit, ctx.settings.limits.max_page_size), cursor)
    return EntryPage(items=[EntryOut.of(e) for e in items], next_cursor=next_cursor)


@router.get("/ledger/entries/{entry_id}")
def get_entry(entry_id: str, ctx: Ctx, caller: Caller) -> EntryOut:
    return EntryOut.of(billing.get_entry(ctx, caller, entry_id))


@router.post(
    "/ledger/entries/{entry_id}/reversal",
    status_code=status.HTTP_201_CREATED,
    summary="Undo a payment or payout recorded in error, by a new reversing entry (city admin)",
)
def reverse_entry(entry_id: str, body: ReversalIn, ctx: Ctx, caller: Caller) -> EntryOut:
    return EntryOut.of(billing.reverse_entry(ctx, caller, entry_id, body.reason))


@router.post(
    "/ledger/entries/{entry_id}/refund",
    status_code=status.HTTP_201_CREATED,
    summary="Give back part or all of a usage charge (city admin); voucher subsidy on it is clawed back pro rata",
)
def refund(entry_id: str, body: RefundIn, ctx: Ctx, caller: Caller) -> RefundOut:
    amount = None if body.amount is None else parse_money(body.amount, "amount", quantum=FEN)
    r = refunds.refund_usage(ctx, caller, entry_id, amount, body.reason)
    return RefundOut(refund=EntryOut.of(r.entry), clawback=EntryOut.of(r.clawback) if r.clawback else None)


@router.get("/ledger/balances", summary="Trial balance: every account's balance (city admins, auditors)")
def balances(ctx: Ctx, caller: Caller, prefix: str = "") -> dict[str, str]:
    return {a: format(b, "f") for a, b in billing.account_balances(ctx, caller, prefix).items()}


@router.get("/ledger/verify", summary="Prove the books balance and every usage record is charged exactly once")
def verify(ctx: Ctx, caller: Caller) -> VerifyOut:
    return VerifyOut.of(billing.verify_ledger(ctx, caller))
