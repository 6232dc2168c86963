"""Voucher claim packs: a claim, the metered usage behind every charge it covers and the tenant's invoices for
those months, for reviewers. Whoever may read the claim (its tenant, reviewers, city admins, auditors) may
download its pack; the invoices in it are the claim's evidence, so reviewers see them through the pack only."""

from __future__ import annotations

from suanli.billing.budget import CITY_TIME
from suanli.billing.claim_pack import ClaimPack, Evidence
from suanli.domain.errors import NotFound
from suanli.domain.tenants import Principal
from suanli.service.access import require_user
from suanli.service.billing import rate_record
from suanli.service.catalogue import effective_catalogue
from suanli.service.context import Context
from suanli.service.invoices import build_invoice
from suanli.service.vouchers import may_read_claims


def claim_pack(ctx: Context, principal: Principal, claim_id: str) -> ClaimPack:
    """The pack of `claim_id`, read in one unit of work so its parts agree."""
    require_user(principal)
    now = ctx.clock.now()
    with ctx.store.uow() as uow:
        claim = uow.vouchers.get_claim(claim_id)
        if claim is None or not (may_read_claims(principal) or claim.tenant_id == principal.tenant_id):
            raise NotFound("claim not found")
        programme = uow.vouchers.programme(claim.programme_id, claim.programme_version)
        tenant = uow.tenants.get(claim.tenant_id)
        assert programme is not None and tenant is not None
        catalogue = effective_catalogue(uow)
        centres = {c.id: c.name for c in uow.centres.list()}
        evidence = []
        for line in uow.vouchers.lines(claim.id):
            entry = uow.ledger.get(line.entry_id)
            record = uow.usage.get(entry.attempt_id) if entry and entry.attempt_id else None
            attempt = uow.attempts.get(record.attempt_id) if record else None
            if record is None or attempt is None:
                continue  # never: a line always covers a metered charge (ledger verify checks the charges)
            job = uow.jobs.get(record.job_id)
            pool = uow.pools.get(attempt.pool_id)
            rated = rate_record(catalogue, record, attempt)
            evidence.append(
                Evidence(
                    line, centres.get(record.centre_id, record.centre_id), pool.name if pool else attempt.pool_id,
                    record.job_id, job.name if job else "", record.attempt_id, record.accelerators, record.started_at,
                    record.ended_at, record.wall_seconds, rated.quantity, rated.unit.value, rated.price,
                    rated.pflops_hours,
                )
            )  # fmt: skip
        months = sorted({e.line.occurred_at.astimezone(CITY_TIME).strftime("%Y-%m") for e in evidence})
        invoices = tuple(build_invoice(uow, tenant, month, now) for month in months)
        events = tuple(uow.vouchers.events(claim.id))
    return ClaimPack(claim, programme, tenant.display_name or tenant.name, events, tuple(evidence), invoices, now)
