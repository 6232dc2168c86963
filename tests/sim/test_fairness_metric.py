"""Jain's index as the simulator measures it: in accelerators, and in standard compute (FP16-weighted)."""

from __future__ import annotations

import pytest

from suanli.sim.engine import Sample
from suanli.sim.metrics import jain_of, share_ratios

A100_EQ = {"RTX4090": 165 / 312, "H800": 990 / 312}


def _sample(cards: dict[str, tuple[str, int]], waiting: int = 100) -> Sample:
    """Both tenants backlogged; each holds `n` cards of one model."""
    return Sample(
        0.0,
        {t: n for t, (_, n) in cards.items()},
        {t: waiting for t in cards},
        {t: n * A100_EQ[model] for t, (model, n) in cards.items()},
    )


def test_equal_cards_of_unequal_models_are_fair_by_cards_and_not_by_compute():
    samples = [_sample({"a": ("RTX4090", 8), "b": ("H800", 8)})]
    assert jain_of(share_ratios(samples, {"a", "b"})) == pytest.approx(1.0)
    assert jain_of(share_ratios(samples, {"a", "b"}, compute=True)) < 0.7


def test_equal_compute_on_unequal_cards_is_fair_by_compute_and_not_by_cards():
    samples = [_sample({"a": ("RTX4090", 24), "b": ("H800", 4)})]
    assert jain_of(share_ratios(samples, {"a", "b"}, compute=True)) == pytest.approx(1.0, abs=0.01)
    assert jain_of(share_ratios(samples, {"a", "b"})) < 0.7


def test_a_tenant_that_wants_less_than_its_share_is_fair_at_what_it_wants():
    samples = [Sample(0.0, {"a": 2, "b": 14}, {"a": 1, "b": 8}, {"a": 2.0, "b": 14.0})]
    ratios = share_ratios(samples, {"a", "b"}, compute=True)
    assert ratios["a"] == pytest.approx(2 / 3)  # wants 3 of 16: its max-min fair share is 3
    assert ratios["b"] == pytest.approx(14 / 13)
