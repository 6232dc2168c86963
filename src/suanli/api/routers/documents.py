"""Billing documents: a tenant's monthly invoice, a centre's monthly settlement statement and a voucher
programme's report, each as JSON, CSV or a printable bilingual HTML page; and a voucher claim's pack (ZIP)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Response

from suanli.api.deps import Caller, Ctx
from suanli.billing import invoice as invoice_doc
from suanli.billing import programme_report as report_doc
from suanli.billing import settlement as settlement_doc
from suanli.billing.claim_pack import to_zip
from suanli.billing.documents import money
from suanli.billing.invoice import Invoice
from suanli.billing.programme_report import ProgrammeReport, Share
from suanli.billing.settlement import Statement
from suanli.service import claim_packs, invoices, programme_reports, settlements

router = APIRouter(prefix="/v1", tags=["billing"])

Format = Literal["json", "csv", "html"]


def _render(fmt: Format, name: str, doc: Any, as_json: Callable[[Any], Any], as_csv: Callable[[Any], str],
            as_html: Callable[[Any], str]) -> Any:  # fmt: skip
    if fmt == "csv":
        return Response(as_csv(doc), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})  # fmt: skip
    if fmt == "html":
        return Response(as_html(doc), media_type="text/html; charset=utf-8")
    return as_json(doc)


def invoice_json(inv: Invoice) -> dict[str, Any]:
    return {
        "tenant_id": inv.tenant_id,
        "tenant": inv.tenant_name,
        "month": inv.month,
        "issued_at": inv.issued_at.isoformat(),
        "charges": [
            {
                "at": c.at.isoformat(),
                "entry_id": c.entry_id,
                "job_id": c.job_id,
                "attempt_id": c.attempt_id,
                "centre": c.centre,
                "pool": c.pool,
                "model": c.model,
                "quantity": f"{c.quantity:f}",
                "unit": c.unit,
                "price": money(c.price),
                "amount": money(c.amount),
                "project": c.project or None,
            }
            for c in inv.charges
        ],
        "by_project": [{"project": p or None, "amount": money(a)} for p, a in inv.by_project()],
        "others": [
            {"at": o.at.isoformat(), "entry_id": o.entry_id, "kind": o.kind, "memo": o.memo, "amount": money(o.amount)}
            for o in inv.others
        ],
        "totals": {
            "opening": money(inv.opening),
            "charged": money(inv.charged),
            "refunded": money(inv.refunded),
            "subsidised": money(inv.subsidised),
            "paid": money(inv.paid),
            "adjusted": money(inv.adjusted),
            "closing": money(inv.closing),
        },
    }


def statement_json(s: Statement) -> dict[str, Any]:
    return {
        "centre_id": s.centre_id,
        "centre": s.centre_name,
        "operator": s.operator,
        "month": s.month,
        "issued_at": s.issued_at.isoformat(),
        "by_pool": [
            {
                "pool": p.pool,
                "model": p.model,
                "unit": p.unit,
                "quantity": f"{p.quantity:f}",
                "gross": money(p.gross),
                "fee": money(p.fee),
                "net": money(p.net),
            }
            for p in s.by_pool()
        ],  # fmt: skip
        "deliveries": [
            {
                "at": d.at.isoformat(),
                "entry_id": d.entry_id,
                "tenant": d.tenant,
                "job_id": d.job_id,
                "attempt_id": d.attempt_id,
                "pool": d.pool,
                "model": d.model,
                "quantity": f"{d.quantity:f}",
                "unit": d.unit,
                "price": money(d.price),
                "gross": money(d.gross),
                "fee": money(d.fee),
                "net": money(d.net),
            }
            for d in s.deliveries
        ],  # fmt: skip
        "payouts": [
            {"at": p.at.isoformat(), "entry_id": p.entry_id, "kind": p.kind, "memo": p.memo, "amount": money(p.amount)}
            for p in s.payouts
        ],
        "totals": {
            "opening_owed": money(s.opening),
            "gross": money(s.gross),
            "platform_fee": money(s.fee),
            "net_delivered": money(s.net),
            "paid_out": money(s.paid),
            "closing_owed": money(s.closing),
            "voucher_funded": money(s.voucher_funded),
        },
    }


@router.get(
    "/tenants/{tenant_id}/invoices/{month}",
    summary="A tenant's invoice for a month (YYYY-MM, city time): format json, csv or html (printable)",
    response_model=None,
)
def tenant_invoice(tenant_id: str, month: str, ctx: Ctx, caller: Caller, format: Format = "json") -> Any:
    inv = invoices.tenant_invoice(ctx, caller, tenant_id, month)
    name = f"invoice-{inv.tenant_id}-{inv.month}"
    return _render(format, name, inv, invoice_json, invoice_doc.to_csv, invoice_doc.to_html)


@router.get(
    "/centres/{centre_id}/settlements/{month}",
    summary="A centre's settlement statement for a month (its operators, city admins, auditors): json, csv or html",
    response_model=None,
)
def centre_settlement(centre_id: str, month: str, ctx: Ctx, caller: Caller, format: Format = "json") -> Any:
    s = settlements.provider_statement(ctx, caller, centre_id, month)
    name = f"settlement-{s.centre_id}-{s.month}"
    return _render(format, name, s, statement_json, settlement_doc.to_csv, settlement_doc.to_html)


def _shares(shares: list[Share]) -> list[dict[str, str]]:
    return [{"key": x.key, "fees": money(x.fees), "subsidy": money(x.subsidy)} for x in shares]


def report_json(r: ProgrammeReport) -> dict[str, Any]:
    p = r.programme
    return {
        "programme": {"id": p.id, "version": p.version, "name": p.name, "name_zh": p.name_zh, "issuer": p.issuer,
                      "year": p.year, "mode": p.mode.value},
        "issued_at": r.issued_at.isoformat(),
        "totals": {"budget": money(r.budget), "committed": money(r.committed), "in_review": money(r.in_review),
                   "granted": money(r.granted), "clawed_back": money(r.clawed_back), "paid": money(r.paid),
                   "left": money(r.left)},
        "granted_in_ledger": money(r.granted_in_ledger),
        "reconciles": r.reconciles,
        "enterprises_served": r.enterprises_served(),
        "claims_by_state": [{"state": s, "claims": n, "amount": money(a)} for s, n, a in r.by_state()],
        "by_industry": _shares(r.by_industry()),
        "by_centre": _shares(r.by_centre()),
        "by_class": _shares(r.by_class()),
        "funding": [{"funder": f, "share": f"{share}", "granted": money(g), "paid": money(pd)}
                    for f, share, g, pd in r.funding()],
    }  # fmt: skip


@router.get(
    "/voucher-programmes/{programme_id}/report",
    summary="A voucher programme's report (city admins, auditors): budget, granted, paid, enterprises, breakdowns",
    response_model=None,
)
def programme_report(programme_id: str, ctx: Ctx, caller: Caller, format: Format = "json") -> Any:
    r = programme_reports.programme_report(ctx, caller, programme_id)
    name = f"programme-{r.programme.id}-report"
    return _render(format, name, r, report_json, report_doc.to_csv, report_doc.to_html)


@router.get(
    "/claims/{claim_id}/pack",
    summary="A voucher claim's pack (ZIP): the claim and audit log, usage evidence, invoices, a SHA-256 manifest",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}}},
)
def claim_pack(claim_id: str, ctx: Ctx, caller: Caller) -> Response:
    pack = claim_packs.claim_pack(ctx, caller, claim_id)
    return Response(to_zip(pack), media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="claim-{pack.claim.id}.zip"'})  # fmt: skip
