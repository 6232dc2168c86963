"""Runtime estimates: the nameplate prior, the gain learned per tenant, services, and a name's own history."""

from __future__ import annotations

import pytest

from suanli.scheduling.estimates import DEFAULT_USE_OF_WALLTIME, RuntimeHistory, estimate

SPEEDS = {"RTX4090": 165.0, "A100": 312.0, "H800": 990.0}
MODELS = list(SPEEDS)
HOUR = 3600.0


def test_before_any_run_the_whole_nameplate_speed_up_is_assumed():
    guess = estimate("t", "train", 10 * HOUR, MODELS, SPEEDS, RuntimeHistory())
    slowest = 10 * HOUR * DEFAULT_USE_OF_WALLTIME
    assert guess["RTX4090"] == pytest.approx(slowest)
    assert guess["H800"] == pytest.approx(slowest * 165 / 990)


def _history(gain: float, runs: int = 24) -> RuntimeHistory:
    """A tenant whose jobs use 40% of their max_runtime on their slowest model and get `gain` of the
    nameplate speed-up, run on every model in turn."""
    history = RuntimeHistory()
    for i in range(runs):
        model = MODELS[i % len(MODELS)]
        seconds = 0.4 * 10 * HOUR * (165 / SPEEDS[model]) ** gain
        history.observe("t", f"job-{i}", model, seconds, 10 * HOUR, SPEEDS, "RTX4090")
    return history


@pytest.mark.parametrize("gain", [0.0, 0.5, 0.9])
def test_the_gain_is_learned_from_runs_on_different_models(gain: float):
    history = _history(gain)
    learned, share = history.fit("t")
    assert learned == pytest.approx(gain, abs=0.1)  # pulled a little towards the prior
    assert share == pytest.approx(0.4, rel=0.05)
    guess = estimate("t", "new", 10 * HOUR, MODELS, SPEEDS, history)
    assert guess["H800"] == pytest.approx(4 * HOUR * (165 / 990) ** gain, rel=0.1)


def test_runs_on_one_model_alone_leave_the_prior_gain():
    history = RuntimeHistory()
    for i in range(10):
        history.observe("t", f"j{i}", "A100", 2 * HOUR, 10 * HOUR, SPEEDS, "A100")
    assert history.gain("t") == pytest.approx(1.0)


def test_a_service_runs_as_long_on_any_card_and_does_not_teach_the_tenant_gain():
    history = RuntimeHistory()
    for i in range(12):
        model = MODELS[i % len(MODELS)]
        history.observe("t", "svc", model, 5 * HOUR, 10 * HOUR, SPEEDS, "RTX4090", service=True)
    assert history.gain("t") == pytest.approx(1.0)  # services told it nothing
    guess = estimate("t", "other-svc", 10 * HOUR, MODELS, SPEEDS, history, service=True)
    assert guess["H800"] == pytest.approx(guess["RTX4090"])


def test_a_names_own_runs_are_carried_across_models_by_the_gain():
    history = _history(0.5)
    for _ in range(3):
        history.observe("t", "bert", "A100", 2 * HOUR, 10 * HOUR, SPEEDS, "RTX4090")
    guess = estimate("t", "bert", 10 * HOUR, MODELS, SPEEDS, history)
    gain = history.gain("t")
    assert guess["A100"] == pytest.approx(2 * HOUR)
    assert guess["H800"] == pytest.approx(2 * HOUR * (312 / 990) ** gain)
