"""The voucher repository: programme versions, funds (locked rows that keep budgets whole), claims, the
usage lines they cover (one active line per charge, enforced by a partial unique index) and the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from suanli.domain.vouchers import (
    Claim,
    ClaimEvent,
    ClaimLine,
    ClaimState,
    Mode,
    Programme,
    ResourceClass,
    programme_from_mapping,
    programme_to_mapping,
)
from suanli.ports import ClaimFilter
from suanli.store.repos_ledger import from_fen_int, to_fen_int
from suanli.store.tables import (
    TenantRow,
    VoucherClaimRow,
    VoucherEntityRow,
    VoucherEventRow,
    VoucherFundRow,
    VoucherLineRow,
    VoucherProgrammeRow,
)


def _programme(row: VoucherProgrammeRow) -> Programme:
    return replace(programme_from_mapping(row.body), published_at=row.published_at, published_by=row.published_by)


def _claim(r: VoucherClaimRow) -> Claim:
    return Claim(
        id=r.id,
        programme_id=r.programme_id,
        programme_version=r.programme_version,
        tenant_id=r.tenant_id,
        year=r.year,
        mode=Mode(r.mode),
        state=ClaimState(r.state),
        contract=r.contract,
        pledge=r.pledge,
        requested=from_fen_int(r.requested_fen),
        base=from_fen_int(r.base_fen),
        amount=from_fen_int(r.amount_fen),
        limited_by=r.limited_by,
        used=from_fen_int(r.used_fen),
        clawed_back=from_fen_int(r.clawed_fen),
        created_at=r.created_at,
        updated_at=r.updated_at,
        applied_by=r.applied_by,
    )


def _claim_values(c: Claim) -> dict[str, object]:
    return {
        "state": c.state.value,
        "requested_fen": to_fen_int(c.requested),
        "base_fen": to_fen_int(c.base),
        "amount_fen": to_fen_int(c.amount),
        "limited_by": c.limited_by,
        "used_fen": to_fen_int(c.used),
        "clawed_fen": to_fen_int(c.clawed_back),
        "updated_at": c.updated_at,
    }


def _line_row(claim_id: str, line: ClaimLine) -> VoucherLineRow:
    return VoucherLineRow(
        claim_id=claim_id,
        entry_id=line.entry_id,
        centre_id=line.centre_id,
        model=line.model,
        resource_class=line.resource_class.value,
        occurred_at=line.occurred_at,
        base_fen=to_fen_int(line.base),
        rate=line.rate,
        tier=line.tier,
        subsidy_fen=to_fen_int(line.subsidy),
        active=True,
    )


def _event_row(e: ClaimEvent) -> VoucherEventRow:
    return VoucherEventRow(
        claim_id=e.claim_id,
        at=e.at,
        from_state=e.from_state.value if e.from_state else None,
        to_state=e.to_state.value,
        actor=e.actor,
        role=e.role,
        reason=e.reason,
    )


class SqlVoucherRepo:
    def __init__(self, session: Session) -> None:
        self.s = session

    # programmes and funds

    def publish(self, programme: Programme) -> bool:
        if self.s.get(VoucherProgrammeRow, (programme.id, programme.version)) is not None:
            return False
        try:
            with self.s.begin_nested():
                self.s.add(
                    VoucherProgrammeRow(
                        id=programme.id,
                        version=programme.version,
                        body=programme_to_mapping(programme),
                        published_at=programme.published_at,
                        published_by=programme.published_by,
                    )
                )
                self.s.flush()
        except IntegrityError:
            return False
        budget = to_fen_int(programme.annual_budget)
        fund = self.s.get(VoucherFundRow, programme.id, with_for_update=True)
        if fund is None:
            self.s.add(VoucherFundRow(programme_id=programme.id, budget_fen=budget, committed_fen=0))
        else:
            fund.budget_fen = budget
        self.s.flush()
        return True

    def programme(self, programme_id: str, version: int | None = None) -> Programme | None:
        q = select(VoucherProgrammeRow).where(VoucherProgrammeRow.id == programme_id)
        if version is not None:
            q = q.where(VoucherProgrammeRow.version == version)
        row = self.s.scalar(q.order_by(VoucherProgrammeRow.version.desc()).limit(1))
        return _programme(row) if row else None

    def programmes(self) -> list[Programme]:
        newest: dict[str, VoucherProgrammeRow] = {}
        for row in self.s.scalars(select(VoucherProgrammeRow).order_by(VoucherProgrammeRow.version)):
            newest[row.id] = row
        return [_programme(r) for _, r in sorted(newest.items())]

    def versions(self, programme_id: str) -> list[Programme]:
        q = select(VoucherProgrammeRow).where(VoucherProgrammeRow.id == programme_id)
        return [_programme(r) for r in self.s.scalars(q.order_by(VoucherProgrammeRow.version))]

    def fund(self, programme_id: str) -> tuple[Decimal, Decimal]:
        return self._fund(programme_id, lock=False)

    def lock_fund(self, programme_id: str) -> tuple[Decimal, Decimal]:
        return self._fund(programme_id, lock=True)

    def _fund(self, programme_id: str, *, lock: bool) -> tuple[Decimal, Decimal]:
        q = select(VoucherFundRow).where(VoucherFundRow.programme_id == programme_id)
        fund = self.s.scalar(q.with_for_update() if lock else q)
        if fund is None:
            raise LookupError(f"no fund for programme {programme_id}")
        return from_fen_int(fund.budget_fen), from_fen_int(fund.committed_fen)

    def entity_committed(self, programme_id: str, tenant_id: str) -> Decimal:
        row = self.s.get(VoucherEntityRow, (programme_id, tenant_id))
        return from_fen_int(row.committed_fen if row else 0)

    def commit(self, programme_id: str, tenant_id: str, delta: Decimal) -> None:
        fen = to_fen_int(delta)
        self.s.execute(
            update(VoucherFundRow)
            .where(VoucherFundRow.programme_id == programme_id)
            .values(committed_fen=VoucherFundRow.committed_fen + fen)
        )
        row = self.s.get(VoucherEntityRow, (programme_id, tenant_id), with_for_update=True)
        if row is None:
            self.s.add(VoucherEntityRow(programme_id=programme_id, tenant_id=tenant_id, committed_fen=fen))
        else:
            row.committed_fen += fen
        self.s.flush()

    # claims

    def add_claim(self, claim: Claim, lines: Sequence[ClaimLine], event: ClaimEvent) -> None:
        self.s.add(
            VoucherClaimRow(
                id=claim.id,
                programme_id=claim.programme_id,
                programme_version=claim.programme_version,
                tenant_id=claim.tenant_id,
                year=claim.year,
                mode=claim.mode.value,
                contract=claim.contract,
                pledge=claim.pledge,
                created_at=claim.created_at,
                applied_by=claim.applied_by,
                **_claim_values(claim),
            )
        )
        self.s.flush()
        self.s.add_all(_line_row(claim.id, line) for line in lines)
        self.s.add(_event_row(event))
        self.s.flush()

    def get_claim(self, claim_id: str, *, lock: bool = False) -> Claim | None:
        q = select(VoucherClaimRow).where(VoucherClaimRow.id == claim_id)
        # NO KEY UPDATE: serialises writers of the claim without blocking inserts of lines that refer to it
        # (a plain FOR UPDATE would deadlock against a transaction holding the key-share lock those take)
        row = self.s.scalar(q.with_for_update(key_share=True) if lock else q)
        return _claim(row) if row else None

    def by_contract(self, tenant_id: str, contract: str) -> list[Claim]:
        q = select(VoucherClaimRow).where(VoucherClaimRow.tenant_id == tenant_id, VoucherClaimRow.contract == contract)
        return [_claim(r) for r in self.s.scalars(q.order_by(VoucherClaimRow.id))]

    def claims(self, filt: ClaimFilter, after: str | None = None, limit: int = 1000) -> list[Claim]:
        q = select(VoucherClaimRow)
        if filt.tenant_id is not None:
            q = q.where(VoucherClaimRow.tenant_id == filt.tenant_id)
        if filt.programme_id is not None:
            q = q.where(VoucherClaimRow.programme_id == filt.programme_id)
        if filt.states:
            q = q.where(VoucherClaimRow.state.in_([s.value for s in filt.states]))
        if filt.mode is not None:
            q = q.where(VoucherClaimRow.mode == filt.mode.value)
        if filt.year is not None:
            q = q.where(VoucherClaimRow.year == filt.year)
        if after is not None:
            q = q.where(VoucherClaimRow.id > after)
        return [_claim(r) for r in self.s.scalars(q.order_by(VoucherClaimRow.id).limit(limit))]

    def update_claim(self, claim: Claim, event: ClaimEvent | None) -> None:
        self.s.execute(update(VoucherClaimRow).where(VoucherClaimRow.id == claim.id).values(**_claim_values(claim)))
        if event is not None:
            self.s.add(_event_row(event))
        self.s.flush()

    def events(self, claim_id: str) -> list[ClaimEvent]:
        q = select(VoucherEventRow).where(VoucherEventRow.claim_id == claim_id).order_by(VoucherEventRow.seq)
        return [
            ClaimEvent(
                claim_id=r.claim_id,
                at=r.at,
                from_state=ClaimState(r.from_state) if r.from_state else None,
                to_state=ClaimState(r.to_state),
                actor=r.actor,
                role=r.role,
                reason=r.reason,
            )
            for r in self.s.scalars(q)
        ]

    def lines(self, claim_id: str) -> list[ClaimLine]:
        q = select(VoucherLineRow).where(VoucherLineRow.claim_id == claim_id)
        rows = self.s.scalars(q.order_by(VoucherLineRow.occurred_at, VoucherLineRow.entry_id))
        return [
            ClaimLine(
                entry_id=r.entry_id,
                centre_id=r.centre_id,
                model=r.model,
                resource_class=ResourceClass(r.resource_class),
                occurred_at=r.occurred_at,
                base=from_fen_int(r.base_fen),
                rate=r.rate,
                tier=r.tier,
                subsidy=from_fen_int(r.subsidy_fen),
            )
            for r in rows
        ]

    def add_line(self, claim_id: str, line: ClaimLine) -> bool:
        if self.covered([line.entry_id]):
            return False
        try:
            with self.s.begin_nested():
                self.s.add(_line_row(claim_id, line))
                self.s.flush()
        except IntegrityError:
            return False  # another claim covered it first
        return True

    def release_lines(self, claim_id: str) -> None:
        self.s.execute(update(VoucherLineRow).where(VoucherLineRow.claim_id == claim_id).values(active=False))

    def covered(self, entry_ids: Sequence[str]) -> set[str]:
        out: set[str] = set()
        ids = list(entry_ids)
        for i in range(0, len(ids), 500):
            q = select(VoucherLineRow.entry_id).where(
                VoucherLineRow.entry_id.in_(ids[i : i + 500]), VoucherLineRow.active.is_(True)
            )
            out.update(self.s.scalars(q))
        return out

    def covering(self, entry_id: str) -> str | None:
        q = select(VoucherLineRow.claim_id).where(VoucherLineRow.entry_id == entry_id, VoucherLineRow.active.is_(True))
        return self.s.scalar(q)

    def lock_tenant(self, tenant_id: str) -> None:
        # FOR NO KEY UPDATE, not FOR UPDATE: rows that refer to the tenant take a key-share lock on it, and a
        # transaction that inserted one (a usage record) must still be able to take this lock without deadlock
        self.s.scalar(select(TenantRow.id).where(TenantRow.id == tenant_id).with_for_update(key_share=True))
