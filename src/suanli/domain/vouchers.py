"""Compute-voucher (算力券) programmes as versioned data, and the claims made under them.

A programme is data with a version: a city that changes its rates or caps publishes a new version, and a
claim keeps the version it was decided under. Two redemption modes exist: `reimburse` (the tenant pays in
full, then claims a share of what it paid; Qingdao) and `deduct` (an approved voucher is drawn down as usage
is metered, and the programme repays the platform; Wuhan-style).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import TypeVar

from suanli.domain.errors import FieldError, InvalidInput
from suanli.domain.money import FEN
from suanli.domain.tenants import TenantKind

PROGRAMME_ID_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_E = TypeVar("_E", bound=StrEnum)
MAX_BUDGET = Decimal("100000000000")  # 100 billion CNY: anything larger is a typo


class Mode(StrEnum):
    REIMBURSE = "reimburse"  # claim after payment, with invoices and usage evidence
    DEDUCT = "deduct"  # deducted from each bill as usage is metered


class ResourceClass(StrEnum):
    """What a line of usage ran on, for scope and rate tiers."""

    DOMESTIC = "domestic_accelerator"  # Ascend, Hygon DCU, Cambricon, ...
    ACCELERATOR = "accelerator"  # other accelerators (NVIDIA, ...)
    CPU = "cpu"  # general-purpose compute (often out of a compute voucher's scope)


class ApplicantClass(StrEnum):
    STARTUP = "startup"
    SME = "sme"
    ANY = "any"


class ClaimState(StrEnum):
    SUBMITTED = "submitted"  # applied, with the truthfulness pledge; budget reserved
    DISTRICT_APPROVED = "district_approved"  # district first review passed (authenticity, duplicates, blacklist)
    AGGREGATED = "aggregated"  # city aggregation done
    EXPERT_APPROVED = "expert_approved"  # expert review passed
    APPROVED = "approved"  # reimburse: subsidy granted, awaiting payout
    ACTIVE = "active"  # deduct: the voucher is drawn down as usage is metered
    PAID = "paid"  # reimburse: paid out
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


# The review steps, in order: (state before, state after, the role that performs it).
OPEN_STATES = frozenset(
    {ClaimState.SUBMITTED, ClaimState.DISTRICT_APPROVED, ClaimState.AGGREGATED, ClaimState.EXPERT_APPROVED}
)
RESERVING_STATES = OPEN_STATES | {ClaimState.APPROVED, ClaimState.ACTIVE, ClaimState.PAID}
GRANTED_STATES = frozenset({ClaimState.APPROVED, ClaimState.ACTIVE, ClaimState.PAID})


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    role: str  # the Role value that performs it
    to: ClaimState


def review_step(state: ClaimState, mode: Mode) -> Step | None:
    """The review step a claim in `state` waits for (None when no review is pending)."""
    final = ClaimState.APPROVED if mode is Mode.REIMBURSE else ClaimState.ACTIVE
    return {
        ClaimState.SUBMITTED: Step("district first review", "district_reviewer", ClaimState.DISTRICT_APPROVED),
        ClaimState.DISTRICT_APPROVED: Step("city aggregation", "city_admin", ClaimState.AGGREGATED),
        ClaimState.AGGREGATED: Step("expert review", "expert", ClaimState.EXPERT_APPROVED),
        ClaimState.EXPERT_APPROVED: Step("approval", "city_admin", final),
    }.get(state)


@dataclass(frozen=True, slots=True)
class RateTier:
    """A share of the bill for usage of some resource classes by some applicant classes (empty: any)."""

    name: str
    rate: Decimal
    resource_classes: frozenset[ResourceClass] = frozenset()
    applicant_classes: frozenset[ApplicantClass] = frozenset()


@dataclass(frozen=True, slots=True)
class Eligibility:
    cities: tuple[str, ...]  # registered in one of these cities (lower case)
    kinds: tuple[TenantKind, ...]  # legal-entity kinds admitted
    industries: tuple[str, ...] = ()  # listed industries (empty: any)
    sme_or_startup_only: bool = False
    accident_free_years: int = 0  # no major safety accident within this many years (0: not checked)
    min_paid: Decimal = Decimal(0)  # reimburse: at least this much actually paid in the year


@dataclass(frozen=True, slots=True)
class ProviderRules:
    resource_classes: frozenset[ResourceClass]  # in-scope compute
    centres: tuple[str, ...] = ()  # centre names on the city's list (empty: every connected centre)
    exclude_related_parties: bool = True


@dataclass(frozen=True, slots=True)
class Programme:
    id: str
    version: int
    name: str
    name_zh: str
    issuer: str
    year: int
    annual_budget: Decimal
    funding: tuple[tuple[str, Decimal], ...]  # (funder, share); shares sum to 1
    instrument: str
    mode: Mode
    eligibility: Eligibility
    providers: ProviderRules
    tiers: tuple[RateTier, ...]
    cap_per_claim: Decimal | None
    cap_per_entity_year: Decimal | None
    source: str = ""
    published_at: datetime | None = None
    published_by: str = ""


@dataclass(frozen=True, slots=True)
class ClaimLine:
    """One usage charge covered by a claim: its base (the charge) and the subsidy at the tier that applied."""

    entry_id: str
    centre_id: str
    model: str
    resource_class: ResourceClass
    occurred_at: datetime
    base: Decimal
    rate: Decimal
    tier: str
    subsidy: Decimal


@dataclass(frozen=True, slots=True)
class Claim:
    id: str
    programme_id: str
    programme_version: int
    tenant_id: str
    year: int
    mode: Mode
    state: ClaimState
    contract: str  # the contract or order the claim is made under; one claim per contract
    pledge: str  # the truthfulness pledge, as the applicant gave it
    requested: Decimal  # subsidy asked for (deduct: the voucher's face value; reimburse: computed)
    base: Decimal  # reimburse: the fees covered
    amount: Decimal  # reserved against the budget and caps (after caps)
    limited_by: str  # which cap cut the amount ("" when none)
    used: Decimal  # deduct: drawn down so far
    clawed_back: Decimal
    created_at: datetime
    updated_at: datetime
    applied_by: str

    @property
    def remaining(self) -> Decimal:
        """Deduct mode: what the voucher may still cover."""
        return self.amount - self.used

    @property
    def granted(self) -> Decimal:
        """Subsidy granted so far: the approved amount (reimburse) or what was deducted (deduct)."""
        if self.state not in GRANTED_STATES:
            return Decimal("0.00")
        return self.used if self.mode is Mode.DEDUCT else self.amount


@dataclass(frozen=True, slots=True)
class ClaimEvent:
    claim_id: str
    at: datetime
    from_state: ClaimState | None
    to_state: ClaimState
    actor: str
    role: str
    reason: str


# ------------------------------------------------------------------------------------------ parsing


def _decimal(raw: object, path: str, errors: list[FieldError], *, share: bool = False) -> Decimal:
    if isinstance(raw, bool | float) or raw is None:
        errors.append(FieldError(path, "give a decimal as a string or integer (never a float)"))
        return Decimal(0)
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        errors.append(FieldError(path, f"not a decimal: {raw!r}"))
        return Decimal(0)
    upper = Decimal(1) if share else MAX_BUDGET
    if not value.is_finite() or value < 0 or value > upper:
        errors.append(FieldError(path, f"must be between 0 and {upper}"))
    elif not share:
        if value != value.quantize(FEN):
            errors.append(FieldError(path, "at most 2 decimal places (whole fen)"))
        else:
            return value.quantize(FEN)
    return value


def _optional_money(raw: Mapping[str, object], key: str, path: str, errors: list[FieldError]) -> Decimal | None:
    value = raw.get(key)
    return None if value is None else _decimal(value, f"{path}.{key}", errors)


def _strings(raw: object, path: str, errors: list[FieldError]) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(x, str) and x.strip() for x in raw):
        errors.append(FieldError(path, "a list of non-empty strings"))
        return ()
    return tuple(x.strip() for x in raw)


def _enum_set(raw: object, enum: type[_E], path: str, errors: list[FieldError]) -> frozenset[_E]:
    out: set[_E] = set()
    for i, value in enumerate(_strings(raw, path, errors)):
        try:
            out.add(enum(value))
        except ValueError:
            errors.append(FieldError(f"{path}[{i}]", f"one of {', '.join(e.value for e in enum)}"))
    return frozenset(out)


def _mapping(raw: object, path: str, errors: list[FieldError]) -> Mapping[str, object]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        errors.append(FieldError(path, "a mapping"))
        return {}
    return raw


def _text(raw: Mapping[str, object], key: str, errors: list[FieldError], *, required: bool = True) -> str:
    value = raw.get(key)
    if value in (None, "") and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        errors.append(FieldError(key, "required text"))
        return ""
    return value.strip()


def programme_from_mapping(raw: Mapping[str, object]) -> Programme:
    """A programme from its data file or API body; InvalidInput naming every field at fault."""
    errors: list[FieldError] = []
    pid = _text(raw, "id", errors)
    if pid and not PROGRAMME_ID_RE.match(pid):
        errors.append(FieldError("id", "1-63 lower-case letters, digits or '-'"))
    version, year = raw.get("version", 1), raw.get("year")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        errors.append(FieldError("version", "a whole number from 1"))
        version = 1
    if not isinstance(year, int) or isinstance(year, bool) or not 2000 <= year <= 2100:
        errors.append(FieldError("year", "a calendar year such as 2026"))
        year = 2000
    try:
        mode = Mode(str(raw.get("mode", "")))
    except ValueError:
        errors.append(FieldError("mode", "reimburse or deduct"))
        mode = Mode.REIMBURSE
    budget = _decimal(raw.get("annual_budget"), "annual_budget", errors)
    if budget == 0:
        errors.append(FieldError("annual_budget", "must be more than 0"))
    funding = _funding(raw.get("funding"), errors)

    el = _mapping(raw.get("eligibility"), "eligibility", errors)
    kinds: list[TenantKind] = []
    for i, k in enumerate(_strings(el.get("kinds", ["enterprise"]), "eligibility.kinds", errors)):
        try:
            kinds.append(TenantKind(k))
        except ValueError:
            errors.append(FieldError(f"eligibility.kinds[{i}]", f"one of {', '.join(t.value for t in TenantKind)}"))
    years = el.get("accident_free_years", 0)
    if not isinstance(years, int) or isinstance(years, bool) or not 0 <= years <= 20:
        errors.append(FieldError("eligibility.accident_free_years", "a whole number of years, 0-20"))
        years = 0
    eligibility = Eligibility(
        cities=tuple(c.lower() for c in _strings(el.get("cities"), "eligibility.cities", errors)),
        kinds=tuple(kinds),
        industries=tuple(i.lower() for i in _strings(el.get("industries"), "eligibility.industries", errors)),
        sme_or_startup_only=bool(el.get("sme_or_startup_only", False)),
        accident_free_years=years,
        min_paid=_decimal(el.get("min_paid", 0), "eligibility.min_paid", errors),
    )
    if not eligibility.cities:
        errors.append(FieldError("eligibility.cities", "name at least one city"))

    pr = _mapping(raw.get("providers"), "providers", errors)
    scope = _enum_set(pr.get("resource_classes"), ResourceClass, "providers.resource_classes", errors)
    if not scope:
        errors.append(FieldError("providers.resource_classes", "name the in-scope resource classes"))
    providers = ProviderRules(
        resource_classes=scope,
        centres=_strings(pr.get("centres"), "providers.centres", errors),
        exclude_related_parties=bool(pr.get("exclude_related_parties", True)),
    )

    tiers = _tiers(raw.get("tiers"), errors)
    caps = _mapping(raw.get("caps"), "caps", errors)
    programme = Programme(
        id=pid,
        version=version,
        name=_text(raw, "name", errors),
        name_zh=_text(raw, "name_zh", errors, required=False),
        issuer=_text(raw, "issuer", errors),
        year=year,
        annual_budget=budget,
        funding=funding,
        instrument=str(raw.get("instrument", "compute_voucher")),
        mode=mode,
        eligibility=eligibility,
        providers=providers,
        tiers=tiers,
        cap_per_claim=_optional_money(caps, "per_claim", "caps", errors),
        cap_per_entity_year=_optional_money(caps, "per_entity_year", "caps", errors),
        source=str(raw.get("source", "")),
    )
    if errors:
        raise InvalidInput(errors)
    return programme


def _funding(raw: object, errors: list[FieldError]) -> tuple[tuple[str, Decimal], ...]:
    mapping = _mapping(raw, "funding", errors)
    out = tuple((str(k), _decimal(v, f"funding.{k}", errors, share=True)) for k, v in mapping.items())
    if not out:
        return (("issuer", Decimal(1)),)
    if sum(s for _, s in out) != 1:
        errors.append(FieldError("funding", "the shares must add up to 1"))
    return out


def _tiers(raw: object, errors: list[FieldError]) -> tuple[RateTier, ...]:
    if not isinstance(raw, list) or not raw:
        errors.append(FieldError("tiers", "at least one rate tier"))
        return ()
    tiers: list[RateTier] = []
    for i, item in enumerate(raw):
        t = _mapping(item, f"tiers[{i}]", errors)
        rate = _decimal(t.get("rate"), f"tiers[{i}].rate", errors, share=True)
        if rate == 0:
            errors.append(FieldError(f"tiers[{i}].rate", "must be more than 0"))
        tiers.append(
            RateTier(
                name=str(t.get("name") or f"tier {i + 1}"),
                rate=rate,
                resource_classes=_enum_set(
                    t.get("resource_classes"), ResourceClass, f"tiers[{i}].resource_classes", errors
                ),
                applicant_classes=_enum_set(
                    t.get("applicant_classes"), ApplicantClass, f"tiers[{i}].applicant_classes", errors
                ),
            )
        )
    return tuple(tiers)


def programme_to_mapping(p: Programme) -> dict[str, object]:
    """The data form of a programme (what `programme_from_mapping` reads back)."""
    return {
        "id": p.id,
        "version": p.version,
        "name": p.name,
        "name_zh": p.name_zh,
        "issuer": p.issuer,
        "year": p.year,
        "annual_budget": str(p.annual_budget),
        "funding": {k: str(v) for k, v in p.funding},
        "instrument": p.instrument,
        "mode": p.mode.value,
        "eligibility": {
            "cities": list(p.eligibility.cities),
            "kinds": [k.value for k in p.eligibility.kinds],
            "industries": list(p.eligibility.industries),
            "sme_or_startup_only": p.eligibility.sme_or_startup_only,
            "accident_free_years": p.eligibility.accident_free_years,
            "min_paid": str(p.eligibility.min_paid),
        },
        "providers": {
            "resource_classes": sorted(c.value for c in p.providers.resource_classes),
            "centres": list(p.providers.centres),
            "exclude_related_parties": p.providers.exclude_related_parties,
        },
        "tiers": [
            {
                "name": t.name,
                "rate": str(t.rate),
                "resource_classes": sorted(c.value for c in t.resource_classes),
                "applicant_classes": sorted(c.value for c in t.applicant_classes),
            }
            for t in p.tiers
        ],
        "caps": {
            "per_claim": None if p.cap_per_claim is None else str(p.cap_per_claim),
            "per_entity_year": None if p.cap_per_entity_year is None else str(p.cap_per_entity_year),
        },
        "source": p.source,
    }


def builtin_programmes() -> list[Programme]:
    """The programmes shipped as data in `suanli/domain/data/programmes/` (published at first start)."""
    from importlib import resources  # noqa: PLC0415

    import yaml  # noqa: PLC0415 - only when loading the shipped data

    folder = resources.files("suanli.domain").joinpath("data/programmes")
    out = []
    for item in sorted(folder.iterdir(), key=lambda f: f.name):
        if item.name.endswith(".yaml"):
            out.append(programme_from_mapping(yaml.safe_load(item.read_text(encoding="utf-8"))))
    return out
