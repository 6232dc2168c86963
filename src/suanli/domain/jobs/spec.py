"""The job spec: what a tenant asks to run, close to SkyPilot's task YAML where it fits.

name: mnist-train
kind: train                      # train | finetune | batch-infer | service
num_nodes: 1
resources:
  accelerators: A100:1           # or {A100: 1}, or ["A100:8", "H800:8"] = any one of these
  cpus: 4                        # per node
  memory: 16                     # GiB per node
  stack: cuda                    # optional; implied by the accelerator model
envs: {EPOCHS: "3"}
files: {train.py: "..."}         # the CLI fills this from `workdir:`
setup: pip install -r requirements.txt
run: python train.py
max_runtime: 2h
priority: 50                     # 0..100
preemptible: false
max_price: "30"                  # CNY per accelerator-hour (per core-hour on CPU pools)
centres: {allow: [...], exclude: [...]}
retry: {max_restarts_on_failure: 0, max_requeues: 10}
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from suanli.domain.accelerators import Stack
from suanli.domain.durations import parse_duration
from suanli.domain.errors import FieldError, InvalidInput
from suanli.domain.money import parse_money

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
ENV_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
RESERVED_ENV_PREFIXES = ("SUANLI_",)
RESERVED_ENV_KEYS = frozenset(
    {"CUDA_VISIBLE_DEVICES", "ASCEND_RT_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "MLU_VISIBLE_DEVICES"}
)
MAX_RUNTIME_SECONDS = 365 * 86400  # long-running services; centres may set their own limits
DEFAULT_RUNTIME_SECONDS = 24 * 3600
MAX_TEXT = 64 * 1024


class JobKind(StrEnum):
    TRAIN = "train"
    FINETUNE = "finetune"
    BATCH_INFER = "batch-infer"
    SERVICE = "service"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class AcceleratorOption(_Strict):
    """One acceptable accelerator: `count` of `model` on each node."""

    model: str = Field(min_length=1, max_length=64)
    count: int = Field(ge=1, le=64)


def _parse_option(text: str) -> dict[str, Any]:
    model, _, count = text.partition(":")
    model = model.strip()
    if not model:
        raise ValueError(f"{text!r}: expected MODEL or MODEL:COUNT, e.g. A100:8")
    if not count:
        return {"model": model, "count": 1}
    if not count.strip().isdigit():
        raise ValueError(f"{text!r}: the count after ':' must be a whole number")
    return {"model": model, "count": int(count)}


class Resources(_Strict):
    """Per-node resources; `accelerators` lists acceptable alternatives (empty: a CPU-only job)."""

    accelerators: tuple[AcceleratorOption, ...] = ()
    cpus: float = Field(default=1, gt=0, le=1024)
    memory: float = Field(default=2, gt=0, le=16384, description="GiB per node")
    stack: Stack | None = None

    @field_validator("accelerators", mode="before")
    @classmethod
    def _accelerators(cls, value: Any) -> Any:
        if value is None:
            return ()
        if isinstance(value, str):
            return (_parse_option(value),)
        if isinstance(value, Mapping):
            if set(value) <= {"model", "count"} and "model" in value:
                return (dict(value),)
            if len(value) == 0:
                return ()
            return tuple({"model": str(k), "count": v} for k, v in value.items())
        if isinstance(value, list | tuple):
            if len(value) > 16:
                raise ValueError("at most 16 alternative accelerators")
            return tuple(_parse_option(v) if isinstance(v, str) else v for v in value)
        raise ValueError('expected "MODEL:COUNT", {MODEL: COUNT} or a list of alternatives')


class CentreConstraint(_Strict):
    allow: tuple[str, ...] = Field(default=(), max_length=64)
    exclude: tuple[str, ...] = Field(default=(), max_length=64)


class RetryPolicy(_Strict):
    """`max_restarts_on_failure`: reruns after a non-zero exit; `max_requeues`: after preemption or loss."""

    max_restarts_on_failure: int = Field(default=0, ge=0, le=10)
    max_requeues: int = Field(default=10, ge=0, le=100)


class JobSpec(_Strict):
    name: str
    project: str | None = Field(default=None, description="the tenant's project it is charged to (project budgets)")
    kind: JobKind = JobKind.TRAIN
    num_nodes: int = Field(default=1, ge=1, le=256)
    resources: Resources = Resources()
    envs: dict[str, str] = Field(default_factory=dict, max_length=256)
    files: dict[str, str] = Field(default_factory=dict, max_length=1000)
    setup: str | None = Field(default=None, max_length=MAX_TEXT)
    run: str = Field(min_length=1, max_length=MAX_TEXT)
    max_runtime: int = Field(default=DEFAULT_RUNTIME_SECONDS, ge=1, le=MAX_RUNTIME_SECONDS, description="seconds")
    priority: int = Field(default=50, ge=0, le=100)
    preemptible: bool = False
    max_price: Decimal | None = None
    centres: CentreConstraint = CentreConstraint()
    retry: RetryPolicy = RetryPolicy()

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_RE.match(value):
            raise ValueError("1-63 letters, digits, '.', '_' or '-', starting with a letter or digit")
        return value

    @field_validator("project")
    @classmethod
    def _project(cls, value: str | None) -> str | None:
        if value is not None and not NAME_RE.match(value):
            raise ValueError("1-63 letters, digits, '.', '_' or '-', starting with a letter or digit")
        return value

    @field_validator("run")
    @classmethod
    def _run(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("max_runtime", mode="before")
    @classmethod
    def _max_runtime(cls, value: Any) -> Any:
        return parse_duration(value)

    @field_validator("max_price", mode="before")
    @classmethod
    def _max_price(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, float):  # YAML `max_price: 12.5` is a float; accept it through its text
            value = repr(value)
        try:
            return parse_money(value, "max_price")
        except InvalidInput as exc:
            raise ValueError(exc.errors[0].message) from None

    @field_validator("envs")
    @classmethod
    def _envs(cls, value: dict[str, str]) -> dict[str, str]:
        for key, text in value.items():
            if not ENV_KEY_RE.match(key):
                raise ValueError(f"{key!r} is not a valid environment variable name")
            if key.startswith(RESERVED_ENV_PREFIXES) or key in RESERVED_ENV_KEYS:
                raise ValueError(f"{key!r} is set by suanli and cannot be overridden")
            if len(text) > 32 * 1024:
                raise ValueError(f"value of {key!r} is longer than 32 KiB")
        return value

    @field_validator("files")
    @classmethod
    def _files(cls, value: dict[str, str]) -> dict[str, str]:
        for path in value:
            check_relative_path(path)
        return value

    @model_validator(mode="after")
    def _shape(self) -> JobSpec:
        models = [o.model.lower() for o in self.resources.accelerators]
        if len(models) != len(set(models)):
            raise ValueError("resources.accelerators lists the same model twice")
        return self

    @property
    def is_cpu_only(self) -> bool:
        return not self.resources.accelerators


def check_relative_path(path: str) -> str:
    """A workdir file path must be relative, POSIX, and stay inside the job's directory."""
    parts = path.split("/")
    if (
        not path
        or len(path) > 255
        or path.startswith("/")
        or "\\" in path
        or "\x00" in path
        or any(p in ("", ".", "..") for p in parts)
    ):
        raise ValueError(f"{path!r}: file paths must be relative, without '..', '.' or empty parts")
    return path


