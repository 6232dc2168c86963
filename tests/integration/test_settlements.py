"""Provider settlement statements: each month's deliveries, platform fee and payouts come from the ledger and
carry over month to month; the voucher-funded share is shown; only the centre's operators and the city see one."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from decimal import Decimal

import pytest

from suanli.billing.settlement import to_html
from suanli.domain.errors import InvalidInput, NotFound
from suanli.domain.ledger import provider_payable
from suanli.domain.tenants import Role, TenantKind
from suanli.service import billing, settlements, tenants, vouchers
from suanli.service.auth import create_token
from suanli.service.billing import MoneyInput
from suanli.service.vouchers import ClaimInput
from tests.conftest import City, heartbeat_all
from tests.integration.conftest import bearer
from tests.integration.test_ledger import balance
from tests.integration.test_vouchers import qualify, reviewers, spend, through_review

D = Decimal


@pytest.fixture
def fee_city(city: City) -> City:
    city.ctx.settings.billing.platform_fee_rate = D("0.10")
    return city


def two_months(city: City, clock) -> None:
    """November: 72.00 of A100 time at the gpu centre and a 50.00 payout; December: another 72.00."""
    spend(city, "acme", 0.5)  # 8 A100 x 0.5 h x 18.00
    billing.record_payout(city.ctx, city.principal("admin"), "gpu", MoneyInput(D("50.00"), "ICBC-7"))
    clock.advance(31 * 86400)
    heartbeat_all(city)
    spend(city, "globex", 0.5)


def test_statements_follow_the_ledger_and_carry_what_is_owed_over(fee_city: City, clock):
    two_months(fee_city, clock)
    nov = settlements.provider_statement(fee_city.ctx, fee_city.principal("operator"), "gpu", "2026-11")
    (line,) = nov.deliveries
    assert (line.tenant, line.pool, line.model, line.quantity, line.price) == ("acme", "a100", "A100", 4, D("18.00"))
    assert (line.gross, line.fee, line.net) == (D("72.00"), D("7.20"), D("64.80"))
    assert [p.amount for p in nov.payouts] == [D("50.00")]
    assert (nov.opening, nov.net, nov.paid, nov.closing) == (0, D("64.80"), D("50.00"), D("14.80"))
    (pool,) = nov.by_pool()
    assert (pool.pool, pool.quantity, pool.gross, pool.fee, pool.net) == ("a100", 4, D("72.00"), D("7.20"), D("64.80"))
    dec = settlements.provider_statement(fee_city.ctx, fee_city.principal("admin"), fee_city.ids["gpu"], "2026-12")
    assert dec.opening == nov.closing and [d.tenant for d in dec.deliveries] == ["globex"]
    owed = -balance(fee_city, provider_payable(fee_city.ids["gpu"]))
    assert dec.closing == owed == D("79.60")  # the statement's closing figure is the ledger's
    other = settlements.provider_statement(fee_city.ctx, fee_city.principal("operator"), "ai", "2026-11")
    assert other.deliveries == () and other.closing == 0


def test_only_the_centres_operators_and_the_city_see_a_statement(city: City, clock):
    two_months(city, clock)
    admin = city.principal("admin")
    rival = tenants.create_tenant(city.ctx, admin, tenants.TenantInput("rival", "Rival Ops", TenantKind.ENTERPRISE))
    user = tenants.create_user(city.ctx, admin, rival.id, tenants.UserInput("rival-op", Role.CENTRE_OPERATOR))
    city.tokens["rival-op"] = create_token(city.ctx, admin, user.id, "test", None).secret
    for who in ("acme-dev", "acme-admin", "rival-op"):
        with pytest.raises(NotFound):
            settlements.provider_statement(city.ctx, city.principal(who), "gpu", "2026-11")
    auditor = settlements.provider_statement(city.ctx, city.principal("auditor"), "gpu", "2026-11")
    assert auditor.gross == D("72.00") and auditor.fee == 0  # no platform fee configured here
    for bad in ("2026-00", "11/2026"):
        with pytest.raises(InvalidInput) as exc:
            settlements.provider_statement(city.ctx, city.principal("operator"), "gpu", bad)
        assert exc.value.errors[0].field == "month"
    with pytest.raises(NotFound):
        settlements.provider_statement(city.ctx, city.principal("admin"), "no-such-centre", "2026-11")


def test_the_voucher_funded_share_of_a_centres_charges_is_shown(city: City, clock):
    vouchers.publish_builtin(city.ctx)
    qualify(city, "acme", startup=True)  # the deduct programme's start-up tier: 50%
    reviewers(city)
    view = vouchers.apply(
        city.ctx, city.principal("acme-admin"), "acme", ClaimInput("deduct-example-2026", "V-1", True, D("50"))
    )
    through_review(city, view.claim.id)
    spend(city, "acme", 0.5)  # 72.00, of which 36.00 deducted
    s = settlements.provider_statement(city.ctx, city.principal("operator"), "gpu", "2026-11")
    assert (s.gross, s.net, s.voucher_funded) == (D("72.00"), D("72.00"), D("36.00"))  # the centre is owed it all


def test_the_api_and_documents(api, city: City, clock):
    two_months(city, clock)
    ops = bearer(city.tokens["operator"])
    body = api.get("/v1/centres/gpu/settlements/2026-11", headers=ops).json()
    assert body["totals"] == {**body["totals"], "net_delivered": "72.00", "paid_out": "50.00", "closing_owed": "22.00"}
    assert D(body["by_pool"][0]["quantity"]) == 4 and body["deliveries"][0]["tenant"] == "acme"
    r = api.get("/v1/centres/gpu/settlements/2026-11?format=csv", headers=ops)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["gross_cny"] for row in rows if row["section"] == "delivery"] == ["72.00"]
    assert {row["memo"]: row["net_cny"] for row in rows if row["section"] == "total"}["closing_owed"] == "22.00"
    page = api.get("/v1/centres/gpu/settlements/2026-11?format=html", headers=ops)
    assert "期末应付 Owed at the end of the month" in page.text and "acme" in page.text
    assert api.get("/v1/centres/gpu/settlements/2026-11", headers=bearer(city.tokens["acme-dev"])).status_code == 404
    bad = api.get("/v1/centres/gpu/settlements/26-11", headers=ops)
    assert bad.status_code == 422 and bad.json()["field"] == "month"


def test_the_html_page_escapes_names(city: City, clock):
    two_months(city, clock)
    s = settlements.provider_statement(city.ctx, city.principal("admin"), "gpu", "2026-11")
    page = to_html(replace(s, centre_name="<b>x</b>", operator="Ops & <i>Co</i>"))
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page and "Ops &amp; &lt;i&gt;Co" in page
