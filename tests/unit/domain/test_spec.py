from decimal import Decimal

import pytest

from suanli.domain.accelerators import builtin_catalogue
from suanli.domain.errors import InvalidInput
from suanli.domain.jobs.request import resolve_request
from suanli.domain.jobs.spec import JobKind, parse_spec, parse_spec_text


def fields(exc: pytest.ExceptionInfo[InvalidInput]) -> list[str]:
    return [e.field for e in exc.value.errors]


def test_minimal_spec_gets_documented_defaults():
    spec = parse_spec({"name": "t", "run": "echo hi"})
    assert spec.kind is JobKind.TRAIN
    assert spec.num_nodes == 1
    assert spec.resources.accelerators == ()
    assert spec.resources.cpus == 1 and spec.resources.memory == 2
    assert spec.max_runtime == 24 * 3600
    assert spec.priority == 50 and not spec.preemptible
    assert spec.retry.max_restarts_on_failure == 0


@pytest.mark.parametrize(
    "accelerators, expected",
    [
        ("A100:8", [("A100", 8)]),
        ("A100", [("A100", 1)]),
        ({"H800": 4}, [("H800", 4)]),
        (["A100:8", "H800:4"], [("A100", 8), ("H800", 4)]),
        ({"model": "A100", "count": 2}, [("A100", 2)]),
    ],
)
def test_accelerators_accept_skypilot_forms(accelerators, expected):
    spec = parse_spec({"name": "t", "run": "x", "resources": {"accelerators": accelerators}})
    assert [(o.model, o.count) for o in spec.resources.accelerators] == expected


def test_yaml_text_parses_durations_and_prices():
    spec = parse_spec_text("name: t\nrun: x\nmax_runtime: 1h30m\nmax_price: 12.5\n")
    assert spec.max_runtime == 5400
    assert spec.max_price == Decimal("12.5")


def test_malformed_yaml_reports_line_and_column():
    with pytest.raises(InvalidInput) as exc:
        parse_spec_text("name: t\nrun: [unclosed\n")
    assert "line" in exc.value.detail and "malformed YAML" in exc.value.detail


def test_non_mapping_is_refused():
    with pytest.raises(InvalidInput, match="mapping"):
        parse_spec_text("- just\n- a list\n")


def test_unknown_fields_are_named_with_the_known_ones():
    with pytest.raises(InvalidInput) as exc:
        parse_spec({"name": "t", "run": "x", "resources": {"gpus": 2}})
    assert fields(exc) == ["resources.gpus"]
    assert "known fields: accelerators, cpus, memory, stack" in exc.value.errors[0].message


def test_missing_run_names_the_field():
    with pytest.raises(InvalidInput) as exc:
        parse_spec({"name": "t"})
    assert fields(exc) == ["run"]


@pytest.mark.parametrize(
    "patch, field",
    [
        ({"num_nodes": 0}, "num_nodes"),
        ({"num_nodes": 100000}, "num_nodes"),
        ({"resources": {"cpus": -1}}, "resources.cpus"),
        ({"resources": {"memory": 10**9}}, "resources.memory"),
        ({"resources": {"accelerators": "A100:0"}}, "resources.accelerators.0.count"),
        ({"resources": {"accelerators": "A100:x"}}, "resources.accelerators"),
        ({"max_runtime": "forever"}, "max_runtime"),
        ({"max_runtime": 0}, "max_runtime"),
        ({"max_runtime": "400d"}, "max_runtime"),
        ({"priority": 101}, "priority"),
        ({"max_price": "-3"}, "max_price"),
        ({"max_price": "1.234567"}, "max_price"),
        ({"name": "bad name!"}, "name"),
        ({"envs": {"SUANLI_JOB_ID": "x"}}, "envs"),
        ({"envs": {"CUDA_VISIBLE_DEVICES": "0"}}, "envs"),
        ({"envs": {"1BAD": "x"}}, "envs"),
        ({"files": {"../escape.py": "x"}}, "files"),
        ({"files": {"/etc/passwd": "x"}}, "files"),
        ({"retry": {"max_restarts_on_failure": 99}}, "retry.max_restarts_on_failure"),
        ({"workdir": "."}, "workdir"),
    ],
)
def test_bad_values_name_the_field_at_fault(patch, field):
    with pytest.raises(InvalidInput) as exc:
        parse_spec({"name": "t", "run": "x", **patch})
    assert field in fields(exc)


def test_unknown_accelerator_lists_the_known_models():
    spec = parse_spec({"name": "t", "run": "x", "resources": {"accelerators": "B300:8"}})
    with pytest.raises(InvalidInput) as exc:
        resolve_request(spec, builtin_catalogue())
    message = exc.value.errors[0].message
    assert "unknown accelerator model 'B300'" in message
    assert "A100" in message and "Ascend910B" in message


def test_aliases_resolve_to_canonical_models_and_stacks():
    spec = parse_spec({"name": "t", "run": "x", "resources": {"accelerators": ["910b:8", "a100:8"]}})
    request = resolve_request(spec, builtin_catalogue())
    assert [(o.model, o.stack.value) for o in request.options] == [("Ascend910B", "cann"), ("A100", "cuda")]


def test_stack_must_match_the_models():
    spec = parse_spec({"name": "t", "run": "x", "resources": {"accelerators": "A100:1", "stack": "cann"}})
    with pytest.raises(InvalidInput, match="runs the cuda stack, not cann"):
        resolve_request(spec, builtin_catalogue())
