"""Reading a city model file (`bench/city-qingdao.yaml` is the reference): the YAML is checked in full before
anything runs, and every problem is an `InvalidInput` naming its place in the file, e.g.
`centres[2].pools[0].nodes`. Pools are held to the same rules an operator's pools are (`service.centres`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from suanli.domain.accelerators import Stack, builtin_catalogue
from suanli.domain.errors import FieldError, InvalidInput
from suanli.domain.money import parse_money
from suanli.domain.tenants import check_slug
from suanli.service.centres import PoolInput, discount_problem, validate_pool
from suanli.sim.traces import READERS

POOL_FIELDS = (
    "name",
    "model",
    "nodes",
    "accelerators_per_node",
    "cpus_per_node",
    "memory_gib_per_node",
    "price",
    "preemptible_discount",
)
FIT_FIELDS = ("scale", "cpu_scale", "reference", "speed_exponent", "types", "portability", "walltime")


def read_city_file(path: Path) -> dict[str, Any]:
    """The file's document, checked: a name, one or more centres each with one or more valid pools, fits for
    known traces only, and scenarios (checked by `sim.scenarios.parse`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput([FieldError("city", f"cannot read {path}: {exc.strerror or exc}")]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise InvalidInput([FieldError("city", f"{path} is not valid YAML{where}")]) from None
    doc = _mapping(data, "", ("name", "centres", "traces", "scenarios"))
    if not isinstance(doc.get("name"), str) or not doc["name"].strip():
        raise InvalidInput([FieldError("name", "the city's name, e.g. qingdao")])
    centres = _list(doc.get("centres"), "centres", "one or more centres")
    names: set[str] = set()
    for c, raw in enumerate(centres):
        where = f"centres[{c}]"
        centre = _mapping(raw, where, ("name", "display_name", "district", "pools"))
        name = centre.get("name")
        if not isinstance(name, str):
            raise InvalidInput([FieldError(f"{where}.name", "the centre's name")])
        check_slug(name, f"{where}.name")  # as an operator's centre is named
        if name in names:
            raise InvalidInput([FieldError(f"{where}.name", f"centre {name!r} is named twice")])
        names.add(name)
        for key in ("display_name", "district"):
            if key in centre and not isinstance(centre[key], str):
                raise InvalidInput([FieldError(f"{where}.{key}", "text")])
        pools = _list(centre.get("pools"), f"{where}.pools", "one or more pools")
        for p, pool in enumerate(pools):
            _pool(pool, f"{where}.pools[{p}]")
            if any(other["name"] == pool["name"] for other in pools[:p]):
                raise InvalidInput([FieldError(f"{where}.pools[{p}].name", f"pool {pool['name']!r} is named twice")])
    for trace, fit in (_mapping(doc.get("traces") or {}, "traces", None)).items():
        if trace not in READERS:
            known = ", ".join(sorted(READERS))
            raise InvalidInput([FieldError(f"traces.{trace}", f"not a trace (traces: {known})")])
        _fit(fit, f"traces.{trace}")
    for scenario, fields in _mapping(doc.get("scenarios") or {}, "scenarios", None).items():
        _mapping(fields or {}, f"scenarios.{scenario}", None)  # its fields: `sim.scenarios.parse`
    return doc


def _pool(raw: object, where: str) -> None:
    pool = _mapping(raw, where, POOL_FIELDS)
    missing = [k for k in POOL_FIELDS if k not in pool]
    if missing:
        raise InvalidInput([FieldError(f"{where}.{missing[0]}", "required")])
    for key in ("nodes", "accelerators_per_node", "cpus_per_node", "memory_gib_per_node"):
        if not isinstance(pool[key], int) or isinstance(pool[key], bool):
            raise InvalidInput([FieldError(f"{where}.{key}", "a whole number")])
    for key in ("name", "model"):
        if not isinstance(pool[key], str):
            raise InvalidInput([FieldError(f"{where}.{key}", "text")])
    try:
        validate_pool(
            PoolInput(
                pool["name"],
                pool["model"],
                pool["nodes"],
                pool["accelerators_per_node"],
                pool["cpus_per_node"],
                pool["memory_gib_per_node"],
            ),
            builtin_catalogue(),
        )
        parse_money(str(pool["price"]), "price")
        problem = discount_problem(parse_money(str(pool["preemptible_discount"]), "preemptible_discount"))
        if problem is not None:
            raise InvalidInput([problem])
    except InvalidInput as exc:
        raise InvalidInput([FieldError(f"{where}.{e.field}", e.message) for e in exc.errors]) from None


def _fit(raw: object, where: str) -> None:
    fit = _mapping(raw or {}, where, FIT_FIELDS)
    for key in ("scale", "cpu_scale"):
        if fit.get(key) is not None and not _positive(fit[key]):
            raise InvalidInput([FieldError(f"{where}.{key}", "a number above 0")])
    if "reference" in fit:
        builtin_catalogue().require(str(fit["reference"]), f"{where}.reference")
    for key, least in (("speed_exponent", 0.0), ("walltime", 1.0)):
        if key in fit:
            pair = fit[key]
            if (
                not isinstance(pair, list)
                or len(pair) != 2
                or not all(_number(v) and v >= least for v in pair)
                or pair[0] > pair[1]
            ):
                wanted = f"[low, high]: two numbers, {least:g} <= low <= high"
                raise InvalidInput([FieldError(f"{where}.{key}", wanted)])
    for stack, share in _mapping(fit.get("portability") or {}, f"{where}.portability", None).items():
        if stack not in {s.value for s in Stack} or not (_number(share) and 0 <= share <= 1):
            wanted = "a stack (cann, dtk, ...) and a share 0..1"
            raise InvalidInput([FieldError(f"{where}.portability.{stack}", wanted)])
    for name, value in _mapping(fit.get("types") or {}, f"{where}.types", None).items():
        if not isinstance(value, list) or not value:
            raise InvalidInput([FieldError(f"{where}.types.{name}", "a list")])


def _mapping(raw: object, where: str, fields: tuple[str, ...] | None) -> Mapping[str, Any]:
    """`raw` as a mapping, refusing any key not in `fields` (None: any key)."""
    if not isinstance(raw, Mapping):
        raise InvalidInput([FieldError(where or "city", "a mapping (key: value lines)")])
    if fields is not None:
        unknown = sorted(str(k) for k in raw if k not in fields)
        if unknown:
            at = f"{where}.{unknown[0]}" if where else unknown[0]
            raise InvalidInput([FieldError(at, f"not a field here (fields: {', '.join(fields)})")])
    return raw


def _list(raw: object, where: str, what: str) -> list[Any]:
    if not isinstance(raw, list) or not raw:
        raise InvalidInput([FieldError(where, what)])
    return raw


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _positive(value: object) -> bool:
    return _number(value) and value > 0  # type: ignore[operator]
