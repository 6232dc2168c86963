"""Property: whatever sequence of usage, payments, payment reversals, usage refunds, voucher applications (both
modes), approvals, rejections, payouts and clawbacks happens, through the services as users would drive them, the
ledger balances, every usage record is charged once, and no programme budget, per-entity cap, per-claim cap or
voucher face value is ever exceeded (`ledger verify` checks all of it from both sides)."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suanli.config import Settings
from suanli.domain.errors import ClaimRefused, Conflict, InvalidInput
from suanli.domain.ledger import EntryKind
from suanli.ports import ClaimFilter, EntryFilter
from suanli.service import agents, billing, jobs, refunds, voucher_review, vouchers
from suanli.service.agents import StateReport, UsageInput
from suanli.service.billing import MoneyInput
from suanli.service.context import Context
from suanli.service.scheduler import run_cycle
from suanli.service.vouchers import ClaimInput
from suanli.store.memory import MemoryStore
from tests.conftest import City, FakeClock, build_city, heartbeat_all
from tests.integration.test_vouchers import programme, qualify, reviewers

D = Decimal
TENANTS = ["acme", "globex"]
WORK = {"A100": "gpu", "Ascend910B": "ai"}

use = st.tuples(st.just("use"), st.sampled_from(TENANTS), st.sampled_from(sorted(WORK)), st.sampled_from([0.5, 1, 3]))
pay = st.tuples(st.just("pay"), st.sampled_from(TENANTS), st.integers(1, 3000))
unpay = st.tuples(st.just("unpay"), st.integers(0, 5))
apply_ = st.tuples(
    st.just("apply"), st.sampled_from(TENANTS), st.sampled_from(["reimb", "deduct"]), st.integers(1, 900)
)
decide = st.tuples(st.just("decide"), st.integers(0, 5), st.booleans())
payout = st.tuples(st.just("payout"), st.integers(0, 5))
clawback = st.tuples(st.just("clawback"), st.integers(0, 5), st.integers(1, 400))
refund = st.tuples(st.just("refund"), st.integers(0, 5), st.sampled_from([None, 10, 100, 500]))
ops = st.lists(st.one_of(use, pay, unpay, apply_, apply_, decide, payout, clawback, refund), min_size=4, max_size=16)


def new_city() -> City:
    ctx = Context(MemoryStore(), Settings(home=Path(tempfile.mkdtemp())), FakeClock())
    city = build_city(ctx)
    qualify(city, *TENANTS)
    reviewers(city)
    caps = {"per_entity_year": "400", "per_claim": "300"}
    programme(city, id="reimb", annual_budget="400", caps=caps)  # budgets small enough for sequences to reach
    programme(city, id="deduct", mode="deduct", annual_budget="500", caps=caps)
    return city


def run(city: City, tenant: str, model: str, hours: float) -> None:
    """A job run to success and metered through the agent protocol."""
    body = {"name": "p", "resources": {"accelerators": f"{model}:8"}, "run": "x"}
    jobs.submit_job(city.ctx, city.principal(f"{tenant}-dev"), body)
    heartbeat_all(city)
    run_cycle(city.ctx)
    agent = city.agent(WORK[model])
    (lease,) = agents.lease(city.ctx, agent, 1)
    now = city.ctx.clock.now()
    start = now - timedelta(hours=hours)
    agents.report(city.ctx, agent, [StateReport(lease.attempt_id, "running", start),
                                    StateReport(lease.attempt_id, "succeeded", now, exit_code=0)])  # fmt: skip
    usage = UsageInput(lease.attempt_id, 8, 8 * hours * 3600, 1.0, hours * 3600, start, now)
    agents.record_usage(city.ctx, agent, usage)


def step(city: City, op: tuple, n: int) -> None:  # type: ignore[type-arg]
    admin = city.principal("admin")
    claims = vouchers.list_claims(city.ctx, admin, ClaimFilter(), 100, None)[0]
    pick = claims[op[1] % len(claims)] if claims and op[0] in ("decide", "payout", "clawback") else None
    try:
        match op:
            case ("use", tenant, model, hours):
                run(city, tenant, model, hours)
            case ("pay", tenant, amount):
                billing.record_payment(city.ctx, admin, tenant, MoneyInput(D(amount), f"BANK-{n}"))
            case ("unpay", k):
                paid = billing.list_entries(city.ctx, admin, EntryFilter(kinds=(EntryKind.PAYMENT,)), 50, None)[0]
                if paid:
                    billing.reverse_entry(city.ctx, admin, paid[k % len(paid)].id, "bounced")
            case ("apply", tenant, "reimb", _):
                vouchers.apply(city.ctx, city.principal(f"{tenant}-admin"), tenant, ClaimInput("reimb", f"C{n}", True))
            case ("apply", tenant, "deduct", amount):
                data = ClaimInput("deduct", f"C{n}", True, D(amount))
                vouchers.apply(city.ctx, city.principal(f"{tenant}-admin"), tenant, data)
            case ("decide", _, approve) if pick is not None:
                for who in ("district", "admin", "expert", "admin"):
                    voucher_review.review(city.ctx, city.principal(who), pick.id, approve, "" if approve else "no")
            case ("payout", _) if pick is not None:
                voucher_review.payout(city.ctx, admin, pick.id, f"T-{n}")
            case ("clawback", _, amount) if pick is not None:
                voucher_review.clawback(city.ctx, admin, pick.id, D(amount), "refund")
            case ("refund", k, amount):
                charges = billing.list_entries(city.ctx, admin, EntryFilter(kinds=(EntryKind.USAGE,)), 50, None)[0]
                if charges:
                    given = None if amount is None else D(amount)
                    refunds.refund_usage(city.ctx, admin, charges[k % len(charges)].id, given, "refund")
    except (ClaimRefused, Conflict, InvalidInput):
        pass  # refused with a reason, and (as the check below proves) nothing changed that should not have
    except Exception as exc:  # a review step out of order, or by the wrong role: also a clean refusal
        if type(exc).__name__ != "Forbidden":
            raise
    city.ctx.clock.advance(60)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops)
def test_no_sequence_breaks_the_books_or_the_voucher_rules(sequence):
    city = new_city()
    for n, op in enumerate(sequence):
        step(city, op, n)
        report = billing.verify_ledger(city.ctx)
        assert report.ok, (op, report.findings)
    balances = billing.account_balances(city.ctx, city.principal("admin"))
    assert sum(balances.values()) == 0
    for pid, budget in (("reimb", D("400")), ("deduct", D("500"))):
        assert vouchers.get_programme(city.ctx, city.principal("admin"), pid).committed <= budget
        assert -balances.get(f"programme:{pid}:treasury", D(0)) <= budget  # never paid out more than the budget
