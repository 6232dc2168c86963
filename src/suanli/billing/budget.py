"""Monthly budgets: the calendar month in the city's time, and what a tenant has left to commit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

CITY_TIME = timezone(timedelta(hours=8), "CST")  # China Standard Time (no daylight saving)
HOLD_GRACE = timedelta(hours=1)  # a finished attempt's hold stays until its usage is charged, at most this long


def month_start(now: datetime) -> datetime:
    """The start of `now`'s calendar month in the city's time, as a UTC instant."""
    local = now.astimezone(CITY_TIME)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def next_month_start(now: datetime) -> datetime:
    local = now.astimezone(CITY_TIME)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return datetime(year, month, 1, tzinfo=CITY_TIME).astimezone(UTC)


def budget_left(cap: Decimal, charged: Decimal, held: Decimal) -> Decimal:
    """What may still be committed this month: the cap less usage charged and holds not yet settled."""
    return cap - charged - held
