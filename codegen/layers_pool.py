"""Context builders for MaxPool and AveragePool (kernels in `hls_templates/nnet/fsim_pool.h`,
arithmetic as in `fpga_sim/ops/maxpool.py` and `avgpool.py`)."""
from __future__ import annotations

import numpy as np

from fpga_sim.graph import Node, QGraph
from .layers import op_of as get_op
from fpga_sim.ops.pooling import as_chw, out_shape, window

from .layers import LayerSpec, builder


def _geometry(spec: LayerSpec, node: Node, qg: QGraph) -> None:
    c, h, w = as_chw(qg.graph.shapes[node.inputs[0]])
    _, oh, ow = as_chw(out_shape(node.attrs, qg.graph.shapes[node.inputs[0]]))
    a = window(node.attrs, h, w)
    for name, v in (("c", c), ("in_h", h), ("in_w", w), ("out_h", oh), ("out_w", ow),
                    ("kh", a.kernel[0]), ("kw", a.kernel[1]), ("stride_h", a.strides[0]), ("stride_w", a.strides[1]),
                    ("dil_h", a.dilations[0]), ("dil_w", a.dilations[1]), ("pad_top", a.pads[0]),
                    ("pad_left", a.pads[1]), ("pad_bottom", a.pads[2]), ("pad_right", a.pads[3])):
        spec.const(name, int(v))
    spec.const("count_include_pad", bool(a.count_include_pad))
    spec.const("activation", "fsim::ACT_RELU" if node.activation == "relu" else "fsim::ACT_NONE", "int")
    spec.summary = f"{a.kernel[0]}x{a.kernel[1]} window, stride {a.strides[0]}x{a.strides[1]}, {c} channels"


@builder("MaxPool")
def maxpool(node: Node, qg: QGraph, n_mult: int) -> LayerSpec:
    spec = LayerSpec("fsim_pool.h")
    _geometry(spec, node, qg)
    spec.summary = "max pool: " + spec.summary
    spec.config_base = "fsim::pool_config"
    spec.call("fsim::maxpool2d", ["@config", "@in.type", "@out.type"], ["@in", "@out"])
    return spec


@builder("AveragePool")
def avgpool(node: Node, qg: QGraph, n_mult: int) -> LayerSpec:
    from fpga_sim.ops.avgpool import reciprocal_type

    lt = qg.layer_types[node.name]
    spec = LayerSpec("fsim_pool.h")
    _geometry(spec, node, qg)
    spec.summary = "average pool: " + spec.summary
    t_rc = reciprocal_type(node, lt)
    spec.types["accum"] = get_op(node.op).accum_type(node, qg)
    spec.types["recip"] = t_rc
    spec.params.append(("recip", np.asarray(qg.qparams[node.name]["recip"]), t_rc))
    spec.config_base = "fsim::pool_config"
    spec.call("fsim::avgpool2d", ["@config", "@in.type", "@types.accum", "@types.recip", "@out.type"],
              ["@in", "@out", "@p.recip"])
    return spec
