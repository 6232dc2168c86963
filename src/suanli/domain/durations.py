"""Human durations such as `90s`, `30m`, `1h30m`, `2d` and plain seconds."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+)\s*(d|h|m|s)")
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(value: object) -> int:
    """Seconds in `value` (an int, or a string like "1h30m"); raises ValueError with a readable message."""
    if isinstance(value, bool):
        raise ValueError('expected a duration such as 3600, "90s", "30m", "2h" or "1d"')
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if text.isdigit():
            return int(text)
        if text and _PART.sub("", text) == "" and _PART.search(text):
            return sum(int(n) * _UNITS[u] for n, u in _PART.findall(text))
    raise ValueError('expected a duration such as 3600, "90s", "30m", "2h" or "1d"')


def format_duration(seconds: float) -> str:
    """`5025` -> `1h23m45s`; short and exact enough for people."""
    total = int(round(seconds))
    if total < 60:
        return f"{total}s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts[:2])
