"""The in-memory voucher repository (the fake behind the voucher port; same contract as the SQL one).
Units of work run one at a time here, so the locks of the SQL repository are no-ops."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from suanli.domain.vouchers import Claim, ClaimEvent, ClaimLine, Programme
from suanli.ports import ClaimFilter
from suanli.store.memory_base import _put, _Repo

ZERO = Decimal("0.00")


@dataclass
class VoucherData:
    programmes: dict[tuple[str, int], Programme] = field(default_factory=dict)
    funds: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)  # id -> (budget, committed)
    entities: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    claims: dict[str, Claim] = field(default_factory=dict)
    lines: dict[tuple[str, str], ClaimLine] = field(default_factory=dict)  # (claim, entry) -> line
    active: dict[str, str] = field(default_factory=dict)  # entry id -> claim id of its active line
    events: list[ClaimEvent] = field(default_factory=list)


class MemVoucherRepo(_Repo):
    @property
    def v(self) -> VoucherData:
        return self.d.vouchers

    def publish(self, programme: Programme) -> bool:
        key = (programme.id, programme.version)
        if key in self.v.programmes:
            return False
        _put(self.j, self.v.programmes, key, programme)
        committed = self.v.funds.get(programme.id, (ZERO, ZERO))[1]
        _put(self.j, self.v.funds, programme.id, (programme.annual_budget, committed))
        return True

    def programme(self, programme_id: str, version: int | None = None) -> Programme | None:
        found = self.versions(programme_id)
        if version is not None:
            found = [p for p in found if p.version == version]
        return found[-1] if found else None

    def programmes(self) -> list[Programme]:
        ids = sorted({pid for pid, _ in self.v.programmes})
        return [p for pid in ids if (p := self.programme(pid)) is not None]

    def versions(self, programme_id: str) -> list[Programme]:
        return [p for (pid, _), p in sorted(self.v.programmes.items()) if pid == programme_id]

    def fund(self, programme_id: str) -> tuple[Decimal, Decimal]:
        return self.lock_fund(programme_id)

    def lock_fund(self, programme_id: str) -> tuple[Decimal, Decimal]:
        if programme_id not in self.v.funds:
            raise LookupError(f"no fund for programme {programme_id}")
        return self.v.funds[programme_id]

    def entity_committed(self, programme_id: str, tenant_id: str) -> Decimal:
        return self.v.entities.get((programme_id, tenant_id), ZERO)

    def commit(self, programme_id: str, tenant_id: str, delta: Decimal) -> None:
        budget, committed = self.v.funds[programme_id]
        _put(self.j, self.v.funds, programme_id, (budget, committed + delta))
        key = (programme_id, tenant_id)
        _put(self.j, self.v.entities, key, self.v.entities.get(key, ZERO) + delta)

    def add_claim(self, claim: Claim, lines: Sequence[ClaimLine], event: ClaimEvent) -> None:
        _put(self.j, self.v.claims, claim.id, claim)
        for line in lines:
            if not self.add_line(claim.id, line):
                raise ValueError(f"usage entry {line.entry_id} is already covered")
        self._event(event)

    def _event(self, event: ClaimEvent) -> None:
        self.v.events.append(event)
        self.j.record(self.v.events.pop)

    def get_claim(self, claim_id: str, *, lock: bool = False) -> Claim | None:
        return self.v.claims.get(claim_id)

    def by_contract(self, tenant_id: str, contract: str) -> list[Claim]:
        found = (c for c in self.v.claims.values() if c.tenant_id == tenant_id and c.contract == contract)
        return sorted(found, key=lambda c: c.id)

    def claims(self, filt: ClaimFilter, after: str | None = None, limit: int = 1000) -> list[Claim]:
        def keep(c: Claim) -> bool:
            return (
                (filt.tenant_id is None or c.tenant_id == filt.tenant_id)
                and (filt.programme_id is None or c.programme_id == filt.programme_id)
                and (not filt.states or c.state in filt.states)
                and (filt.mode is None or c.mode is filt.mode)
                and (filt.year is None or c.year == filt.year)
                and (after is None or c.id > after)
            )

        return sorted((c for c in self.v.claims.values() if keep(c)), key=lambda c: c.id)[:limit]

    def update_claim(self, claim: Claim, event: ClaimEvent | None) -> None:
        if claim.id in self.v.claims:
            _put(self.j, self.v.claims, claim.id, claim)
        if event is not None:
            self._event(event)

    def events(self, claim_id: str) -> list[ClaimEvent]:
        return [e for e in self.v.events if e.claim_id == claim_id]

    def lines(self, claim_id: str) -> list[ClaimLine]:
        found = [line for (cid, _), line in self.v.lines.items() if cid == claim_id]
        return sorted(found, key=lambda x: (x.occurred_at, x.entry_id))

    def add_line(self, claim_id: str, line: ClaimLine) -> bool:
        if line.entry_id in self.v.active:
            return False
        _put(self.j, self.v.lines, (claim_id, line.entry_id), line)
        _put(self.j, self.v.active, line.entry_id, claim_id)
        return True

    def release_lines(self, claim_id: str) -> None:
        for entry_id, cid in list(self.v.active.items()):
            if cid == claim_id:
                self.j.record(lambda e=entry_id, c=cid: self.v.active.__setitem__(e, c))
                del self.v.active[entry_id]

    def covered(self, entry_ids: Sequence[str]) -> set[str]:
        return {e for e in entry_ids if e in self.v.active}

    def covering(self, entry_id: str) -> str | None:
        return self.v.active.get(entry_id)

    def lock_tenant(self, tenant_id: str) -> None:
        return None
