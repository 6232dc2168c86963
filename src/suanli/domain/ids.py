"""Identifiers: a short type prefix and a ULID (time-ordered, so ids sort by creation).

ULIDs made in one process are strictly increasing, even within one millisecond (the random part is
incremented, as the ULID spec's monotonic mode does), so "newest first" by id is exact per server.
"""

from __future__ import annotations

import os
import threading
from datetime import datetime

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_BITS = 80

PREFIXES = {
    "tenant": "tnt",
    "user": "usr",
    "token": "tok",
    "centre": "ctr",
    "pool": "pool",
    "price": "prc",
    "job": "job",
    "entry": "le",
    "claim": "vc",
}

_lock = threading.Lock()
_last = 0


def encode(value: int) -> str:
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def ulid(now: datetime, entropy: bytes | None = None) -> str:
    """A 26-character ULID for `now`: 48 bits of milliseconds, 80 bits of randomness, monotonic."""
    global _last
    millis = int(now.timestamp() * 1000)
    rand = int.from_bytes((entropy if entropy is not None else os.urandom(10))[:10], "big")
    value = (millis << _RANDOM_BITS) | rand
    with _lock:
        if value <= _last:
            value = _last + 1
        _last = value
    return encode(value)


def new_id(kind: str, now: datetime) -> str:
    """An id such as `job_01jd3...` for an entity of `kind` (a key of PREFIXES) created at `now`."""
    return f"{PREFIXES[kind]}_{ulid(now).lower()}"
