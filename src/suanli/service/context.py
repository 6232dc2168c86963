"""What every use case needs: the store, the clock and the settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from suanli.config import Settings
from suanli.ports import Clock, Store, SystemClock


@dataclass
class Context:
    store: Store
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)

    @property
    def heartbeat_timeout(self) -> timedelta:
        return timedelta(seconds=self.settings.scheduler.heartbeat_timeout_s)
