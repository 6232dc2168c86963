"""A city model (centres, pools, prices) and how a trace's jobs meet it: which models each job accepts,
how long it truly runs on each, and what its tenant asks for. Seeding goes through the same services an
operator uses, so the simulated platform is configured exactly like a real one.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from suanli.domain.accelerators import Catalogue, Stack
from suanli.domain.centres import EngineKind
from suanli.domain.errors import FieldError, InvalidInput
from suanli.domain.tenants import Principal, Role, TenantKind
from suanli.service import centres, tenants
from suanli.service.context import Context
from suanli.sim.city_file import read_city_file
from suanli.sim.scenarios import Scenario, city_compute, parse
from suanli.sim.traces import Trace, TraceJob

HUMAN_WALLTIMES = [
    15 * 60,
    30 * 60,
    3600,
    2 * 3600,
    4 * 3600,
    8 * 3600,
    12 * 3600,
    86400,
    2 * 86400,
    3 * 86400,
    7 * 86400,
    14 * 86400,
    30 * 86400,
    60 * 86400,
    90 * 86400,
    365 * 86400,
]
TENANT_KINDS = [TenantKind.ENTERPRISE, TenantKind.UNIVERSITY, TenantKind.RESEARCH_INSTITUTE, TenantKind.ENTERPRISE]


@dataclass(frozen=True)
class PoolSpec:
    name: str
    model: str
    nodes: int
    accelerators_per_node: int
    cpus_per_node: int
    memory_gib_per_node: int
    price: str
    preemptible_discount: str


@dataclass(frozen=True)
class CentreSpec:
    name: str
    display_name: str
    district: str
    pools: tuple[PoolSpec, ...]


@dataclass(frozen=True)
class TraceFit:
    """How one trace meets the city (see the comments in bench/city-qingdao.yaml)."""

    scale: float = 1.0
    cpu_scale: float | None = None  # the CPU pools' own scale (None: `scale`)
    reference: str = "A100"
    speed_exponent: tuple[float, float] = (0.5, 0.5)
    types: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    portability: dict[str, float] = field(default_factory=dict)
    walltime: tuple[float, float] = (1.3, 4.0)


@dataclass(frozen=True)
class CityModel:
    name: str
    centres: tuple[CentreSpec, ...]
    traces: dict[str, TraceFit]
    scenarios: dict[str, Scenario] = field(default_factory=dict)

    def scaled(self, scale: float, cpu_scale: float | None = None) -> tuple[CentreSpec, ...]:
        """The centres with every pool's node count times `scale` (CPU pools: `cpu_scale`, if given); at least one
        node stays."""
        return tuple(
            CentreSpec(
                c.name,
                c.display_name,
                c.district,
                tuple(
                    PoolSpec(
                        p.name,
                        p.model,
                        _scaled_nodes(p, scale, cpu_scale),
                        p.accelerators_per_node,
                        p.cpus_per_node,
                        p.memory_gib_per_node,
                        p.price,
                        p.preemptible_discount,
                    )
                    for p in c.pools
                ),
            )
            for c in self.centres
        )

    def fit(self, trace: str) -> TraceFit:
        return self.traces.get(trace, TraceFit())

    def scenario(self, name: str | None) -> Scenario | None:
        """The named scenario (None: the trace as it is); an unknown name is refused with the ones there are."""
        if name is None:
            return None
        if name not in self.scenarios:
            known = ", ".join(sorted(self.scenarios)) or "none"
            raise InvalidInput([FieldError("scenario", f"no scenario {name!r} in city {self.name} (it has: {known})")])
        return self.scenarios[name]


def _scaled_nodes(pool: PoolSpec, scale: float, cpu_scale: float | None) -> int:
    factor = cpu_scale if cpu_scale is not None and not pool.accelerators_per_node else scale
    return max(1, round(pool.nodes * factor))


def load_city(path: Path) -> CityModel:
    """The city model in the file at `path`; a problem anywhere in it is an InvalidInput naming its place."""
    data = read_city_file(path)
    centres_ = tuple(
        CentreSpec(
            c["name"],
            c.get("display_name", c["name"]),
            c.get("district", ""),
            tuple(
                PoolSpec(**{k: str(v) if k in ("price", "preemptible_discount") else v for k, v in p.items()})
                for p in c["pools"]
            ),
        )
        for c in data["centres"]
    )
    fits = {}
    for name, raw in (data.get("traces") or {}).items():
        fits[name] = TraceFit(
            scale=float(raw.get("scale", 1.0)),
            cpu_scale=float(raw["cpu_scale"]) if raw.get("cpu_scale") is not None else None,
            reference=str(raw.get("reference", "A100")),
            speed_exponent=tuple(raw.get("speed_exponent", (0.5, 0.5))),  # type: ignore[arg-type]
            types={k: tuple(v) for k, v in (raw.get("types") or {}).items()},
            portability={k: float(v) for k, v in (raw.get("portability") or {}).items()},
            walltime=tuple(raw.get("walltime", (1.3, 4.0))),  # type: ignore[arg-type]
        )
    return CityModel(data["name"], centres_, fits, parse(data.get("scenarios")))


def seed_city(ctx: Context, admin: Principal, centres_: tuple[CentreSpec, ...]) -> None:
    """Register the city's operator, centres, pools and price cards through the services."""
    operator = tenants.create_tenant(
        ctx, admin, tenants.TenantInput("city-operators", "City operators", TenantKind.ENTERPRISE)
    )
    start = ctx.clock.now()
    for spec in centres_:
        centre = centres.create_centre(
            ctx,
            admin,
            centres.CentreInput(spec.name, operator.id, EngineKind.LOCAL, spec.display_name, "Qingdao", spec.district),
        )
        for p in spec.pools:
            pool = centres.add_pool(
                ctx,
                admin,
                centre.id,
                centres.PoolInput(
                    p.name, p.model, p.nodes, p.accelerators_per_node, p.cpus_per_node, p.memory_gib_per_node
                ),
            )
            centres.add_price(ctx, admin, pool.id, p.price, p.preemptible_discount, valid_from=start)


