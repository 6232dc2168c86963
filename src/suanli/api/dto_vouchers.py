"""Bodies of the voucher API: programmes (as their data), claims with covered lines and audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from suanli.api.dto import In, money
from suanli.domain.vouchers import Claim, ClaimState, Mode, programme_to_mapping, review_step
from suanli.service.vouchers import ClaimView, ProgrammeView


class ProgrammeOut(BaseModel):
    id: str
    version: int
    name: str
    name_zh: str
    year: int
    mode: Mode
    annual_budget: str
    published_at: datetime | None
    published_by: str
    versions: list[int] = Field(default_factory=list)
    committed: str | None = Field(None, description="reserved by claims in review plus granted, net of clawbacks")
    data: dict[str, Any] = Field(description="the programme's rules as published (eligibility, tiers, caps, ...)")

    @classmethod
    def of(cls, view: ProgrammeView) -> ProgrammeOut:
        p = view.programme
        return cls(
            id=p.id,
            version=p.version,
            name=p.name,
            name_zh=p.name_zh,
            year=p.year,
            mode=p.mode,
            annual_budget=money(p.annual_budget) or "0",
            published_at=p.published_at,
            published_by=p.published_by,
            versions=view.versions,
            committed=money(view.committed),
            data=programme_to_mapping(p),
        )


class ClaimCreate(In):
    programme_id: str = Field(max_length=63)
    contract: str = Field(max_length=200, description="the contract or order claimed under; one claim per contract")
    pledge: bool = Field(description="the truthfulness pledge (承诺书); must be true")
    amount: Any = Field(None, description='deduct mode: the voucher asked for, e.g. "50000.00"; omit to reimburse')


class ReviewIn(In):
    decision: Literal["approve", "reject"]
    reason: str = Field("", max_length=1000)


class ReasonIn(In):
    reason: str = Field("", max_length=1000)


class PayoutIn(In):
    reference: str = Field(max_length=80, description="the treasury's or bank's payment reference")


class ClawbackIn(In):
    amount: Any = Field(description='CNY, e.g. "1200.00"')
    reason: str = Field(max_length=1000)


class LineOut(BaseModel):
    entry_id: str
    centre_id: str
    model: str
    resource_class: str
    occurred_at: datetime
    base: str
    rate: str
    tier: str
    subsidy: str


class EventOut(BaseModel):
    at: datetime
    from_state: ClaimState | None
    to_state: ClaimState
    actor: str
    role: str
    reason: str


class RefusedOut(BaseModel):
    entry_id: str
    rule: str
    reason: str


class ClaimOut(BaseModel):
    id: str
    programme_id: str
    programme_version: int
    tenant_id: str
    year: int
    mode: Mode
    state: ClaimState
    next_step: str | None = Field(description="the review step the claim waits for, and the role that does it")
    contract: str
    requested: str
    base: str = Field(description="reimburse: the paid fees covered")
    amount: str = Field(description="reserved against the budget and caps")
    limited_by: str = Field(description="the cap that cut the amount, if any")
    used: str = Field(description="deduct: drawn down so far")
    clawed_back: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, c: Claim) -> ClaimOut:
        step = review_step(c.state, c.mode)
        return cls(
            id=c.id,
            programme_id=c.programme_id,
            programme_version=c.programme_version,
            tenant_id=c.tenant_id,
            year=c.year,
            mode=c.mode,
            state=c.state,
            next_step=f"{step.name} ({step.role})" if step else None,
            contract=c.contract,
            requested=money(c.requested) or "0",
            base=money(c.base) or "0",
            amount=money(c.amount) or "0",
            limited_by=c.limited_by,
            used=money(c.used) or "0",
            clawed_back=money(c.clawed_back) or "0",
            created_at=c.created_at,
            updated_at=c.updated_at,
        )


class ClaimDetail(ClaimOut):
    pledge: str
    lines: list[LineOut]
    events: list[EventOut]
    refused: list[RefusedOut] = Field(default_factory=list, description="at application: usage left out, and why")
    unpaid: str = Field("0.00", description="at application: eligible fees left out until they are paid")

    @classmethod
    def of_view(cls, v: ClaimView) -> ClaimDetail:
        base = ClaimOut.of(v.claim).model_dump()
        return cls(
            **base,
            pledge=v.claim.pledge,
            lines=[
                LineOut(
                    entry_id=x.entry_id,
                    centre_id=x.centre_id,
                    model=x.model,
                    resource_class=x.resource_class.value,
                    occurred_at=x.occurred_at,
                    base=money(x.base) or "0",
                    rate=format(x.rate, "f"),
                    tier=x.tier,
                    subsidy=money(x.subsidy) or "0",
                )
                for x in v.lines
            ],
            events=[
                EventOut(
                    at=e.at, from_state=e.from_state, to_state=e.to_state, actor=e.actor, role=e.role, reason=e.reason
                )
                for e in v.events
            ],
            refused=[RefusedOut(entry_id=i, rule=f.rule, reason=f.reason) for i, f in v.refused],
            unpaid=money(v.unpaid) or "0",
        )


class ClaimPage(BaseModel):
    items: list[ClaimOut]
    next_cursor: str | None
