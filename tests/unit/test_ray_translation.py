"""The Ray engine without a Ray head: reading the driver's log back, and the agent's configuration."""

from __future__ import annotations

import pytest

from suanli.backends import create_backend
from suanli.backends import ray as _ray  # noqa: F401 - registers the engine
from suanli.backends.ray import parse_log
from suanli.domain.errors import InvalidInput

LOG = (
    "2026-11-23 03:10:09,978\tINFO job_manager.py:581 -- Runtime env is setting up.\n"
    "Running entrypoint for job j1-1: python _suanli_gang.py\n"
    '\x1ebegin {"at": "2026-11-23T03:10:11+00:00"}\n'
    "[node 1] rank=1\n"
    '\x1estarted {"at": "2026-11-23T03:10:15+00:00", "devices": {"0": [0, 1], "1": [2, 3]}}\n'
    "[node 0] rank=0 \x1c odd bytes stay\n"
    '\x1eresult {"state": "failed", "exit_code": 5, "reason": "node 1 exited with code 5"}\n'
    "partial line"
)


def test_the_tenant_sees_only_its_output_and_the_engine_reads_the_markers():
    text, marks = parse_log(LOG)
    assert text == "[node 1] rank=1\n[node 0] rank=0 \x1c odd bytes stay\npartial line"
    assert marks["started"]["devices"] == {"0": [0, 1], "1": [2, 3]}
    assert marks["result"] == {"state": "failed", "exit_code": 5, "reason": "node 1 exited with code 5"}


def test_nothing_before_the_driver_begins_is_shown():
    text, marks = parse_log("Runtime env is setting up.\nTraceback: no module named ray\n")
    assert text == "" and marks == {}


def test_configuration_names_what_is_missing(tmp_path):
    pools = [{"name": "a100", "accelerators_per_node": 8}]
    with pytest.raises(InvalidInput) as exc:
        create_backend("ray", root=tmp_path, pools=pools, adress="http://x")
    assert {e.field for e in exc.value.errors} == {"adress", "address", "pools.a100.resource"}