def seed_tenants(ctx: Context, admin: Principal, names: list[str]) -> dict[str, Principal]:
    """One tenant (with one member) per trace tenant; returns the member principal of each."""
    principals = {}
    for i, name in enumerate(sorted(names)):
        slug = _slug(name)
        tenant = tenants.create_tenant(
            ctx,
            admin,
            tenants.TenantInput(
                slug, name, TENANT_KINDS[i % len(TENANT_KINDS)], sme=i % 3 != 0, registered_city="Qingdao"
            ),
        )
        user = tenants.create_user(ctx, admin, tenant.id, tenants.UserInput(f"{slug}-user", Role.TENANT_MEMBER))
        principals[name] = Principal(f"sim-{slug}", user.id, tenant.id, Role.TENANT_MEMBER, name=user.name)
    return principals


def _slug(name: str) -> str:
    text = "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")
    return text[:63] or "tenant"


# ------------------------------------------------------------------------------------------ the workload


@dataclass(frozen=True, slots=True)
class SimJob:
    """A trace job as this city sees it."""

    trace: TraceJob
    nodes: int
    per_node: int
    models: tuple[str, ...]  # acceptable models, fastest-first by the catalogue's nameplate
    runtime: dict[str, float]  # true seconds on each acceptable model (services: lifetime, or inf)
    walltime: int  # the max_runtime its tenant asks for
    preemptible: bool = False  # submitted preemptible: the trace says so, or the scenario drew it

    def body(self) -> dict[str, Any]:
        """The job spec the tenant submits."""
        t = self.trace
        resources: dict[str, Any] = {"cpus": t.cpus, "memory": t.memory_gib}
        if self.models:
            resources["accelerators"] = [f"{m}:{self.per_node}" for m in self.models]
        return {
            "name": t.family or t.kind,
            "kind": t.kind,
            "num_nodes": self.nodes,
            "resources": resources,
            "run": "replayed from a trace",
            "envs": {"TRACE_JOB": t.key},
            "max_runtime": self.walltime,
            "preemptible": self.preemptible,
            "priority": t.priority,
        }


def gang_shape(gpus: int, max_per_node: int = 8) -> tuple[int, int]:
    """(nodes, accelerators per node) for a job holding `gpus` in all: as few nodes as possible, evenly."""
    if gpus <= max_per_node:
        return 1, gpus
    per_node = max(d for d in range(1, max_per_node + 1) if gpus % d == 0)
    if per_node < max_per_node // 2:  # awkward counts (e.g. 7 x 3) fill whole nodes instead
        nodes = math.ceil(gpus / max_per_node)
        return nodes, math.ceil(gpus / nodes)
    return gpus // per_node, per_node


