"""memory_policy: where each class of tensor lives, resolved for a graph on a machine, and what
the machine then charges to its DRAM ports (checked against counts written out by hand)."""
import numpy as np
import pytest
from onnx import helper

import fpga_sim
from fpga_sim.simulation import cost_report
from fpga_sim.errors import ConfigError
from fpga_sim.hardware import Hardware
from fpga_sim.memory_policy import layer_io, resolve, tensor_place
from tests.helpers_onnx import make_model, rng_weights


def _two_layers():
    """conv (1 -> 4 channels, 3x3, 6x6 -> 4x4) -> dense (64 -> 5); 16-bit everywhere."""
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c"], name="conv"),
             helper.make_node("Flatten", ["c"], ["f"], axis=1, name="flat"),
             helper.make_node("Gemm", ["f", "w2", "b2"], ["y"], transB=1, name="fc")]
    inits = {"w1": rng_weights(1, 4, 1, 3, 3), "b1": rng_weights(2, 4), "w2": rng_weights(3, 5, 64),
             "b2": rng_weights(4, 5)}
    g = fpga_sim.load_onnx(make_model(nodes, {"x": [1, 1, 6, 6]}, {"y": None}, inits, name="two"))
    x = np.random.default_rng(0).normal(size=(2, 1, 6, 6))
    return fpga_sim.quantize(g, calibration=x, precision="ap_fixed<16,6>")


QG = _two_layers()
WEIGHT_BYTES = 2 * (36 + 4 + 320 + 5)      # 16-bit weights and biases of both layers
ACT_BYTES = 2 * 64                          # the conv's output (the Flatten renames it)


def _costs(hw):
    sim = cost_report(QG, hw)
    return {r.name: r for r in sim.layers}


def test_auto_keeps_everything_on_chip_when_the_part_holds_it():
    pol = resolve(QG, Hardware())
    assert (pol.weights, pol.activations, pol.network_input) == ("on_chip", "on_chip", "dram")
    assert (pol.weight_bytes, pol.activation_bytes, pol.input_bytes) == (WEIGHT_BYTES, ACT_BYTES, 72)
    assert pol.reason.startswith("auto: xczu3eg has") and "weights 730 B -> on_chip" in pol.reason
    r = _costs(Hardware())
    assert (r["conv"].dram_reads, r["conv"].dram_writes) == (36, 0)      # only the network input
    assert (r["fc"].dram_reads, r["fc"].dram_writes) == (0, 5)           # only the network output
    assert r["flat"].bound == "layout" and tensor_place(QG, Hardware(), "f") == "on_chip"


def test_auto_falls_back_to_dram_when_the_part_is_full():
    # xc7a35t: 230,400 B of BRAM; a 230,000 B tile SRAM leaves 400 B: activations (128 B) fit, weights do not
    hw = Hardware(part="xc7a35t", n_dsp=16, sram_bytes=230_000)
    pol = resolve(QG, hw)
    assert (pol.weights, pol.activations) == ("dram", "on_chip") and pol.resident_budget == 400
    r = _costs(hw)
    assert r["conv"].dram_reads == 36 + 40 and r["fc"].dram_reads == 325      # input + weights; weights only
    with pytest.raises(ConfigError, match="weights=on_chip, activations=dram keeps 730 B on chip, but xc7a35t has 400 B "
                                          "beside sram_bytes=230,000"):
        resolve(QG, hw.replace(weights="on_chip"))


def test_the_lectures_setting_data_in_sram_outputs_to_dram():
    hw = Hardware(part="xc7z020", n_dsp=25, data_in_sram=True, activations="dram")
    pol = resolve(QG, hw)
    assert (pol.weights, pol.activations, pol.network_input) == ("on_chip", "dram", "on_chip")
    r = _costs(hw)
    assert (r["conv"].dram_reads, r["conv"].dram_writes) == (0, 64)      # image in SRAM, output to DRAM
    assert (r["fc"].dram_reads, r["fc"].dram_writes) == (64, 5)          # the spilled activation read back
    io = layer_io(QG.graph.node("fc"), QG, hw)
    assert io.inputs_in_dram == (True,) and not io.weights_in_dram and io.output_in_dram


def test_everything_in_dram():
    hw = Hardware(weights="dram", activations="dram")
    r = _costs(hw)
    assert (r["conv"].dram_reads, r["conv"].dram_writes) == (36 + 40, 64)
    assert (r["fc"].dram_reads, r["fc"].dram_writes) == (64 + 325, 5)
    assert r["conv"].memory["inputs"] == ["dram"] and r["conv"].memory["weights"] == "dram"
    assert r["conv"].bound == "load-then-compute"      # one tile: its load precedes its compute
