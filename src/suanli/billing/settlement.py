"""A provider's monthly settlement statement (结算单): what its centre delivered in the month, line by line at
the price fixed for each job, the platform's fee, what the platform paid it, and what it is still owed; with a
summary per pool and model and the share of its customers' bills that voucher programmes paid. Pure: the service
gathers the entries, this module adds them up and writes them out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from suanli.billing.documents import csv_text, esc, local, money, page, table, totals_table
from suanli.billing.invoice import unit_label
from suanli.domain.ledger import ZERO


@dataclass(frozen=True)
class DeliveryLine:
    """One metered attempt at the centre: what its customer was charged, the platform's fee, the centre's share."""

    at: datetime
    entry_id: str
    tenant: str
    job_id: str
    attempt_id: str
    pool: str
    model: str
    quantity: Decimal
    unit: str
    price: Decimal
    gross: Decimal  # charged to the customer (a reversal is negative)
    fee: Decimal  # kept by the platform
    net: Decimal  # owed to the centre's operator


@dataclass(frozen=True)
class PayoutLine:
    at: datetime
    entry_id: str
    kind: str  # payout | reversal
    memo: str
    amount: Decimal  # paid to the operator (a reversed payout is negative)


@dataclass(frozen=True)
class PoolSummary:
    pool: str
    model: str
    unit: str
    quantity: Decimal
    gross: Decimal
    fee: Decimal
    net: Decimal


@dataclass(frozen=True)
class Statement:
    centre_id: str
    centre_name: str
    operator: str
    month: str
    opening: Decimal  # owed to the operator at the start of the month
    deliveries: tuple[DeliveryLine, ...]
    payouts: tuple[PayoutLine, ...]
    voucher_funded: Decimal  # of the month's gross, what deduct-mode vouchers took off customers' bills
    issued_at: datetime

    @property
    def gross(self) -> Decimal:
        return sum((d.gross for d in self.deliveries), ZERO)

    @property
    def fee(self) -> Decimal:
        return sum((d.fee for d in self.deliveries), ZERO)

    @property
    def net(self) -> Decimal:
        return sum((d.net for d in self.deliveries), ZERO)

    @property
    def paid(self) -> Decimal:
        return sum((p.amount for p in self.payouts), ZERO)

    @property
    def closing(self) -> Decimal:
        """Owed to the operator at the end of the month (the ledger's payable balance, negated)."""
        return self.opening + self.net - self.paid

    def by_pool(self) -> list[PoolSummary]:
        groups: dict[tuple[str, str, str], list[DeliveryLine]] = {}
        for d in self.deliveries:
            groups.setdefault((d.pool, d.model, d.unit), []).append(d)
        return [
            PoolSummary(pool, model, unit, _sum(x.quantity for x in ds), _sum(x.gross for x in ds),
                        _sum(x.fee for x in ds), _sum(x.net for x in ds))
            for (pool, model, unit), ds in sorted(groups.items())
        ]  # fmt: skip


def _sum(values: Iterable[Decimal]) -> Decimal:
    return sum(values, ZERO)


def to_csv(statement: Statement) -> str:
    """One row per delivery and payout, then the summary per pool and the totals."""
    rows: list[list[object]] = [
        ["section", "time", "entry", "tenant", "job", "attempt", "pool", "model", "quantity", "unit", "price_cny",
         "gross_cny", "fee_cny", "net_cny", "memo"]
    ]  # fmt: skip
    for d in statement.deliveries:
        rows.append(["delivery", local(d.at), d.entry_id, d.tenant, d.job_id, d.attempt_id, d.pool, d.model,
                     f"{d.quantity:f}", d.unit, money(d.price), money(d.gross), money(d.fee), money(d.net),
                     ""])  # fmt: skip
    for p in statement.payouts:
        rows.append([p.kind, local(p.at), p.entry_id, "", "", "", "", "", "", "", "", "", "", money(p.amount), p.memo])
    for s in statement.by_pool():
        rows.append(["pool", "", "", "", "", "", s.pool, s.model, f"{s.quantity:f}", s.unit, "", money(s.gross),
                     money(s.fee), money(s.net), ""])  # fmt: skip
    for name, value in _totals(statement, english=True):
        rows.append(["total", "", "", "", "", "", "", "", "", "", "", "", "", money(value), name])
    return csv_text(rows)


def _totals(s: Statement, english: bool = False) -> list[tuple[str, Decimal]]:
    rows = [
        ("opening_owed", "上期应付 Owed at the start of the month", s.opening),
        ("gross", "客户费用 Charged to customers", s.gross),
        ("platform_fee", "平台服务费 Platform fee", s.fee),
        ("net_delivered", "本期应结 Earned this month", s.net),
        ("paid_out", "本期已付 Paid this month", s.paid),
        ("closing_owed", "期末应付 Owed at the end of the month", s.closing),
        ("voucher_funded", "其中算力券抵扣 Of the charges, paid by vouchers", s.voucher_funded),
    ]
    return [(code if english else label, value) for code, label, value in rows]


def to_html(statement: Statement) -> str:
    """A printable page, headings in Chinese and English; every value escaped."""
    s = statement
    summary = table(
        ["资源池 Pool", "型号 Model", "用量 Quantity", "单位 Unit", "客户费用 Gross", "服务费 Fee", "应结 Net"],
        ([p.pool, p.model, f"{p.quantity:f}", unit_label(p.unit), money(p.gross), money(p.fee), money(p.net)]
         for p in s.by_pool()),
        numeric=(2, 4, 5, 6),
    )  # fmt: skip
    lines = table(
        ["时间 Time", "客户 Tenant", "作业 Job", "资源池 Pool", "型号 Model", "用量 Quantity", "单价 Price",
         "客户费用 Gross", "服务费 Fee", "应结 Net"],
        ([local(d.at), d.tenant, d.job_id, d.pool, d.model, f"{d.quantity:f}", money(d.price), money(d.gross),
          money(d.fee), money(d.net)] for d in s.deliveries),
        numeric=(5, 6, 7, 8, 9),
    )  # fmt: skip
    payouts = table(
        ["时间 Time", "类型 Kind", "说明 Memo", "金额 Amount"],
        ([local(p.at), p.kind, p.memo, money(p.amount)] for p in s.payouts),
        numeric=(3,),
    )
    name, month = esc(s.centre_name), esc(s.month)
    intro = (
        f"算力中心 Centre: <b>{name}</b> ({esc(s.centre_id)}) · 运营方 Operator: {esc(s.operator)}"
        f" · 结算期 Month: <b>{month}</b> · 出具时间 Issued: {esc(local(s.issued_at))} (UTC+8)"
        " · 金额单位 Amounts in CNY"
    )
    return page(
        f"算力服务结算单 Settlement statement {month} — {name}",
        "算力服务结算单 Settlement statement",
        intro,
        (
            ("按资源池汇总 By pool", summary),
            ("交付明细 Deliveries", lines),
            ("付款 Payouts", payouts),
            ("合计 Totals", totals_table(_totals(s))),
        ),
    )
