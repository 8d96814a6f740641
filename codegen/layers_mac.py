"""Context builders for the MAC layers, Conv and Dense (kernels in `hls_templates/nnet/
fsim_conv2d.h` and `fsim_dense.h`, arithmetic as in `fpga_sim/ops/conv.py` and `dense.py`).

The multipliers a layer uses per cycle, M, come from the simulated machine's report for that
layer (`LayerReport.multipliers`), so the pipelined loops keep as many products in flight as
the simulator assumed.
"""
from __future__ import annotations

import numpy as np

from fpga_sim.graph import Node, QGraph

from .layers import LayerSpec, builder, op_of, size, split_parallel


def _weights(spec: LayerSpec, node: Node, qg: QGraph, n_out_channels: int) -> None:
    from fpga_sim.ops.mac_kernels import layer_types_of

    # the engine's own resolution of the types (accumulator defaults to the op's safe_accum)
    _, t_w, t_b, t_acc, _ = layer_types_of(node, qg, op_of(node.op).safe_accum)
    q = qg.qparams[node.name]
    spec.types["weight"] = t_w
    spec.types["accum"] = t_acc
    spec.params.append(("weight", np.asarray(q["weight"]), t_w))
    has_bias = q.get("bias") is not None
    spec.const("has_bias", bool(has_bias))
    if has_bias:
        spec.types["bias"] = t_b
        spec.params.append(("bias", np.asarray(q["bias"]).reshape(-1), t_b))
    else:  # never read (has_bias = false); keeps the kernel's signature uniform
        spec.types["bias"] = t_w
        spec.params.append(("bias", np.zeros(n_out_channels, dtype=np.int64), t_w))
    spec.const("activation", "fsim::ACT_RELU" if node.activation == "relu" else "fsim::ACT_NONE", "int")
    # wrapping sums are exact in any order: the kernel may add a cycle's products apart first
    spec.const("partial_sums", t_acc.overflow == "AP_WRAP")


def _parallel(spec: LayerSpec, k: int, n_mult: int, n_out: int) -> None:
    k_par, out_par = split_parallel(k, n_mult, n_out)
    spec.const("k_par", k_par)
    spec.const("out_par", out_par)
    spec.const("n_mult", k_par * out_par)
    spec.extra["k_par"] = k_par
    spec.macs_per_output = k


@builder("Conv")
def conv(node: Node, qg: QGraph, n_mult: int) -> LayerSpec:
    a = node.attrs
    cin, h, w = qg.graph.shapes[node.inputs[0]]
    out_shape = qg.graph.shapes[node.outputs[0]]
    cout, oh, ow = out_shape
    kh, kw = a.kernel_shape
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
    in_shape = qg.graph.shapes[node.inputs[0]]
    n_in = int(in_shape[-1])
    n_out = size(qg.graph.shapes[node.outputs[0]][-1:])
    n_rows = size(in_shape[:-1])   # dense acts on the last axis of each row
    spec = LayerSpec("fsim_dense.h", summary=f"dense {n_in} -> {n_out}" + (f" on {n_rows} rows" if n_rows > 1 else ""))
    spec.const("n_rows", n_rows)
    spec.const("n_in", n_in)
    spec.const("n_out", n_out)
    _weights(spec, node, qg, n_out)
    _parallel(spec, n_in, n_mult, n_out)
    return spec
