"""A voucher claim pack (申报材料): everything a reviewer needs to check a claim, in one ZIP. The claim with its
pledge and audit log (printable, bilingual), the usage evidence behind every charge it covers (what the engine
measured, the price fixed at placement, standard compute in PFLOPS-hours FP16), the tenant's invoices for every
month those charges fall in, and a manifest with each file's SHA-256. Pure: the service gathers the facts."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from suanli.billing import invoice as invoice_doc
from suanli.billing.documents import csv_text, esc, local, money, page, table, totals_table
from suanli.billing.invoice import Invoice
from suanli.domain.ledger import ZERO
from suanli.domain.vouchers import Claim, ClaimEvent, ClaimLine, Programme


@dataclass(frozen=True)
class Evidence:
    """One covered charge and the metered usage behind it."""

    line: ClaimLine
    centre: str
    pool: str
    job_id: str
    job_name: str
    attempt_id: str
    accelerators: int
    started_at: datetime
    ended_at: datetime
    wall_seconds: float
    quantity: Decimal
    unit: str
    price: Decimal
    pflops_hours: Decimal


@dataclass(frozen=True)
class ClaimPack:
    claim: Claim
    programme: Programme
    tenant: str
    events: tuple[ClaimEvent, ...]
    evidence: tuple[Evidence, ...]
    invoices: tuple[Invoice, ...]
    issued_at: datetime

    @property
    def fees(self) -> Decimal:
        return sum((e.line.base for e in self.evidence), ZERO)

    @property
    def subsidy(self) -> Decimal:
        return sum((e.line.subsidy for e in self.evidence), ZERO)

    @property
    def pflops_hours(self) -> Decimal:
        return sum((e.pflops_hours for e in self.evidence), Decimal(0))


def evidence_csv(pack: ClaimPack) -> str:
    rows: list[list[object]] = [
        ["entry", "occurred", "centre", "pool", "model", "resource_class", "job", "job_name", "attempt",
         "accelerators", "started", "ended", "wall_seconds", "quantity", "unit", "price_cny", "pflops_hours_fp16",
         "fees_cny", "tier", "rate", "subsidy_cny"]
    ]  # fmt: skip
    for e in pack.evidence:
        ln = e.line
        rows.append([ln.entry_id, local(ln.occurred_at), e.centre, e.pool, ln.model, ln.resource_class.value,
                     e.job_id, e.job_name, e.attempt_id, e.accelerators, e.started_at.isoformat(),
                     e.ended_at.isoformat(), f"{e.wall_seconds:.3f}", f"{e.quantity:f}", e.unit, money(e.price),
                     f"{e.pflops_hours:f}", money(ln.base), ln.tier, f"{ln.rate:f}", money(ln.subsidy)])  # fmt: skip
    return csv_text(rows)


def claim_html(pack: ClaimPack) -> str:
    c, p = pack.claim, pack.programme
    facts = table(
        ["项 Item", "内容 Value"],
        [
            ["申请编号 Claim", c.id],
            ["项目 Programme", f"{p.name_zh or p.name} / {p.name} ({p.id} v{p.version})"],
            ["申请主体 Applicant", f"{pack.tenant} ({c.tenant_id})"],
            ["合同/订单 Contract", c.contract],
            ["方式 Mode", c.mode.value],
            ["状态 State", c.state.value],
            ["承诺 Pledge", c.pledge],
            ["上限说明 Limited by", c.limited_by or "-"],
        ],
    )
    amounts = totals_table(
        (
            ("申请金额 Requested", c.requested),
            ("核定金额 Amount (after caps)", c.amount),
            ("已抵扣 Drawn (deduct)", c.used),
            ("已追回 Clawed back", c.clawed_back),
            ("覆盖费用 Fees covered", pack.fees),
            ("明细补贴合计 Subsidy of the lines", pack.subsidy),
        )
    )
    lines = table(
        ["时间 Time", "中心/资源池 Centre/pool", "型号 Model", "作业 Job", "用量 Quantity", "算力 PFLOPS-h FP16",
         "费用 Fees", "档位 Tier", "比例 Rate", "补贴 Subsidy"],
        ([local(e.line.occurred_at), f"{e.centre}/{e.pool}", e.line.model, e.job_id, f"{e.quantity:f} {e.unit}",
          f"{e.pflops_hours:f}", money(e.line.base), e.line.tier, f"{e.line.rate:f}", money(e.line.subsidy)]
         for e in pack.evidence),
        numeric=(4, 5, 6, 8, 9),
    )  # fmt: skip
    log = table(
        ["时间 Time", "从 From", "到 To", "角色 Role", "经办 Actor", "理由 Reason"],
        ([local(ev.at), ev.from_state.value if ev.from_state else "-", ev.to_state.value, ev.role, ev.actor,
          ev.reason] for ev in pack.events),
    )  # fmt: skip
    months = ", ".join(i.month for i in pack.invoices) or "-"
    intro = (
        f"申请主体 Applicant: <b>{esc(pack.tenant)}</b> · 申请编号 Claim: <b>{esc(c.id)}</b> · 月度账单 Invoices:"
        f" {esc(months)} (invoices/) · 用量证据 Usage evidence: evidence.csv · 出具时间 Issued:"
        f" {esc(local(pack.issued_at))} (UTC+8) · 金额单位 Amounts in CNY"
    )
    return page(
        f"算力券申报材料 Voucher claim pack — {esc(c.id)}",
        "算力券申报材料 Voucher claim pack",
        intro,
        (
            ("申请 Claim", facts),
            ("金额 Amounts", amounts),
            ("覆盖的算力费用 Charges covered", lines),
            ("审核记录 Audit log", log),
        ),
    )


def to_zip(pack: ClaimPack) -> bytes:
    """The pack as a ZIP: claim.html, evidence.csv, invoices/<month>.html and .csv, manifest.json (SHA-256)."""
    files: dict[str, bytes] = {
        "claim.html": claim_html(pack).encode(),
        "evidence.csv": evidence_csv(pack).encode(),
    }
    for inv in pack.invoices:
        files[f"invoices/{inv.month}.html"] = invoice_doc.to_html(inv).encode()
        files[f"invoices/{inv.month}.csv"] = invoice_doc.to_csv(inv).encode()
    manifest = {
        "claim": pack.claim.id,
        "programme": f"{pack.programme.id} v{pack.programme.version}",
        "tenant": pack.claim.tenant_id,
        "issued_at": pack.issued_at.isoformat(),
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
    }
    files["manifest.json"] = json.dumps(manifest, ensure_ascii=False, indent=2).encode()
    stamp = pack.issued_at.timetuple()[:6]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(zipfile.ZipInfo(name, date_time=stamp), data, compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()
