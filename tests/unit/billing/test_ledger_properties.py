"""Property: whatever order and duplication usage, payments, payouts and reversals arrive in, the ledger
balances, each fact is recorded once, and every account holds exactly what its facts say."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.billing.rating import Metered, rate, usage_entry
from suanli.domain.centres import PriceUnit
from suanli.domain.ledger import (
    PLATFORM_BANK,
    Entry,
    EntryKind,
    postings,
    provider_payable,
    reversal_postings,
    tenant_receivable,
)
from suanli.store.memory import MemoryStore

T0 = datetime(2026, 11, 1, tzinfo=UTC)
TENANTS = ["t1", "t2", "t3"]
CENTRES = ["c1", "c2"]

usage_op = st.tuples(
    st.just("usage"),
    st.integers(0, 30),  # attempt number (repeats are agent resends)
    st.sampled_from(TENANTS),
    st.sampled_from(CENTRES),
    st.integers(0, 8 * 86400),  # accelerator-seconds
    st.sampled_from(["0.0650", "12.50", "18.00", "30.1234"]),
    st.sampled_from(["0", "0.05", "0.125"]),
)
pay_op = st.tuples(st.just("payment"), st.integers(0, 10), st.sampled_from(TENANTS), st.integers(1, 10**7))
payout_op = st.tuples(st.just("payout"), st.integers(0, 10), st.sampled_from(CENTRES), st.integers(1, 10**7))
reverse_op = st.tuples(st.just("reverse"), st.integers(0, 50))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(usage_op, pay_op, payout_op, reverse_op), max_size=60))
def test_the_ledger_balances_and_records_each_fact_once(ops):
    store = MemoryStore()
    expected: dict[str, Decimal] = {}
    usage_seen: dict[int, tuple[str, Decimal]] = {}  # attempt -> (tenant, amount) of the first report
    reversible: list[Entry] = []
    n = 0

    def add(entry: Entry) -> bool:
        with store.uow() as uow:
            return uow.ledger.add(entry)

    def credit(entry: Entry, sign: int = 1) -> None:
        for p in entry.postings:
            expected[p.account] = expected.get(p.account, Decimal("0.00")) + sign * p.amount

    for op in ops:
        n += 1
        at = T0 + timedelta(seconds=n)
        if op[0] == "usage":
            _, attempt, tenant, centre, acc_s, price, fee = op
            m = Metered(f"a{attempt}", "j", tenant, centre, "A100", float(acc_s), acc_s / 8, 1, 8, at)
            entry = usage_entry(
                f"le_{n:04d}", m, rate(m, PriceUnit.ACCELERATOR_HOUR, Decimal(price), Decimal(312)), Decimal(fee), at
            )
            if entry is None:
                continue
            stored = add(entry)
            assert stored == (attempt not in usage_seen)
            if stored:
                usage_seen[attempt] = (tenant, entry.amount_for(tenant_receivable(tenant)))
                credit(entry)
        elif op[0] in ("payment", "payout"):
            _, ref, who, fen = op
            amount = Decimal(fen) / 100
            if op[0] == "payment":
                pairs = ((PLATFORM_BANK, amount), (tenant_receivable(who), -amount))
            else:
                pairs = ((provider_payable(who), amount), (PLATFORM_BANK, -amount))
            entry = Entry(f"le_{n:04d}", EntryKind(op[0]), f"{op[0]}:{who}:{ref}:{fen}", at, at, "", postings(*pairs))
            if add(entry):
                credit(entry)
                reversible.append(entry)
        elif reversible:
            target = reversible[op[1] % len(reversible)]
            reversal = Entry(
                f"le_{n:04d}", EntryKind.REVERSAL, f"reversal:{target.id}", at, at, "", reversal_postings(target),
                reverses=target.id,
            )  # fmt: skip
            with store.uow() as uow:
                already = uow.ledger.reversal_of(target.id) is not None
            assert add(reversal) is not already
            if not already:
                credit(target, -1)

    with store.uow() as uow:
        balances = uow.ledger.balances()
        assert uow.ledger.unbalanced() == []
        charged = uow.ledger.charged_by_attempt()
    assert sum(balances.values(), Decimal(0)) == 0
    assert {a: b for a, b in balances.items() if b} == {a: b for a, b in expected.items() if b}
    assert {a: (1, amount) for a, (_, amount) in ((f"a{k}", v) for k, v in usage_seen.items())} == charged
