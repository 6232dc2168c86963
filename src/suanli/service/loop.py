"""The scheduler loop of a server: one cycle every `scheduler.interval_s`, and running services metered once a
minute, only while holding the leader lock."""

from __future__ import annotations

import logging
import threading
import time

from suanli.service.context import Context
from suanli.service.metering import meter_services
from suanli.service.scheduler import CycleReport, Scheduler

METER_EVERY_S = 60.0

log = logging.getLogger("suanli.scheduler")


class SchedulerLoop:
    """A daemon thread; `wake()` runs the next cycle at once (e.g. after a submission)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.scheduler = Scheduler(ctx)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="suanli-scheduler", daemon=True)
        self.cycles = 0
        self.failed = 0  # cycles in which the configured policy (or anything else) failed
        self.fell_back = 0  # ... of which the fallback policy placed instead
        self.last_report: CycleReport | None = None
        self._metered_at: float | None = None

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        self.ctx.store.leader_lock().release()

    def _run(self) -> None:
        interval = self.ctx.settings.scheduler.interval_s
        lock = self.ctx.store.leader_lock()
        while not self._stop.is_set():
            try:
                if lock.acquire():
                    report = self._cycle()
                    self.cycles += 1
                    self._meter()
                    self.last_report = report
                    if report.placed or report.rejected or report.revoked or report.lost:
                        log.info(
                            "cycle: placed=%d waiting=%d rejected=%d revoked=%d lost=%d",
                            report.placed,
                            report.waiting,
                            report.rejected,
                            report.revoked,
                            report.lost,
                        )
            except Exception:  # noqa: BLE001 - the loop must survive a bad cycle and say so
                log.exception("scheduling cycle failed; retrying in %.1fs", interval)
            self._wake.wait(interval)
            self._wake.clear()

    def _cycle(self) -> CycleReport:
        """One cycle; if it fails, the same cycle again with the fallback policy (a policy bug must not stop
        every placement in the city), and if that fails too, the error goes to the loop."""
        settings = self.ctx.settings.scheduler
        try:
            return self.scheduler.cycle()
        except Exception:
            self.failed += 1
            fallback = settings.fallback_policy
            if not fallback or fallback == settings.policy:
                raise
            log.exception(
                "scheduling cycle failed under policy %r; placing with %r this cycle", settings.policy, fallback
            )
        report = self.scheduler.cycle(fallback)
        self.fell_back += 1
        return report

    def status(self) -> dict[str, object]:
        """What /readyz says of this server's scheduler loop."""
        settings = self.ctx.settings.scheduler
        return {
            "policy": settings.policy,
            "cycles": self.cycles,
            "failed_cycles": self.failed,
            "fallback_cycles": self.fell_back,
            "fallback_policy": settings.fallback_policy or None,
        }

    def _meter(self) -> None:
        now = time.monotonic()
        if self._metered_at is not None and now - self._metered_at < METER_EVERY_S:
            return
        self._metered_at = now
        posted = meter_services(self.ctx, self.ctx.clock.now())
        if posted:
            log.info("metered %d service period(s)", posted)
