"""The rules of a voucher programme, pure: who is eligible, which usage is covered at which rate, and how
the caps and the programme budget cut a claim. Every refusal carries the rule that failed and why."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from suanli.billing.budget import CITY_TIME
from suanli.domain.accelerators import AcceleratorModel
from suanli.domain.money import to_fen
from suanli.domain.tenants import Tenant, TenantStatus
from suanli.domain.vouchers import ApplicantClass, ClaimLine, Programme, RateTier, ResourceClass

ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class Failure:
    """A rule that failed: `rule` is a stable code, `reason` says why in words."""

    rule: str
    reason: str


def year_of(at: datetime) -> int:
    """The calendar year in the city's time (a programme year runs 1 Jan - 31 Dec, China time)."""
    return at.astimezone(CITY_TIME).year


def year_bounds(year: int) -> tuple[datetime, datetime]:
    return datetime(year, 1, 1, tzinfo=CITY_TIME), datetime(year + 1, 1, 1, tzinfo=CITY_TIME)


def applicant_classes(tenant: Tenant) -> frozenset[ApplicantClass]:
    out = {ApplicantClass.ANY}
    if tenant.startup:
        out.add(ApplicantClass.STARTUP)
    if tenant.sme:
        out.add(ApplicantClass.SME)
    return frozenset(out)


def resource_class(model: AcceleratorModel | None) -> ResourceClass:
    if model is None or model.is_cpu:
        return ResourceClass.CPU
    return ResourceClass.DOMESTIC if model.domestic else ResourceClass.ACCELERATOR


def registered_in(registered_city: str, cities: tuple[str, ...]) -> bool:
    """ "Qingdao", "qingdao" and "青岛 Qingdao" are all registered in a programme listing qingdao."""
    value = registered_city.strip().lower()
    return value in cities or any(word in cities for word in value.replace(",", " ").split())


def eligibility_failures(programme: Programme, tenant: Tenant, paid_in_year: Decimal | None) -> list[Failure]:
    """Each eligibility rule the applicant fails (empty: eligible). `paid_in_year` None skips the minimum
    actual spend (deduct mode, or before payment is known)."""
    el = programme.eligibility
    out: list[Failure] = []
    if tenant.status is not TenantStatus.ACTIVE:
        out.append(Failure("active", "the tenant is suspended"))
    if not registered_in(tenant.registered_city, el.cities):
        out.append(
            Failure("registered_city", f"registered in {tenant.registered_city!r}, not in {', '.join(el.cities)}")
        )
    if el.kinds and tenant.kind not in el.kinds:
        kinds = ", ".join(k.value for k in el.kinds)
        out.append(Failure("kind", f"a {tenant.kind.value}; the programme admits {kinds}"))
    if el.industries and tenant.industry.strip().lower() not in el.industries:
        out.append(Failure("industry", f"industry {tenant.industry!r} is not on the programme's list"))
    if tenant.blacklisted:
        out.append(Failure("blacklist", "on the dishonesty blacklist"))
    if el.sme_or_startup_only and not (tenant.sme or tenant.startup):
        out.append(Failure("sme_or_startup", "the programme is for SMEs and start-ups"))
    if el.accident_free_years and tenant.major_accident_year is not None:
        if programme.year - tenant.major_accident_year < el.accident_free_years:
            out.append(
                Failure(
                    "safety",
                    f"a major safety accident in {tenant.major_accident_year}, within "
                    f"{el.accident_free_years} years of {programme.year}",
                )
            )
    if paid_in_year is not None and paid_in_year < el.min_paid:
        out.append(
            Failure("min_paid", f"{paid_in_year} CNY paid in {programme.year}; at least {el.min_paid} is required")
        )
    return out


def best_tier(tiers: Iterable[RateTier], rclass: ResourceClass, classes: frozenset[ApplicantClass]) -> RateTier | None:
    """The single highest tier that applies (never the sum of several)."""
    fitting = [
        t
        for t in tiers
        if (not t.resource_classes or rclass in t.resource_classes)
        and (not t.applicant_classes or t.applicant_classes & classes)
    ]
    return max(fitting, key=lambda t: t.rate, default=None)


