"""Centre engine adapters, chosen by name from a registry. Each implements `ports.Backend` and declares the
optional features it lacks; the agent drives them all the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from suanli.domain.errors import FieldError, InvalidInput
from suanli.ports import Backend

_REGISTRY: dict[str, Callable[..., Backend]] = {}


def register(name: str) -> Callable[[Callable[..., Backend]], Callable[..., Backend]]:
    def wrap(factory: Callable[..., Backend]) -> Callable[..., Backend]:
        _REGISTRY[name] = factory
        return factory

    return wrap


def create_backend(name: str, **config: Any) -> Backend:
    """Build the backend registered as `name` with its own configuration."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise InvalidInput([FieldError("engine", f"unknown engine {name!r}; known engines: {known}")]) from None
    return factory(**config)


def backend_names() -> list[str]:
    return sorted(_REGISTRY)
