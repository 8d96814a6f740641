"""Context builders for the quantisers a model carries (fpga_sim/ops/quant.py, requant.py).

A QONNX `Quant` left as a node of its own is a pure cast into its type: the Relu/Clip kernel
(`fsim::clip`) with no bounds, one `out_t(v)` per element.
"""
from __future__ import annotations

from fpga_sim.errors import UnsupportedModelError
from fpga_sim.fixed import Fixed
from fpga_sim.graph import Node, QGraph

from .layers import LayerSpec, builder, size
from .layers_elementwise import relu


@builder("Quant")
def quant(node: Node, qg: QGraph, n_mult: int) -> LayerSpec:
    if node.attrs.bipolar:
        raise UnsupportedModelError(
            f"node {node.name!r}: BipolarQuant has no HLS template yet; the engine simulates it, "
            f"codegen accepts Quant and Trunc")
    spec = relu(node, qg, n_mult)
    spec.summary = f"quantiser from the model: a cast into {qg.layer_types[node.name].result}"
    return spec


@builder("Requant")
def requant(node: Node, qg: QGraph, n_mult: int) -> LayerSpec:
    """fsim::requant: x * M[c], rounded half to even by 2**shift[c], clamped (ops/requant.py)."""
    from fpga_sim.ops.requant import SHIFT_BITS, clamp_bounds, requant_constants

    shape = tuple(qg.graph.shapes[node.inputs[0]])
    t_in, t_out = qg.tensor_types[node.inputs[0]], qg.layer_types[node.name].result
    mult, shift = requant_constants(node, t_in, t_out)
    lo, hi = clamp_bounds(node, t_out)
    n = size(shape)
    spec = LayerSpec("fsim_requant.h", summary=f"requantiser: x * M >> shift ({node.attrs.mult_bits}-bit M), clamp")
    spec.const("n", n)
    spec.const("m_div", n // mult.size)
    spec.const("m_mod", int(mult.size))
    spec.const("in_signed", bool(t_in.signed))
    spec.const("lo", int(lo), "long long")
    spec.const("hi", int(hi), "long long")
    t_m = Fixed(node.attrs.mult_bits, node.attrs.mult_bits, False)
    t_s = Fixed(SHIFT_BITS, SHIFT_BITS, True)
    spec.types.update(mult=t_m, shift=t_s)
    spec.params += [("mult", mult, t_m), ("shift", shift, t_s)]
    spec.config_base = "fsim::requant_config"
    spec.call("fsim::requant", ["@config", "@in.type", "@types.mult", "@types.shift", "@out.type"],
              ["@in", "@out", "@p.mult", "@p.shift"])
    return spec
