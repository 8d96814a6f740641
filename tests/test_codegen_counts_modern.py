"""One machine for the modern ops (issue 19): the counting C-simulation (-DFPGA_SIM_COUNT) of the
HLS generated for the family models (ViT block, MobileNetV3 with squeeze-excite, a UNet with
ConvTranspose and Resize, ShuffleNet), a QDQ CNN (the integer requantiser) and a chain of the
table and layout ops no family uses (InstanceNorm, Exp, Sqrt, Reciprocal, DepthToSpace,
ReduceMax) counts, per layer, exactly the DRAM words and compute cycles the simulator charged,
with everything in DRAM and with the default policy; and it computes the engine's output bits.

One g++ compile for the whole module (the counting batch binary)."""
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

BATCH = 2
POLICIES = {"auto": Hardware(n_dsp=16),
            "dram": Hardware(n_dsp=16, weights="dram", activations="dram", sram_bytes=48_000)}
FAMILIES = ("vit", "mobilenet_v3", "unet", "shufflenet_v2")
# op kinds whose kernels these models must exercise (each a kernel of its own in hls_templates/nnet)
OPS = {"Transpose", "Slice", "Gather", "ZeroInsert", "Resize", "DepthToSpace", "LayerNormalization",
       "InstanceNormalization", "SoftmaxLut", "MatMul", "ReduceMean", "ReduceMax", "Exp", "Sqrt",
       "Reciprocal", "Gelu", "HardSwish", "HardSigmoid", "Requant"}


def _tables_chain():
    """InstanceNorm -> Exp -> Sqrt -> Reciprocal -> DepthToSpace -> ReduceMax on (8, 4, 4)."""
    nodes = [helper.make_node("InstanceNormalization", ["x", "g", "b"], ["n"], name="inorm"),
             helper.make_node("Exp", ["n"], ["e"], name="exp"),
             helper.make_node("Sqrt", ["e"], ["s"], name="sqrt"),
             helper.make_node("Reciprocal", ["s"], ["r"], name="recip"),
             helper.make_node("DepthToSpace", ["r"], ["d"], blocksize=2, name="d2s"),
             helper.make_node("ReduceMax", ["d"], ["y"], axes=[3], keepdims=1, name="rmax")]
    inits = {"g": 1.0 + rng_weights(1, 8, scale=0.2), "b": rng_weights(2, 8, scale=0.3)}
    return make_model(nodes, {"x": [1, 8, 4, 4]}, {"y": None}, inits, name="tables")


def _graphs():
    from tests.family_models import FAMILIES as SHAPES, export
    from tests.helpers_qdq import float_cnn, qdq_model

    for name in FAMILIES:
        yield name, fpga_sim.load_onnx(export(name)), SHAPES[name][1][1:], "auto<24>"
    yield "tables", fpga_sim.load_onnx(_tables_chain()), (8, 4, 4), "auto<24>"
    yield "qdq", fpga_sim.load_onnx(qdq_model(float_cnn(), True, True, "QUInt8")), (1, 8, 8), None


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("counts_modern")
    cases, jobs = [], []
    for gname, graph, shape, precision in _graphs():
        x = np.random.default_rng(len(gname)).normal(0.0, 1.0, (BATCH,) + tuple(shape))
        if gname == "qdq":
            x = np.abs(x) / 4.0
        qg = fpga_sim.quantize(graph, calibration=x, precision=precision) if precision else fpga_sim.quantize(graph)
        for pname, hw in POLICIES.items():
            sim = fpga_sim.simulate(qg, x, hardware=hw)
            project = f"{gname}{pname}".replace("_", "")
            out = codegen.write_hls(qg, root / project, hardware=hw, sim=sim, project_name=project)
            cases.append({"graph": gname, "policy": pname, "sim": sim, "qg": qg, "dir": out, "hw": hw})
            jobs.append((out, x))
    for c, (o, counts) in zip(cases, codegen.count_batch(jobs, root / "build_count")):
        c.update(count_out=o, counts=counts)
    return cases


def test_counts_equal_the_simulator_for_every_layer_of_every_op(built):
    seen = set()
    for c in built:
        reps = {r.name: r for r in c["sim"].layers}
        assert c["counts"], (c["graph"], c["policy"])
        for row in c["counts"]:
            rep = reps[row["node"]]
            want = {"input_reads": rep.memory.get("input_reads", 0), "weight_reads": rep.memory.get("weight_reads", 0),
                    "writes": rep.dram_writes, "cycles": rep.compute_cycles}
            got = {k: row[k] for k in want}
            assert got == want, (c["graph"], c["policy"], rep.op, row["node"])
            assert got["input_reads"] + got["weight_reads"] == rep.dram_reads
            if rep.compute_cycles:
                seen.add(rep.op)
    assert OPS <= seen, f"not exercised: {sorted(OPS - seen)}"


def test_counting_build_computes_the_engine_bits(built):
    compared = 0
    for c in built:
        assert set(c["count_out"]) == set(c["sim"].outputs_raw)
        for t, v in c["count_out"].items():
            assert np.unique(v).size > 1
            assert np.array_equal(v, c["sim"].outputs_raw[t]), (c["graph"], c["policy"], t)
            compared += 1
    assert compared == len(built)


def test_tables_are_the_roms_the_simulator_costs(built):
    """Each table/layout/norm layer's on-chip constants in the generated design (bytes of its
    parameter headers) are the ROMs the memory policy keeps on chip; with weights in DRAM they
    are still never read over m_axi (counted and simulated)."""
    from codegen.project import build_context
    from fpga_sim.memory_policy import resolve, rom_arrays
    from fpga_sim.tiling import word_bytes

    checked = 0
    for c in (c for c in built if c["policy"] == "dram"):
        qg, hw = c["qg"], c["hw"]
        ctx = build_context(qg, "p", {r.name: r for r in c["sim"].layers}, hw, "xczu3eg", "/x")
        for layer in ctx["layers"]:
            if layer["op"] not in OPS:
                continue
            node = qg.graph.node(layer["key"])
            hls = sum(p["count"] * ((p["bits"] + 7) // 8) for p in layer["params"])
            assert hls == sum(word_bytes(w, b) for w, b in rom_arrays(node, qg)), (c["graph"], layer["op"])
            checked += 1
            rep = next(r for r in c["sim"].layers if r.name == node.name)
            row = next(r for r in c["counts"] if r["node"] == node.name)
            assert rep.memory["weight_reads"] == row["weight_reads"] == 0
        assert resolve(qg, hw).rom_bytes > 0
    assert checked > 30