# ------------------------------------------------------------------------------------------ parsing


def parse_spec(data: object) -> JobSpec:
    """Validate a decoded spec (a mapping); raises InvalidInput naming each field at fault."""
    if not isinstance(data, Mapping):
        raise InvalidInput([FieldError("", "a job spec must be a mapping of fields, e.g. `name:` and `run:`")])
    if "workdir" in data:
        raise InvalidInput(
            [FieldError("workdir", "workdir is read by the CLI, which uploads its files as `files`; send `files`")]
        )
    try:
        return JobSpec.model_validate(dict(data))
    except ValidationError as exc:
        raise InvalidInput(_field_errors(exc)) from None


def parse_spec_text(text: str, source: str = "spec") -> JobSpec:
    """Parse YAML (a superset of JSON) text into a spec, reporting where malformed text breaks."""
    return parse_spec(load_yaml_mapping(text, source))


def load_yaml_mapping(text: str, source: str = "spec") -> object:
    """Decode YAML or JSON text; malformed text raises InvalidInput with line and column."""
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise InvalidInput([FieldError("", f"malformed YAML in {source}{where}: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise InvalidInput([FieldError("", f"malformed YAML in {source}: {exc}")]) from None


def spec_fingerprint(spec: JobSpec) -> str:
    """A stable text form of the spec, used to tell a replayed submission from a different one."""
    return json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def _field_errors(exc: ValidationError) -> list[FieldError]:
    errors = []
    for item in exc.errors(include_url=False):
        loc = [str(p) for p in item["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        path = ".".join(loc)
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            known = _known_fields(loc[:-1])
            message = f"unknown field {loc[-1]!r}" + (f"; known fields: {', '.join(known)}" if known else "")
        elif item["type"] == "missing":
            message = "required field is missing"
        errors.append(FieldError(path, message))
    return errors


def _known_fields(parent: list[str]) -> list[str]:
    model: type[BaseModel] = JobSpec
    for part in parent:
        field = model.model_fields.get(part)
        annotation = getattr(field, "annotation", None)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        else:
            return []
    return list(model.model_fields)
