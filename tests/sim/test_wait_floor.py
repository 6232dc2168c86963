"""The queueing delay no policy can go below when cycles run on a fixed grid."""

from __future__ import annotations

import math

import pytest

from suanli.sim.metrics import cycle_wait_floor


def test_each_job_waits_for_the_next_cycle_boundary():
    # waits 0 (on a boundary), 30, 1 and 59 s: the median 15.5, the maximum 59
    arrivals = [0.0, 30.0, 59.0, 61.0]
    assert cycle_wait_floor(arrivals, 60.0, 50) == pytest.approx(15.5)
    assert cycle_wait_floor(arrivals, 60.0, 100) == pytest.approx(59.0)
    assert cycle_wait_floor(arrivals, 10.0, 100) == pytest.approx(9.0)


def test_no_jobs_no_floor():
    assert math.isnan(cycle_wait_floor([], 60.0))
