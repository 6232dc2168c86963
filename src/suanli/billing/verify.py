"""Checks that the books are sound: every entry balances, every metered attempt is charged exactly once, and no
voucher rule is broken (budgets, caps, each charge covered once, the claims and the ledger agree)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from suanli.domain.vouchers import RESERVING_STATES, Claim, ClaimLine, Programme

ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str  # "balanced", "charged-once", "charge-has-usage", "voucher-..."
    subject: str  # the entry or attempt concerned
    detail: str


@dataclass(frozen=True)
class VerifyReport:
    entries_unbalanced: int
    usage_records: int
    usage_entries: int
    findings: tuple[Finding, ...] = field(default_factory=tuple)
    claims: int = 0  # voucher claims checked

    @property
    def ok(self) -> bool:
        return not self.findings


def check_balanced(unbalanced: Iterable[tuple[str, Decimal]]) -> list[Finding]:
    return [Finding("balanced", e, f"postings sum to {total}, not 0") for e, total in unbalanced]


def check_charges(expected: Mapping[str, Decimal], charged: Mapping[str, tuple[int, Decimal]]) -> list[Finding]:
    """`expected`: each usage record's rated amount. `charged`: per attempt, its usage entries and the net
    amount its tenant was debited (with what a running service was charged period by period). Both a missing
    and a double charge show as a difference."""
    findings: list[Finding] = []
    for attempt, amount in expected.items():
        entries, net = charged.get(attempt, (0, ZERO))
        if entries > 1:
            findings.append(Finding("charged-once", attempt, f"charged by {entries} usage entries"))
        elif net != amount and entries == 0 and net == 0:
            findings.append(Finding("charged-once", attempt, f"usage worth {amount} CNY was never charged"))
        elif net != amount:
            findings.append(Finding("charged-once", attempt, f"net charge {net} CNY, usage is worth {amount} CNY"))
    for attempt in charged.keys() - expected.keys():
        if charged[attempt][0] > 0:  # interim charges alone: a service still running, its final usage to come
            findings.append(Finding("charge-has-usage", attempt, "a charge with no usage record behind it"))
    return findings


def check_refunds(refunds: Mapping[str, Decimal], charges: Mapping[str, Decimal | None]) -> list[Finding]:
    """`refunds`: per usage entry, the total refunded; `charges`: per usage entry, what it charged (None: the
    refunded entry is missing or not a usage charge)."""
    findings = []
    for entry, total in refunds.items():
        charge = charges.get(entry)
        if charge is None:
            findings.append(Finding("refund-of-usage", entry, "a refund of something that is not a usage charge"))
        elif total > charge:
            findings.append(Finding("refund-within-charge", entry, f"{total} CNY refunded of a {charge} CNY charge"))
    return findings


def check_vouchers(
    claims: Sequence[Claim],
    lines: Mapping[str, Sequence[ClaimLine]],
    programmes: Mapping[tuple[str, int], Programme],
    funds: Mapping[str, tuple[Decimal, Decimal]],
    granted_in_ledger: Mapping[str, Decimal],
) -> list[Finding]:
    """Every voucher rule, checked from both sides: the claims (with the programme version each was made under)
    and the ledger. `funds`: per programme, (budget, committed) as the fund records them; `granted_in_ledger`:
    per programme, the balance of its granted account (subsidy granted, net of clawbacks)."""
    findings: list[Finding] = []
    reserved: dict[str, Decimal] = {}
    granted: dict[str, Decimal] = {}
    per_entity: dict[tuple[str, str], Decimal] = {}
    covered: dict[str, str] = {}
    for c in claims:
        p = programmes.get((c.programme_id, c.programme_version))
        if c.state in RESERVING_STATES:
            held = c.amount - c.clawed_back
            reserved[c.programme_id] = reserved.get(c.programme_id, ZERO) + held
            key = (c.programme_id, c.tenant_id)
            per_entity[key] = per_entity.get(key, ZERO) + held
            for line in lines.get(c.id, ()):
                if line.entry_id in covered:
                    findings.append(
                        Finding("voucher-once", line.entry_id, f"covered by claims {covered[line.entry_id]} and {c.id}")
                    )
                covered[line.entry_id] = c.id
        granted[c.programme_id] = granted.get(c.programme_id, ZERO) + c.granted - c.clawed_back
        if c.used > c.amount:
            findings.append(Finding("voucher-drawn", c.id, f"drawn {c.used} CNY on a voucher of {c.amount} CNY"))
        if p is not None and p.cap_per_claim is not None and c.amount > p.cap_per_claim:
            findings.append(
                Finding("voucher-claim-cap", c.id, f"{c.amount} CNY over the cap per claim {p.cap_per_claim}")
            )
    newest = {pid: p for (pid, _), p in sorted(programmes.items())}
    for (pid, tenant), amount in per_entity.items():
        cap = newest[pid].cap_per_entity_year if pid in newest else None
        if cap is not None and amount > cap:
            findings.append(Finding("voucher-entity-cap", f"{pid}/{tenant}", f"{amount} CNY over the cap {cap}"))
    for pid, (budget, committed) in funds.items():
        if committed > budget:
            findings.append(Finding("voucher-budget", pid, f"{committed} CNY committed of a {budget} CNY budget"))
        if committed != reserved.get(pid, ZERO):
            findings.append(
                Finding("voucher-committed", pid, f"fund says {committed} CNY, claims hold {reserved.get(pid, ZERO)}")
            )
    for pid in granted.keys() | granted_in_ledger.keys():
        claimed, booked = granted.get(pid, ZERO), granted_in_ledger.get(pid, ZERO)
        if claimed != booked:
            findings.append(Finding("voucher-granted", pid, f"claims grant {claimed} CNY, the ledger {booked} CNY"))
    return findings
