"""Rating metered usage, the usage entry it makes, and the ledger's balance rules."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from suanli.billing.rating import Metered, rate, usage_entry
from suanli.billing.verify import check_charges
from suanli.domain.centres import PriceUnit
from suanli.domain.ledger import (
    PLATFORM_REVENUE,
    Posting,
    UnbalancedEntry,
    check_postings,
    provider_payable,
    tenant_receivable,
)

T = datetime(2026, 11, 1, tzinfo=UTC)


def usage(acc_s: float = 8 * 3600.0, wall: float = 3600.0, nodes: int = 1, cpus: float = 64) -> Metered:
    return Metered("att_1", "job_1", "tnt_a", "ctr_g", "A100", acc_s, wall, nodes, cpus, T)


def test_accelerator_pools_charge_measured_accelerator_hours_at_the_fixed_price():
    r = rate(usage(), PriceUnit.ACCELERATOR_HOUR, Decimal("18.0000"), Decimal("312"))
    assert r.quantity == Decimal("8.000000") and r.amount == Decimal("144.00")
    assert r.pflops_hours == Decimal("2.496000")  # 8 A100-hours x 312 TFLOPS


def test_amounts_round_half_up_to_whole_fen_and_never_go_through_float():
    # 10 accelerator-seconds at 18.00/h = 0.05 exactly; 1 s at 0.09/h = 0.000025 -> 0.00
    assert rate(usage(10.0), PriceUnit.ACCELERATOR_HOUR, Decimal("18"), Decimal(1)).amount == Decimal("0.05")
    assert rate(usage(1.0), PriceUnit.ACCELERATOR_HOUR, Decimal("0.09"), Decimal(1)).amount == Decimal("0.00")
    # 1.5 s at 18.00/h = 0.0075 -> 0.01 (half-up)
    assert rate(usage(1.5), PriceUnit.ACCELERATOR_HOUR, Decimal("18"), Decimal(1)).amount == Decimal("0.01")
    # a float like 0.1 + 0.2 is read as the decimal it prints as, to the millisecond
    assert rate(usage(0.1 + 0.2), PriceUnit.ACCELERATOR_HOUR, Decimal("3600"), Decimal(1)).amount == Decimal("0.30")


def test_cpu_pools_charge_the_cores_held_for_the_wall_time():
    r = rate(usage(0.0, wall=1800.0, nodes=2, cpus=64), PriceUnit.CORE_HOUR, Decimal("0.06"), Decimal("3.5"))
    assert r.quantity == Decimal("64.000000")  # 2 nodes x 64 cores x 0.5 h
    assert r.amount == Decimal("3.84")
    assert r.pflops_hours == Decimal("0.003500")  # 2 node x 0.5 h x 3.5 TFLOPS


def test_usage_entry_debits_the_tenant_and_credits_operator_and_platform_fee():
    u = usage()
    r = rate(u, PriceUnit.ACCELERATOR_HOUR, Decimal("18"), Decimal(312))
    e = usage_entry("le_1", u, r, Decimal("0.05"), T)
    assert e is not None
    assert e.amount_for(tenant_receivable("tnt_a")) == Decimal("144.00")
    assert e.amount_for(provider_payable("ctr_g")) == Decimal("-136.80")
    assert e.amount_for(PLATFORM_REVENUE) == Decimal("-7.20")
    check_postings(e.postings)
    no_fee = usage_entry("le_2", u, r, Decimal("0"), T)
    assert no_fee is not None and len(no_fee.postings) == 2  # no zero posting for a zero fee
    zero = rate(usage(0.0), PriceUnit.ACCELERATOR_HOUR, Decimal("18"), Decimal(1))
    assert usage_entry("le_3", usage(0.0), zero, Decimal("0"), T) is None


@pytest.mark.parametrize(
    "postings, why",
    [
        ([Posting("a", Decimal("1.00"))], "at least two"),
        ([Posting("a", Decimal("1.00")), Posting("b", Decimal("-0.99"))], "sum to 0.01"),
        ([Posting("a", Decimal("0.005")), Posting("b", Decimal("-0.005"))], "whole number of fen"),
        ([Posting("a", 1.0), Posting("b", Decimal("-1.00"))], "must be Decimal"),  # type: ignore[arg-type]
        ([Posting("a", Decimal("1.00")), Posting("a", Decimal("-1.00"))], "posted twice"),
        ([Posting("a", Decimal("0")), Posting("b", Decimal("0"))], "zero posting"),
    ],
)
def test_malformed_entries_are_refused(postings, why):
    with pytest.raises(UnbalancedEntry, match=why):
        check_postings(postings)


def test_charge_check_finds_missing_double_wrong_and_orphan_charges():
    expected = {"a1": Decimal("1.00"), "a2": Decimal("2.00"), "a3": Decimal("3.00"), "a4": Decimal("0.00")}
    charged = {
        "a1": (1, Decimal("1.00")),  # right
        "a2": (2, Decimal("4.00")),  # twice
        "a3": (1, Decimal("2.50")),  # wrong amount
        "a9": (1, Decimal("5.00")),  # no usage record
    }
    findings = {(f.rule, f.subject) for f in check_charges(expected, charged)}
    assert findings == {("charged-once", "a2"), ("charged-once", "a3"), ("charge-has-usage", "a9")}
    missing = check_charges({"a1": Decimal("1.00")}, {})
    assert [(f.rule, f.subject) for f in missing] == [("charged-once", "a1")]
    assert "never charged" in missing[0].detail
