"""The ledger repository: balanced entries stored whole (amounts as integer fen), never updated."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from suanli.domain.ledger import Entry, EntryKind, Posting, check_postings, tenant_receivable
from suanli.ports import EntryFilter
from suanli.store.tables import AttemptRow, JobRow, LedgerEntryRow, LedgerPostingRow

_FEN = Decimal("0.01")


def to_fen_int(amount: Decimal) -> int:
    return int((amount / _FEN).to_integral_exact())


def from_fen_int(fen: int) -> Decimal:
    return (Decimal(fen) * _FEN).quantize(_FEN)


class SqlLedgerRepo:
    def __init__(self, session: Session) -> None:
        self.s = session

    def add(self, entry: Entry) -> bool:
        check_postings(entry.postings)
        if self.s.scalar(select(LedgerEntryRow.id).where(LedgerEntryRow.reference == entry.reference)):
            return False
        row = LedgerEntryRow(
            id=entry.id,
            kind=entry.kind.value,
            reference=entry.reference,
            occurred_at=entry.occurred_at,
            recorded_at=entry.recorded_at,
            memo=entry.memo,
            actor=entry.actor,
            tenant_id=entry.tenant_id,
            centre_id=entry.centre_id,
            attempt_id=entry.attempt_id,
            reverses=entry.reverses,
        )
        try:
            with self.s.begin_nested():
                self.s.add(row)
                self.s.flush()
                self.s.add_all(
                    LedgerPostingRow(entry_id=entry.id, account=p.account, amount_fen=to_fen_int(p.amount))
                    for p in entry.postings
                )
                self.s.flush()
        except IntegrityError:
            if self.s.scalar(select(LedgerEntryRow.id).where(LedgerEntryRow.reference == entry.reference)):
                return False  # a concurrent writer recorded the same fact first
            raise
        return True

    def _load(self, rows: list[LedgerEntryRow]) -> list[Entry]:
        if not rows:
            return []
        by_entry: dict[str, list[Posting]] = defaultdict(list)
        for p in self.s.scalars(select(LedgerPostingRow).where(LedgerPostingRow.entry_id.in_([r.id for r in rows]))):
            by_entry[p.entry_id].append(Posting(p.account, from_fen_int(p.amount_fen)))
        return [
            Entry(
                id=r.id,
                kind=EntryKind(r.kind),
                reference=r.reference,
                occurred_at=r.occurred_at,
                recorded_at=r.recorded_at,
                memo=r.memo,
                postings=tuple(sorted(by_entry[r.id], key=lambda p: (-p.amount, p.account))),
                actor=r.actor,
                tenant_id=r.tenant_id,
                centre_id=r.centre_id,
                attempt_id=r.attempt_id,
                reverses=r.reverses,
            )
            for r in rows
        ]

    def get(self, entry_id: str) -> Entry | None:
        row = self.s.get(LedgerEntryRow, entry_id)
        return self._load([row])[0] if row is not None else None

    def by_reference(self, reference: str) -> Entry | None:
        row = self.s.scalar(select(LedgerEntryRow).where(LedgerEntryRow.reference == reference))
        return self._load([row])[0] if row is not None else None

    def reversal_of(self, entry_id: str) -> Entry | None:
        row = self.s.scalar(select(LedgerEntryRow).where(LedgerEntryRow.reverses == entry_id))
        return self._load([row])[0] if row is not None else None

    def entries(self, filt: EntryFilter, after: str | None, limit: int) -> list[Entry]:
        q = select(LedgerEntryRow)
        if filt.tenant_id is not None:
            q = q.where(LedgerEntryRow.tenant_id == filt.tenant_id)
        if filt.centre_id is not None:
            q = q.where(LedgerEntryRow.centre_id == filt.centre_id)
        if filt.account is not None:
            q = q.where(
                LedgerEntryRow.id.in_(select(LedgerPostingRow.entry_id).where(LedgerPostingRow.account == filt.account))
            )
        if filt.kinds:
            q = q.where(LedgerEntryRow.kind.in_([k.value for k in filt.kinds]))
        if filt.attempt_id is not None:
            q = q.where(LedgerEntryRow.attempt_id == filt.attempt_id)
        if filt.since is not None:
            q = q.where(LedgerEntryRow.occurred_at >= filt.since)
        if filt.until is not None:
            q = q.where(LedgerEntryRow.occurred_at < filt.until)
        if after is not None:
            q = q.where(LedgerEntryRow.id > after)
        return self._load(list(self.s.scalars(q.order_by(LedgerEntryRow.id).limit(limit))))

    def balances(self, prefix: str = "", until: datetime | None = None) -> dict[str, Decimal]:
        q = select(LedgerPostingRow.account, func.sum(LedgerPostingRow.amount_fen)).group_by(LedgerPostingRow.account)
        if prefix:
            q = q.where(LedgerPostingRow.account.startswith(prefix, autoescape=True))
        if until is not None:
            q = q.join(LedgerEntryRow, LedgerEntryRow.id == LedgerPostingRow.entry_id).where(
                LedgerEntryRow.occurred_at < until
            )
        return {account: from_fen_int(int(total)) for account, total in self.s.execute(q)}

    def usage_charged_since(self, tenant_ids: Sequence[str], since: datetime) -> dict[str, Decimal]:
        if not tenant_ids:
            return {}
        accounts = {tenant_receivable(t): t for t in tenant_ids}
        q = (
            select(LedgerPostingRow.account, func.sum(LedgerPostingRow.amount_fen))
            .join(LedgerEntryRow, LedgerEntryRow.id == LedgerPostingRow.entry_id)
            .where(LedgerPostingRow.account.in_(list(accounts)))
            .where(LedgerEntryRow.attempt_id.is_not(None))
            .where(LedgerEntryRow.occurred_at >= since)
            .group_by(LedgerPostingRow.account)
        )
        return {accounts[a]: from_fen_int(int(t)) for a, t in self.s.execute(q)}

    def usage_charged_by_project(self, tenant_ids: Sequence[str], since: datetime) -> dict[tuple[str, str], Decimal]:
        if not tenant_ids:
            return {}
        accounts = {tenant_receivable(t): t for t in tenant_ids}
        q = (
            select(LedgerPostingRow.account, JobRow.project, func.sum(LedgerPostingRow.amount_fen))
            .join(LedgerEntryRow, LedgerEntryRow.id == LedgerPostingRow.entry_id)
            .join(AttemptRow, AttemptRow.id == LedgerEntryRow.attempt_id)
            .join(JobRow, JobRow.id == AttemptRow.job_id)
            .where(LedgerPostingRow.account.in_(list(accounts)))
            .where(JobRow.project.is_not(None))
            .where(LedgerEntryRow.occurred_at >= since)
            .group_by(LedgerPostingRow.account, JobRow.project)
        )
        return {(accounts[a], p): from_fen_int(int(t)) for a, p, t in self.s.execute(q)}

    def unbalanced(self) -> list[tuple[str, Decimal]]:
        q = (
            select(LedgerPostingRow.entry_id, func.sum(LedgerPostingRow.amount_fen))
            .group_by(LedgerPostingRow.entry_id)
            .having(func.sum(LedgerPostingRow.amount_fen) != 0)
        )
        bad = [(e, from_fen_int(int(t))) for e, t in self.s.execute(q)]
        lonely = select(LedgerEntryRow.id).where(
            ~LedgerEntryRow.id.in_(select(LedgerPostingRow.entry_id).distinct())
        )  # an entry with no postings at all
        return bad + [(e, Decimal("0.00")) for e in self.s.scalars(lonely)]

    def charged_by_attempt(self) -> dict[str, tuple[int, Decimal]]:
        tenant_side = LedgerPostingRow.account.startswith("tenant:")
        q = (
            select(
                LedgerEntryRow.attempt_id,
                func.count(func.distinct(case((LedgerEntryRow.kind == EntryKind.USAGE.value, LedgerEntryRow.id)))),
                func.coalesce(func.sum(case((tenant_side, LedgerPostingRow.amount_fen), else_=0)), 0),
            )
            .join(LedgerPostingRow, LedgerPostingRow.entry_id == LedgerEntryRow.id)
            .where(LedgerEntryRow.attempt_id.is_not(None))
            .where(LedgerEntryRow.kind != EntryKind.REFUND.value)  # a refund stands beside the charge
            .group_by(LedgerEntryRow.attempt_id)
        )
        return {a: (int(n), from_fen_int(int(t))) for a, n, t in self.s.execute(q)}
