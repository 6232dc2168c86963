"""The in-memory ledger repository (the fake behind the ledger port; same contract as the SQL one)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from suanli.domain.errors import AlreadyExists
from suanli.domain.ledger import ZERO, Entry, EntryKind, check_postings, tenant_receivable
from suanli.ports import EntryFilter
from suanli.store.memory_base import _put, _Repo


class MemLedgerRepo(_Repo):
    def add(self, entry: Entry) -> bool:
        check_postings(entry.postings)
        if entry.reference in self.d.ledger_refs:
            return False
        if entry.id in self.d.ledger:
            raise AlreadyExists("ledger entry already exists")
        _put(self.j, self.d.ledger, entry.id, entry)
        _put(self.j, self.d.ledger_refs, entry.reference, entry.id)
        if entry.reverses is not None:
            _put(self.j, self.d.reversals, entry.reverses, entry.id)
        if entry.attempt_id is not None:
            ids = self.d.ledger_by_attempt[entry.attempt_id]
            ids.add(entry.id)
            self.j.record(lambda: ids.discard(entry.id))
        return True

    def get(self, entry_id: str) -> Entry | None:
        return self.d.ledger.get(entry_id)

    def by_reference(self, reference: str) -> Entry | None:
        entry_id = self.d.ledger_refs.get(reference)
        return self.d.ledger[entry_id] if entry_id else None

    def reversal_of(self, entry_id: str) -> Entry | None:
        rid = self.d.reversals.get(entry_id)
        return self.d.ledger[rid] if rid else None

    def entries(self, filt: EntryFilter, after: str | None, limit: int) -> list[Entry]:
        def keep(e: Entry) -> bool:
            return (
                (filt.tenant_id is None or e.tenant_id == filt.tenant_id)
                and (filt.centre_id is None or e.centre_id == filt.centre_id)
                and (filt.account is None or any(p.account == filt.account for p in e.postings))
                and (not filt.kinds or e.kind in filt.kinds)
                and (filt.attempt_id is None or e.attempt_id == filt.attempt_id)
                and (filt.since is None or e.occurred_at >= filt.since)
                and (filt.until is None or e.occurred_at < filt.until)
                and (after is None or e.id > after)
            )

        if filt.attempt_id is not None:  # the index: an attempt has a handful of entries
            ids = self.d.ledger_by_attempt.get(filt.attempt_id, ())
            candidates: Iterable[Entry] = (self.d.ledger[i] for i in ids)
        else:
            candidates = self.d.ledger.values()
        return sorted((e for e in candidates if keep(e)), key=lambda e: e.id)[:limit]

    def balances(self, prefix: str = "", until: datetime | None = None) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for e in self.d.ledger.values():
            if until is not None and e.occurred_at >= until:
                continue
            for p in e.postings:
                if p.account.startswith(prefix):
                    out[p.account] = out.get(p.account, ZERO) + p.amount
        return out

    def usage_charged_since(self, tenant_ids: Sequence[str], since: datetime) -> dict[str, Decimal]:
        wanted = {tenant_receivable(t): t for t in tenant_ids}
        out: dict[str, Decimal] = {}
        for e in self.d.ledger.values():
            if e.attempt_id is None or e.occurred_at < since:
                continue
            for p in e.postings:
                if p.account in wanted:
                    out[wanted[p.account]] = out.get(wanted[p.account], ZERO) + p.amount
        return out

    def usage_charged_by_project(self, tenant_ids: Sequence[str], since: datetime) -> dict[tuple[str, str], Decimal]:
        wanted = {tenant_receivable(t): t for t in tenant_ids}
        out: dict[tuple[str, str], Decimal] = {}
        for e in self.d.ledger.values():
            attempt = self.d.attempts.get(e.attempt_id or "")
            job = self.d.jobs.get(attempt.job_id) if attempt else None
            if job is None or not job.spec.project or e.occurred_at < since:
                continue
            for p in e.postings:
                if p.account in wanted:
                    key = (wanted[p.account], job.spec.project)
                    out[key] = out.get(key, ZERO) + p.amount
        return out

    def unbalanced(self) -> list[tuple[str, Decimal]]:
        sums = ((e.id, sum((p.amount for p in e.postings), ZERO)) for e in self.d.ledger.values())
        return [(i, t) for i, t in sums if t != 0]

    def charged_by_attempt(self) -> dict[str, tuple[int, Decimal]]:
        out: dict[str, tuple[int, Decimal]] = {}
        for e in self.d.ledger.values():
            if e.attempt_id is None or e.kind is EntryKind.REFUND:
                continue
            n, total = out.get(e.attempt_id, (0, ZERO))
            tenant = sum((p.amount for p in e.postings if p.account.startswith("tenant:")), ZERO)
            out[e.attempt_id] = (n + (e.kind is EntryKind.USAGE), total + tenant)
        return out
