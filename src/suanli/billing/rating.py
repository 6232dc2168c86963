"""Rating: turning one attempt's metered usage into money at the price fixed when the attempt was placed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from suanli.domain.centres import PriceUnit
from suanli.domain.ledger import (
    PLATFORM_REVENUE,
    Entry,
    EntryKind,
    postings,
    provider_payable,
    tenant_receivable,
)
from suanli.domain.money import to_fen

HOURS = Decimal("0.000001")  # unit-hours are kept to a millionth (3.6 ms of one accelerator)
PFLOPS_HOURS = Decimal("0.000001")
_SECONDS = Decimal(3600)


@dataclass(frozen=True, slots=True)
class Metered:
    """What the engine measured for one attempt, with what the attempt held (from its placement)."""

    attempt_id: str
    job_id: str
    tenant_id: str
    centre_id: str
    model: str
    accelerator_seconds: float
    wall_seconds: float
    nodes: int
    cpus_per_node: float
    ended_at: datetime


@dataclass(frozen=True, slots=True)
class Rated:
    """The charge for one attempt: `quantity` unit-hours x `price` = `amount` (rounded half-up to fen)."""

    unit: PriceUnit
    quantity: Decimal
    price: Decimal
    amount: Decimal
    pflops_hours: Decimal  # standard compute: unit-hours x the model's nameplate FP16


def _exact(seconds: float) -> Decimal:
    """A measured float of seconds as an exact decimal to the millisecond (engines report no finer)."""
    return Decimal(repr(float(seconds))).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


def rate(usage: Metered, unit: PriceUnit, price: Decimal, fp16_tflops: Decimal) -> Rated:
    """Accelerator pools charge accelerator-hours as measured; CPU pools charge the cores held x wall time
    (as Slurm bills allocated TRES), since a CPU job holds its cores whether or not it keeps them busy."""
    if unit is PriceUnit.ACCELERATOR_HOUR:
        unit_seconds = _exact(usage.accelerator_seconds)
        compute_seconds = unit_seconds
    else:
        cores = Decimal(repr(float(usage.cpus_per_node))) * usage.nodes
        unit_seconds = _exact(usage.wall_seconds) * cores
        compute_seconds = _exact(usage.wall_seconds) * usage.nodes  # the catalogue rates a CPU node as a whole
    quantity = (unit_seconds / _SECONDS).quantize(HOURS, rounding=ROUND_HALF_UP)
    amount = to_fen(unit_seconds * price / _SECONDS)
    pflops = (compute_seconds * fp16_tflops / _SECONDS / 1000).quantize(PFLOPS_HOURS, rounding=ROUND_HALF_UP)
    return Rated(unit=unit, quantity=quantity, price=price, amount=amount, pflops_hours=pflops)


def usage_reference(attempt_id: str) -> str:
    return f"usage:{attempt_id}"


def usage_entry(
    entry_id: str,
    usage: Metered,
    rated: Rated,
    fee_rate: Decimal,
    recorded_at: datetime,
    already: Decimal = Decimal(0),
) -> Entry | None:
    """Debit the tenant the charge (less `already`: what interim entries charged for the attempt while it ran);
    credit the centre's operator all of it but the platform's fee. None when there is nothing to charge."""
    interim = f" (less {already} CNY charged while it ran)" if already else ""
    memo = (
        f"job {usage.job_id} attempt {usage.attempt_id}: {rated.quantity} {rated.unit.value} of {usage.model}"
        f" x {rated.price} CNY{interim}"
    )
    kind, reference, actor = EntryKind.USAGE, usage_reference(usage.attempt_id), f"agent:{usage.centre_id}"
    return _charge(entry_id, kind, reference, usage, rated.amount - already, fee_rate, recorded_at, memo, actor)


def interim_reference(attempt_id: str, period: int) -> str:
    return f"usage:{attempt_id}:{period}"


def interim_entry(
    entry_id: str, usage: Metered, rated: Rated, period: int, fee_rate: Decimal, recorded_at: datetime
) -> Entry | None:
    """The charge for metering period `period` (1, 2, ...) of a running service: its time held, at its price."""
    memo = (
        f"service {usage.job_id} attempt {usage.attempt_id}, period {period} running: {rated.quantity}"
        f" {rated.unit.value} of {usage.model} x {rated.price} CNY"
    )
    reference = interim_reference(usage.attempt_id, period)
    return _charge(entry_id, EntryKind.INTERIM, reference, usage, rated.amount, fee_rate, recorded_at, memo, "system")


def _charge(
    entry_id: str,
    kind: EntryKind,
    reference: str,
    usage: Metered,
    amount: Decimal,
    fee_rate: Decimal,
    recorded_at: datetime,
    memo: str,
    actor: str,
) -> Entry | None:
    """Debit the tenant `amount`; credit the centre's operator all of it but the platform's fee."""
    if amount == 0:
        return None
    fee = to_fen(amount * fee_rate)
    return Entry(
        id=entry_id,
        kind=kind,
        reference=reference,
        occurred_at=usage.ended_at,
        recorded_at=recorded_at,
        memo=memo,
        postings=postings(
            (tenant_receivable(usage.tenant_id), amount),
            (provider_payable(usage.centre_id), -(amount - fee)),
            (PLATFORM_REVENUE, -fee),
        ),
        actor=actor,
        tenant_id=usage.tenant_id,
        centre_id=usage.centre_id,
        attempt_id=usage.attempt_id,
    )
