"""A tenant's monthly invoice (月度账单): the month's charges line by line, voucher deductions, payments, and the
balance carried in and out, taken from the ledger; rendered as CSV and as a printable bilingual HTML page.
Pure: the service gathers the entries, this module adds them up and writes them out."""

from __future__ import annotations

import csv
import html
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from suanli.billing.budget import CITY_TIME
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
    def adjusted(self) -> Decimal:
        """Corrections of anything other than charges (e.g. a reversed payment)."""
        return sum((o.amount for o in self.others if o.kind not in ("voucher", "clawback", "payment")), ZERO)

    @property
    def closing(self) -> Decimal:
        return self.opening + self.charged - self.subsidised - self.paid + self.adjusted


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):f}"


def _local(at: datetime) -> str:
    return at.astimezone(CITY_TIME).strftime("%Y-%m-%d %H:%M")


def to_csv(invoice: Invoice) -> str:
    """One row per line, then the totals; amounts in CNY with two decimals, times in the city's time."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["section", "time", "entry", "job", "attempt", "centre", "pool", "model", "quantity", "unit",
                "price_cny", "amount_cny", "memo"])  # fmt: skip
    for c in invoice.charges:
        w.writerow(["charge", _local(c.at), c.entry_id, c.job_id, c.attempt_id, c.centre, c.pool, c.model,
                    f"{c.quantity:f}", c.unit, _money(c.price), _money(c.amount), ""])  # fmt: skip
    for o in invoice.others:
        w.writerow([o.kind, _local(o.at), o.entry_id, "", "", "", "", "", "", "", "", _money(o.amount), o.memo])
    for name, value in (
        ("opening_balance", invoice.opening),
        ("charged", invoice.charged),
        ("voucher_deductions", invoice.subsidised),
        ("payments", invoice.paid),
        ("adjustments", invoice.adjusted),
        ("closing_balance", invoice.closing),
    ):
        w.writerow(["total", "", "", "", "", "", "", "", "", "", "", _money(value), name])
    return out.getvalue()


def to_html(invoice: Invoice) -> str:
    """A printable page, headings in Chinese and English; every value escaped."""
    e = html.escape
    rows = "\n".join(
        f"<tr><td>{e(_local(c.at))}</td><td>{e(c.job_id)}</td><td>{e(c.centre)}/{e(c.pool)}</td><td>{e(c.model)}</td>"
        f"<td class=n>{c.quantity:f}</td><td>{'卡时 card-h' if c.unit == 'accelerator_hour' else '核时 core-h'}</td>"
        f"<td class=n>{_money(c.price)}</td><td class=n>{_money(c.amount)}</td></tr>"
        for c in invoice.charges
    )
    others = "\n".join(
        f"<tr><td>{e(_local(o.at))}</td><td>{e(o.kind)}</td><td>{e(o.memo)}</td>"
        f"<td class=n>{_money(o.amount)}</td></tr>"
        for o in invoice.others
    )
    totals = "\n".join(
        f"<tr><th>{label}</th><td class=n>{_money(value)}</td></tr>"
        for label, value in (
            ("上期结余 Balance brought forward", invoice.opening),
            ("本期费用 Charges", invoice.charged),
            ("算力券抵扣 Voucher deductions", -invoice.subsidised),
            ("本期付款 Payments", -invoice.paid),
            ("调整 Adjustments", invoice.adjusted),
            ("期末应付 Balance due", invoice.closing),
        )
    )
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>算力服务月度账单 Compute invoice {e(invoice.month)} — {e(invoice.tenant_name)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #999;padding:.2em .5em;text-align:left}}.n{{text-align:right}}
@media print{{body{{margin:0}}}}</style></head><body>
<h1>算力服务月度账单 Compute invoice</h1>
<p>客户 Tenant: <b>{e(invoice.tenant_name)}</b> ({e(invoice.tenant_id)}) · 账期 Month: <b>{e(invoice.month)}</b>
 · 出具时间 Issued: {e(_local(invoice.issued_at))} (UTC+8) · 金额单位 Amounts in CNY</p>
<h2>费用明细 Charges</h2>
<table><tr><th>时间 Time</th><th>作业 Job</th><th>中心/资源池 Centre/pool</th><th>型号 Model</th><th>用量 Quantity</th>
<th>单位 Unit</th><th>单价 Price</th><th>金额 Amount</th></tr>
{rows}
</table>
<h2>抵扣与付款 Deductions and payments</h2>
<table><tr><th>时间 Time</th><th>类型 Kind</th><th>说明 Memo</th><th>金额 Amount</th></tr>
{others}
</table>
<h2>合计 Totals</h2>
<table>
{totals}
</table>
</body></html>
"""