@dataclass(frozen=True, slots=True)
class UsageItem:
    """A usage charge a claim may cover: the ledger entry, where it ran, what the tenant was charged."""

    entry_id: str
    centre_id: str
    centre_name: str
    operator_tenant_id: str
    model: str
    resource_class: ResourceClass
    occurred_at: datetime
    charged: Decimal  # the tenant's charge (net of any earlier reversal)


def line_refusal(programme: Programme, tenant: Tenant, item: UsageItem) -> Failure | None:
    """Why a usage charge may not be covered by the programme (None: it may)."""
    pr = programme.providers
    if year_of(item.occurred_at) != programme.year:
        return Failure("year", f"used in {year_of(item.occurred_at)}, outside the programme year {programme.year}")
    if item.resource_class not in pr.resource_classes:
        return Failure("scope", f"{item.resource_class.value} compute is outside the programme's scope")
    if pr.centres and item.centre_name not in pr.centres:
        return Failure("provider", f"centre {item.centre_name} is not on the programme's list")
    if pr.exclude_related_parties and (
        item.operator_tenant_id == tenant.id or item.operator_tenant_id in tenant.related_parties
    ):
        return Failure("related_party", f"centre {item.centre_name} is run by a related party of the buyer")
    if item.charged <= 0:
        return Failure("charged", "nothing was charged")
    return None


def covered_line(programme: Programme, tenant: Tenant, item: UsageItem, base: Decimal) -> ClaimLine | Failure:
    """The claim line for `base` CNY of the item at the best tier, or the rule that refuses it."""
    refusal = line_refusal(programme, tenant, item)
    if refusal is not None:
        return refusal
    tier = best_tier(programme.tiers, item.resource_class, applicant_classes(tenant))
    if tier is None:
        return Failure("tier", f"no rate tier covers {item.resource_class.value} for this applicant")
    return ClaimLine(
        entry_id=item.entry_id,
        centre_id=item.centre_id,
        model=item.model,
        resource_class=item.resource_class,
        occurred_at=item.occurred_at,
        base=base,
        rate=tier.rate,
        tier=tier.name,
        subsidy=to_fen(base * tier.rate),
    )


@dataclass(frozen=True, slots=True)
class Selection:
    lines: tuple[ClaimLine, ...]
    refused: tuple[tuple[str, Failure], ...]  # (entry id, why) for usage the claim does not cover
    unpaid: Decimal  # eligible fees left out because they exceed what was actually paid

    @property
    def base(self) -> Decimal:
        return sum((line.base for line in self.lines), ZERO)

    @property
    def subsidy(self) -> Decimal:
        return sum((line.subsidy for line in self.lines), ZERO)


def select_lines(programme: Programme, tenant: Tenant, items: Sequence[UsageItem], paid_limit: Decimal) -> Selection:
    """Reimburse mode: cover eligible usage oldest first, whole charges only, while the fees covered stay
    within what the tenant actually paid (`paid_limit`); the rest waits for a later claim."""
    lines: list[ClaimLine] = []
    refused: list[tuple[str, Failure]] = []
    room = paid_limit
    unpaid = ZERO
    for item in sorted(items, key=lambda i: (i.occurred_at, i.entry_id)):
        line = covered_line(programme, tenant, item, item.charged)
        if isinstance(line, Failure):
            refused.append((item.entry_id, line))
        elif line.base > room:
            unpaid += line.base
        else:
            lines.append(line)
            room -= line.base
    return Selection(tuple(lines), tuple(refused), unpaid)


@dataclass(frozen=True, slots=True)
class Capped:
    amount: Decimal
    limited_by: str  # "" or the cap that cut it: per_claim, per_entity_year, programme_budget


def apply_caps(
    requested: Decimal, programme: Programme, entity_committed: Decimal, budget_committed: Decimal
) -> Capped:
    """Cut a request by the cap per claim, what is left of the entity's yearly cap, and what is left of the
    programme's budget (the smallest wins; the budget is never overspent)."""
    limits: list[tuple[Decimal, str]] = [(requested, "")]
    if programme.cap_per_claim is not None:
        limits.append((programme.cap_per_claim, "per_claim"))
    if programme.cap_per_entity_year is not None:
        limits.append((max(ZERO, programme.cap_per_entity_year - entity_committed), "per_entity_year"))
    limits.append((max(ZERO, programme.annual_budget - budget_committed), "programme_budget"))
    amount, by = min(limits, key=lambda x: x[0])
    return Capped(amount.quantize(ZERO), by if amount < requested else "")
