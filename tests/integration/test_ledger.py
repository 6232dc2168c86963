"""Usage charged exactly once, payments and payouts, reversals, who sees what, and `verify` (every store)."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from suanli.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from suanli.domain.ledger import (
    PLATFORM_BANK,
    PLATFORM_REVENUE,
    Entry,
    EntryKind,
    postings,
    provider_payable,
    tenant_receivable,
)
from suanli.ports import EntryFilter, UsageRecord
from suanli.service import agents, billing
from suanli.service.agents import UsageInput
from suanli.service.billing import MoneyInput
from suanli.store.uow import SqlStore
from tests.conftest import City
from tests.integration.test_agent_protocol import placed_and_leased


def use(city: City, attempt: str, acc_s: float = 8 * 1800.0, centre: str = "gpu") -> bool:
    now = city.ctx.clock.now()
    usage = UsageInput(attempt, 8, acc_s, 10.0, acc_s / 8, now - timedelta(seconds=acc_s / 8), now)
    return agents.record_usage(city.ctx, city.agent(centre), usage)


def balance(city: City, account: str) -> Decimal:
    return billing.account_balances(city.ctx, city.principal("admin")).get(account, Decimal("0.00"))


def test_usage_is_charged_once_at_the_price_fixed_at_placement(city: City):
    job_id, attempt = placed_and_leased(city)
    assert use(city, attempt) is True  # 8 A100 x 0.5 h x 18.00 = 72.00
    assert use(city, attempt) is False  # an agent's resend changes nothing
    acme, gpu = city.ids["acme"], city.ids["gpu"]
    assert balance(city, tenant_receivable(acme)) == Decimal("72.00")
    assert balance(city, provider_payable(gpu)) == Decimal("-72.00")
    page, _ = billing.list_entries(city.ctx, city.principal("acme-dev"), EntryFilter(), 10, None)
    (entry,) = page
    assert entry.kind is EntryKind.USAGE and entry.attempt_id == attempt and job_id in entry.memo
    report = billing.verify_ledger(city.ctx, city.principal("auditor"))
    assert report.ok and report.usage_records == 1 and report.usage_entries == 1


def test_the_platform_fee_is_kept_and_the_rest_owed_to_the_centre(city: City):
    city.ctx.settings.billing.platform_fee_rate = Decimal("0.05")
    _, attempt = placed_and_leased(city)
    use(city, attempt)
    assert balance(city, provider_payable(city.ids["gpu"])) == Decimal("-68.40")
    assert balance(city, PLATFORM_REVENUE) == Decimal("-3.60")
    assert sum(billing.account_balances(city.ctx, city.principal("admin")).values()) == 0


def test_payments_and_payouts_are_recorded_once_per_reference(city: City):
    admin = city.principal("admin")
    _, attempt = placed_and_leased(city)
    use(city, attempt)
    entry, new = billing.record_payment(city.ctx, admin, "acme", MoneyInput(Decimal("50.00"), "BANK-001"))
    assert new and entry.kind is EntryKind.PAYMENT
    again, new = billing.record_payment(city.ctx, admin, "acme", MoneyInput(Decimal("50.00"), "BANK-001"))
    assert not new and again.id == entry.id
    with pytest.raises(Conflict, match="already recorded with amount 50.00"):
        billing.record_payment(city.ctx, admin, "acme", MoneyInput(Decimal("60.00"), "BANK-001"))
    account = billing.tenant_account(city.ctx, city.principal("acme-admin"), city.ids["acme"])
    assert (account.balance, account.charged, account.paid) == (Decimal("22.00"), Decimal("72.00"), Decimal("50.00"))
    billing.record_payout(city.ctx, admin, "gpu", MoneyInput(Decimal("72.00"), "PAY-9"))
    assert balance(city, provider_payable(city.ids["gpu"])) == 0
    assert balance(city, PLATFORM_BANK) == Decimal("-22.00")


@pytest.mark.parametrize("amount", [Decimal("0"), Decimal("-5"), Decimal("1.005")])
def test_bad_amounts_are_refused_and_change_nothing(city: City, amount: Decimal):
    with pytest.raises(InvalidInput) as err:
        billing.record_payment(city.ctx, city.principal("admin"), "acme", MoneyInput(amount, "X"))
    assert err.value.errors[0].field == "amount"
    assert billing.account_balances(city.ctx, city.principal("admin")) == {}


def test_only_city_admins_move_money(city: City):
    for who in ("acme-admin", "auditor", "operator"):
        with pytest.raises(Forbidden):
            billing.record_payment(city.ctx, city.principal(who), "acme", MoneyInput(Decimal("1"), "X"))
    with pytest.raises(InvalidInput) as err:
        billing.record_payment(city.ctx, city.principal("admin"), "acme", MoneyInput(Decimal("1"), "two\nlines"))
    assert err.value.errors[0].field == "reference"
    with pytest.raises(NotFound):
        billing.record_payment(city.ctx, city.principal("admin"), "nobody", MoneyInput(Decimal("1"), "X"))


def test_a_reversal_undoes_a_payment_once_and_usage_cannot_be_reversed(city: City):
    admin = city.principal("admin")
    _, attempt = placed_and_leased(city)
    use(city, attempt)
    payment, _ = billing.record_payment(city.ctx, admin, "acme", MoneyInput(Decimal("72.00"), "B1"))
    assert balance(city, tenant_receivable(city.ids["acme"])) == 0
    with pytest.raises(InvalidInput):
        billing.reverse_entry(city.ctx, admin, payment.id, "  ")
    reversal = billing.reverse_entry(city.ctx, admin, payment.id, "cheque bounced")
    assert reversal.reverses == payment.id and "cheque bounced" in reversal.memo
    assert balance(city, tenant_receivable(city.ids["acme"])) == Decimal("72.00")
    with pytest.raises(Conflict, match="already been reversed"):
        billing.reverse_entry(city.ctx, admin, payment.id, "again")
    usage_entry = billing.list_entries(city.ctx, admin, EntryFilter(kinds=(EntryKind.USAGE,)), 10, None)[0][0]
    with pytest.raises(Conflict, match="cannot be reversed"):
        billing.reverse_entry(city.ctx, admin, usage_entry.id, "no")
    assert billing.verify_ledger(city.ctx).ok


def test_tenants_see_only_their_own_money(city: City):
    admin = city.principal("admin")
    _, attempt = placed_and_leased(city)
    use(city, attempt)
    billing.record_payment(city.ctx, admin, "globex", MoneyInput(Decimal("10.00"), "G1"))
    acme_page, _ = billing.list_entries(city.ctx, city.principal("acme-dev"), EntryFilter(), 50, None)
    assert {e.tenant_id for e in acme_page} == {city.ids["acme"]}
    with pytest.raises(NotFound):
        billing.list_entries(city.ctx, city.principal("acme-dev"), EntryFilter(tenant_id="globex"), 50, None)
    with pytest.raises(NotFound):
        billing.get_entry(city.ctx, city.principal("globex-dev"), acme_page[0].id)
    with pytest.raises(NotFound):
        billing.tenant_account(city.ctx, city.principal("globex-admin"), "acme")
    with pytest.raises(Forbidden):
        billing.account_balances(city.ctx, city.principal("acme-admin"))
    auditor, _ = billing.list_entries(city.ctx, city.principal("auditor"), EntryFilter(), 50, None)
    assert len(auditor) == 2
    operator, _ = billing.list_entries(city.ctx, city.principal("operator"), EntryFilter(centre_id="gpu"), 50, None)
    assert [e.kind for e in operator] == [EntryKind.USAGE]
    assert billing.get_entry(city.ctx, city.principal("operator"), operator[0].id).id == operator[0].id


def test_entries_page_in_recording_order(city: City):
    admin = city.principal("admin")
    for i in range(5):
        billing.record_payment(city.ctx, admin, "acme", MoneyInput(Decimal(i + 1), f"R{i}"))
    first, cursor = billing.list_entries(city.ctx, admin, EntryFilter(), 3, None)
    rest, end = billing.list_entries(city.ctx, admin, EntryFilter(), 3, cursor)
    assert [e.reference.rsplit(":", 1)[1] for e in first + rest] == ["R0", "R1", "R2", "R3", "R4"]
    assert end is None


def _stray_usage(city: City, entry_id: str, reference: str, attempt: str) -> Entry:
    """A ¥1 usage entry for an attempt, posted straight to the ledger (as a bug might)."""
    now = city.ctx.clock.now()
    money = postings((tenant_receivable(city.ids["acme"]), Decimal(1)), (PLATFORM_REVENUE, Decimal(-1)))
    return Entry(entry_id, EntryKind.USAGE, reference, now, now, "stray", money, attempt_id=attempt)


def test_verify_finds_double_and_missing_charges(city: City):
    _, attempt = placed_and_leased(city)
    use(city, attempt)
    with city.ctx.store.uow() as uow:  # a second usage entry for the same attempt, as a bug might post
        uow.ledger.add(_stray_usage(city, "le_bogus", "usage:again", attempt))
    report = billing.verify_ledger(city.ctx)
    assert not report.ok and [(f.rule, f.subject) for f in report.findings] == [("charged-once", attempt)]
    other_job, other = placed_and_leased(city, centre="gpu")
    with city.ctx.store.uow() as uow:  # usage stored without its charge
        assert uow.usage.add_once(
            UsageRecord(
                other, other_job, city.ids["acme"], city.ids["gpu"], city.ids["gpu/a100"], "A100", 8, 3600.0, 0.0,
                450.0,
                city.ctx.clock.now(), city.ctx.clock.now(), city.ctx.clock.now(),
            )
        )  # fmt: skip
    details = [f.detail for f in billing.verify_ledger(city.ctx).findings]
    assert any("never charged" in d for d in details)


def test_past_entries_cannot_be_edited_or_deleted(store, city: City):
    if not isinstance(store, SqlStore):
        pytest.skip("database triggers: SQL stores only")
    billing.record_payment(city.ctx, city.principal("admin"), "acme", MoneyInput(Decimal("5.00"), "B"))
    for sql in (
        "UPDATE ledger_postings SET amount_fen = amount_fen + 1",
        "DELETE FROM ledger_postings",
        "UPDATE ledger_entries SET memo = 'changed'",
        "DELETE FROM ledger_entries",
    ):
        with pytest.raises(Exception, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(sql))
    assert billing.verify_ledger(city.ctx).ok
    assert balance(city, tenant_receivable(city.ids["acme"])) == Decimal("-5.00")


def test_concurrent_resends_of_usage_charge_once(store, city: City):
    _, attempt = placed_and_leased(city)
    results: list[bool] = []
    errors: list[BaseException] = []

    def send() -> None:
        try:
            results.append(use(city, attempt))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results.count(True) == 1
    assert balance(city, tenant_receivable(city.ids["acme"])) == Decimal("72.00")
    assert billing.verify_ledger(city.ctx).ok


def test_entries_of_one_attempt_and_none_left_by_a_failed_unit_of_work(city: City):
    _, attempt = placed_and_leased(city)
    use(city, attempt)
    _, other = placed_and_leased(city, centre="gpu")
    use(city, other)
    with pytest.raises(RuntimeError), city.ctx.store.uow() as uow:
        uow.ledger.add(_stray_usage(city, "le_undone", "usage:undone", attempt))
        raise RuntimeError("boom")
    with city.ctx.store.uow() as uow:
        mine = uow.ledger.entries(EntryFilter(attempt_id=attempt), None, 10)
        assert [e.kind for e in mine] == [EntryKind.USAGE] and mine[0].attempt_id == attempt
        assert [e.attempt_id for e in uow.ledger.entries(EntryFilter(attempt_id=other), None, 10)] == [other]
        assert uow.ledger.entries(EntryFilter(attempt_id=attempt), mine[0].id, 10) == []
