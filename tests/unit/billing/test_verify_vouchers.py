"""`ledger verify`'s voucher checks: each broken rule is found and named, and sound books pass."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from suanli.billing.verify import check_vouchers
from suanli.domain.vouchers import Claim, ClaimLine, ClaimState, Mode, ResourceClass, builtin_programmes

D = Decimal
WHEN = datetime(2026, 6, 1, tzinfo=UTC)
QINGDAO = next(p for p in builtin_programmes() if p.id == "qingdao-2026")  # caps: 1,000,000 per entity a year
PROGRAMMES = {(QINGDAO.id, QINGDAO.version): QINGDAO}


def claim(cid: str, amount: str, tenant: str = "t1", state: ClaimState = ClaimState.APPROVED, **kw: object) -> Claim:
    c = Claim(cid, QINGDAO.id, QINGDAO.version, tenant, 2026, Mode.REIMBURSE, state, f"HT-{cid}", "pledged",
              D(amount), D(amount) * 5, D(amount), "", D(0), D(0), WHEN, WHEN, "u1")  # fmt: skip
    return replace(c, **kw)  # type: ignore[arg-type]


def line(entry: str, subsidy: str) -> ClaimLine:
    return ClaimLine(entry, "c1", "A100", ResourceClass.ACCELERATOR, WHEN, D(subsidy) * 5, D("0.2"), "all", D(subsidy))


def rules(claims, lines=None, funds=None, granted=None) -> list[str]:  # type: ignore[no-untyped-def]
    held = sum((c.amount - c.clawed_back for c in claims if c.state is not ClaimState.REJECTED), D(0))
    booked = sum((c.granted - c.clawed_back for c in claims), D(0))
    found = check_vouchers(
        claims,
        lines or {},
        PROGRAMMES,
        funds if funds is not None else {QINGDAO.id: (QINGDAO.annual_budget, held)},
        granted if granted is not None else {QINGDAO.id: booked},
    )
    return sorted(f.rule for f in found)


def test_sound_books_pass():
    claims = [claim("a", "600000"), claim("b", "300", tenant="t2", clawed_back=D("100")),
              claim("c", "50", state=ClaimState.REJECTED)]  # fmt: skip
    assert rules(claims, {"a": [line("le_1", "600000")], "b": [line("le_2", "300")], "c": [line("le_1", "50")]}) == []


def test_each_broken_rule_is_named():
    assert rules([claim("a", "600000"), claim("b", "500000")]) == ["voucher-entity-cap"]
    assert rules([claim("a", "10")], funds={QINGDAO.id: (D("5"), D("10"))}) == ["voucher-budget"]
    assert rules([claim("a", "10")], funds={QINGDAO.id: (D("100"), D("7"))}) == ["voucher-committed"]
    assert rules([claim("a", "10")], granted={QINGDAO.id: D("12")}) == ["voucher-granted"]
    assert rules([claim("a", "10"), claim("b", "5")], {"a": [line("le_1", "10")], "b": [line("le_1", "5")]}) == [
        "voucher-once"
    ]
    deduct = claim("d", "50", state=ClaimState.ACTIVE, mode=Mode.DEDUCT, used=D("60"))
    assert "voucher-drawn" in rules([deduct])


def test_a_claim_over_its_programmes_cap_per_claim_is_found():
    capped = replace(QINGDAO, cap_per_claim=D("100"))
    found = check_vouchers([claim("a", "150")], {}, {(QINGDAO.id, QINGDAO.version): capped}, {}, {QINGDAO.id: D("150")})
    assert [f.rule for f in found] == ["voucher-claim-cap"] and "over the cap per claim 100" in found[0].detail
