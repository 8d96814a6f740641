"""The lecture's table must come out of the general engine."""
import json

import pytest

from fpga_sim.hardware import Hardware
from fpga_sim.results import dumps
from fpga_sim.seed_analysis import lecture_layer, plot_seed_sweep, run_seed_analysis


@pytest.fixture(scope="module")
def result():
    return run_seed_analysis()


def test_lecture_table(result):
    got = {r["kernel"]: (r["outputs"], r["cycles"], r["bound"]) for r in result["rows"]}
    assert got == {"5x5": (405, 405, "balanced"), "9x9": (125, 500, "compute"), "1x1": (845, 845, "bandwidth")}
    one = next(r for r in result["rows"] if r["kernel"] == "1x1")
    assert one["compute_only_cycles"] == 34 and one["bound_text"] == "DRAM write bandwidth"
    five = next(r for r in result["rows"] if r["kernel"] == "5x5")
    assert five["mult_utilisation"] == pytest.approx(1.0) and five["write_utilisation"] == pytest.approx(1.0)


def test_energy_rows_fixed_vs_float32(result):
    for r in result["rows"]:
        assert set(r["energy_breakdown_pj"]) == {"mult", "add", "sram_read", "sram_write", "dram_read", "dram_write"}
        assert r["energy_float32_pj"] > r["energy_pj"] > 0
        assert r["memory_energy_share"] > 0.5         # the lecture's point, as a number
        assert r["overflows"] == 0 and r["max_abs_error"] < 0.02
    ops = {row["operation"]: row["pj"] for row in result["energy_table"]["rows"]}
    assert ops["32 bit DRAM read"] == 640 and ops["32 bit int ADD"] == pytest.approx(0.1)


def test_sweep_turns_from_bandwidth_to_compute(result):
    sweep = result["sweep"]
    assert [r["k"] for r in sweep] == list(range(1, 14))
    assert all(r["bound"] == "bandwidth" for r in sweep if r["k"] < result["turn_kernel"])
    assert all(r["bound"] in ("balanced", "compute") for r in sweep if r["k"] >= result["turn_kernel"])
    for r in sweep:   # the simulated cycles equal the larger of the two closed-form limits here
        assert r["cycles"] == max(r["compute_only_cycles"], r["write_only_cycles"])
    json.loads(dumps(result))


def test_other_hardware_changes_the_answer():
    r = run_seed_analysis(Hardware.lecture().replace(dram_write_words_per_cycle=5.0), sweep=(1,))
    one = next(x for x in r["rows"] if x["kernel"] == "1x1")
    assert one["cycles"] == 169 and one["bound"] == "bandwidth"


def test_plot(tmp_path, result):
    p = plot_seed_sweep(result, tmp_path / "seed.png")
    assert p.stat().st_size > 10_000 and p.read_bytes()[:4] == b"\x89PNG"


def test_lecture_layer_shapes():
    node, qg = lecture_layer(9)
    assert qg.graph.shapes["fmap9"] == (5, 5, 5) and node.params["weight"].shape == (5, 1, 9, 9)
