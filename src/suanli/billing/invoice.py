"""A tenant's monthly invoice (月度账单): the month's charges line by line, voucher deductions, payments, and the
balance carried in and out, taken from the ledger; rendered as CSV and as a printable bilingual HTML page.
Pure: the service gathers the entries, this module adds them up and writes them out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from suanli.billing.budget import CITY_TIME
from suanli.billing.documents import csv_text, esc, local, money, page, table, totals_table
from suanli.domain.errors import FieldError, InvalidInput
from suanli.domain.ledger import ZERO

MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """`2026-11` → its first instant and the next month's, in the city's time, as UTC instants."""
    m = MONTH_RE.match(month or "")
    if not m:
        raise InvalidInput([FieldError("month", f"{month!r} is not a month like 2026-11")])
    year, mon = int(m.group(1)), int(m.group(2))
    start = datetime(year, mon, 1, tzinfo=CITY_TIME)
    end = datetime(year + (mon == 12), 1 if mon == 12 else mon + 1, 1, tzinfo=CITY_TIME)
    return start.astimezone(UTC), end.astimezone(UTC)


@dataclass(frozen=True)
class ChargeLine:
    """One metered attempt: what ran where, how much, at which fixed price."""

    at: datetime
    entry_id: str
    job_id: str
    attempt_id: str
    centre: str
    pool: str
    model: str
    quantity: Decimal  # unit-hours
    unit: str  # accelerator_hour | core_hour
    price: Decimal
    amount: Decimal  # what the tenant owes for it (a reversal is negative)
    project: str = ""  # the tenant's project the job was charged to ("" for none)


@dataclass(frozen=True)
class OtherLine:
    """A payment, a voucher deduction or clawback, or a correction: its effect on what the tenant owes."""

    at: datetime
    entry_id: str
    kind: str
    memo: str
    amount: Decimal  # positive: owed more; negative: owed less


@dataclass(frozen=True)
class Invoice:
    tenant_id: str
    tenant_name: str
    month: str
    opening: Decimal
    charges: tuple[ChargeLine, ...]
    others: tuple[OtherLine, ...]
    issued_at: datetime

    @property
    def charged(self) -> Decimal:
        return sum((c.amount for c in self.charges), ZERO)

    @property
    def subsidised(self) -> Decimal:
        return -sum((o.amount for o in self.others if o.kind in ("voucher", "clawback")), ZERO)

    @property
    def paid(self) -> Decimal:
        return -sum((o.amount for o in self.others if o.kind == "payment"), ZERO)

    @property
    def refunded(self) -> Decimal:
        """Usage charges given back."""
        return -sum((o.amount for o in self.others if o.kind == "refund"), ZERO)

    @property
    def adjusted(self) -> Decimal:
        """Corrections of anything other than charges (e.g. a reversed payment)."""
        kinds = ("voucher", "clawback", "payment", "refund")
        return sum((o.amount for o in self.others if o.kind not in kinds), ZERO)

    @property
    def closing(self) -> Decimal:
        return self.opening + self.charged - self.refunded - self.subsidised - self.paid + self.adjusted

    def by_project(self) -> list[tuple[str, Decimal]]:
        """Charges per project ("" for jobs that name none), when any job named one."""
        totals: dict[str, Decimal] = {}
        for c in self.charges:
            totals[c.project] = totals.get(c.project, ZERO) + c.amount
        return sorted(totals.items()) if any(totals) else []


def to_csv(invoice: Invoice) -> str:
    """One row per line, then the totals; amounts in CNY with two decimals, times in the city's time."""
    rows: list[list[object]] = [
        ["section", "time", "entry", "job", "attempt", "centre", "pool", "model", "quantity", "unit", "price_cny",
         "amount_cny", "memo", "project"]
    ]  # fmt: skip
    for c in invoice.charges:
        rows.append(["charge", local(c.at), c.entry_id, c.job_id, c.attempt_id, c.centre, c.pool, c.model,
                     f"{c.quantity:f}", c.unit, money(c.price), money(c.amount), "", c.project])  # fmt: skip
    for o in invoice.others:
        rows.append([o.kind, local(o.at), o.entry_id, "", "", "", "", "", "", "", "", money(o.amount), o.memo, ""])
    for project, amount in invoice.by_project():
        rows.append(["project", "", "", "", "", "", "", "", "", "", "", money(amount), "", project or "-"])
    for name, value in (
        ("opening_balance", invoice.opening),
        ("charged", invoice.charged),
        ("refunds", invoice.refunded),
        ("voucher_deductions", invoice.subsidised),
        ("payments", invoice.paid),
        ("adjustments", invoice.adjusted),
        ("closing_balance", invoice.closing),
    ):
        rows.append(["total", "", "", "", "", "", "", "", "", "", "", money(value), name, ""])
    return csv_text(rows)


def unit_label(unit: str) -> str:
    return "卡时 card-h" if unit == "accelerator_hour" else "核时 core-h"


def to_html(invoice: Invoice) -> str:
    """A printable page, headings in Chinese and English; every value escaped."""
    charges = table(
        ["时间 Time", "作业 Job", "中心/资源池 Centre/pool", "型号 Model", "用量 Quantity", "单位 Unit", "单价 Price",
         "金额 Amount"],
        ([local(c.at), c.job_id, f"{c.centre}/{c.pool}", c.model, f"{c.quantity:f}", unit_label(c.unit),
          money(c.price), money(c.amount)] for c in invoice.charges),
        numeric=(4, 6, 7),
    )  # fmt: skip
    others = table(
        ["时间 Time", "类型 Kind", "说明 Memo", "金额 Amount"],
        ([local(o.at), o.kind, o.memo, money(o.amount)] for o in invoice.others),
        numeric=(3,),
    )
    totals = totals_table(
        (
            ("上期结余 Balance brought forward", invoice.opening),
            ("本期费用 Charges", invoice.charged),
            ("退款 Refunds", -invoice.refunded),
            ("算力券抵扣 Voucher deductions", -invoice.subsidised),
            ("本期付款 Payments", -invoice.paid),
            ("调整 Adjustments", invoice.adjusted),
            ("期末应付 Balance due", invoice.closing),
        )
    )
    sections = [("费用明细 Charges", charges), ("抵扣与付款 Deductions and payments", others)]
    if invoice.by_project():
        rows = ([project or "-", money(amount)] for project, amount in invoice.by_project())
        sections.append(("按项目 By project", table(["项目 Project", "金额 Amount"], rows, numeric=(1,))))
    sections.append(("合计 Totals", totals))
    name, month = esc(invoice.tenant_name), esc(invoice.month)
    intro = (
        f"客户 Tenant: <b>{name}</b> ({esc(invoice.tenant_id)}) · 账期 Month: <b>{month}</b>"
        f" · 出具时间 Issued: {esc(local(invoice.issued_at))} (UTC+8) · 金额单位 Amounts in CNY"
    )
    return page(
        f"算力服务月度账单 Compute invoice {month} — {name}",
        "算力服务月度账单 Compute invoice",
        intro,
        sections,
    )
