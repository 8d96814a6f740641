"""Context builders for the quantisers a model carries (fpga_sim/ops/quant.py, requant.py).

A QONNX `Quant` left as a node of its own is a pure cast into its type: the Relu/Clip kernel
(`fsim::clip`) with no bounds, one `out_t(v)` per element.
"""
from __future__ import annotations

from fpga_sim.errors import UnsupportedModelError
from fpga_sim.graph import Node, QGraph

from .layers import LayerSpec, builder
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
