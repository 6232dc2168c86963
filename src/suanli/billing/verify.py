"""Checks that the books are sound: every entry balances and every metered attempt is charged exactly once."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str  # "balanced", "charged-once", "charge-has-usage"
    subject: str  # the entry or attempt concerned
    detail: str


@dataclass(frozen=True)
class VerifyReport:
    entries_unbalanced: int
    usage_records: int
    usage_entries: int
    findings: tuple[Finding, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.findings


def check_balanced(unbalanced: Iterable[tuple[str, Decimal]]) -> list[Finding]:
    return [Finding("balanced", e, f"postings sum to {total}, not 0") for e, total in unbalanced]


def check_charges(expected: Mapping[str, Decimal], charged: Mapping[str, tuple[int, Decimal]]) -> list[Finding]:
    """`expected`: each usage record's rated amount. `charged`: per attempt, its usage entries and the net
    amount its tenant was debited. Both a missing and a double charge show as a difference."""
    findings: list[Finding] = []
    for attempt, amount in expected.items():
        entries, net = charged.get(attempt, (0, ZERO))
        if amount == 0 and net == 0:
            continue
        if entries == 0:
            findings.append(Finding("charged-once", attempt, f"usage worth {amount} CNY was never charged"))
        elif entries > 1:
            findings.append(Finding("charged-once", attempt, f"charged by {entries} usage entries"))
        elif net != amount:
            findings.append(Finding("charged-once", attempt, f"net charge {net} CNY, usage is worth {amount} CNY"))
    for attempt in charged.keys() - expected.keys():
        findings.append(Finding("charge-has-usage", attempt, "a charge with no usage record behind it"))
    return findings
