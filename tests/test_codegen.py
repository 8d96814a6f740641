"""codegen: the generated HLS C++, compiled with g++ against Xilinx's ap_fixed.h, computes exactly
what fpga_sim.simulate() computes, on every output value of a batch.

All projects of the module are built into one g++ binary (`codegen.csim_batch`): ap_fixed.h is
parsed once, which keeps the module to a single compile.  Models are built here with
onnx.helper and random weights so the test does not depend on the model zoo.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from onnx import helper

import codegen
from codegen.csim import _up_to_date
import fpga_sim
from fpga_sim.errors import CheckFailed, ConfigError
from fpga_sim.hardware import Hardware
from tests.helpers_onnx import make_model, rng_weights

# every test here uses the module's one g++ build (about half a minute on two cores)
pytestmark = [pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed"),
              pytest.mark.slow, pytest.mark.gxx]

PRECISIONS = ("ap_fixed<16,6>", "ap_fixed<8,3,AP_RND,AP_SAT>")
BATCH = 6


def _mlp():
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1, name="fc1"),
             helper.make_node("Relu", ["h"], ["hr"], name="relu1"),
             helper.make_node("Gemm", ["hr", "w2", "b2"], ["logits"], transB=1, name="fc2"),
             helper.make_node("Softmax", ["logits"], ["y"], axis=1, name="softmax")]
    inits = {"w1": rng_weights(1, 24, 64), "b1": rng_weights(2, 24, scale=0.1),
             "w2": rng_weights(3, 10, 24), "b2": rng_weights(4, 10, scale=0.1)}
    return make_model(nodes, {"x": [1, 64]}, {"y": None}, inits, name="mlp"), (64,)


def _lenet():
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2], name="pool1"),
             helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], name="conv2"),
             helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
             helper.make_node("Flatten", ["r2"], ["f"], axis=1, name="flatten"),
             helper.make_node("Gemm", ["f", "w3", "b3"], ["h"], transB=1, name="fc1"),
             helper.make_node("Relu", ["h"], ["hr"], name="relu3"),
             helper.make_node("Gemm", ["hr", "w4", "b4"], ["y"], transB=1, name="fc2")]
    inits = {"w1": rng_weights(1, 6, 1, 3, 3), "b1": rng_weights(2, 6, scale=0.1),
             "w2": rng_weights(3, 12, 6, 3, 3), "b2": rng_weights(4, 12, scale=0.1),
             "w3": rng_weights(5, 24, 48), "b3": rng_weights(6, 24, scale=0.1),
             "w4": rng_weights(7, 10, 24), "b4": rng_weights(8, 10, scale=0.1)}
    return make_model(nodes, {"x": [1, 1, 8, 8]}, {"y": None}, inits, name="lenet"), (1, 8, 8)


def _squeezenet():
    nodes = [helper.make_node("Conv", ["x", "w0", "b0"], ["c0"], pads=[1, 1, 1, 1], name="conv0"),
             helper.make_node("Relu", ["c0"], ["r0"]),
             helper.make_node("MaxPool", ["r0"], ["p0"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["p0", "ws", "bs"], ["s"], name="fire_squeeze"),
             helper.make_node("Relu", ["s"], ["sr"]),
             helper.make_node("Conv", ["sr", "we1", "be1"], ["e1"], name="fire_expand1x1"),
             helper.make_node("Relu", ["e1"], ["e1r"]),
             helper.make_node("Conv", ["sr", "we3", "be3"], ["e3"], pads=[1, 1, 1, 1], name="fire_expand3x3"),
             helper.make_node("Relu", ["e3"], ["e3r"]),
             helper.make_node("Concat", ["e1r", "e3r"], ["cat"], axis=1, name="fire_concat"),
             helper.make_node("Conv", ["cat", "wc", "bc"], ["cls"], name="classifier"),
             helper.make_node("GlobalAveragePool", ["cls"], ["gap"]),
             helper.make_node("Flatten", ["gap"], ["y"], axis=1)]
    inits = {"w0": rng_weights(1, 8, 1, 3, 3), "b0": rng_weights(2, 8, scale=0.1),
             "ws": rng_weights(3, 4, 8, 1, 1), "bs": rng_weights(4, 4, scale=0.1),
             "we1": rng_weights(5, 8, 4, 1, 1), "be1": rng_weights(6, 8, scale=0.1),
             "we3": rng_weights(7, 8, 4, 3, 3), "be3": rng_weights(8, 8, scale=0.1),
             "wc": rng_weights(9, 10, 16, 1, 1), "bc": rng_weights(10, 10, scale=0.1)}
    return make_model(nodes, {"x": [1, 1, 8, 8]}, {"y": None}, inits, name="squeezenet"), (1, 8, 8)


def _residual():
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], name="conv2"),
             helper.make_node("Add", ["c2", "r1"], ["s"], name="residual_add"),
             helper.make_node("Relu", ["s"], ["sr"]),
             helper.make_node("AveragePool", ["sr"], ["ap"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Flatten", ["ap"], ["f"], axis=1),
             helper.make_node("Gemm", ["f", "w3", "b3"], ["y"], transB=1, name="fc")]
    inits = {"w1": rng_weights(1, 4, 1, 3, 3), "b1": rng_weights(2, 4, scale=0.1),
             "w2": rng_weights(3, 4, 4, 3, 3), "b2": rng_weights(4, 4, scale=0.1),
             "w3": rng_weights(5, 10, 64), "b3": rng_weights(6, 10, scale=0.1)}
    return make_model(nodes, {"x": [1, 1, 8, 8]}, {"y": None}, inits, name="residual"), (1, 8, 8)


# Names a C++ file cannot hold raw: spaces, quotes, backslashes, comment terminators, keywords,
# standard and ap_types names (size -> size_t, uint8 -> uint8_t, AP_TRN), a preprocessor line,
# non-ASCII, and names that collide once sanitised.
HOSTILE = {"x": "in put \"x\"", "c1": "int", "r1": "*/ r1 /*", "c2": "r1 */", "s": "size",
           "bn": "class", "lk": "#define main", "pd": "uint8", "sg": "y = 1; // \\\"", "y": "AP_TRN"}


def _hostile():
    h = HOSTILE
    nodes = [helper.make_node("Conv", [h["x"], "w1", "b1"], [h["c1"]], pads=[1, 1, 1, 1], name="conv \"1\" */"),
             helper.make_node("Relu", [h["c1"]], [h["r1"]], name="return"),
             helper.make_node("Conv", [h["r1"], "w2", "b2"], [h["c2"]], pads=[1, 1, 1, 1], name="conv 1"),
             helper.make_node("Add", [h["c2"], h["r1"]], [h["s"]], name="conv_1"),
             helper.make_node("BatchNormalization", [h["s"], "g", "be", "mu", "var"], [h["bn"]], name="namespace"),
             helper.make_node("LeakyRelu", [h["bn"]], [h["lk"]], alpha=0.1, name="Ünïcode"),
             helper.make_node("Pad", [h["lk"], "pads"], [h["pd"]], name="//"),
             helper.make_node("Sigmoid", [h["pd"]], [h["sg"]], name="while"),
             helper.make_node("Tanh", [h["sg"]], [h["y"]], name="\n#include <evil>\n")]
    inits = {"w1": rng_weights(1, 4, 1, 3, 3), "b1": rng_weights(2, 4, scale=0.1),
             "w2": rng_weights(3, 4, 4, 3, 3), "b2": rng_weights(4, 4, scale=0.1),
             "g": 1 + rng_weights(5, 4, scale=0.2), "be": rng_weights(6, 4, scale=0.1),
             "mu": rng_weights(7, 4, scale=0.1), "var": 0.5 + np.abs(rng_weights(8, 4, scale=0.5)),
             "pads": np.array([0, 0, 1, 0, 0, 0, 0, 1], dtype=np.int64)}
    return make_model(nodes, {h["x"]: [1, 1, 6, 6]}, {h["y"]: None}, inits, name="hostile */"), (1, 6, 6)


def _corners():
    """Geometry and arithmetic corners: depthwise strided dilated conv, asymmetric pads, ReLU6,
    Mul by a per-channel constant, average pool counting pads, narrow saturating accumulators
    (where the order of the sums matters), an unsigned result type."""
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[2, 1, 1, 0], strides=[2, 1],
                              dilations=[1, 2], name="conv1"),
             helper.make_node("Clip", ["c1", "lo", "hi"], ["r1"], name="relu6"),
             helper.make_node("Conv", ["r1", "w2"], ["c2"], group=4, pads=[1, 1, 1, 1], strides=[2, 2], name="dw"),
             helper.make_node("AveragePool", ["c2"], ["ap"], kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1],
                              count_include_pad=1, name="avg"),
             helper.make_node("Mul", ["ap", "sc"], ["m"], name="scale"),   # not after a conv: not folded
             helper.make_node("Tanh", ["m"], ["t"], name="tanh"),
             helper.make_node("Flatten", ["t"], ["f"], axis=1),
             helper.make_node("Gemm", ["f", "w3", "b3"], ["y"], transB=1, name="fc")]
    inits = {"w1": rng_weights(1, 4, 2, 3, 3), "b1": rng_weights(2, 4, scale=0.5),
             "lo": np.array(0.0, np.float32), "hi": np.array(6.0, np.float32),
             "w2": rng_weights(3, 4, 1, 3, 3, scale=1.0), "sc": rng_weights(4, 1, 4, 1, 1, scale=1.0),
             "w3": rng_weights(5, 7, 24), "b3": rng_weights(6, 7, scale=0.1)}
    return make_model(nodes, {"x": [1, 2, 10, 7]}, {"y": None}, inits, name="corners"), (2, 10, 7)


def _two_ports():
    """Two inputs and three outputs (one also feeds a later layer), and a dense layer applied to
    every row of a (C, H, W) tensor: several m_axi ports, the dense kernel's row loop."""
    nodes = [helper.make_node("Add", ["a", "b"], ["s"], name="add"),
             helper.make_node("Conv", ["s", "w", "bias"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Tanh", ["c"], ["y"], name="tanh"),
             helper.make_node("MatMul", ["y", "wm"], ["z"], name="rows")]   # dense on each of 3x5 rows
    inits = {"w": rng_weights(1, 3, 2, 3, 3), "bias": rng_weights(2, 3, scale=0.1), "wm": rng_weights(3, 5, 4)}
    return make_model(nodes, {"a": [1, 2, 5, 5], "b": [1, 2, 5, 5]}, {"y": None, "s": None, "z": None}, inits,
                      name="two_ports"), (2, 5, 5)


CORNER_CONFIG = {"LayerName": {
    "conv1": {"Precision": {"accum": "ap_fixed<12,2,AP_RND,AP_SAT>"}},
    "dw": {"Precision": {"accum": "ap_fixed<12,3,AP_RND_CONV,AP_SAT_SYM>", "result": "ap_ufixed<10,3,AP_RND_ZERO,AP_SAT>"}},
    "fc": {"Precision": {"accum": "ap_fixed<10,1,AP_TRN_ZERO,AP_SAT>"}},
}}

MODELS = {"mlp": _mlp, "lenet": _lenet, "squeezenet": _squeezenet, "residual": _residual, "hostile": _hostile,
          "corners": _corners, "two_ports": _two_ports}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Every (model, precision) generated, simulated and C-simulated in one g++ binary."""
    root = tmp_path_factory.mktemp("codegen")
    hw = Hardware(n_dsp=16)
    cases, jobs = [], []
    for name, make in MODELS.items():
        model, shape = make()
        graph = fpga_sim.load_onnx(model)
        x = np.random.default_rng(len(name)).normal(0.0, 1.0, (BATCH,) + shape)
        if len(graph.inputs) > 1:
            x = {t: np.random.default_rng(k).normal(0.0, 1.0, (BATCH,) + shape) for k, t in enumerate(graph.inputs)}
        for j, prec in enumerate(PRECISIONS if name not in ("hostile", "two_ports") else PRECISIONS[:1]):
            config = CORNER_CONFIG if name == "corners" else None
            qg = fpga_sim.quantize(graph, calibration=x, precision=prec, config=config)
            sim = fpga_sim.simulate(qg, x, hardware=hw, trace=True)
            out = codegen.write_hls(qg, root / f"{name}{j}", hardware=hw, target="xczu3eg", sim=sim,
                                    project_name=f"{name}{j}")
            cases.append({"name": name, "precision": prec, "qg": qg, "sim": sim, "dir": out, "x": x})
            jobs.append((out, x))
    results = codegen.csim_batch(jobs, root / "build", qgs=[c["qg"] for c in cases])
    for c, r in zip(cases, results):
        c["csim"] = r
    return cases


def _case(built, name, prec):
    return next(c for c in built if c["name"] == name and c["precision"] == prec)


@pytest.mark.parametrize("prec", PRECISIONS)
@pytest.mark.parametrize("name", ["mlp", "lenet", "squeezenet", "residual", "corners"])
def test_csim_equals_engine(built, name, prec):
    c = _case(built, name, prec)
    sim, r = c["sim"], c["csim"]
    for t, raw in r.items():
        expected = sim.tensors_raw[t]
        assert raw.shape == expected.shape, t
        assert np.array_equal(raw, expected), f"{name} {prec}: {t} differs in {np.sum(raw != expected)} values"
    for t in c["qg"].graph.outputs:
        assert np.array_equal(r[t], sim.outputs_raw[t])
    # the comparison is not vacuous: outputs vary across the batch
    assert all(np.unique(v).size > 1 for v in r.values())


def test_two_inputs_three_outputs_and_row_dense(built):
    c = _case(built, "two_ports", PRECISIONS[0])
    meta = json.loads((c["dir"] / "project.json").read_text())
    assert [p["tensor"] for p in meta["inputs"]] == ["a", "b"]
    assert sorted(p["tensor"] for p in meta["outputs"]) == ["s", "y", "z"]
    assert c["sim"].outputs_raw["z"].shape == (BATCH, 3, 5, 4)
    for t in ("s", "y", "z"):
        assert np.array_equal(c["csim"][t], c["sim"].outputs_raw[t]), t


def test_cycles_without_a_simulation_equal_simulate(built, tmp_path):
    c = _case(built, "squeezenet", PRECISIONS[0])
    out = codegen.write_hls(c["qg"], tmp_path / "p", hardware=Hardware(n_dsp=16))   # costs from each op
    layers = json.loads((out / "report.json").read_text())["layers"]
    assert [layer["predicted_cycles"] for layer in layers] == [r.cycles for r in c["sim"].layers]


def test_host_layer_in_the_middle_is_refused(tmp_path):
    nodes = [helper.make_node("LogSoftmax", ["x"], ["p"], axis=1, name="softmax"),   # (a mid-graph Softmax runs on the accelerator: ops/softmax_lut.py)
             helper.make_node("Gemm", ["p", "w"], ["y"], transB=1, name="fc")]
    model = make_model(nodes, {"x": [1, 8]}, {"y": None}, {"w": rng_weights(1, 4, 8)})
    qg = fpga_sim.quantize(fpga_sim.load_onnx(model), precision="ap_fixed<16,6>")
    with pytest.raises(fpga_sim.UnsupportedModelError, match="'fc'.*host"):
        codegen.write_hls(qg, tmp_path / "p")
    assert list(tmp_path.iterdir()) == []


def test_corner_accumulators_saturate(built):
    """The narrow accumulators really saturate, so the C++ matched order-sensitive sums."""
    for prec in PRECISIONS:
        sim = _case(built, "corners", prec)["sim"]
        assert sim.layer("conv1").overflows > 0 and sim.layer("fc").overflows > 0, prec


def test_mlp_host_softmax_stays_out_of_the_top(built):
    c = _case(built, "mlp", PRECISIONS[0])
    meta = json.loads((c["dir"] / "project.json").read_text())
    assert meta["host_nodes"] == ["softmax"]
    assert [p["tensor"] for p in meta["outputs"]] == ["logits"]
    top = (c["dir"] / "firmware" / "mlp0.cpp").read_text()
    assert "softmax" not in top.split("#include")[-1].split("{", 1)[1]   # no call in the body
    assert "host" in (c["dir"] / "README.md").read_text()


def test_hostile_names_compile_and_match(built):
    c = _case(built, "hostile", PRECISIONS[0])
    assert set(c["qg"].graph.outputs) <= set(c["csim"])      # the loop below compares something
    for t, raw in c["csim"].items():
        assert np.array_equal(raw, c["sim"].tensors_raw[t]), t
    sources = [p for p in c["dir"].rglob("*") if p.suffix in (".h", ".cpp", ".tcl") or p.name == "Makefile"]
    text = "\n".join(p.read_text() for p in sources)
    for raw_name in list(HOSTILE.values()) + ["conv \"1\" */", "Ünïcode", "#include <evil>"]:
        if not raw_name.isidentifier():   # keywords (int, class) appear in any C++; compiling proves them
            assert raw_name not in text, raw_name
    assert not re.search(r"\b(int|class|return|namespace|while)\s*\[", text)   # no keyword used as a name
    assert "*/" not in re.sub(r"/\*.*?\*/", "", text, flags=re.S)  # no stray comment terminator
    idents = set(re.findall(r"\bvoid (\w+)\(", text))
    assert len([i for i in idents if i.startswith("layer")]) == len(c["qg"].nodes)  # distinct functions


def test_report_and_project_files(built):
    c = _case(built, "lenet", PRECISIONS[1])
    d = c["dir"]
    for f in ("firmware/defines.h", "firmware/lenet1.cpp", "firmware/lenet1.h", "tb/lenet1_tb.cpp",
              "build_prj.tcl", "Makefile", "README.md", "report.json", "project.json"):
        assert (d / f).is_file(), f
    report = json.loads((d / "report.json").read_text())
    by_node = {layer["node"]: layer for layer in report["layers"]}
    for r in c["sim"].layers:
        assert by_node[r.name]["predicted_cycles"] == r.cycles
    assert report["total_predicted_cycles"] == c["sim"].totals["cycles"]
    tcl = (d / "build_prj.tcl").read_text()
    assert "set_part xczu3eg-sbva484-1-e" in tcl and "csim_design" in tcl and "export_design" in tcl
    defines = (d / "firmware" / "defines.h").read_text()
    assert "ap_fixed<8,3,AP_RND,AP_SAT>" in defines
    top = (d / "firmware" / "lenet1.cpp").read_text()
    assert "m_axi" in top and "s_axilite port=return" in top and "BIND_STORAGE" in top


def test_multipliers_follow_the_machine(built):
    c = _case(built, "lenet", PRECISIONS[0])
    conv2 = (c["dir"] / "firmware" / "layers").glob("*conv2*.h")
    text = next(conv2).read_text()
    k = 6 * 3 * 3   # K = 54 >= M = 16: one output at a time, 16 products per cycle
    m = c["sim"].layer("conv2").multipliers
    assert m == 16                                    # 16 DSPs, a 16x16-bit product fits one DSP48E2
    assert m <= k and f"k_par = {m};" in text and "out_par = 1;" in text
    assert "partial_sums = true;" in text            # the safe accumulator wraps: products summed apart
    corner = _case(built, "corners", PRECISIONS[0])["dir"] / "firmware" / "layers"
    assert "partial_sums = false;" in next(corner.glob("*conv1*.h")).read_text()   # AP_SAT keeps the order


def test_compile_error_names_file_and_line(built, tmp_path):
    src = _case(built, "mlp", PRECISIONS[0])["dir"]
    broken = tmp_path / "broken"
    shutil.copytree(src, broken)
    layer = sorted((broken / "firmware" / "layers").glob("*.h"))[0]
    lines = layer.read_text().splitlines()
    lines.insert(5, "this is not C++;")
    layer.write_text("\n".join(lines))
    with pytest.raises(CheckFailed, match=re.escape(layer.name) + r":6:"):
        codegen.compile_csim(broken)


def test_failed_generation_leaves_nothing(built, tmp_path):
    qg = _case(built, "mlp", PRECISIONS[0])["qg"]
    with pytest.raises(ConfigError, match=r"project_name 'class' is not accepted; a C\+\+ identifier"):
        codegen.write_hls(qg, tmp_path / "prj", project_name="class")
    with pytest.raises(ConfigError, match=r"'xc7z020; rm -rf /' is not a part name; accepted: letters, digits"):
        codegen.write_hls(qg, tmp_path / "prj", target="xc7z020; rm -rf /")
    assert list(tmp_path.iterdir()) == []


def test_failure_mid_render_keeps_the_old_project(built, tmp_path, monkeypatch):
    import codegen.writer as writer

    qg = _case(built, "mlp", PRECISIONS[0])["qg"]
    out = codegen.write_hls(qg, tmp_path / "prj", project_name="first")
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    render = writer._render_all

    def render_then_fail(ctx, root):
        render(ctx, root)   # every file written into the temporary directory ...
        raise RuntimeError("disk full")   # ... then a failure before the rename

    monkeypatch.setattr(writer, "_render_all", render_then_fail)
    with pytest.raises(RuntimeError, match="disk full"):      # the injected failure, not another one
        codegen.write_hls(qg, tmp_path / "prj", project_name="second")
    with pytest.raises(RuntimeError, match="disk full"):
        codegen.write_hls(qg, tmp_path / "new", project_name="second")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prj"]          # no temp dirs, no half project
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    assert json.loads((out / "project.json").read_text())["project"] == "first"


def test_example_batch_goes_to_tb_data(built, tmp_path):
    c = _case(built, "lenet", PRECISIONS[1])
    out = codegen.write_hls(c["qg"], tmp_path / "p", x=c["x"][:2])
    lines = (out / "tb_data" / "input.dat").read_text().split("\n")
    assert lines[0] == "2"
    x_raw = c["qg"].tensor_types["x"].quantize(c["x"][:2]).reshape(2, -1)
    assert [list(map(int, line.split())) for line in lines[1:3]] == x_raw.tolist()
    empty = codegen.write_hls(c["qg"], tmp_path / "q")
    assert (empty / "tb_data" / "input.dat").read_text() == "0\n"


def test_single_project_csim_and_build_reuse(built):
    """`codegen.csim` on its own (its own g++ build), reused while the sources are unchanged."""
    c = _case(built, "two_ports", PRECISIONS[0])
    first: dict[str, float] = {}
    got = codegen.csim(c["dir"], c["x"], timings=first)
    assert all(np.array_equal(got[t], c["sim"].outputs_raw[t]) for t in ("s", "y", "z"))
    assert first["compile_s"] > 0 and first["run_s"] > 0
    again: dict[str, float] = {}
    codegen.csim(c["dir"], c["x"], timings=again)
    assert again["compile_s"] == 0.0
    layer = next((c["dir"] / "firmware" / "layers").glob("*.h"))
    layer.write_text(layer.read_text() + "\n")   # any edit makes the binary stale
    stamp = c["dir"] / "tb" / ".csim_command"
    assert not _up_to_date(c["dir"] / "two_ports0_csim", stamp, stamp.read_text().split("\n"), c["dir"])