class Workload:
    """Turns a trace's jobs into jobs for this city, deterministically for a seed."""

    def __init__(
        self,
        trace: Trace,
        fit: TraceFit,
        catalogue: Catalogue,
        city: tuple[CentreSpec, ...],
        seed: int = 0,
        scenario: Scenario | None = None,
    ) -> None:
        self.trace = trace
        self.fit = fit
        self.catalogue = catalogue
        self.seed = seed
        self._stacks: dict[str, set[Stack]] = {}  # tenant -> stacks its code runs on (drawn once per tenant)
        self.city_models = sorted(
            {p.model for c in city for p in c.pools if not (m := catalogue.get(p.model)) or not m.is_cpu},
            key=lambda m: -catalogue.get(m).fp16_tflops,
        )  # type: ignore[union-attr]
        self.jobs = {j.key: self._fit(j) for j in trace.jobs}
        self.contracts: dict[str, float] = {}  # trace tenant -> quota (A100-equivalents)
        if scenario is not None:
            pools = [(p.model, p.nodes, p.accelerators_per_node) for c in city for p in c.pools]
            self.contracts = scenario.contracts(self.demand(), city_compute(pools, catalogue))
            for key, job in self.jobs.items():
                if not job.preemptible and job.trace.tenant not in self.contracts:
                    if scenario.submits_preemptible(seed, key):
                        self.jobs[key] = replace(job, preemptible=True)

    def demand(self) -> dict[str, float]:
        """Trace tenant -> card-hours its jobs ask for, each on its fastest acceptable model (CPU jobs: cores / 32
        cards; services: their lifetime where the trace knows it)."""
        out: dict[str, float] = {}
        for job in self.jobs.values():
            finite = [r for r in job.runtime.values() if math.isfinite(r)]
            cards = job.per_node * job.nodes or math.ceil(job.trace.cpus / 32)
            out[job.trace.tenant] = out.get(job.trace.tenant, 0.0) + cards * min(finite, default=0.0) / 3600
        return out

    def _rng(self, *parts: object) -> random.Random:
        return random.Random(":".join(str(p) for p in (self.seed, *parts)))

    def stacks(self, tenant: str) -> set[Stack]:
        known = self._stacks.get(tenant)
        if known is None:
            rng = self._rng("stacks", tenant)
            known = {Stack.CUDA}
            for stack, share in sorted(self.fit.portability.items()):
                if rng.random() < share:
                    known.add(Stack(stack))
            self._stacks[tenant] = known
        return set(known)

    def _gamma(self, key: str) -> float:
        """Job `key`'s speed-up exponent (drawn once per job: the same on every model)."""
        lo, hi = self.fit.speed_exponent
        return self._rng("speed", key).uniform(lo, hi)

    def _fit(self, job: TraceJob) -> SimJob:
        nodes, per_node = gang_shape(job.gpus) if job.gpus else (1, 0)
        models: tuple[str, ...] = ()
        if job.gpus:
            allowed = self.stacks(job.tenant)
            models = tuple(
                m
                for m in self.city_models
                if self.catalogue.get(m).stack in allowed  # type: ignore[union-attr]
                and self._admits(job, m)
            )
        gamma = self._gamma(job.key) if models and not job.rates and job.duration is not None else None
        runtime = {m: self._runtime(job, m, gamma) for m in models} if models else {"CPU-X86": self._runtime(job, None)}
        slowest = max(runtime.values())
        return SimJob(job, nodes, per_node, models, runtime, self._walltime(job, slowest), job.preemptible)

    def _admits(self, job: TraceJob, model: str) -> bool:
        if self.fit.types and job.gpu_types:
            return any(model in self.fit.types.get(t, ()) for t in job.gpu_types)
        if self.fit.types and job.rates:
            return model in self.fit.types
        return True

    def _runtime(self, job: TraceJob, model: str | None, gamma: float | None = None) -> float:
        if job.rates and model is not None:
            gavel_type, factor = self.fit.types[model]
            return float(job.work or 0) / (job.rates[str(gavel_type)] * float(factor))
        if job.duration is None:
            return math.inf
        if model is None or job.is_service:
            return job.duration
        reference = self.catalogue.get(self.fit.reference)
        target = self.catalogue.get(model)
        if gamma is None:
            gamma = self._gamma(job.key)
        ratio = float(target.fp16_tflops / reference.fp16_tflops) if target and reference else 1.0  # type: ignore[union-attr]
        return job.duration / (ratio**gamma)

    def _walltime(self, job: TraceJob, slowest: float) -> int:
        if not math.isfinite(slowest):
            return HUMAN_WALLTIMES[-1]
        lo, hi = self.fit.walltime
        factor = math.exp(self._rng("walltime", job.key).uniform(math.log(lo), math.log(hi)))
        wanted = slowest * factor
        return next((w for w in HUMAN_WALLTIMES if w >= wanted), HUMAN_WALLTIMES[-1])

    def runtime(self, key: str, model: str) -> float:
        """True seconds of trace job `key` on `model` (CPU jobs: their duration)."""
        job = self.jobs[key]
        return job.runtime.get(model, job.runtime.get("CPU-X86", next(iter(job.runtime.values()))))
