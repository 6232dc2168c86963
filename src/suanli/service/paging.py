"""Reading whole result sets a page at a time: every ledger entry or voucher claim matching a filter."""

from __future__ import annotations

from collections.abc import Iterator

from suanli.domain.ledger import Entry
from suanli.domain.vouchers import Claim
from suanli.ports import ClaimFilter, EntryFilter, UnitOfWork

PAGE = 1000


def all_entries(uow: UnitOfWork, filt: EntryFilter) -> Iterator[Entry]:
    """Every entry matching `filt`, in recording order."""
    after = None
    while True:
        page = uow.ledger.entries(filt, after, PAGE)
        yield from page
        if len(page) < PAGE:
            return
        after = page[-1].id


def all_claims(uow: UnitOfWork, filt: ClaimFilter | None = None) -> list[Claim]:
    """Every claim matching `filt` (all claims by default), in id order."""
    out: list[Claim] = []
    while True:
        page = uow.vouchers.claims(filt or ClaimFilter(), out[-1].id if out else None, PAGE)
        out += page
        if len(page) < PAGE:
            return out
