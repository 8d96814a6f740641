"""How the benchmarks drive fpga-sim: import, quantise, run one layer or a whole network.

Only the public names of docs/ARCHITECTURE.md are used, so a benchmark measures what a user
gets.  A layer's bit-exactness is checked here against `int_reference.hls_layer`.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import onnx

from . import int_reference

MAC_OPS = ("Conv", "Dense")


def quantized(model: onnx.ModelProto, x: np.ndarray, precision: str) -> Any:
    """load_onnx + quantize at one precision for every tensor, calibrated on x."""
    from fpga_sim import load_onnx, quantize

    return quantize(load_onnx(model), calibration=x, precision=precision)


def mac_node(qg: Any) -> Any:
    """The single MAC layer of a one-layer model."""
    nodes = [n for n in qg.nodes if n.op in MAC_OPS]
    if len(nodes) != 1:
        raise ValueError(f"expected one Conv/Dense node, found {[n.name for n in nodes]}")
    return nodes[0]


def layer_runner(qg: Any, node: Any, x: np.ndarray):
    """(raw input, a zero-argument call of the op's bit-accurate kernel on it)."""
    from fpga_sim.ops import get_op

    op = get_op(node.op)
    x_raw = qg.tensor_types[node.inputs[0]].quantize(x)

    def run() -> np.ndarray:
        outs, _ = op.run_fixed(node, [x_raw], qg)
        return outs[0]

    return x_raw, run


def layer_cost_runner(qg: Any, node: Any, hw: Any):
    """A zero-argument call of the op's cycle-level cost on `hw` (returns the LayerReport)."""
    from fpga_sim.ops import get_op

    op = get_op(node.op)
    return lambda: op.cost(node, qg, hw)


def _pair(v: Any, default: int) -> tuple[int, int]:
    if v is None:
        return (default, default)
    if isinstance(v, (int, np.integer)):
        return (int(v), int(v))
    v = tuple(int(a) for a in v)
    return v if len(v) == 2 else (v[0], v[0])


def conv_geometry(node: Any) -> dict[str, Any]:
    """stride / pads (top, left, bottom, right) / groups from the Conv node's attributes."""
    a = node.attrs
    get = (lambda k: a.get(k)) if isinstance(a, dict) else (lambda k: getattr(a, k, None))
    stride = _pair(get("strides") if get("strides") is not None else get("stride"), 1)
    pads = get("pads")
    if pads is None:
        pads = (0, 0, 0, 0)
    pads = tuple(int(p) for p in pads)
    if len(pads) == 2:
        pads = (pads[0], pads[1], pads[0], pads[1])
    dil = get("dilations")
    if dil is not None and any(int(d) != 1 for d in dil):
        raise int_reference.ReferenceUnsupported(f"node {node.name}: dilated conv not in the reference")
    groups = int(get("groups") or get("group") or 1)
    return {"stride": stride, "pads": pads, "groups": groups}


def reference_output(qg: Any, node: Any, x_raw: np.ndarray) -> np.ndarray:
    """The layer's raw output computed by the independent NumPy int64 reference."""
    t = qg.layer_types[node.name]
    p = qg.qparams[node.name]
    conv = conv_geometry(node) if node.op == "Conv" else None
    return int_reference.hls_layer(
        x_raw, qg.tensor_types[node.inputs[0]], p["weight"], p.get("bias"), t.weight, t.bias,
        t.accum, t.result, node.activation == "relu", conv)


def reference_runner(qg: Any, node: Any, x_raw: np.ndarray):
    return lambda: reference_output(qg, node, x_raw)


def bit_exact(a: np.ndarray, b: np.ndarray) -> tuple[bool, int]:
    """(identical?, number of differing values)."""
    a = np.asarray(a)
    b = np.asarray(b).reshape(a.shape) if np.asarray(b).size == a.size else np.asarray(b)
    if a.shape != b.shape:
        return False, -1
    diff = int(np.count_nonzero(a != b))
    return diff == 0, diff
