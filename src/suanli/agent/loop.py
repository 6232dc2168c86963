"""The agent loop: heartbeat, lease, submit, poll, ship logs, report. After a restart it reconciles the
server's view with its engine's, so no accepted job is lost and none runs twice.

Order on completion: every log byte is shipped, then usage, then the final state; so a tenant who sees
`succeeded` can read the whole log.
"""

from __future__ import annotations

import logging
import platform
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from suanli import __version__
from suanli.agent.client import AgentClient, ProtocolError, Unreachable
from suanli.domain.accelerators import Stack
from suanli.domain.errors import BackendError
from suanli.ports import AttemptSpec, AttemptStatus, Backend, Clock, EngineState, Feature, SystemClock

log = logging.getLogger("suanli.agent")

LOG_CHUNK = 128 * 1024


@dataclass
class Tracked:
    """What the agent knows of one attempt it runs."""

    attempt_id: str
    reported: str  # the last state the server has: "starting" or "running"
    log_offset: int  # bytes the server has


def attempt_spec(a: dict[str, Any]) -> AttemptSpec:
    return AttemptSpec(
        attempt_id=a["attempt_id"],
        job_id=a["job_id"],
        job_name=a["job_name"],
        tenant=a["tenant"],
        pool=a["pool"],
        model=a["model"],
        stack=Stack(a["stack"]),
        per_node=a["per_node"],
        nodes=len(a["node_indices"]),
        node_indices=tuple(a["node_indices"]),
        cpus=a["cpus"],
        memory_gib=a["memory_gib"],
        run=a["run"],
        setup=a["setup"],
        envs=a["envs"],
        files=a["files"],
        max_runtime_s=a["max_runtime_s"],
    )


class EngineDown(Exception):
    """The centre's engine did not answer this tick; the agent said so in its heartbeat and backs off."""


