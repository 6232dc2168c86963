"""`replaced`: `dataclasses.replace` for the frozen, slotted records the store keeps (jobs, attempts, centres).

Every state change of a job copies its record two or three times (the change, the stored version, the
attempt's), and a frozen dataclass's `__init__` sets each field through `object.__setattr__`: the copies were a
tenth of a simulated job's cost on the platform. Here a copy writes the slots directly. Only classes with
nothing to run on construction qualify (no `__post_init__`, every field an `__init__` argument); any other
class is handed to `dataclasses.replace`, so the result is the same either way.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

# class -> (read every field, write each field in order, write one field by name), or None: use `replace`
_Plan = tuple[Callable[[Any], tuple[Any, ...]], tuple[Callable[[Any, Any], None], ...], dict[str, Any]]
_PLANS: dict[type, _Plan | None] = {}


def replaced(obj: T, /, **changes: Any) -> T:
    """A copy of the dataclass instance `obj` with `changes` (as `dataclasses.replace`; TypeError for a field
    it does not have)."""
    cls = type(obj)
    plan = _PLANS.get(cls, False)
    if plan is False:
        plan = _PLANS[cls] = _plan(cls)
    if plan is None:
        return dataclasses.replace(obj, **changes)  # type: ignore[type-var]
    read_all, writers, by_name = plan
    new = object.__new__(cls)
    values = read_all(obj)
    for write, value in zip(writers, values, strict=True):
        write(new, value)
    for name, value in changes.items():
        write = by_name.get(name)
        if write is None:
            raise TypeError(f"{cls.__name__} has no field {name!r}")
        write(new, value)
    return new


def _plan(cls: type) -> _Plan | None:
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__ or hasattr(cls, "__post_init__"):
        return None
    fields = dataclasses.fields(cls)
    if len(fields) < 2 or any(not f.init for f in fields):
        return None
    names = [f.name for f in fields]
    writers = tuple(getattr(cls, name).__set__ for name in names)  # the slots' own descriptors
    return operator.attrgetter(*names), writers, dict(zip(names, writers, strict=True))
