"""Context builders for the mantissa-table functions, Reciprocal and Sqrt (kernel in
`hls_templates/nnet/fsim_nonlinear.h`, arithmetic as in `fpga_sim/ops/mantissa_lut.py`)."""
from __future__ import annotations

import numpy as np

from fpga_sim.graph import Node, QGraph
from fpga_sim.ops.mantissa_lut import KINDS

from .layers import LayerSpec, builder, size


def _act(node: Node) -> str:
    return "fsim::ACT_RELU" if node.activation == "relu" else "fsim::ACT_NONE"


def mantissa_consts(spec: LayerSpec, attrs, t_in) -> None:
    """The config constants of one mantissa table over input type t_in (LayerNorm reuses them)."""
    spec.const("kind", KINDS.index(attrs.kind), "int")
    spec.const("table_bits", int(attrs.table_bits))
    spec.const("in_signed", bool(t_in.signed))
    spec.const("in_width", int(t_in.width), "int")
    spec.const("in_frac", int(t_in.frac), "int")
    spec.const("s_min", int(attrs.s_range(t_in)[0]), "int")


@builder("Reciprocal")
@builder("Sqrt")
def mantissa(node: Node, qg: QGraph, n_mult: int) -> LayerSpec:
    attrs = node.attrs
    t_in = qg.tensor_types[node.inputs[0]]
    spec = LayerSpec("fsim_nonlinear.h", summary=f"{attrs.kind} by a normalised table of {attrs.entries} entries")
    spec.const("n", size(qg.graph.shapes[node.inputs[0]]))
    mantissa_consts(spec, attrs, t_in)
    spec.const("activation", _act(node), "int")
    spec.types["table"] = attrs.table_type
    spec.types["p"] = attrs.p_type(t_in)
    spec.params.append(("table", np.asarray(qg.qparams[node.name]["table"]), attrs.table_type))
    spec.config_base = "fsim::mantissa_config"
    spec.call("fsim::mantissa_function", ["@config", "@in.type", "@types.p", "@out.type"], ["@in", "@out", "@p.table"])
    return spec
