"""How a trace scales the city: every pool by `scale`, the CPU pools by `cpu_scale` where a trace's CPU load
differs from its cards' (the DLRM instances ask for 24 times the city's cores, and twice its cards)."""

from __future__ import annotations

from pathlib import Path

from suanli.sim.city import load_city

ROOT = Path(__file__).resolve().parents[2]


def test_a_trace_may_scale_the_cpu_pools_apart_from_the_accelerator_pools(tmp_path):
    city_file = tmp_path / "city.yaml"
    text = (ROOT / "bench" / "city-qingdao.yaml").read_text(encoding="utf-8")
    city_file.write_text(text.replace("  openb:\n", "  openb:\n    cpu_scale: 3\n", 1), encoding="utf-8")
    city = load_city(city_file)
    fit = city.fit("openb")
    assert fit.cpu_scale == 3.0
    pools = {p.name: p for c in city.scaled(fit.scale, fit.cpu_scale) for p in c.pools}
    base = {p.name: p for c in city.centres for p in c.pools}
    assert pools["cpu"].nodes == base["cpu"].nodes * 3
    assert pools["a100"].nodes == max(1, round(base["a100"].nodes * fit.scale))  # cards keep the trace's scale
