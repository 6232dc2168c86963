"""Identifiers: a short type prefix and a ULID (time-ordered, so ids sort by creation)."""

from __future__ import annotations

import os
from datetime import datetime

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

PREFIXES = {
    "tenant": "tnt",
    "user": "usr",
    "token": "tok",
    "centre": "ctr",
    "pool": "pool",
    "price": "prc",
    "job": "job",
}


def ulid(now: datetime, entropy: bytes | None = None) -> str:
    """A 26-character ULID for the instant `now` (48 bits of milliseconds, 80 bits of randomness)."""
    millis = int(now.timestamp() * 1000)
    rand = entropy if entropy is not None else os.urandom(10)
    value = (millis << 80) | int.from_bytes(rand[:10], "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id(kind: str, now: datetime) -> str:
    """An id such as `job_01JD3...` for an entity of `kind` (a key of PREFIXES) created at `now`."""
    return f"{PREFIXES[kind]}_{ulid(now).lower()}"
