"""The files `suanli sim --out` writes: metrics.json is strict JSON (a figure with nothing to measure is null,
not NaN), and the report shows such a figure as "-"."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

from suanli.sim.city import load_city
from suanli.sim.engine import Simulation
from suanli.sim.metrics import measure
from suanli.sim.report import write
from suanli.sim.traces import load_trace

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"


def _refuse(constant: str) -> float:
    raise ValueError(f"{constant} is not JSON")


def test_metrics_json_is_strict_json_and_unmeasured_figures_are_null_and_shown_as_a_dash(tmp_path):
    trace = load_trace("philly", DATA)
    trace = replace(trace, jobs=trace.jobs[:120])
    run = Simulation(trace, load_city(ROOT / "bench" / "city-qingdao.yaml"), "suanli", seed=7).run()
    metrics = measure(run)
    unmeasured = [t for t in metrics.tenants if math.isnan(t.share_vs_fair)]
    assert unmeasured, "the run should have a tenant never backlogged beside another"
    write([metrics], [run], tmp_path)
    loaded = json.loads((tmp_path / "metrics.json").read_text(), parse_constant=_refuse)
    shares = {t["tenant"]: t["share_vs_fair"] for t in loaded[0]["tenants"]}
    assert all(shares[t.tenant] is None for t in unmeasured)
    assert any(isinstance(v, float) for v in shares.values())
    rows = [line for line in (tmp_path / "report.md").read_text().splitlines() if line.startswith("| vc-")]
    assert any(line.endswith("| - |") for line in rows)
    assert not any("nan" in line for line in rows)
