"""Long-running services are charged period by period as they run (time in the running state x units x the
fixed price); their final charge is the measured usage less those periods; other jobs are charged once at the
end; metering is idempotent and catches up; a deduct voucher covers each period; the books check out."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from suanli.domain.ledger import EntryKind, tenant_receivable
from suanli.ports import EntryFilter
from suanli.service import agents, billing, invoices, jobs, refunds, settlements, voucher_review, vouchers
from suanli.service.agents import UsageInput
from suanli.service.metering import meter_services
from suanli.service.scheduler import run_cycle
from suanli.service.vouchers import ClaimInput
from tests.conftest import City, heartbeat_all
from tests.integration.test_agent_protocol import report
from tests.integration.test_ledger import balance
from tests.integration.test_vouchers import qualify, reviewers

D = Decimal
HOUR = 3600


def start(city: City, kind: str) -> str:
    """A job of `kind` on 8 A100 (18.00 a card-hour = 144.00 an hour), running; returns its attempt."""
    body = {"name": kind, "kind": kind, "resources": {"accelerators": "A100:8"}, "run": "serve", "max_runtime": "30d"}
    job, _ = jobs.submit_job(city.ctx, city.principal("acme-dev"), body)
    heartbeat_all(city)
    run_cycle(city.ctx)
    (lease,) = [a for a in agents.lease(city.ctx, city.agent("gpu"), 10) if a.job_id == job.id]
    report(city, lease.attempt_id, "running")
    return lease.attempt_id


def entries(city: City, kind: EntryKind) -> list:  # type: ignore[type-arg]
    return billing.list_entries(city.ctx, city.principal("admin"), EntryFilter(kinds=(kind,)), 100, None)[0]


def test_a_service_is_charged_each_period_and_its_end_settles_the_rest(city: City, clock):
    service, batch = start(city, "service"), start(city, "train")
    clock.advance(2.5 * HOUR)
    assert meter_services(city.ctx, clock.now()) == 2  # two full hours; the train job waits for its end
    assert meter_services(city.ctx, clock.now()) == 0  # idempotent
    interim = entries(city, EntryKind.INTERIM)
    assert [e.reference.rsplit(":", 1)[1] for e in interim] == ["1", "2"] and {e.attempt_id for e in interim} == {
        service
    }
    receivable = tenant_receivable(city.ids["acme"])
    assert balance(city, receivable) == D("288.00")
    inv = invoices.tenant_invoice(city.ctx, city.principal("acme-admin"), "acme", "2026-11")
    assert [(c.quantity, c.amount) for c in inv.charges] == [(D("8"), D("144.00")), (D("8"), D("144.00"))]
    assert billing.verify_ledger(city.ctx).ok  # a running service's periods are not yet a "charge without usage"

    now = clock.now()
    report(city, service, "succeeded", exit_code=0)
    usage = UsageInput(service, 8, 8 * 2.5 * HOUR, 1.0, 2.5 * HOUR, now - timedelta(hours=2.5), now)
    agents.record_usage(city.ctx, city.agent("gpu"), usage)  # 360.00 in all: 72.00 more
    (final,) = [e for e in entries(city, EntryKind.USAGE) if e.attempt_id == service]
    assert final.amount_for(receivable) == D("72.00") and "less 288.00 CNY charged while it ran" in final.memo
    assert balance(city, receivable) == D("360.00")
    verified = billing.verify_ledger(city.ctx)
    assert verified.ok and verified.usage_records == 1
    statement = settlements.provider_statement(city.ctx, city.principal("operator"), "gpu", "2026-11")
    assert statement.gross == D("360.00") and len(statement.deliveries) == 3
    assert batch  # the train job was never metered while running


def test_metering_catches_up_and_a_deduct_voucher_covers_each_period(city: City, clock):
    vouchers.publish_builtin(city.ctx)
    qualify(city, "acme", startup=True)  # deduct programme: 50%
    reviewers(city)
    view = vouchers.apply(city.ctx, city.principal("acme-admin"), "acme",
                          ClaimInput("deduct-example-2026", "V-1", True, D("200")))  # fmt: skip
    for who in ("district", "admin", "expert", "admin"):
        voucher_review.review(city.ctx, city.principal(who), view.claim.id, True, "")
    start(city, "service")
    clock.advance(3 * HOUR + 10)  # the server was down: three periods at once
    assert meter_services(city.ctx, clock.now()) == 3
    claim = vouchers.get_claim(city.ctx, city.principal("admin"), view.claim.id)
    assert claim.claim.used == D("200.00") and len(claim.lines) == 3  # 72 + 72 + 56: the voucher ran out
    assert balance(city, tenant_receivable(city.ids["acme"])) == D("432.00") - D("200.00")
    assert billing.verify_ledger(city.ctx).ok


def test_a_period_of_a_service_can_be_refunded(city: City, clock):
    start(city, "service")
    clock.advance(HOUR)
    meter_services(city.ctx, clock.now())
    (period,) = entries(city, EntryKind.INTERIM)
    refunds.refund_usage(city.ctx, city.principal("admin"), period.id, None, "the endpoint was down all hour")
    assert balance(city, tenant_receivable(city.ids["acme"])) == 0 and billing.verify_ledger(city.ctx).ok
