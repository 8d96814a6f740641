"""Lookup tables are on-chip ROMs (memory_policy.rom_arrays): a LayerNorm's rsqrt table and a LUT
activation's table cost on-chip reads per look-up at the table's width (energy) and on-chip
bytes (the policy's budget, the advisor's BRAM), never DRAM words, whatever the weights policy."""
from __future__ import annotations

import numpy as np
from onnx import helper

import fpga_sim
from fpga_sim.advise import BRAM36_BITS, resources
from fpga_sim.hardware import Hardware
from fpga_sim.memory_policy import resolve, rom_arrays
from fpga_sim.tiling import word_bytes
from tests.helpers_onnx import make_model, rng_weights

ROWS, M = 6, 16


def _qg():
    nodes = [helper.make_node("LayerNormalization", ["x", "g", "b"], ["n"], axis=-1, name="ln"),
             helper.make_node("Sigmoid", ["n"], ["y"], name="sig")]
    inits = {"g": 1.0 + rng_weights(1, M, scale=0.1), "b": rng_weights(2, M, scale=0.1)}
    model = make_model(nodes, {"x": [1, ROWS, M]}, {"y": None}, inits, opset=17, name="rom")
    x = np.random.default_rng(0).normal(0.0, 1.0, (4, ROWS, M))
    return fpga_sim.quantize(fpga_sim.load_onnx(model), calibration=x, precision="ap_fixed<16,6>"), x


def _reports(qg, x, hw):
    return {r.op: r for r in fpga_sim.simulate(qg, x, hardware=hw).layers}


def test_table_reads_are_on_chip_reads_at_the_table_width():
    qg, x = _qg()
    hw = Hardware(n_dsp=16, weights="dram", activations="on_chip")
    et = hw.energy
    reps = _reports(qg, x, hw)
    ln, sig = qg.graph.node("ln"), qg.graph.node("sig")
    (gw, gb), (bw, bb), (tw, tb) = rom_arrays(ln, qg)
    assert gw == bw == M and tw == qg.qparams["ln"]["table"].size and tb == ln.attrs.table.table_type.width
    n, ib = ROWS * M, qg.tensor_types["x"].width
    want = n * 6 * et.memory("sram_read", ib) + n * (et.memory("sram_read", gb) + et.memory("sram_read", bb)) \
        + ROWS * et.memory("sram_read", tb)
    rep = reps["LayerNormalization"]
    assert rep.energy_pj["sram_read"] == want
    assert rep.sram_reads == n * 6 + 2 * n + ROWS
    ((sw, sb),) = rom_arrays(sig, qg)
    lut = next(r for op, r in reps.items() if op != "LayerNormalization")
    assert lut.sram_reads == 2 * n and sw == 1 << sig.attrs.table_bits
    for r in (rep, lut):       # weights in DRAM: the tables are still never read from DRAM
        assert r.memory["weight_reads"] == 0 and r.dram_reads == r.memory["input_reads"]
        assert r.energy_pj["dram_read"] == r.dram_reads * et.memory("dram_read", ib)
    assert lut.dram_reads == 0 < rep.dram_reads == n           # only the network input


def test_tables_count_on_chip_in_the_budget_and_the_bram():
    qg, _ = _qg()
    arrays = [a for n in qg.nodes for a in rom_arrays(n, qg)]
    rom = sum(word_bytes(w, b) for w, b in arrays)
    pol = resolve(qg, Hardware(n_dsp=16))
    assert pol.rom_bytes == rom > 2048 and f"{rom:,} B on chip" in pol.reason
    res = resources(qg, Hardware(n_dsp=16))
    assert res["rom_bits"] == res["param_bits"] == sum(w * b for w, b in arrays)
    assert res["bram36"] == sum(-(-w * b // BRAM36_BITS) for w, b in arrays)
    tight = Hardware(n_dsp=16, part="xc7z020", sram_bytes=Hardware(part="xc7z020").part_info.onchip_bytes - rom + 1)
    try:
        resolve(qg, tight)
    except fpga_sim.errors.ConfigError as e:
        assert "tables and constants of non-MAC layers" in str(e)
    else:
        raise AssertionError("the tables do not fit beside that tile SRAM; the policy must refuse")
