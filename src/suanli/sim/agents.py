"""An agent client that calls the server's services in-process, with the same answers (as JSON-shaped
dicts) the HTTP protocol gives: the simulator runs the real `Agent` loop without sockets."""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import datetime
from typing import Any

from suanli.domain.tenants import Principal
from suanli.service import agents
from suanli.service.context import Context

_FIELDS = tuple(f.name for f in fields(agents.Assignment))


def _assignment(a: agents.Assignment) -> dict[str, Any]:
    # what the JSON answer would hold: plain values, and copies of the two mappings (no deep `asdict`)
    data = {name: getattr(a, name) for name in _FIELDS}
    data["envs"], data["files"] = dict(a.envs), dict(a.files)
    data["stack"] = a.stack.value
    data["state"] = a.state.value
    data["node_indices"] = list(a.node_indices)
    return data


class InProcessAgentClient:
    def __init__(self, ctx: Context, principal: Principal) -> None:
        self.ctx = ctx
        self.principal = principal

    def close(self) -> None:
        return None

    def centre(self) -> dict[str, Any]:
        name, pools = agents.my_centre(self.ctx, self.principal)
        return {"name": name, "pools": [dict(asdict(p), stack=p.stack.value) for p in pools]}

    def heartbeat(self, pools: dict[str, int], running: list[str] | None, info: dict[str, Any]) -> dict[str, Any]:
        reply = agents.heartbeat(self.ctx, self.principal, pools, running, info)
        return {
            "cancel": reply.cancel,
            "forget": reply.forget,
            "unknown_pools": reply.unknown_pools,
            "preempt": reply.preempt,
        }

    def lease(self, limit: int) -> list[dict[str, Any]]:
        return [_assignment(a) for a in agents.lease(self.ctx, self.principal, limit)]

    def assignments(self) -> list[dict[str, Any]]:
        return [_assignment(a) for a in agents.assignments(self.ctx, self.principal)]

    def report(
        self,
        attempt_id: str,
        state: str,
        at: datetime,
        exit_code: int | None = None,
        reason: str = "",
        devices: dict[str, list[int]] | None = None,
    ) -> dict[str, Any]:
        item = agents.StateReport(attempt_id, state, at, exit_code, reason[:4000], devices or {})
        result = agents.report(self.ctx, self.principal, [item])[0]
        return {
            "attempt_id": result.attempt_id,
            "accepted": result.accepted,
            "job_state": str(result.job_state),
            "note": result.note,
        }

    def append_log(self, attempt_id: str, offset: int, data: bytes) -> dict[str, Any]:
        ack = agents.append_log(self.ctx, self.principal, attempt_id, offset, data)
        return {"accepted": ack.accepted, "next_offset": ack.next_offset}

    def usage(self, body: dict[str, Any]) -> dict[str, Any]:
        usage = agents.UsageInput(
            attempt_id=body["attempt_id"],
            accelerators=body["accelerators"],
            accelerator_seconds=body["accelerator_seconds"],
            cpu_seconds=body["cpu_seconds"],
            wall_seconds=body["wall_seconds"],
            started_at=datetime.fromisoformat(body["started_at"]),
            ended_at=datetime.fromisoformat(body["ended_at"]),
        )
        return {"recorded": agents.record_usage(self.ctx, self.principal, usage)}
