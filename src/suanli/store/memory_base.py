"""What every in-memory repository shares: an undo journal per unit of work, and the base class."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from suanli.domain.errors import AlreadyExists

if TYPE_CHECKING:
    from suanli.store.memory import MemoryData


class _Journal:
    def __init__(self) -> None:
        self.undo: list[Callable[[], None]] = []

    def record(self, fn: Callable[[], None]) -> None:
        self.undo.append(fn)


def _put(journal: _Journal, table: dict, key: object, value: object) -> None:  # type: ignore[type-arg]
    """Set `table[key] = value`, remembering how to undo it."""
    missing = object()
    old = table.get(key, missing)
    table[key] = value
    journal.record(lambda: table.pop(key, None) if old is missing else table.__setitem__(key, old))


def _unique(values: dict[str, object], key: str, what: str, fld: str | None, check: Callable[[object], bool]) -> None:
    if key in values or any(check(v) for v in values.values()):
        raise AlreadyExists(f"{what} already exists", field=fld)


class _Repo:
    def __init__(self, data: MemoryData, journal: _Journal) -> None:
        self.d = data
        self.j = journal
