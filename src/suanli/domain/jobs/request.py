"""A spec's resources resolved against the accelerator catalogue: canonical model ids and stacks."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from suanli.domain.accelerators import Catalogue, Stack
from suanli.domain.errors import FieldError, InvalidInput
from suanli.domain.jobs.spec import JobSpec


@dataclass(frozen=True, slots=True)
class Option:
    """One acceptable accelerator model with the count needed on each node."""

    model: str
    per_node: int
    stack: Stack


@dataclass(frozen=True, slots=True)
class ResourceRequest:
    """What a job needs: `nodes` nodes, each with one option's accelerators, `cpus` and `memory_gib`."""

    options: tuple[Option, ...]  # empty: a CPU-only job, placed on CPU pools
    nodes: int
    cpus: float
    memory_gib: float
    size: int = field(init=False, compare=False)  # accelerators held at once (nodes for CPU jobs)
    by_model: dict[str, Option] = field(init=False, compare=False, repr=False)
    # (accelerators, cpus, memory GiB) per node on a pool of each model, filled as asked
    per_node_on: dict[str, tuple[int, float, float]] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        per_node = max((o.per_node for o in self.options), default=1)
        object.__setattr__(self, "size", max(1, self.nodes * per_node))
        object.__setattr__(self, "by_model", {o.model: o for o in self.options})
        object.__setattr__(self, "per_node_on", {})

    def demand_on(self, model: str) -> tuple[int, float, float]:
        """(accelerators, cpus, memory GiB) the request takes on each node of a pool of `model`."""
        demand = self.per_node_on.get(model)
        if demand is None:
            option = self.by_model.get(model)
            demand = self.per_node_on[model] = (option.per_node if option else 0, self.cpus, self.memory_gib)
        return demand

    @property
    def cpu_only(self) -> bool:
        return not self.options

    def option_for(self, model: str) -> Option | None:
        return self.by_model.get(model)


def resolve_request(spec: JobSpec, catalogue: Catalogue) -> ResourceRequest:
    """Canonicalise model names and check stacks; InvalidInput lists unknown models and mismatches."""
    errors: list[FieldError] = []
    options: list[Option] = []
    wanted = spec.resources.stack
    for i, raw in enumerate(spec.resources.accelerators):
        path = f"resources.accelerators.{i}" if len(spec.resources.accelerators) > 1 else "resources.accelerators"
        model = catalogue.get(raw.model)
        if model is None:
            known = ", ".join(catalogue.ids())
            errors.append(FieldError(path, f"unknown accelerator model {raw.model!r}; known models: {known}"))
            continue
        if model.is_cpu:
            errors.append(FieldError(path, f"{model.id} is a CPU node; for a CPU job leave accelerators out"))
            continue
        if wanted is not None and model.stack is not wanted:
            errors.append(FieldError(path, f"{model.id} runs the {model.stack} stack, not {wanted}"))
            continue
        options.append(Option(model.id, raw.count, model.stack))
    if not spec.resources.accelerators and wanted not in (None, Stack.CPU):
        errors.append(FieldError("resources.stack", f"a job without accelerators runs on cpu, not {wanted}"))
    if errors:
        raise InvalidInput(errors)
    return ResourceRequest(
        options=tuple(options),
        nodes=spec.num_nodes,
        cpus=spec.resources.cpus,
        memory_gib=spec.resources.memory,
    )


def shape_key(spec: JobSpec, request: ResourceRequest) -> str:
    """Jobs with the same key fit the same pools in the same way (options, sizes, price cap, centre lists),
    so the scheduler explains waiting once per shape, not once per job."""
    data = {
        "o": [[o.model, o.per_node] for o in request.options],
        "n": request.nodes,
        "c": request.cpus,
        "m": request.memory_gib,
        "p": spec.preemptible,
        "x": str(spec.max_price) if spec.max_price is not None else None,
        "a": sorted(spec.centres.allow),
        "e": sorted(spec.centres.exclude),
    }
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:20]
