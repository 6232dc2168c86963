"""A city model file is checked in full before a replay starts: each problem names its place in the file, and
`suanli sim` refuses bad options (trace, traces folder, city, interval, limit, output folder) before it runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from suanli.cli.main import app
from suanli.domain.errors import InvalidInput
from suanli.sim.city import load_city

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = (ROOT / "bench" / "city-qingdao.yaml").read_text(encoding="utf-8")
DATA = Path(__file__).resolve().parent / "data"  # a slice of the Philly trace kept with the tests


def test_the_reference_city_loads():
    city = load_city(ROOT / "bench" / "city-qingdao.yaml")
    assert city.name == "qingdao" and len(city.centres) == 6
    assert sorted(city.traces) == ["dlrm", "gavel", "openb", "philly"] and "contracts" in city.scenarios


@pytest.mark.parametrize(
    ("old", "new", "field", "words"),
    [
        ("nodes: 24,", "nodes: 0,", "centres[0].pools[0].nodes", "between 1 and"),
        ("nodes: 24,", "nodes: many,", "centres[0].pools[0].nodes", "whole number"),
        ("model: Ascend910B", "model: Ascend999", "centres[0].pools[0].model", "unknown accelerator model"),
        ('price: "8.50"', 'price: "-1"', "centres[0].pools[0].price", ">= 0"),
        ('preemptible_discount: "0.5"', 'preemptible_discount: "1.5"', "centres[0].pools[0].preemptible_discount", ""),
        (
            "accelerators_per_node: 8, cpus_per_node: 192",
            "acelerators_per_node: 8, cpus_per_node: 192",
            "centres[0].pools[0].acelerators_per_node",
            "not a field",
        ),
        (
            "accelerators_per_node: 0, cpus_per_node: 112",
            "accelerators_per_node: 4, cpus_per_node: 112",
            "centres[5].pools[0].accelerators_per_node",
            "CPU node model",
        ),
        ("name: haizhixin", "name: qd-ai", "centres[1].name", "named twice"),
        ("name: haizhixin", "name: Hai Zhi Xin", "centres[1].name", "lower-case letters"),
        ("name: a100, model: A100, nodes: 4", "name: cpu, model: A100, nodes: 4", "centres[5].pools[1].name", "twice"),
        (
            "  contracts:\n    contract_tenants: 0.25\n    contracted: 0.3\n    preemptible: 0.5",
            "  contracts: 5",
            "scenarios.contracts",
            "a mapping",
        ),
        ("  philly:\n", "  phily:\n", "traces.phily", "not a trace"),
        ("scale: 0.75", "scale: -1", "traces.philly.scale", "above 0"),
        ("walltime: [1.3, 4.0]", "walltime: [4.0, 1.3]", "traces.philly.walltime", "low <= high"),
        ("portability: {cann: 0.5, dtk: 0.3}", "portability: {cuda2: 0.5}", "traces.philly.portability.cuda2", ""),
        ("preemptible: 0.5", "preemptible: 2", "scenarios.contracts.preemptible", "between 0 and 1"),
        ("centres:", "centres: [", "city", "not valid YAML (line"),
    ],
)
def test_a_bad_city_file_names_the_place_at_fault(tmp_path, old, new, field, words):
    assert old in REFERENCE
    path = tmp_path / "city.yaml"
    path.write_text(REFERENCE.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(InvalidInput) as caught:
        load_city(path)
    assert caught.value.errors[0].field == field
    assert words in caught.value.errors[0].message


def test_a_city_file_without_centres_or_not_a_mapping_is_refused(tmp_path):
    for text, field in (("name: x\n", "centres"), ("- a\n- b\n", "city"), ("centres: []\n", "name")):
        path = tmp_path / "city.yaml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(InvalidInput) as caught:
            load_city(path)
        assert caught.value.errors[0].field == field


@pytest.mark.parametrize(
    ("args", "option", "words"),
    [
        (["--limit", "0"], "--limit", "greater than or equal to 1"),
        (["--limit", "-5"], "--limit", "greater than or equal to 1"),
        (["--grid", "--interval", "0"], "--interval", "above 0"),
        (["--interval", "-3"], "--interval", "above 0"),
        (["--trace", "nope"], "--trace", "no trace 'nope'"),
        (["--trace", "gavel"], "--traces", "has no gavel trace"),
        (["--traces", "{tmp}"], "--traces", "not a traces folder"),
        (["--city", "{tmp}/missing.yaml"], "--city", "cannot read"),
        (["--out", "{tmp}/file/report"], "--out", "cannot make"),
    ],
)
def test_the_sim_command_refuses_a_bad_option_before_it_runs(tmp_path, args, option, words):
    (tmp_path / "file").write_text("a file, not a folder", encoding="utf-8")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "--traces" not in args:
        args += ["--traces", str(DATA)]
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["sim", "--limit", "20", *args, *([] if "--out" in args else ["--out", str(out)])])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.replace("│", " ").split())  # the error box's wrapped lines, as one line
    assert option in text and words in text, text
    assert "simulating" not in result.output  # nothing ran
    assert not out.exists()  # and nothing was written
