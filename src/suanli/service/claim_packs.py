"""Voucher claim packs: a claim, the metered usage behind every charge it covers and the tenant's invoices for
those months, for reviewers. Whoever may read the claim (its tenant, reviewers, city admins, auditors) may
download its pack; the invoices in it are the claim's evidence, so reviewers see them through the pack only."""

from __future__ import annotations

from decimal import Decimal

from suanli.billing.budget import CITY_TIME
from suanli.billing.claim_pack import ClaimPack, Evidence
from suanli.billing.rating import HOURS
from suanli.domain.errors import NotFound
from suanli.domain.tenants import Principal
from suanli.service.access import require_user
from suanli.service.billing import charge_facts
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
            facts = charge_facts(uow, catalogue, entry, line.base) if entry else None
            if facts is None:
                continue  # never: a line always covers a metered charge (ledger verify checks the charges)
            a = facts.attempt
            record = uow.usage.get(a.id)
            job = uow.jobs.get(a.job_id)
            pool = uow.pools.get(a.pool_id)
            nodes = max(1, len(a.node_indices))
            started = (record.started_at if record else a.started_at) or a.placed_at
            ended = record.ended_at if record else entry.occurred_at  # an interim charge: to the period's end
            model = catalogue.get(a.model)
            unit_hours = facts.quantity  # accelerator-hours; for a CPU pool, core-hours: the catalogue rates a node
            if model is not None and model.is_cpu and a.cpus_per_node:
                unit_hours = facts.quantity / Decimal(repr(float(a.cpus_per_node)))
            pflops = (unit_hours * (model.fp16_tflops if model else 0) / 1000).quantize(HOURS)
            evidence.append(
                Evidence(
                    line, centres.get(a.centre_id, a.centre_id), pool.name if pool else a.pool_id, a.job_id,
                    job.name if job else "", a.id, record.accelerators if record else a.per_node * nodes, started,
                    ended, record.wall_seconds if record else (ended - started).total_seconds(), facts.quantity,
                    facts.unit, facts.price, pflops,
                )
            )  # fmt: skip
        months = sorted({e.line.occurred_at.astimezone(CITY_TIME).strftime("%Y-%m") for e in evidence})
        invoices = tuple(build_invoice(uow, tenant, month, now) for month in months)
        events = tuple(uow.vouchers.events(claim.id))
    return ClaimPack(claim, programme, tenant.display_name or tenant.name, events, tuple(evidence), invoices, now)
