"""Monthly invoices: each month's lines and totals come from the ledger and carry over month to month; CSV and a
printable bilingual HTML page; tenants see only their own."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from suanli.billing.invoice import ChargeLine, Invoice, month_bounds, to_html
from suanli.domain.errors import InvalidInput, NotFound
from suanli.service import billing, invoices
from suanli.service.billing import MoneyInput
from tests.conftest import City, heartbeat_all
from tests.integration.conftest import bearer
from tests.integration.test_agent_protocol import placed_and_leased
from tests.integration.test_ledger import use


def a_month_of_use(city: City, clock) -> None:
    """November: 72.00 of A100 time and a 50.00 payment; December: another 72.00."""
    _, attempt = placed_and_leased(city)
    use(city, attempt)  # 8 A100 x 0.5 h x 18.00
    billing.record_payment(city.ctx, city.principal("admin"), "acme", MoneyInput(Decimal("50.00"), "BOC-1"))
    clock.advance(31 * 86400)
    heartbeat_all(city)  # the centres' agents are still there a month later
    _, attempt = placed_and_leased(city)
    use(city, attempt)


def test_invoices_follow_the_ledger_and_carry_the_balance_over(city: City, clock):
    a_month_of_use(city, clock)
    nov = invoices.tenant_invoice(city.ctx, city.principal("acme-dev"), "acme", "2026-11")
    (line,) = nov.charges
    assert (line.centre, line.pool, line.model, line.unit) == ("gpu", "a100", "A100", "accelerator_hour")
    assert line.quantity == Decimal("4") and line.price == Decimal("18.00") and line.amount == Decimal("72.00")
    assert [o.kind for o in nov.others] == ["payment"]
    assert (nov.opening, nov.charged, nov.paid, nov.closing) == (
        0,
        Decimal("72.00"),
        Decimal("50.00"),
        Decimal("22.00"),
    )
    dec = invoices.tenant_invoice(city.ctx, city.principal("acme-admin"), city.ids["acme"], "2026-12")
    assert dec.opening == nov.closing and dec.charged == Decimal("72.00") and dec.closing == Decimal("94.00")
    account = billing.tenant_account(city.ctx, city.principal("acme-dev"), "acme")
    assert dec.closing == account.balance  # the invoice's closing balance is the ledger's
    assert invoices.tenant_invoice(city.ctx, city.principal("acme-dev"), "acme", "2026-10").closing == 0


def test_only_the_tenant_and_the_city_see_an_invoice_and_months_are_validated(city: City, clock):
    a_month_of_use(city, clock)
    with pytest.raises(NotFound):
        invoices.tenant_invoice(city.ctx, city.principal("globex-dev"), "acme", "2026-11")
    assert invoices.tenant_invoice(city.ctx, city.principal("auditor"), "acme", "2026-11").charged == Decimal("72.00")
    for bad in ("2026-13", "2026-1", "nov", ""):
        with pytest.raises(InvalidInput) as exc:
            invoices.tenant_invoice(city.ctx, city.principal("acme-dev"), "acme", bad)
        assert exc.value.errors[0].field == "month"


def test_months_are_the_citys_calendar_months():
    start, end = month_bounds("2026-12")  # midnight in Qingdao is 16:00 UTC the day before
    assert start == datetime(2026, 11, 30, 16, tzinfo=UTC) and end == datetime(2026, 12, 31, 16, tzinfo=UTC)


def test_the_html_page_escapes_what_tenants_typed():
    line = ChargeLine(datetime(2026, 11, 2, tzinfo=UTC), "ent_1", "job_<x>", "job_<x>-1", "qd", "a100", "A100",
                      Decimal("4"), "accelerator_hour", Decimal("18.00"), Decimal("72.00"))  # fmt: skip
    page = to_html(Invoice("tnt_1", "Acme <script>alert(1)</script>", "2026-11", Decimal(0), (line,), (), line.at))
    assert "<script>alert" not in page and "&lt;script&gt;" in page and "job_&lt;x&gt;" in page
    assert "算力服务月度账单" in page and "Compute invoice" in page and "72.00" in page


def test_the_api_serves_json_csv_and_html(api, city: City, clock):
    a_month_of_use(city, clock)
    me = bearer(city.tokens["acme-dev"])
    body = api.get(f"/v1/tenants/{city.ids['acme']}/invoices/2026-11", headers=me).json()
    assert body["totals"] == {**body["totals"], "charged": "72.00", "paid": "50.00", "closing": "22.00"}
    assert Decimal(body["charges"][0]["quantity"]) == 4 and body["charges"][0]["amount"] == "72.00"
    r = api.get("/v1/tenants/acme/invoices/2026-11?format=csv", headers=me)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["amount_cny"] for row in rows if row["section"] == "charge"] == ["72.00"]
    assert {row["memo"]: row["amount_cny"] for row in rows if row["section"] == "total"}["closing_balance"] == "22.00"
    page = api.get("/v1/tenants/acme/invoices/2026-11?format=html", headers=me)
    assert page.headers["content-type"].startswith("text/html") and "期末应付 Balance due" in page.text
    bad = api.get("/v1/tenants/acme/invoices/2026-13", headers=me)
    assert bad.status_code == 422 and bad.json()["field"] == "month"
    other = api.get("/v1/tenants/acme/invoices/2026-11", headers=bearer(city.tokens["globex-dev"]))
    assert other.status_code == 404