class Agent:
    def __init__(
        self,
        client: AgentClient,
        backend: Backend,
        *,
        name: str = "agent",
        lease_batch: int = 16,
        poll_interval: float = 1.0,
        max_backoff: float = 30.0,
        inventory_every: int = 30,
        clock: Clock | None = None,
    ) -> None:
        self.client = client
        self.backend = backend
        self.name = name
        self.lease_batch = lease_batch
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self.clock = clock or SystemClock()
        self.inventory_every = inventory_every  # send the full list of running attempts every N heartbeats
        self._beats = 0
        self.tracked: dict[str, Tracked] = {}
        self.stopping: set[str] = set()  # attempts being killed because the server no longer wants them
        self.preempting: set[str] = set()  # attempts being stopped for higher-priority work
        self.reconciled = False
        self.engine_error = ""  # why the engine could not be reached at the last heartbeat ("" when it could)
        self.engine_error_since: datetime | None = None
        self._stop = threading.Event()

    # ---------------------------------------------------------------------------- running

    def run(self) -> None:
        """Tick until `stop()`; back off exponentially while the server is unreachable."""
        delay = self.poll_interval
        while not self._stop.is_set():
            try:
                self.tick()
                delay = self.poll_interval
            except Unreachable as exc:
                log.warning("%s: server unreachable (%s); retrying in %.0fs", self.name, exc, delay)
                delay = min(delay * 2, self.max_backoff)
            except (EngineDown, BackendError) as exc:
                log.warning("%s: engine unreachable (%s); retrying in %.0fs", self.name, exc, delay)
                delay = min(delay * 2, self.max_backoff)
            except Exception:  # noqa: BLE001 - keep the agent alive, say what happened
                log.exception("%s: tick failed", self.name)
                delay = min(delay * 2, self.max_backoff)
            self._stop.wait(delay)

    def stop(self) -> None:
        self._stop.set()

    def tick(self) -> None:
        self._heartbeat()
        if self.engine_error:
            raise EngineDown(self.engine_error)
        if not self.reconciled:
            self.reconcile()
        self._lease()
        events = Feature.EVENTS in self.backend.features
        for attempt_id in self.backend.changed() if events else list(self.tracked):  # type: ignore[attr-defined]
            self._poll(attempt_id)
        for attempt_id in list(self.stopping):
            self._discard(attempt_id)

    # ---------------------------------------------------------------------------- steps

    def reconcile(self) -> None:
        """Match the server's assignments with the engine: resubmit what never started, report what the
        engine lost, clean up what the server no longer runs here."""
        assigned = {a["attempt_id"]: a for a in self.client.assignments()}
        for attempt_id, a in assigned.items():
            self.tracked[attempt_id] = Tracked(attempt_id, a["state"], a["log_offset"])
            status = self.backend.status(attempt_id)
            if status.state is EngineState.UNKNOWN:
                if a["state"] == "starting":
                    self._submit(a)
                else:
                    self._final(attempt_id, "lost", None, "the engine has no record of this attempt", {})
        for attempt_id in self.backend.known_attempts():
            if attempt_id not in assigned:
                self._discard(attempt_id)
        self.reconciled = True
        self._beats = 0  # the next heartbeat sends the full inventory
        log.info("%s: reconciled %d attempt(s) with the engine", self.name, len(assigned))

    def _heartbeat(self) -> None:
        """Say we are alive, with the engine's capacity, or, when the engine does not answer, that it is down
        (the server then stops placing here; it declares running jobs lost if the outage outlasts its timeout)."""
        try:
            capacity = self.backend.capacity()
            self.engine_error, self.engine_error_since = "", None
        except BackendError as exc:
            capacity = []
            self.engine_error = exc.detail or str(exc)
            self.engine_error_since = self.engine_error_since or self.clock.now()
        info: dict[str, Any] = {
            "agent": f"suanli-agent/{__version__}",
            "engine": self.backend.name,
            "host": platform.node(),
            "free": {c.pool: c.accelerators_free for c in capacity},
        }
        if self.engine_error and self.engine_error_since is not None:
            info["engine_error"] = self.engine_error[:500]
            info["engine_error_since"] = self.engine_error_since.isoformat()
        # the full list only once reconciled (before that the agent does not yet know what runs here)
        inventory = sorted(self.tracked) if self.reconciled and self._beats % self.inventory_every == 0 else None
        self._beats += 1
        reply = self.client.heartbeat({c.pool: c.nodes_up for c in capacity}, inventory, info)
        if self.engine_error:
            return  # cancels and clean-ups wait for the engine; the server repeats them every heartbeat
        for attempt_id in reply["cancel"]:
            self.backend.cancel(attempt_id)
        for attempt_id in reply.get("preempt", ()):
            if attempt_id in self.tracked and attempt_id not in self.preempting:
                self.preempting.add(attempt_id)
                self.backend.cancel(attempt_id)
        for attempt_id in reply["forget"]:
            self.tracked.pop(attempt_id, None)
            self._discard(attempt_id)

    def _lease(self) -> None:
        for a in self.client.lease(self.lease_batch):
            self.tracked[a["attempt_id"]] = Tracked(a["attempt_id"], "starting", 0)
            self._submit(a)

    def _submit(self, a: dict[str, Any]) -> None:
        nodes = len(a["node_indices"])
        if nodes > 1 and Feature.GANG not in self.backend.features:
            self._final(a["attempt_id"], "failed", None, f"engine {self.backend.name} cannot run multi-node jobs", {})
            return
        try:
            self.backend.submit(attempt_spec(a))
        except BackendError as exc:
            if exc.retryable:
                raise
            self._final(a["attempt_id"], "failed", None, f"the centre's engine refused the job: {exc.detail}", {})

    def _poll(self, attempt_id: str) -> None:
        tracked = self.tracked.get(attempt_id)
        if tracked is None:
            return
        status = self.backend.status(attempt_id)
        if status.state is EngineState.RUNNING and tracked.reported != "running":
            self.client.report(attempt_id, "running", status.started_at or self.clock.now(), devices=status.devices)
            tracked.reported = "running"
        self._ship_logs(tracked, until_end=status.state.finished)
        if status.state.finished:
            self._finish(tracked, status)
        elif status.state is EngineState.UNKNOWN:
            self._final(attempt_id, "lost", None, "the engine has no record of this attempt", {})

    def _ship_logs(self, tracked: Tracked, until_end: bool) -> None:
        while True:
            data = self.backend.read_log(tracked.attempt_id, tracked.log_offset, LOG_CHUNK)
            if not data:
                return
            ack = self.client.append_log(tracked.attempt_id, tracked.log_offset, data)
            tracked.log_offset = ack["next_offset"]
            if not until_end and len(data) < LOG_CHUNK:
                return

    def _finish(self, tracked: Tracked, status: AttemptStatus) -> None:
        usage = self.backend.usage(tracked.attempt_id)
        if usage is not None:
            self.client.usage(
                {
                    "attempt_id": usage.attempt_id,
                    "accelerators": usage.accelerators,
                    "accelerator_seconds": usage.accelerator_seconds,
                    "cpu_seconds": usage.cpu_seconds,
                    "wall_seconds": usage.wall_seconds,
                    "started_at": usage.started_at.isoformat(),
                    "ended_at": usage.ended_at.isoformat(),
                }
            )
        state = status.state.value
        if status.state is EngineState.CANCELLED and tracked.attempt_id in self.preempting:
            state = EngineState.PREEMPTED.value
        self.preempting.discard(tracked.attempt_id)
        self._final(tracked.attempt_id, state, status.exit_code, status.reason, status.devices, status.ended_at)

    def _final(
        self,
        attempt_id: str,
        state: str,
        exit_code: int | None,
        reason: str,
        devices: dict[str, list[int]],
        at: datetime | None = None,
    ) -> None:
        try:
            self.client.report(attempt_id, state, at or self.clock.now(), exit_code, reason, devices)
        except ProtocolError as exc:
            log.warning("%s: report of %s refused (%s); forgetting it", self.name, attempt_id, exc)
        self.tracked.pop(attempt_id, None)
        self._discard(attempt_id)

    def _discard(self, attempt_id: str) -> None:
        """Stop (if needed) and clean up an attempt the server no longer wants here."""
        status = self.backend.status(attempt_id)
        if status.state in (EngineState.RUNNING, EngineState.PENDING):
            self.backend.cancel(attempt_id)
            self.stopping.add(attempt_id)  # forgotten on a later tick, once it has stopped
            return
        self.stopping.discard(attempt_id)
        if status.state is not EngineState.UNKNOWN:
            self.backend.forget(attempt_id)
