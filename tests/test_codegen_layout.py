"""The layout kernels of codegen/layers_layout.py (Reshape, Concat on any axis, the index maps of
Transpose/Slice/Split/Gather/Expand/DepthToSpace/SpaceToDepth, Resize, ConvTranspose), C-simulated with g++ against
Xilinx's ap_fixed.h, bit for bit equal to the engine on every output of a batch."""
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
BATCH = 5
I64 = lambda *v: np.array(v, np.int64)  # noqa: E731


def _shuffle():
    """A ShuffleNet-like unit: channel shuffle, split, reversed strided slice, gather, concat on
    the width axis, space-to-depth and back, a broadcast row added back."""
    h = helper.make_node
    nodes = [h("Conv", ["x", "w1", "b1"], ["c"], pads=[1, 1, 1, 1], name="conv1"),
             h("Reshape", ["c", "s5"], ["r5"]), h("Transpose", ["r5"], ["t5"], perm=[0, 2, 1, 3, 4], name="shuffle"),
             h("Reshape", ["t5", "s4"], ["s"]),
             h("Split", ["s", "sp"], ["a", "b"], axis=1, name="split"),
             h("Slice", ["a", "st", "en", "ax", "stp"], ["a2"], name="rev"),
             h("Gather", ["b", "gi"], ["b2"], axis=1, name="pick"),
             h("Slice", ["b2", "st2", "en2", "ax2"], ["b3"], name="left"),
             h("Concat", ["a2", "b3"], ["cat"], axis=3, name="cat_w"),
             h("SpaceToDepth", ["cat"], ["sd"], blocksize=2), h("DepthToSpace", ["sd"], ["ds"], blocksize=2, mode="CRD"),
             h("Slice", ["ds", "st3", "en3", "ax3"], ["row"], name="row"),
             h("Expand", ["row", "es"], ["rows"], name="bcast"),
             h("Add", ["ds", "rows"], ["sum"], name="add"),
             h("Conv", ["sum", "w2", "b2c"], ["y"], name="conv2")]
    inits = {"w1": rng_weights(1, 8, 2, 3, 3), "b1": rng_weights(2, 8, scale=0.1), "s5": I64(0, 2, 4, 6, 6),
             "s4": I64(0, 8, 6, 6), "sp": I64(3, 5), "st": I64(5), "en": I64(-100), "ax": I64(3), "stp": I64(-2),
             "gi": I64(4, 0, 2), "st2": I64(0), "en2": I64(3), "ax2": I64(-1), "st3": I64(1), "en3": I64(2), "ax3": I64(2),
             "es": I64(1, 3, 6, 6), "w2": rng_weights(3, 4, 3, 1, 1), "b2c": rng_weights(4, 4, scale=0.1)}
    return make_model(nodes, {"x": [1, 2, 6, 6]}, {"y": None}, inits, name="shuffle"), (2, 6, 6)


def _tokens():
    """Transformer-style token handling: a class token taken by Gather with a scalar index,
    tokens transposed, unsqueezed and squeezed, a transpose moving the batch of 1, a pixel shuffle (DepthToSpace DCR)."""
    h = helper.make_node
    nodes = [h("Conv", ["x", "w1", "b1"], ["c"], strides=[2, 2], name="patch"),              # (8, 4, 4)
             h("DepthToSpace", ["c"], ["up"], blocksize=2, name="pixel_shuffle"),  # (2, 8, 8)
             h("Reshape", ["up", "s3"], ["tok"]),                                 # (2, 64)
             h("Transpose", ["tok"], ["tt"], perm=[0, 2, 1], name="to_tokens"),   # (64, 2)
             h("Unsqueeze", ["tt", "ua"], ["u"]), h("Squeeze", ["u", "ua"], ["sq"]),
             h("Transpose", ["u"], ["bt"], perm=[2, 3, 1, 0], name="batch_behind"),  # batch 1 moved: (2, 64, 1)
             h("Concat", ["tok0", "sq"], ["tc"], axis=1, name="with_token"),      # (65, 2): a constant part first
             h("Gather", ["tc", "g0"], ["cls"], axis=1, name="class_token"),      # (2,)
             h("Gemm", ["cls", "wf", "bf"], ["y"], transB=1, name="head"),
             h("Resize", ["c", "", "rs"], ["near"], mode="nearest", name="up_nearest"),          # (8, 8, 8)
             h("Resize", ["c", "", "rs2"], ["lin"], mode="linear", name="up_linear"),             # (8, 10, 6)
             h("Resize", ["up", "", "", "rsz"], ["lin2"], mode="linear", name="down_linear",
               coordinate_transformation_mode="align_corners")]                                     # (2, 5, 3)
    inits = {"w1": rng_weights(1, 8, 1, 2, 2), "b1": rng_weights(2, 8, scale=0.1), "s3": I64(0, 2, 64),
             "ua": I64(2), "g0": np.array(5, np.int64), "tok0": rng_weights(9, 1, 1, 2), "wf": rng_weights(3, 3, 2), "bf": rng_weights(4, 3, scale=0.1),
             "rs": np.array([1, 1, 2, 2], np.float32), "rs2": np.array([1, 1, 2.5, 1.5], np.float32), "rsz": I64(1, 2, 5, 3)}
    outs = {"y": None, "tt": None, "tc": None, "bt": None, "near": None, "lin": None, "lin2": None}
    return make_model(nodes, {"x": [1, 1, 8, 8]}, outs, inits, name="tokens"), (1, 8, 8)


