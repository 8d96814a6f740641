"""One machine: the counting C-simulation (-DFPGA_SIM_COUNT) of the generated HLS counts, per
layer, exactly the DRAM words and compute cycles the simulator charged, under several memory
policies, for the bundled model architectures and for layers tiled several times; and the
counting build computes the same output bits as the normal build (and as the engine).

Two g++ compiles for the whole module (the normal and the counting batch binary)."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
from onnx import helper

import codegen
import fpga_sim
from fpga_sim.hardware import Hardware
from tests.helpers_onnx import make_model, rng_weights

pytestmark = [pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed"),
              pytest.mark.slow, pytest.mark.gxx]

BATCH = 3
PRECISION = "ap_fixed<16,6>"
POLICIES = {
    # the default: weights and activations on chip when the part holds them (it does here)
    "auto": Hardware(n_dsp=16),
    # the lecture's setting: data (weights, input) in SRAM, every layer's output written to DRAM
    "lecture": Hardware(part="xc7z020", n_dsp=25, data_in_sram=True, activations="dram",
                        dram_write_words_per_cycle=1.0, fifo_depth=0, pipeline_latency=0, double_buffer=False),
    # everything in DRAM through a tile SRAM: weight tiles, double buffered
    "dram": Hardware(n_dsp=16, weights="dram", activations="dram", sram_bytes=48_000),
    # weights streamed, activations on chip, without double buffering (fewer, larger tiles)
    "dram_serial": Hardware(n_dsp=16, weights="dram", activations="on_chip", sram_bytes=48_000, double_buffer=False),
}
SMALL_SRAM = 6_000    # for the one-layer graphs: their layer runs in several tiles


def _zoo(name):
    from models.export import export_onnx
    from models.zoo import build

    return name, build(name), (1, 8, 8)


def _wide_dense():
    """One dense layer whose weights (512 x 96 16-bit words, 96 kB) exceed any tile SRAM above."""
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1, name="fc")]
    inits = {"w": rng_weights(11, 96, 512), "b": rng_weights(12, 96, scale=0.1)}
    return make_model(nodes, {"x": [1, 512]}, {"y": None}, inits, name="wide"), (512,)


def _wide_conv():
    """One 3x3 conv, 8 -> 96 channels on 6x6: 13,824 weight bytes, a 576-word input, 3,456 outputs."""
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1], name="conv")]
    inits = {"w": rng_weights(13, 96, 8, 3, 3), "b": rng_weights(14, 96, scale=0.1)}
    return make_model(nodes, {"x": [1, 8, 6, 6]}, {"y": None}, inits, name="wconv"), (8, 6, 6)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from models.export import export_onnx
    from models.zoo import build

    root = tmp_path_factory.mktemp("counts")
    graphs = {}
    for name in ("lenet", "mlp", "squeezenet"):
        graphs[name] = (fpga_sim.load_onnx(str(export_onnx(build(name), root / f"{name}.onnx"))), (1, 8, 8))
    for name, make in (("wide", _wide_dense), ("wconv", _wide_conv)):
        model, shape = make()
        graphs[name] = (fpga_sim.load_onnx(model), shape)
    cases, jobs = [], []
    for gname, (graph, shape) in graphs.items():
        x = np.random.default_rng(len(gname)).normal(0.0, 1.0, (BATCH,) + shape)
        qg = fpga_sim.quantize(graph, calibration=x, precision=PRECISION)
        for pname, hw in POLICIES.items():
            if pname == ("lecture" if gname in ("wide", "wconv") else "dram_serial"):
                continue      # three policies per graph keep the module to two g++ compiles of ~15 projects
            if gname in ("wide", "wconv") and hw.weights == "dram":
                hw = hw.replace(sram_bytes=SMALL_SRAM)
            sim = fpga_sim.simulate(qg, x, hardware=hw)
            project = f"{gname}_{pname}".replace("_", "")
            out = codegen.write_hls(qg, root / project, hardware=hw, sim=sim, project_name=project)
            cases.append({"graph": gname, "policy": pname, "sim": sim, "dir": out, "x": x, "qg": qg})
            jobs.append((out, x))
    # the normal build only for the all-DRAM projects (the others' normal builds are test_codegen's)
    normal_jobs = [j for c, j in zip(cases, jobs) if c["policy"] == "dram"]
    normal = iter(codegen.csim_batch(normal_jobs, root / "build"))
    counted = codegen.count_batch(jobs, root / "build_count")
    for c, (o, counts) in zip(cases, counted):
        c.update(normal=next(normal) if c["policy"] == "dram" else None, count_out=o, counts=counts)
    return cases


def _expected(rep):
    m = rep.memory
    return {"input_reads": m.get("input_reads", 0), "weight_reads": m.get("weight_reads", 0),
            "writes": rep.dram_writes, "cycles": rep.compute_cycles}


def test_counts_equal_the_simulator_for_every_layer(built):
    checked = 0
    for c in built:
        reps = {r.name: r for r in c["sim"].layers}
        assert c["counts"], c["dir"]
        for row in c["counts"]:
            rep = reps[row["node"]]
            got = {k: row[k] for k in ("input_reads", "weight_reads", "writes", "cycles")}
            assert got == _expected(rep), (c["graph"], c["policy"], row["node"])
            assert got["input_reads"] + got["weight_reads"] == rep.dram_reads
            checked += 1
    assert checked > 60


def test_counting_build_changes_no_output_bit(built):
    compared = 0
    for c in built:
        for t, v in c["count_out"].items():
            assert np.array_equal(v, c["sim"].outputs_raw[t]), (c["graph"], c["policy"], t)
        if c["normal"] is not None:
            assert set(c["normal"]) == set(c["count_out"]) and c["normal"]
            for t, v in c["normal"].items():
                assert np.array_equal(v, c["count_out"][t]), (c["graph"], c["policy"], t)
                compared += 1
    assert compared >= 5


def test_policies_move_the_traffic(built):
    def totals(graph, policy):
        c = next(c for c in built if c["graph"] == graph and c["policy"] == policy)
        return {k: sum(r[k] for r in c["counts"]) for k in ("input_reads", "weight_reads", "writes")}, c

    auto, c = totals("lenet", "auto")
    net_in = int(np.prod(c["qg"].graph.shapes[c["qg"].graph.inputs[0]]))
    assert auto == {"input_reads": net_in, "weight_reads": 0, "writes": 10}   # only the network's input and logits
    lecture, c = totals("lenet", "lecture")
    assert lecture["input_reads"] > 0 and lecture["weight_reads"] == 0
    assert lecture["writes"] == sum(r.outputs for r in c["sim"].layers if r.memory)   # every output to DRAM
    dram, _ = totals("lenet", "dram")
    assert dram["weight_reads"] > 0 and dram["writes"] == lecture["writes"]


def test_layers_larger_than_the_sram_run_in_several_tiles(built):
    for graph in ("wide", "wconv"):
        for policy in ("dram", "dram_serial"):
            c = next(c for c in built if c["graph"] == graph and c["policy"] == policy)
            rep = c["sim"].layers[0]
            assert rep.memory["tiles"] > 2 and rep.memory["sram_bytes_used"] <= SMALL_SRAM
            assert c["counts"][0]["weight_reads"] == rep.memory["weight_reads"] > 0
    db = next(c for c in built if c["graph"] == "wide" and c["policy"] == "dram")["sim"].layers[0]
    serial = next(c for c in built if c["graph"] == "wide" and c["policy"] == "dram_serial")["sim"].layers[0]
    assert db.memory["buffers"] == 2 and serial.memory["buffers"] == 1
    assert db.memory["tiles"] > serial.memory["tiles"]


def test_report_json_holds_policy_and_resources(built):
    import json

    c = next(c for c in built if c["graph"] == "lenet" and c["policy"] == "auto")
    report = json.loads((c["dir"] / "report.json").read_text())
    assert report["memory_policy"]["weights"] == "on_chip" and "auto" in report["memory_policy"]["reason"]
    res = report["resources"]
    assert 0 < res["dsp_used"] and res["onchip_bytes_used"] <= res["onchip_bytes_budget"] and res["fits"]
    layer = next(l for l in report["layers"] if l["predicted"])
    assert set(layer["predicted"]) >= {"dram_reads", "dram_writes", "compute_cycles"}
