"""Context builders for the MAC layers, Conv and Dense (kernels in `hls_templates/nnet/
fsim_conv2d.h` and `fsim_dense.h`, arithmetic as in `fpga_sim/ops/conv.py` and `dense.py`).

The multipliers a layer uses per cycle, M, come from the simulated machine's report for that
layer (`LayerReport.multipliers`), so the pipelined loops keep as many products in flight as
the simulator assumed.
"""
from __future__ import annotations

import numpy as np

from fpga_sim.graph import Node, QGraph

from .layers import LayerSpec, builder, size, split_parallel


def _weights(spec: LayerSpec, node: Node, qg: QGraph, n_out_channels: int) -> None:
    lt = qg.layer_types[node.name]
    q = qg.qparams[node.name]
    spec.types["weight"] = lt.weight
    spec.types["accum"] = lt.accum
    spec.params.append(("weight", np.asarray(q["weight"]), lt.weight))
    has_bias = "bias" in q and q["bias"] is not None
    spec.const("has_bias", bool(has_bias))
    if has_bias:
        spec.types["bias"] = lt.bias
        spec.params.append(("bias", np.asarray(q["bias"]).reshape(-1), lt.bias))
    else:  # never read (has_bias = false); keeps the kernel's signature uniform
        spec.types["bias"] = lt.weight
        spec.params.append(("bias", np.zeros(n_out_channels, dtype=np.int64), lt.weight))
    spec.const("activation", "fsim::ACT_RELU" if node.activation == "relu" else "fsim::ACT_NONE", "int")


def _parallel(spec: LayerSpec, k: int, n_mult: int, n_out: int) -> None:
    k_par, out_par = split_parallel(k, n_mult, n_out)
    spec.const("k_par", k_par)
    spec.const("out_par", out_par)
    spec.const("n_mult", k_par * out_par)
    spec.macs_per_output = k


@builder("Conv")
def conv(node: Node, qg: QGraph, n_mult: int) -> LayerSpec:
    a = node.attrs
    cin, h, w = qg.graph.shapes[node.inputs[0]][-3:] if len(qg.graph.shapes[node.inputs[0]]) == 3 else (
        qg.graph.shapes[node.inputs[0]][0], 1, qg.graph.shapes[node.inputs[0]][1])
    out_shape = qg.graph.shapes[node.outputs[0]]
    cout, oh, ow = out_shape if len(out_shape) == 3 else (out_shape[0], 1, out_shape[1])
    wt = qg.qparams[node.name]["weight"]
    kh, kw = (wt.shape[2], wt.shape[3]) if wt.ndim == 4 else (1, wt.shape[2])
    spec = LayerSpec("fsim_conv2d.h", summary=f"conv {kh}x{kw}, {cin} -> {cout} channels, groups {a.groups}")
    for name, v in (("in_c", cin), ("in_h", h), ("in_w", w), ("out_c", cout), ("out_h", oh), ("out_w", ow),
                    ("kh", kh), ("kw", kw), ("stride_h", a.strides[0]), ("stride_w", a.strides[1]),
                    ("dil_h", a.dilations[0]), ("dil_w", a.dilations[1]), ("pad_top", a.pads[0]),
                    ("pad_left", a.pads[1]), ("groups", a.groups)):
        spec.const(name, int(v))
    _weights(spec, node, qg, cout)
    _parallel(spec, (cin // a.groups) * kh * kw, n_mult, size(out_shape))
    return spec


@builder("Dense")
def dense(node: Node, qg: QGraph, n_mult: int) -> LayerSpec:
    n_in = size(qg.graph.shapes[node.inputs[0]])
    n_out = size(qg.graph.shapes[node.outputs[0]])
    spec = LayerSpec("fsim_dense.h", summary=f"dense {n_in} -> {n_out}")
    spec.const("n_in", n_in)
    spec.const("n_out", n_out)
    _weights(spec, node, qg, n_out)
    _parallel(spec, n_in, n_mult, n_out)
    return spec
