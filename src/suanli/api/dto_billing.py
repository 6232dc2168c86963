"""Bodies of the billing API: ledger entries, accounts, payments and the ledger check. Money is a string."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from suanli.api.dto import In, money
from suanli.billing.verify import VerifyReport
from suanli.domain.ledger import Entry, EntryKind
from suanli.service.billing import TenantAccount
from suanli.service.budgets import BudgetStatus


class PostingOut(BaseModel):
    account: str
    amount: str = Field(description="CNY; positive is a debit, negative a credit")


class EntryOut(BaseModel):
    id: str
    kind: EntryKind
    reference: str
    occurred_at: datetime
    recorded_at: datetime
    memo: str
    actor: str
    tenant_id: str | None
    centre_id: str | None
    attempt_id: str | None
    reverses: str | None
    postings: list[PostingOut]

    @classmethod
    def of(cls, e: Entry) -> EntryOut:
        return cls(
            id=e.id,
            kind=e.kind,
            reference=e.reference,
            occurred_at=e.occurred_at,
            recorded_at=e.recorded_at,
            memo=e.memo,
            actor=e.actor,
            tenant_id=e.tenant_id,
            centre_id=e.centre_id,
            attempt_id=e.attempt_id,
            reverses=e.reverses,
            postings=[PostingOut(account=p.account, amount=money(p.amount) or "0") for p in e.postings],
        )


class EntryPage(BaseModel):
    items: list[EntryOut]
    next_cursor: str | None


class MoneyIn(In):
    amount: Any = Field(description='CNY as a string with at most 2 decimals, e.g. "1200.00"')
    reference: str = Field(description="the bank's reference; the same reference is recorded once")
    occurred_at: datetime | None = Field(None, description="when the money moved (default: now)")
    memo: str = Field("", max_length=500)


class ReversalIn(In):
    reason: str = Field(max_length=500)


class RefundIn(In):
    amount: Any = Field(None, description='CNY to give back, e.g. "72.00"; omit to refund all that is left')
    reason: str = Field(max_length=500)


class RefundOut(BaseModel):
    refund: EntryOut
    clawback: EntryOut | None = Field(description="the voucher subsidy taken back with it, if the charge had one")


class AccountOut(BaseModel):
    tenant_id: str
    balance: str = Field(description="owed to the platform now; negative: paid ahead")
    charged: str = Field(description="usage charged in the period")
    paid: str = Field(description="payments received in the period, net of reversals")
    subsidised: str = Field("0.00", description="voucher deductions from the bill in the period, net of clawbacks")
    since: datetime | None
    until: datetime | None

    @classmethod
    def of(cls, a: TenantAccount) -> AccountOut:
        return cls(
            tenant_id=a.tenant_id,
            balance=money(a.balance) or "0",
            charged=money(a.charged) or "0",
            paid=money(a.paid) or "0",
            subsidised=money(a.subsidised) or "0",
            since=a.since,
            until=a.until,
        )


class FindingOut(BaseModel):
    rule: str
    subject: str
    detail: str


class VerifyOut(BaseModel):
    ok: bool
    usage_records: int
    usage_entries: int
    unbalanced_entries: int
    claims: int = Field(0, description="voucher claims checked against budgets, caps and the ledger")
    findings: list[FindingOut]

    @classmethod
    def of(cls, r: VerifyReport) -> VerifyOut:
        return cls(
            ok=r.ok,
            usage_records=r.usage_records,
            usage_entries=r.usage_entries,
            unbalanced_entries=r.entries_unbalanced,
            claims=r.claims,
            findings=[FindingOut(rule=f.rule, subject=f.subject, detail=f.detail) for f in r.findings],
        )


class BudgetIn(In):
    monthly_budget: Any = Field(description='CNY per calendar month (China time), e.g. "5000.00"; null: no cap')


class BudgetOut(BaseModel):
    tenant_id: str
    project: str | None = Field(None, description="the project this budget caps (null: the tenant's own budget)")
    monthly_budget: str | None
    month_start: datetime
    charged: str = Field(description="usage charged this month")
    held: str = Field(description="worst cases held for jobs placed and not yet charged")
    left: str | None = Field(description="what may still be committed this month (null: no cap)")

    @classmethod
    def of(cls, b: BudgetStatus) -> BudgetOut:
        return cls(
            tenant_id=b.tenant_id,
            project=b.project,
            monthly_budget=money(b.monthly_budget),
            month_start=b.month_start,
            charged=money(b.charged) or "0",
            held=money(b.held) or "0",
            left=money(b.left),
        )
