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
    # utilisations by hand: MACs / (25 DSPs x cycles), DRAM writes / cycles
    for r, (outputs, k2, cycles) in zip(result["rows"], [(405, 25, 405), (125, 81, 500), (845, 1, 845)]):
        assert r["mult_utilisation"] == pytest.approx(outputs * k2 / (25 * cycles)), r["kernel"]
        assert r["write_utilisation"] == pytest.approx(outputs / cycles), r["kernel"]
        assert r["latency_us"] == pytest.approx(cycles / Hardware.lecture().clock_mhz), r["kernel"]


def test_energy_rows_fixed_vs_float32(result):
    for r in result["rows"]:
        assert set(r["energy_breakdown_pj"]) == {"mult", "add", "sram_read", "sram_write", "dram_read", "dram_write"}
        assert r["energy_float32_pj"] > r["energy_pj"] > 0
        assert r["memory_energy_share"] > 0.5         # the lecture's point, as a number
        assert r["overflows"] == 0 and r["max_abs_error"] < 0.02
    ops = {row["operation"]: row["pj"] for row in result["energy_table"]["rows"]}
    assert ops["32 bit DRAM read"] == 640 and ops["32 bit int ADD"] == pytest.approx(0.1)


def _closed_form(k: int) -> tuple[int, int, int, str]:
    """(outputs, compute cycles, write cycles, bound) of a k x k kernel on the lecture's machine,
    from DESIGN.md's schedule alone: 13x13 image, 5 kernels, M = 25 multipliers, 1 write/cycle."""
    outputs, kk, m = 5 * (13 - k + 1) ** 2, k * k, 25
    compute = outputs * -(-kk // m) if kk >= m else -(-outputs // (m // kk))
    writes = outputs
    bound = "bandwidth" if compute < writes else "balanced" if compute == writes else "compute"
    return outputs, compute, writes, bound


def test_sweep_turns_from_bandwidth_to_compute(result):
    sweep = result["sweep"]
    assert [r["k"] for r in sweep] == list(range(1, 14))
    for r in sweep:   # every point against the closed form, not against the engine's own limits
        outputs, compute, writes, bound = _closed_form(r["k"])
        assert (r["outputs"], r["compute_only_cycles"], r["write_only_cycles"]) == (outputs, compute, writes), r["k"]
        assert (r["cycles"], r["bound"]) == (max(compute, writes), bound), r["k"]
    # 4x4 (16 MACs, one output per cycle) is the first kernel that keeps up with the write port
    assert result["turn_kernel"] == min(k for k in range(1, 14) if _closed_form(k)[3] != "bandwidth") == 4
    assert result["compute_bound_from"] == min(k for k in range(1, 14) if _closed_form(k)[3] == "compute") == 6
    json.loads(dumps(result))


# The lecture's 45 nm table (pJ at 32 bits), typed here from the slide, not read from the code.
INT_ADD, FLOAT_ADD, INT_MULT, FLOAT_MULT, SRAM_READ, DRAM = 0.1, 0.9, 3.1, 3.7, 5.0, 640.0


def test_energies_by_hand_from_the_lecture_table(result):
    """Each row's energy, counted by hand: every MAC one multiply, one add and two SRAM reads,
    every output one DRAM write; nothing read from DRAM (data in SRAM).  16-bit operands scale
    the 32-bit figures as documented: multiplies by (16/32)^2, adds and memory by bits/32."""
    for r in result["rows"]:
        k = r["k"]
        outputs = 5 * (13 - k + 1) ** 2
        macs = outputs * k * k
        node, qg = lecture_layer(k)
        acc_bits = qg.layer_types[node.name].accum.width
        fixed = {"mult": macs * INT_MULT * (16 / 32) ** 2, "add": macs * INT_ADD * acc_bits / 32,
                 "sram_read": 2 * macs * SRAM_READ * 16 / 32, "sram_write": 0.0, "dram_read": 0.0,
                 "dram_write": outputs * DRAM * 16 / 32}
        f32 = {"mult": macs * FLOAT_MULT, "add": macs * FLOAT_ADD, "sram_read": 2 * macs * SRAM_READ,
               "sram_write": 0.0, "dram_read": 0.0, "dram_write": outputs * DRAM}
        assert r["energy_breakdown_pj"] == pytest.approx(fixed), r["kernel"]
        assert r["energy_float32_breakdown_pj"] == pytest.approx(f32), r["kernel"]
        assert r["energy_pj"] == pytest.approx(sum(fixed.values()))
        assert r["energy_float32_pj"] == pytest.approx(sum(f32.values()))
        mem = fixed["sram_read"] + fixed["dram_write"]
        assert r["memory_energy_share"] == pytest.approx(mem / sum(fixed.values()))
    # e.g. 1x1 in float32: 845 x (3.7 + 0.9 + 2 x 5) + 845 x 640 pJ
    one = next(r for r in result["rows"] if r["kernel"] == "1x1")
    assert one["energy_float32_pj"] == pytest.approx(553_137.0)


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
