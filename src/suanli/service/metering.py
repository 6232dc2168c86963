"""Metering long-running services by time: a service attempt in the running state is charged for each full
period (`billing.service_meter_interval_s`, an hour by default) as it runs, at the price fixed when it was
placed, so its tenant's invoice, budget and vouchers follow it month by month instead of waiting for it to end.
When it ends, the engine's measured usage is charged less what the periods already charged. Other jobs are
charged once, when they end. Idempotent: period `n` of an attempt has one ledger reference."""

from __future__ import annotations

from datetime import datetime, timedelta

from suanli.billing.rating import Metered, interim_entry, interim_reference
from suanli.domain.ids import new_id
from suanli.domain.jobs.spec import JobKind
from suanli.domain.jobs.states import JobState
from suanli.domain.ledger import EntryKind
from suanli.ports import EntryFilter
from suanli.service.billing import rate_metered
from suanli.service.catalogue import effective_catalogue
from suanli.service.context import Context
from suanli.service.paging import all_entries
from suanli.service.voucher_review import deduct_usage


def meter_services(ctx: Context, now: datetime) -> int:
    """Charge every running service for each full period it has run and that is not yet charged; returns how
    many period charges were posted."""
    interval = ctx.settings.billing.service_meter_interval_s
    fee_rate = ctx.settings.billing.platform_fee_rate
    posted = 0
    with ctx.store.uow() as uow:
        catalogue = effective_catalogue(uow)
        for attempt in uow.attempts.in_states([JobState.RUNNING]):
            if attempt.started_at is None or (now - attempt.started_at).total_seconds() < interval:
                continue
            job = uow.jobs.get(attempt.job_id)
            if job is None or job.kind is not JobKind.SERVICE:
                continue
            periods = int((now - attempt.started_at).total_seconds() // interval)
            done = {
                e.reference for e in all_entries(uow, EntryFilter(attempt_id=attempt.id, kinds=(EntryKind.INTERIM,)))
            }
            nodes = max(1, len(attempt.node_indices))
            for n in range(1, periods + 1):
                if interim_reference(attempt.id, n) in done:
                    continue
                usage = Metered(
                    attempt_id=attempt.id,
                    job_id=job.id,
                    tenant_id=job.tenant_id,
                    centre_id=attempt.centre_id,
                    model=attempt.model,
                    accelerator_seconds=float(attempt.per_node * nodes * interval),
                    wall_seconds=float(interval),
                    nodes=nodes,
                    cpus_per_node=attempt.cpus_per_node,
                    ended_at=attempt.started_at + timedelta(seconds=n * interval),
                )
                rated = rate_metered(catalogue, usage, attempt.price)
                entry = interim_entry(new_id("entry", now), usage, rated, n, fee_rate, now)
                if entry is not None and uow.ledger.add(entry):
                    deduct_usage(uow, entry)
                    posted += 1
    return posted
