"""The pure voucher rules: parsing programmes, eligibility reasons, the single highest tier, line refusals
and the caps (on hand-made programmes and tenants)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suanli.billing.vouchers import (
    UsageItem,
    apply_caps,
    best_tier,
    covered_line,
    eligibility_failures,
    line_refusal,
    select_lines,
)
from suanli.domain.errors import InvalidInput
from suanli.domain.tenants import Tenant, TenantKind, TenantStatus
from suanli.domain.vouchers import (
    ApplicantClass,
    ResourceClass,
    builtin_programmes,
    programme_from_mapping,
    programme_to_mapping,
)

D = Decimal
WHEN = datetime(2026, 6, 1, tzinfo=UTC)
TENANT = Tenant(
    "t1", "firm", "Firm", TenantKind.ENTERPRISE, True, "Qingdao", "manufacturing", TenantStatus.ACTIVE, WHEN
)
PROGRAMMES = {p.id: p for p in builtin_programmes()}
QINGDAO, DEDUCT = PROGRAMMES["qingdao-2026"], PROGRAMMES["deduct-example-2026"]


def item(charged: str = "100", rclass: ResourceClass = ResourceClass.ACCELERATOR, **kw: object) -> UsageItem:
    base = UsageItem("le_1", "c1", "gpu", "ops", "A100", rclass, WHEN, D(charged))
    return replace(base, **kw)  # type: ignore[arg-type]


def test_the_shipped_programmes_read_back_from_their_data_form():
    for p in PROGRAMMES.values():
        assert programme_from_mapping(programme_to_mapping(p)) == p


def test_each_failed_eligibility_rule_is_named_with_its_reason():
    assert eligibility_failures(QINGDAO, TENANT, D("100000")) == []
    bad = replace(
        TENANT, registered_city="Jinan", kind=TenantKind.UNIVERSITY, blacklisted=True, major_accident_year=2024
    )
    rules = {f.rule: f.reason for f in eligibility_failures(QINGDAO, bad, D("99999.99"))}
    assert set(rules) == {"registered_city", "kind", "blacklist", "safety", "min_paid"}
    assert "2024" in rules["safety"] and "100000" in rules["min_paid"]
    assert eligibility_failures(QINGDAO, replace(TENANT, major_accident_year=2023), None) == []  # 3 years ago
    assert eligibility_failures(QINGDAO, replace(TENANT, registered_city="青岛 Qingdao"), None) == []
    not_sme = replace(TENANT, sme=False)
    assert [f.rule for f in eligibility_failures(DEDUCT, not_sme, None)] == ["sme_or_startup"]
    assert eligibility_failures(DEDUCT, replace(not_sme, startup=True), None) == []


def test_the_single_highest_tier_applies_never_the_sum():
    sme = frozenset({ApplicantClass.ANY, ApplicantClass.SME})
    startup = sme | {ApplicantClass.STARTUP}
    assert best_tier(DEDUCT.tiers, ResourceClass.ACCELERATOR, sme).rate == D("0.20")  # type: ignore[union-attr]
    assert best_tier(DEDUCT.tiers, ResourceClass.DOMESTIC, sme).rate == D("0.30")  # type: ignore[union-attr]
    assert best_tier(DEDUCT.tiers, ResourceClass.DOMESTIC, startup).rate == D("0.50")  # type: ignore[union-attr]
    assert best_tier(DEDUCT.tiers[:2], ResourceClass.CPU, sme) is None


def test_out_of_scope_related_party_and_other_year_usage_is_refused_with_the_rule():
    assert line_refusal(QINGDAO, TENANT, item()) is None
    assert line_refusal(QINGDAO, TENANT, item(rclass=ResourceClass.CPU)).rule == "scope"  # type: ignore[union-attr]
    related = replace(TENANT, related_parties=("ops",))
    assert line_refusal(QINGDAO, related, item()).rule == "related_party"  # type: ignore[union-attr]
    assert line_refusal(QINGDAO, TENANT, item(operator_tenant_id="t1")).rule == "related_party"  # type: ignore[union-attr]
    late = item(occurred_at=datetime(2026, 12, 31, 16, 30, tzinfo=UTC))  # 1 Jan 2027 in China
    assert line_refusal(QINGDAO, TENANT, late).rule == "year"  # type: ignore[union-attr]
    listed = replace(QINGDAO, providers=replace(QINGDAO.providers, centres=("hpc",)))
    assert line_refusal(listed, TENANT, item()).rule == "provider"  # type: ignore[union-attr]
    line = covered_line(QINGDAO, TENANT, item("123.45"), D("123.45"))
    assert line.subsidy == D("24.69") and line.tier == "compute fees actually paid"  # type: ignore[union-attr]


def test_only_whole_paid_charges_are_selected_oldest_first():
    items = [item("100", entry_id=f"le_{i}", occurred_at=WHEN.replace(day=i + 1)) for i in range(3)]
    chosen = select_lines(QINGDAO, TENANT, items, D("250"))
    assert [x.entry_id for x in chosen.lines] == ["le_0", "le_1"]
    assert (chosen.base, chosen.subsidy, chosen.unpaid) == (D("200"), D("40.00"), D("100"))


def test_caps_cut_to_the_smallest_limit_and_say_which():
    assert apply_caps(D("28800"), QINGDAO, D(0), D(0)).limited_by == ""
    cut = apply_caps(D("300000"), QINGDAO, D("800000"), D(0))
    assert (cut.amount, cut.limited_by) == (D("200000.00"), "per_entity_year")
    cut = apply_caps(D("300000"), QINGDAO, D(0), D("19900000"))
    assert (cut.amount, cut.limited_by) == (D("100000.00"), "programme_budget")
    assert apply_caps(D("500000"), DEDUCT, D(0), D(0)).limited_by == "per_claim"


@given(
    asks=st.lists(st.decimals(min_value=D("0.01"), max_value=D("400000"), places=2), max_size=40),
)
def test_no_sequence_of_claims_passes_the_caps_or_the_budget(asks: list[Decimal]):
    committed = D(0)
    by_entity: dict[int, Decimal] = {}
    for i, ask in enumerate(asks):
        entity = i % 3
        capped = apply_caps(ask, DEDUCT, by_entity.get(entity, D(0)), committed)
        assert D(0) <= capped.amount <= ask
        committed += capped.amount
        by_entity[entity] = by_entity.get(entity, D(0)) + capped.amount
    assert committed <= DEDUCT.annual_budget
    assert all(v <= DEDUCT.cap_per_entity_year for v in by_entity.values())  # type: ignore[operator]


def test_a_programme_with_bad_fields_names_each_one():
    raw = programme_to_mapping(QINGDAO)
    raw.update(annual_budget="1.234", funding={"city": "0.5", "district": "0.4"}, mode="gift")
    raw["tiers"] = [{"rate": "0", "resource_classes": ["quantum"]}]
    with pytest.raises(InvalidInput) as bad:
        programme_from_mapping(raw)
    fields = {e.field for e in bad.value.errors}
    assert {"annual_budget", "funding", "mode", "tiers[0].rate", "tiers[0].resource_classes[0]"} <= fields
