"""The accelerator catalogue: models, their software stacks and nameplate FP16 figures.

The built-in catalogue is a versioned data file (`data/accelerators.yaml`); operators amend it with
entries stored in the database. `Catalogue` merges both; lookups are case-insensitive and honour aliases.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from importlib import resources

import yaml

from suanli.domain.errors import FieldError, InvalidInput


class Stack(StrEnum):
    """The software stack a job is built for; a job built for one stack does not run on another."""

    CUDA = "cuda"  # NVIDIA
    CANN = "cann"  # Huawei Ascend
    DTK = "dtk"  # Hygon DCU (ROCm-compatible)
    NEUWARE = "neuware"  # Cambricon MLU
    CPU = "cpu"


# How each stack expects to be told which devices a process may use (local engine, Slurm prolog, ...).
VISIBLE_DEVICES_ENV: Mapping[Stack, tuple[str, ...]] = {
    Stack.CUDA: ("CUDA_VISIBLE_DEVICES",),
    Stack.CANN: ("ASCEND_RT_VISIBLE_DEVICES",),
    Stack.DTK: ("HIP_VISIBLE_DEVICES",),
    Stack.NEUWARE: ("MLU_VISIBLE_DEVICES",),
    Stack.CPU: (),
}

MODEL_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True, slots=True)
class AcceleratorModel:
    """One accelerator model; `unit` is "card" for accelerators and "node" for a CPU node."""

    id: str
    vendor: str
    memory_gib: Decimal
    fp16_tflops: Decimal
    stack: Stack
    domestic: bool
    source: str
    aliases: tuple[str, ...] = ()
    unit: str = "card"
    origin: str = "builtin"  # "builtin" (the data file) or "operator" (amended through the API)

    @property
    def is_cpu(self) -> bool:
        return self.stack is Stack.CPU


@dataclass(frozen=True)
class Catalogue:
    """An immutable, versioned set of accelerator models with alias-aware lookup."""

    version: str
    models: tuple[AcceleratorModel, ...]
    _index: dict[str, AcceleratorModel] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for model in self.models:
            for key in (model.id, *model.aliases):
                self._index.setdefault(key.lower(), model)

    def get(self, name: str) -> AcceleratorModel | None:
        return self._index.get(name.lower())

    def require(self, name: str, field_path: str) -> AcceleratorModel:
        """The model called `name`, or InvalidInput naming `field_path` and listing the known models."""
        model = self.get(name)
        if model is None:
            known = ", ".join(sorted(m.id for m in self.models))
            raise InvalidInput([FieldError(field_path, f"unknown accelerator model {name!r}; known models: {known}")])
        return model

    def ids(self) -> list[str]:
        return sorted(m.id for m in self.models)

    def amended(self, extra: Sequence[AcceleratorModel]) -> Catalogue:
        """A new catalogue where each of `extra` adds a model or replaces the one with the same id."""
        if not extra:
            return self
        merged = {m.id: m for m in self.models}
        for model in extra:
            merged[model.id] = model
        return Catalogue(version=self.version, models=tuple(merged.values()))


def model_from_mapping(raw: Mapping[str, object], origin: str = "builtin") -> AcceleratorModel:
    """Build a model from a YAML/JSON mapping, validating every field."""
    errors: list[FieldError] = []
    model_id = str(raw.get("id", ""))
    if not MODEL_ID_RE.match(model_id):
        errors.append(FieldError("id", "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"))
    try:
        stack = Stack(str(raw.get("stack", "")))
    except ValueError:
        stack = Stack.CPU
        errors.append(FieldError("stack", f"must be one of {', '.join(s.value for s in Stack)}"))
    numbers: dict[str, Decimal] = {}
    for key, upper in (("memory_gib", Decimal(100000)), ("fp16_tflops", Decimal(1000000))):
        value = raw.get(key)
        if isinstance(value, bool) or value is None:
            errors.append(FieldError(key, "required number"))
            continue
        try:
            number = Decimal(str(value))
        except ArithmeticError:
            errors.append(FieldError(key, "must be a number"))
            continue
        if not number.is_finite() or number <= 0 or number > upper:
            errors.append(FieldError(key, f"must be > 0 and <= {upper}"))
        numbers[key] = number
    source = str(raw.get("source") or "").strip()
    if not source:
        errors.append(FieldError("source", "cite where the figures come from"))
    unit = str(raw.get("unit") or ("node" if stack is Stack.CPU else "card"))
    if unit not in ("card", "node"):
        errors.append(FieldError("unit", "must be 'card' or 'node'"))
    if errors:
        raise InvalidInput(errors)
    aliases = raw.get("aliases") or ()
    return AcceleratorModel(
        id=model_id,
        vendor=str(raw.get("vendor") or "unknown"),
        memory_gib=numbers["memory_gib"],
        fp16_tflops=numbers["fp16_tflops"],
        stack=stack,
        domestic=bool(raw.get("domestic", False)),
        source=source,
        aliases=tuple(str(a) for a in aliases),  # type: ignore[union-attr]
        unit=unit,
        origin=origin,
    )


def load_builtin_catalogue() -> Catalogue:
    """The catalogue shipped in `suanli/domain/data/accelerators.yaml`."""
    text = resources.files("suanli.domain").joinpath("data/accelerators.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    models = tuple(model_from_mapping(raw) for raw in data["models"])
    return Catalogue(version=str(data["version"]), models=models)


_BUILTIN: Catalogue | None = None


def builtin_catalogue() -> Catalogue:
    """The built-in catalogue, parsed once."""
    global _BUILTIN
    if _BUILTIN is None:
        _BUILTIN = load_builtin_catalogue()
    return _BUILTIN


def with_origin(model: AcceleratorModel, origin: str) -> AcceleratorModel:
    return replace(model, origin=origin)
