"""Context builders for Reshape/Flatten, Concat (channels) and constant Pad (kernels in
`hls_templates/nnet/fsim_layout.h`, arithmetic as in `fpga_sim/ops/reshape.py`, `concat.py`,
`pad.py`)."""
from __future__ import annotations

import numpy as np

from fpga_sim.errors import UnsupportedModelError
from fpga_sim.graph import Node, QGraph

from .layers import LayerSpec, builder, size


def _act(node: Node) -> str:
    return "fsim::ACT_RELU" if node.activation == "relu" else "fsim::ACT_NONE"


@builder("Reshape")
def reshape(node: Node, qg: QGraph, n_mult: int) -> LayerSpec:
    spec = LayerSpec("fsim_layout.h", summary="reshape: a copy of the flat buffer, cast to the result type")
    spec.call("fsim::copy_cast", [size(qg.graph.shapes[node.inputs[0]]), 0, _act(node)], ["@in", "@out"])
    return spec


@builder("Concat")
def concat(node: Node, qg: QGraph, n_mult: int) -> LayerSpec:
    if getattr(node.attrs, "axis", 0) != 0:
        raise UnsupportedModelError(f"node {node.name!r} (Concat): only the channel axis is supported")
    sizes = [size(qg.graph.shapes[t]) for t in node.inputs]
    spec = LayerSpec("fsim_layout.h", summary=f"channel concat of {len(sizes)} inputs")
    for j, (n, offset) in enumerate(zip(sizes, np.cumsum([0] + sizes[:-1]))):
        spec.call("fsim::copy_cast", [n, int(offset), _act(node)], [f"@in{j}", "@out"])
    return spec


@builder("Pad")
def pad(node: Node, qg: QGraph, n_mult: int) -> LayerSpec:
    pads = tuple(node.attrs.pads)
    in_shape = tuple(qg.graph.shapes[node.inputs[0]])
    out_shape = tuple(qg.graph.shapes[node.outputs[0]])
    if len(in_shape) > 3:
        raise UnsupportedModelError(f"node {node.name!r} (Pad): per-sample rank {len(in_shape)}; up to 3 (C, H, W) is supported")
    lead = 3 - len(in_shape)
    ins = (1,) * lead + in_shape
    outs = (1,) * lead + out_shape
    begins = (0,) * lead + tuple(int(b) for b, _ in pads)
    spec = LayerSpec("fsim_layout.h", summary="constant pad, input cast to the result type")
    for name, v in (("in_c", ins[0]), ("in_h", ins[1]), ("in_w", ins[2]), ("out_c", outs[0]), ("out_h", outs[1]),
                    ("out_w", outs[2]), ("pad_c", begins[0]), ("pad_h", begins[1]), ("pad_w", begins[2])):
        spec.const(name, int(v))
    spec.const("activation", _act(node), "int")
    t = qg.layer_types[node.name].result
    spec.types["value"] = t
    spec.params.append(("value", np.asarray(qg.qparams[node.name]["value"]).reshape(-1)[:1], t))
    spec.config_base = "fsim::pad_config"
    spec.call("fsim::pad3d", ["@config", "@in.type", "@out.type"], ["@in", "@out", "@p.value"])
    return spec