def _unet():
    """A UNet step: down with a strided conv, up with a grouped ConvTranspose (output_padding,
    pads) and a nearest Resize, the skip concatenated on channels."""
    h = helper.make_node
    nodes = [h("Conv", ["x", "w1", "b1"], ["e"], pads=[1, 1, 1, 1], name="enc"),                  # (4, 7, 7)
             h("Conv", ["e", "w2", "b2"], ["dn"], strides=[2, 2], name="down"),                   # (4, 3, 3)
             h("ConvTranspose", ["dn", "wt", "bt"], ["up"], strides=[2, 2], pads=[0, 1, 1, 0],
               output_padding=[1, 1], group=2, name="up"),                                      # (4, 7, 7)
             h("Concat", ["e", "up"], ["cat"], axis=1, name="skip"),
             h("Resize", ["cat", "", "rs"], ["big"], mode="nearest", name="upsample"),
             h("Conv", ["big", "w3", "b3"], ["y"], name="head")]
    inits = {"w1": rng_weights(1, 4, 1, 3, 3), "b1": rng_weights(2, 4, scale=0.1),
             "w2": rng_weights(3, 4, 4, 3, 3), "b2": rng_weights(4, 4, scale=0.1),
             "wt": rng_weights(5, 4, 2, 3, 3), "bt": rng_weights(6, 4, scale=0.1),
             "rs": np.array([1, 1, 2, 2], np.float32), "w3": rng_weights(7, 2, 8, 1, 1), "b3": rng_weights(8, 2, scale=0.1)}
    return make_model(nodes, {"x": [1, 1, 7, 7]}, {"y": None}, inits, name="unet"), (1, 7, 7)


# casts inside the layout layers: result types other than their input's
CONFIG = {"shuffle": {"LayerName": {"shuffle": {"Precision": {"result": "ap_fixed<9,2,AP_RND_CONV,AP_SAT_SYM>"}},
                                    "rev": {"Precision": {"result": "ap_ufixed<7,2,AP_RND,AP_SAT>"}}}},
          "unet": {},
          "tokens": {"LayerName": {"to_tokens": {"Precision": {"result": "ap_fixed<6,1,AP_TRN_ZERO,AP_WRAP>"}},
                                   "up_linear": {"Precision": {"result": "ap_fixed<7,2,AP_RND_INF,AP_SAT>"}}}}}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("layout")
    hw = Hardware(n_dsp=16)
    cases, jobs = [], []
    for make in (_shuffle, _tokens, _unet):
        model, shape = make()
        g = fpga_sim.load_onnx(model)
        x = np.random.default_rng(3).normal(0.0, 1.0, (BATCH,) + shape)
        for j, prec in enumerate(("ap_fixed<16,6>", "ap_fixed<8,3,AP_RND,AP_SAT>")):
            qg = fpga_sim.quantize(g, calibration=x, precision=prec, config=CONFIG[g.name])
            sim = fpga_sim.simulate(qg, x, hardware=hw)
            out = codegen.write_hls(qg, root / f"{g.name}{j}", hardware=hw, sim=sim, project_name=f"{g.name}{j}")
            cases.append((g, qg, sim))
            jobs.append((out, x))
    results = codegen.csim_batch(jobs, root / "build", qgs=[c[1] for c in cases])
    return [(g, qg, sim, r) for (g, qg, sim), r in zip(cases, results)]


def test_layout_kernels_csim_equal_the_engine(built):
    ops = set()
    for g, qg, sim, r in built:
        ops |= {n.op for n in g.nodes}
        for t in g.outputs:
            assert np.array_equal(r[t], sim.outputs_raw[t]), f"{g.name}: {t} differs in {np.sum(r[t] != sim.outputs_raw[t])}"
            assert np.unique(r[t]).size > 1
    assert {"Transpose", "Slice", "Gather", "Expand", "DepthToSpace", "Concat", "Reshape", "Resize", "ZeroInsert"} <= ops
    assert {n.attrs.mode for n in built[2][0].nodes if n.op == "Resize"} == {"nearest", "linear"}
    assert built[2][0].node("batch_behind").attrs.onnx_perm == (2, 3, 1, 0)    # batch 1 moved, at batch 5
    # the forced result types really are casts (not the input type)
    qg = built[0][1]
    assert str(qg.layer_types["rev"].result).startswith("ap_ufixed<7,2")
