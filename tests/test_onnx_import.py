"""load_onnx: lowering through the op registry, names and shapes kept, and the clear errors."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper

from fpga_sim.errors import UnsupportedModelError
from fpga_sim.onnx_import import LoweringContext, load_onnx, prepare
from tests.helpers_onnx import make_model, rng_weights


def small_cnn(opset: int = 13, batch="N") -> onnx.ModelProto:
    """Conv-BN-Relu-MaxPool-Flatten-Gemm-Relu-Dropout-Gemm, as a torch export would write it."""
    r = np.random.default_rng(0)
    inits = {
        "w": rng_weights(1, 4, 1, 3, 3), "b": r.normal(0, 0.1, 4).astype(np.float32),
        "g": r.uniform(0.5, 1.5, 4).astype(np.float32), "be": r.normal(0, 0.1, 4).astype(np.float32),
        "mu": r.normal(0, 0.1, 4).astype(np.float32), "var": r.uniform(0.5, 1.5, 4).astype(np.float32),
        "fw": rng_weights(2, 8, 36), "fb": r.normal(0, 0.1, 8).astype(np.float32),
        "ow": rng_weights(3, 3, 8), "ob": r.normal(0, 0.1, 3).astype(np.float32),
    }
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["conv"], pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("BatchNormalization", ["conv", "g", "be", "mu", "var"], ["bn"], name="bn1"),
        helper.make_node("Relu", ["bn"], ["relu1"], name="relu1"),
        helper.make_node("MaxPool", ["relu1"], ["pool"], kernel_shape=[2, 2], strides=[2, 2], name="pool1"),
        helper.make_node("Flatten", ["pool"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "fw", "fb"], ["fc"], transB=1, name="fc1"),
        helper.make_node("Relu", ["fc"], ["relu2"], name="relu2"),
        helper.make_node("Dropout", ["relu2"], ["drop"], name="drop"),
        helper.make_node("Gemm", ["drop", "ow", "ob"], ["logits"], transB=1, name="fc2"),
    ]
    return make_model(nodes, {"x": [batch, 1, 6, 6]}, {"logits": [batch, 3]}, inits, opset=opset)


def test_small_cnn_lowers_with_fusions_onnx_names_and_per_sample_shapes():
    g = load_onnx(small_cnn())
    ops = [(n.op, n.activation, n.outputs[0]) for n in g.nodes]
    assert ops[0] == ("Conv", "relu", "relu1")           # BN folded, ReLU fused, ReLU's name kept
    assert ops[1][0] == "MaxPool" and ops[1][2] == "pool"
    assert ops[-2] == ("Dense", "relu", "relu2")         # Dropout removed
    assert ops[-1] == ("Dense", None, "logits")
    assert g.inputs == ["x"] and g.outputs == ["logits"]
    assert g.shapes["x"] == (1, 6, 6) and g.shapes["relu1"] == (4, 6, 6) and g.shapes["pool"] == (4, 3, 3)
    assert g.shapes["logits"] == (3,)
    assert "conv" not in g.shapes and "bn" not in g.shapes  # fused away


def test_graph_float_run_matches_onnxruntime_for_every_opset():
    from fpga_sim.simulation import run_float
    from tests.helpers_onnx import ort_run

    x = np.random.default_rng(1).random((5, 1, 6, 6))
    for opset in (9, 11, 13, onnx.defs.onnx_opset_version()):
        m = small_cnn(opset)
        want = ort_run(m, {"x": x})[0] if opset <= 21 else ort_run(small_cnn(13), {"x": x})[0]
        got = run_float(load_onnx(m), x)["logits"]
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=f"opset {opset}")


def test_unsupported_op_names_node_op_and_supported_list():
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Acos", ["a"], ["y"], name="weird")]
    with pytest.raises(UnsupportedModelError) as e:
        load_onnx(make_model(nodes, {"x": [1, 4]}, {"y": None}))
    msg = str(e.value)
    assert "'weird'" in msg and "'Acos'" in msg and "supported ONNX ops:" in msg and "Conv" in msg and "Relu" in msg
    assert "\n" not in msg


def test_malformed_and_missing_files_are_one_sentence(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07this is not a protobuf model \xff\xfe" * 10)
    with pytest.raises(UnsupportedModelError, match="could not be read as an ONNX model|is not an ONNX model"):
        load_onnx(bad)
    with pytest.raises(UnsupportedModelError, match="ONNX model '.*missing.onnx' does not exist or is not a file"):
        load_onnx(tmp_path / "missing.onnx")
    # well-formed protobuf, invalid graph: a node reads a tensor nothing defines
    m = make_model([helper.make_node("Relu", ["x"], ["y"])], {"x": [1, 4]}, {"y": None})
    m.graph.node[0].input[0] = "nowhere"
    p = tmp_path / "invalid.onnx"
    onnx.save(m, p)
    with pytest.raises(UnsupportedModelError, match="is not a valid ONNX model"):
        load_onnx(p)


def test_opsets_outside_the_supported_range_and_foreign_domains():
    m = small_cnn()
    m.opset_import[0].version = onnx.defs.onnx_opset_version() + 5
    with pytest.raises(UnsupportedModelError, match=r"opset \d+ is newer than the installed onnx supports; opsets 9 to \d+ are accepted"):
        load_onnx(m)
    # opset 8 is lifted to 9 by onnx's version converter
    old = make_model([helper.make_node("Relu", ["x"], ["y"])], {"x": [1, 4]}, {"y": None}, opset=8)
    assert [n.op for n in load_onnx(old).nodes] == ["Relu"]
    custom = make_model([helper.make_node("Relu", ["x"], ["y"])], {"x": [1, 4]}, {"y": None})
    custom.graph.node[0].domain = "com.example"
    custom.opset_import.append(helper.make_opsetid("com.example", 1))
    with pytest.raises(UnsupportedModelError, match=r"domains \['com.example'\] are not supported; only the default ONNX domain"):
        load_onnx(custom)


def test_symbolic_non_batch_dimension_is_refused():
    m = make_model([helper.make_node("Relu", ["x"], ["y"])], {"x": ["N", "C"]}, {"y": ["N", "C"]})
    with pytest.raises(UnsupportedModelError, match=r"graph input 'x' has shape \['N', 'C'\]; only the batch dimension may be symbolic"):
        load_onnx(m)


def test_lowering_context_answers_consts_shapes_attrs_and_errors():
    st, source, _ = prepare(small_cnn())
    ctx = LoweringContext(st, source)
    conv = next(n for n in st.nodes if n.op_type == "Conv")
    assert ctx.const(conv.input[1]).shape == (4, 1, 3, 3)
    assert ctx.const("x") is None and ctx.shape("x") == (1, 6, 6)
    assert ctx.attrs(conv) == {"pads": [1, 1, 1, 1]}
    assert ctx.opset == 13
    err = ctx.error(conv, "bad thing")
    assert isinstance(err, UnsupportedModelError) and "'conv1' (Conv): bad thing" in str(err)


def test_unnamed_nodes_get_unique_names_from_their_outputs():
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Relu", ["a"], ["y"])]
    g = load_onnx(make_model(nodes, {"x": [1, 4]}, {"y": None}))
    names = [n.name for n in g.nodes]
    assert len(set(names)) == 2 and all(names)


def test_folded_shape_chain_runs_any_batch_like_onnxruntime():
    """Shape is folded with the batch fixed to 1; the lowered Reshape must still take any batch."""
    from fpga_sim.simulation import run_float
    from tests.helpers_onnx import ort_run
    from tests.test_passes_fold_constants import _flatten_chain

    x = np.random.default_rng(0).random((3, 2, 3, 4))
    for opset in (9, 13):
        m = _flatten_chain(opset)
        g = load_onnx(m)
        assert [n.op for n in g.nodes] == ["Reshape"] and g.shapes["y"] == (24,)
        np.testing.assert_allclose(run_float(g, x)["y"], ort_run(m, {"x": x})[0], rtol=1e-6)


def _lenient_model(opset: int, ir: int, output_typed: bool, value_info: bool = False) -> onnx.ModelProto:
    """Conv + Relu with the weight as an initializer that is not a graph input."""
    from onnx import TensorProto, numpy_helper

    w = rng_weights(4, 4, 2, 3, 3)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"), helper.make_node("Relu", ["c"], ["y"], name="relu")]
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, None) if output_typed else onnx.ValueInfoProto(name="y")
    g = helper.make_graph(nodes, "lenient", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 5, 5])], [out],
                          [numpy_helper.from_array(w, "w")])
    if value_info:
        g.value_info.append(onnx.ValueInfoProto(name="c"))      # a value_info with no type at all
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = ir
    return m


@pytest.mark.parametrize("opset,ir,typed,vi", [(8, 3, True, False), (13, 3, True, False), (8, 3, False, True),
                                               (13, 7, False, False), (11, 6, True, True)])
def test_import_is_as_lenient_as_onnxruntime(opset, ir, typed, vi):
    """IR versions older than the opset needs (initializers not listed as inputs), outputs without
    type/shape and untyped value_info: onnxruntime runs them, so does the importer, equally."""
    import onnxruntime as ort

    from fpga_sim.simulation import run_float

    m = _lenient_model(opset, ir, typed, vi)
    x = np.random.default_rng(0).normal(size=(3, 2, 5, 5)).astype(np.float32)
    ref = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    g = load_onnx(m)
    np.testing.assert_allclose(run_float(g, x)["y"], ref, rtol=1e-5, atol=1e-5)


def test_what_onnxruntime_refuses_stays_refused():
    import onnxruntime as ort

    m = _lenient_model(13, 7, True)
    m.graph.node[0].input[1] = "missing_weight"                    # an input nothing defines
    with pytest.raises(Exception):
        ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    with pytest.raises(UnsupportedModelError, match="is not a valid ONNX model"):
        load_onnx(m)
