"""How a parent attempt becomes a child platform's job, and how the child's job reads back as engine states,
without a child server (the contract suite and tests/e2e/test_federation.py run against a real one)."""

from __future__ import annotations

import httpx
import pytest

from suanli.backends import create_backend
from suanli.backends import federation as _federation  # noqa: F401 - registers the engine
from suanli.backends.federation import FederationBackend, _status, child_job
from suanli.client import SuanliClient
from suanli.domain.accelerators import Stack
from suanli.domain.errors import BackendError, InvalidInput
from suanli.ports import AttemptSpec, EngineState


def spec(**overrides) -> AttemptSpec:
    values = dict(
        attempt_id="job_p-1",
        job_id="job_p",
        job_name="train",
        tenant="acme",
        pool="a100",
        model="A100",
        stack=Stack.CUDA,
        per_node=4,
        nodes=2,
        node_indices=(0, 1),
        cpus=2.0,
        memory_gib=8.0,
        run="python train.py",
        setup="pip install -r req.txt",
        envs={"LR": "0.1"},
        files={"train.py": "print(1)"},
        max_runtime_s=600,
    )
    values.update(overrides)
    return AttemptSpec(**values)  # type: ignore[arg-type]


def test_the_child_job_keeps_the_shape_and_leaves_reruns_to_the_parent():
    body = child_job(spec(), {"model": "A100", "centres": ["qd-ai"]})
    assert body["num_nodes"] == 2 and body["resources"]["accelerators"] == "A100:4"
    assert body["max_runtime"] == 600 and body["setup"] == "pip install -r req.txt"
    assert body["retry"] == {"max_restarts_on_failure": 0, "max_requeues": 0}
    assert body["centres"] == {"allow": ["qd-ai"]}
    cpu = child_job(spec(per_node=0, stack=Stack.CPU, setup=None), {"model": ""})
    assert "accelerators" not in cpu["resources"] and "setup" not in cpu and "centres" not in cpu


def attempt(state: str, reason: str = "", **extra) -> dict:
    return {
        "state": state,
        "reason": reason,
        "started_at": "2026-11-23T01:00:00+00:00",
        "ended_at": "2026-11-23T01:00:09+00:00",
        "devices": {"0": [0, 1]},
        "per_node": 2,
        "nodes": [0],
        **extra,
    }


@pytest.mark.parametrize(
    ("job", "expected", "reason_part"),
    [
        ({"state": "queued", "state_reason": "waiting for A100"}, EngineState.PENDING, "waiting for A100"),
        (
            {"state": "failed", "state_reason": "exceeded max_runtime of 60s; killed"},
            EngineState.TIMEOUT,
            "max_runtime",
        ),
        ({"state": "failed", "state_reason": "lost 1 times; max_requeues reached"}, EngineState.LOST, "centre gone"),
        ({"state": "rejected", "state_reason": "no pool fits"}, EngineState.FAILED, "rejected it: no pool fits"),
        ({"state": "failed", "state_reason": "exit code 3", "exit_code": 3}, EngineState.FAILED, "exit code 3"),
    ],
)
def test_child_states_read_back(job: dict, expected: EngineState, reason_part: str):
    last = "lost" if "lost" in job["state_reason"] else "failed"
    job = {**job, "attempt_history": [attempt(last, "centre gone" if last == "lost" else "")]}
    status = _status("job_p-1", job)
    assert status.state is expected and reason_part in status.reason
    if expected is EngineState.FAILED and job.get("exit_code"):
        assert status.exit_code == 3


def test_an_unreachable_child_is_retryable_and_a_refusal_is_not(tmp_path):
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(422, json={"title": "Invalid input", "detail": "resources.accelerators: unknown"})

    refusing = FederationBackend(
        tmp_path / "a",
        {"a100": {"model": "A100"}},
        SuanliClient("http://child", "t", transport=httpx.MockTransport(refuse)),
    )
    with pytest.raises(BackendError) as exc:
        refusing.submit(spec())
    assert not exc.value.retryable and "refused" in exc.value.detail
    assert refusing.known_attempts() == []
    down = FederationBackend(tmp_path / "b", {"a100": {"model": "A100"}}, SuanliClient("http://127.0.0.1:9", "t"))
    with pytest.raises(BackendError) as exc:
        down.submit(spec())
    assert exc.value.retryable


def test_configuration_names_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.delenv("SUANLI_FEDERATION_TOKEN", raising=False)
    with pytest.raises(InvalidInput) as exc:
        create_backend("federation", root=tmp_path, pools=[], tokn="x")
    assert {e.field for e in exc.value.errors} == {"tokn", "url", "token"}
