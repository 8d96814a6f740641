"""`advise` on a layer whose narrowest exact types are known, on the layer built to overflow, and on
the shipped models through the CLI (the config it writes is what simulate/compare --config run)."""
from __future__ import annotations

import itertools
import json

import numpy as np
import onnx
import pytest

from fpga_sim.advise import advise, fitting, resources
from fpga_sim.cli import main
from fpga_sim.errors import FpgaSimError
from fpga_sim.fixed import Fixed
from fpga_sim.hardware import Hardware
from fpga_sim.onnx_import import load_onnx
from fpga_sim.quantization import quantize
from fpga_sim.simulation import run_float, simulate
from tests.test_overflow_report import X, sum_diff_model

# Every input pair on a half-integer grid: x needs 1 fractional bit and 3 integer bits (|x| <= 3.5),
# W = +-1 needs none (ap_fixed<2,2> holds -2..1), y = relu(W x) lies in [-7, 7] on halves.
GRID = np.array(list(itertools.product(np.arange(-7, 8) * 0.5, repeat=2)))


def _agreement(qg, x) -> float:
    ref = run_float(qg.graph, x)["z"]
    return float(np.mean(simulate(qg, x).outputs["z"].argmax(1) == ref.argmax(1)))


def test_exactness_needs_exactly_the_bits_the_values_have():
    g = load_onnx(sum_diff_model())
    adv = advise(g, GRID, GRID, GRID, target_agreement=1.0, target_sqnr_db=300.0)   # inf dB: bit-exact outputs
    safe = quantize(g, config={"LayerName": {"x": {"Precision": {"result": "ap_fixed<4,3>"}},
                                             "fc": {"Precision": {"weight": "ap_fixed<2,2>"}}}}).layer_types["fc"].accum
    assert adv.types["x"] == {"result": "ap_fixed<4,3,AP_RND,AP_SAT>"}
    assert adv.types["fc"] == {"weight": "ap_fixed<2,2,AP_RND,AP_SAT>", "result": "ap_fixed<5,4,AP_RND,AP_SAT>",
                               "accum": str(Fixed(safe.int_bits + 1, safe.int_bits))}
    assert adv.agreement == 1.0 and adv.sqnr_db == float("inf") and adv.widened == []


def test_bisection_leaves_every_slot_one_bit_above_a_failing_width():
    g = load_onnx(sum_diff_model())
    adv = advise(g, GRID, GRID, GRID, target_agreement=1.0)
    for layer, slots in adv.types.items():
        for slot, spelled in slots.items():
            t = Fixed.parse(spelled)
            w = t.frac if slot == "accum" else t.width
            tried = {tr.width: tr.passed for tr in adv.trials if (tr.layer, tr.slot) == (layer, slot)}
            assert tried.get(w, True) and (tried.get(w - 1) is False or w - 1 < (-1 if slot == "accum" else 2))
    qg = quantize(g, config=adv.config)
    assert _agreement(qg, GRID) == adv.agreement == 1.0                        # recomputed independently


def test_the_overflowing_layer_gets_types_that_hold_its_range():
    g = load_onnx(sum_diff_model())
    narrow = quantize(g, precision="ap_fixed<16,6>", config={"LayerName": {"fc": {"Precision": {"result": "ap_fixed<8,3>"}}}})
    assert simulate(narrow, X).totals["overflows"] == 3                        # the known count
    adv = advise(g, GRID, GRID, X, target_agreement=1.0)
    qg = quantize(g, config=adv.config)
    assert Fixed.parse(adv.types["fc"]["result"]).max >= 5.5 and simulate(qg, X).totals["overflows"] == 0


def test_costs_count_the_narrower_parameters():
    g = load_onnx(sum_diff_model())
    wide, narrow = quantize(g, precision="ap_fixed<16,6>"), quantize(g, precision="ap_fixed<4,3>")
    cw, cn = resources(wide, Hardware()), resources(narrow, Hardware())
    assert (cw["param_bits"], cn["param_bits"]) == (6 * 16, 6 * 4)            # 4 weights + 2 biases
    assert cn["energy_pj"] < cw["energy_pj"] and cw["bram36"] == cn["bram36"] == 2


def test_fitting_counts_rounding_at_the_top():
    assert str(fitting(3, 0.12)) == "ap_fixed<3,-1,AP_RND,AP_SAT>"          # 0.12 rounds to 0.125 > max of <3,-2>
    assert str(fitting(2, 1.0)) == "ap_fixed<2,2,AP_RND,AP_SAT>"


def test_impossible_targets_say_what_to_change():
    g = load_onnx(sum_diff_model())
    with pytest.raises(FpgaSimError, match="budget-bits|raise"):
        advise(g, GRID, GRID, GRID, target_agreement=1.0, target_sqnr_db=300.0, budget_bits=3)
    with pytest.raises(FpgaSimError, match="target agreement"):
        advise(g, GRID, GRID, GRID, target_agreement=1.5)
    assert main(["advise", "lenet", "--target-agreement", "2"]) == 2


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lenet", "mlp"])
def test_advise_a_shipped_model_and_run_its_config(name, tmp_path, capsys):
    cfg = tmp_path / f"{name}.toml"
    assert main(["advise", name, "--out", str(cfg), "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["agreement"] >= 0.99 and rec["config_file"] == str(cfg)
    assert rec["savings"]["energy_pj"] > 0.3 and rec["savings"]["param_bits"] > 0.5
    assert main(["compare", name, "--config", str(cfg), "--json"]) == 0        # the same agreement, through compare
    cmp = json.loads(capsys.readouterr().out)
    assert cmp["agreement"] == rec["agreement"]
    assert main(["simulate", name, "--config", str(cfg), "--samples", "8", "--quiet"]) == 0
    for layer, slots in rec["types"].items():
        for slot, t in slots.items():
            assert Fixed.parse(t).width <= max(16, Fixed.parse(rec["default_types"][layer][slot]).width)


def test_cli_writes_a_config_simulate_takes(tmp_path, capsys):
    model, cfg = tmp_path / "m.onnx", tmp_path / "adv.toml"
    onnx.save(sum_diff_model(), str(model))
    assert main(["advise", str(model), "--out", str(cfg), "--target-agreement", "1", "--quiet"]) == 0
    line, fig = capsys.readouterr().out.strip().splitlines()[-2:]
    assert line.startswith("agreement 100.00% (target 1.0)") and line.endswith(str(cfg))
    assert fig == f"figure: {cfg.with_suffix('.png')}" and cfg.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    assert cfg.read_text().startswith("# fpga-sim advise") and "[LayerName.\"fc\".Precision]" in cfg.read_text()
    # not digits: advise and compare both take the seeded uniform [0, 1) inputs
    assert main(["compare", str(model), "--config", str(cfg), "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["agreement"] == 1.0 and rec["overflow_warnings"] == []
    # the user's data: the half-integer grid needs its fractional bit, which [0, 1) inputs did not show
    x = tmp_path / "grid.npy"
    np.save(x, GRID)
    assert main(["advise", str(model), "--input", str(x), "--out", str(cfg), "--target-agreement", "1",
                 "--target-sqnr", "300", "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["types"]["x"]["result"] == "ap_fixed<4,3,AP_RND,AP_SAT>" and rec["samples"] == len(GRID)
