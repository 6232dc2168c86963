"""Monthly invoices per tenant, as JSON, CSV or a printable bilingual HTML page."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter, Response

from suanli.api.deps import Caller, Ctx
from suanli.billing.invoice import Invoice, to_csv, to_html
from suanli.service import invoices

router = APIRouter(prefix="/v1", tags=["billing"])


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):f}"


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
                "price": _money(c.price),
                "amount": _money(c.amount),
            }
            for c in inv.charges
        ],
        "others": [
            {"at": o.at.isoformat(), "entry_id": o.entry_id, "kind": o.kind, "memo": o.memo, "amount": _money(o.amount)}
            for o in inv.others
        ],
        "totals": {
            "opening": _money(inv.opening),
            "charged": _money(inv.charged),
            "subsidised": _money(inv.subsidised),
            "paid": _money(inv.paid),
            "adjusted": _money(inv.adjusted),
            "closing": _money(inv.closing),
        },
    }


@router.get(
    "/tenants/{tenant_id}/invoices/{month}",
    summary="A tenant's invoice for a month (YYYY-MM, city time): format json, csv or html (printable)",
    response_model=None,
)
def tenant_invoice(
    tenant_id: str, month: str, ctx: Ctx, caller: Caller, format: Literal["json", "csv", "html"] = "json"
) -> Any:
    inv = invoices.tenant_invoice(ctx, caller, tenant_id, month)
    name = f"invoice-{inv.tenant_id}-{inv.month}"
    if format == "csv":
        return Response(to_csv(inv), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})  # fmt: skip
    if format == "html":
        return Response(to_html(inv), media_type="text/html; charset=utf-8")
    return invoice_json(inv)
