from decimal import Decimal

import pytest

from suanli.domain.accelerators import Stack, builtin_catalogue, model_from_mapping
from suanli.domain.errors import InvalidInput


def test_builtin_catalogue_has_the_seeded_models_with_sources():
    catalogue = builtin_catalogue()
    for model in (
        "A100",
        "H100",
        "H800",
        "H20",
        "L40S",
        "RTX4090",
        "Ascend910",
        "Ascend910B",
        "DCU-K100",
        "MLU370-X8",
        "CPU-X86",
    ):
        entry = catalogue.get(model)
        assert entry is not None, model
        assert entry.source.strip(), f"{model} must cite its source"
        assert entry.fp16_tflops > 0
    assert catalogue.get("a100-80gb").id == "A100"
    assert catalogue.get("910B").stack is Stack.CANN
    assert catalogue.get("Ascend910B").domestic and not catalogue.get("A100").domestic


def test_amendment_replaces_a_figure_and_keeps_the_rest():
    catalogue = builtin_catalogue()
    fixed = model_from_mapping(
        {
            "id": "Ascend910B",
            "vendor": "Huawei",
            "memory_gib": 64,
            "fp16_tflops": "376",
            "stack": "cann",
            "domestic": True,
            "source": "centre acceptance test",
        },
        "operator",
    )
    amended = catalogue.amended([fixed])
    assert amended.get("Ascend910B").fp16_tflops == Decimal("376")
    assert amended.get("Ascend910B").origin == "operator"
    assert amended.get("A100") == catalogue.get("A100")


def test_a_model_without_a_source_is_refused():
    with pytest.raises(InvalidInput) as exc:
        model_from_mapping({"id": "X1", "memory_gib": 8, "fp16_tflops": 10, "stack": "cuda", "source": ""})
    assert [e.field for e in exc.value.errors] == ["source"]
