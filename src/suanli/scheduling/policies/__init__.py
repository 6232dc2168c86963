"""Scheduling policies, chosen by name from a registry. Every policy has the same signature:

    policy.decide(snapshot, pending, now) -> CycleResult

A policy module registers itself with `@register("name")`; `get_policy(name)` builds one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from suanli.domain.errors import FieldError, InvalidInput
from suanli.scheduling.decisions import CycleResult
from suanli.scheduling.snapshot import PendingJob, Snapshot


class Policy(Protocol):
    name: str

    def decide(self, snapshot: Snapshot, pending: Sequence[PendingJob], now: datetime) -> CycleResult: ...


_REGISTRY: dict[str, Callable[[], Policy]] = {}


def register(name: str) -> Callable[[Callable[[], Policy]], Callable[[], Policy]]:
    def wrap(factory: Callable[[], Policy]) -> Callable[[], Policy]:
        _REGISTRY[name] = factory
        return factory

    return wrap


def get_policy(name: str) -> Policy:
    """The policy registered as `name`; InvalidInput lists the known names otherwise."""
    try:
        return _REGISTRY[name]()
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise InvalidInput([FieldError("policy", f"unknown policy {name!r}; known policies: {known}")]) from None


def policy_names() -> list[str]:
    return sorted(_REGISTRY)
