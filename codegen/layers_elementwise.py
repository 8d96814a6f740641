"""Context builders for element-wise ops: Relu/Clip, LeakyRelu/PRelu, Sigmoid, Tanh (LUT).

Each kernel in `hls_templates/nnet/fsim_activation.h` reproduces the integer arithmetic stated
in the op module's docstring (`fpga_sim/ops/relu.py`, `leaky_relu.py`, `lut.py`).
"""
from __future__ import annotations

import numpy as np

from fpga_sim.graph import Node, QGraph
from fpga_sim.ops.common import param_type

from .layers import LayerSpec, builder, size


def _act(node: Node) -> str:
    return "fsim::ACT_RELU" if node.activation == "relu" else "fsim::ACT_NONE"


@builder("Relu")
def relu(node: Node, qg: QGraph, n_mult: int) -> LayerSpec:
    from fpga_sim.ops.relu import bounds_raw

    t_in = qg.tensor_types[node.inputs[0]]
    lo, hi = bounds_raw(node.attrs, t_in)
    spec = LayerSpec("fsim_activation.h", summary="clamp to [lo, hi] in the input type, then cast")
    spec.const("n", size(qg.graph.shapes[node.inputs[0]]))
    spec.const("has_lo", lo is not None)
    spec.const("has_hi", hi is not None)
    spec.const("lo_raw", int(lo if lo is not None else 0), "long long")
    spec.const("hi_raw", int(hi if hi is not None else 0), "long long")
    spec.const("activation", _act(node), "int")
    spec.config_base = "fsim::clip_config"
    spec.call("fsim::clip", ["@config", "@in.type", "@out.type"], ["@in", "@out"])
    return spec


@builder("LeakyRelu")
def leaky_relu(node: Node, qg: QGraph, n_mult: int) -> LayerSpec:
    shape = qg.graph.shapes[node.inputs[0]]
    alpha = np.broadcast_to(qg.qparams[node.name]["alpha"], shape).reshape(-1)
    t_a = param_type(qg.layer_types[node.name])
    spec = LayerSpec("fsim_activation.h", summary="x > 0 ? cast(x) : cast(x * alpha[i]), alpha per element")
    spec.const("n", size(shape))
    spec.const("activation", _act(node), "int")
    spec.params.append(("alpha", alpha, t_a))
    spec.types["alpha"] = t_a
    spec.config_base = "fsim::leaky_config"
    spec.call("fsim::leaky_relu", ["@config", "@in.type", "@types.alpha", "@out.type"], ["@in", "@out", "@p.alpha"])
    return spec


def _lut(node: Node, qg: QGraph, n_mult: int) -> LayerSpec:
    from fpga_sim.ops.lut import table_type

    attrs = node.attrs
    t_table = table_type(qg.layer_types[node.name])
    spec = LayerSpec("fsim_activation.h", summary=f"table of {attrs.entries} entries over "
                     f"[-2^{attrs.range_log2}, 2^{attrs.range_log2})")
    spec.const("n", size(qg.graph.shapes[node.inputs[0]]))
    spec.const("table_bits", int(attrs.table_bits))
    spec.const("range_log2", int(attrs.range_log2), "int")
    t_in = qg.tensor_types[node.inputs[0]]
    lo, hi = attrs.thresholds(t_in)
    below, above = attrs.tail_codes()
    spec.const("in_signed", bool(t_in.signed))
    spec.const("below", int(below), "int")
    spec.const("above", int(above), "int")
    spec.const("lo_raw", f"{int(lo)}LL", "long long")
    spec.const("hi_raw", f"{int(hi)}LL", "long long")
    spec.const("activation", _act(node), "int")
    spec.params.append(("table", np.asarray(qg.qparams[node.name]["table"]), t_table))
    spec.types["table"] = t_table
    spec.config_base = "fsim::lut_config"
    spec.call("fsim::lut_activation", ["@config", "@in.type", "@types.table", "@out.type"], ["@in", "@out", "@p.table"])
    return spec


for _name in ("Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Silu", "Gelu", "Erf", "Exp"):
    builder(_name)(_lut)
