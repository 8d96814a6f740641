"""Context builders for the reductions (ReduceSum/Mean/Max) and the MatMul of two activations
(kernels in `hls_templates/nnet/fsim_reduce.h`, arithmetic as in `fpga_sim/ops/reduce.py`,
`matmul.py`)."""
from __future__ import annotations

import numpy as np

from fpga_sim.errors import UnsupportedModelError
from fpga_sim.fixed import Fixed
from fpga_sim.graph import Node, QGraph

from .layers import LayerSpec, builder, op_of, size
from .layers_arith import broadcast_index


def _act(node: Node) -> str:
    return "fsim::ACT_RELU" if node.activation == "relu" else "fsim::ACT_NONE"


@builder("ReduceSum")
@builder("ReduceMean")
@builder("ReduceMax")
def reduce(node: Node, qg: QGraph, n_mult: int) -> LayerSpec:
    from fpga_sim.ops.avgpool import reciprocal_type
    from fpga_sim.ops.reduce import KINDS

    shape = tuple(qg.graph.shapes[node.inputs[0]])
    axes = node.attrs.axes
    if list(axes) != list(range(axes[0], axes[-1] + 1)):
        raise UnsupportedModelError(f"node {node.name!r} ({node.op}): HLS generation reduces one run of consecutive "
                                    f"axes; axes {axes} are not consecutive")
    spec = LayerSpec("fsim_reduce.h", summary=f"{node.attrs.kind} over axes {axes} ({node.attrs.m} values per output)")
    spec.const("outer", size(shape[:axes[0]]))
    spec.const("m", int(node.attrs.m))
    spec.const("inner", size(shape[axes[-1] + 1:]))
    spec.const("kind", KINDS.index(node.attrs.kind), "int")
    spec.const("activation", _act(node), "int")
    t_in = qg.tensor_types[node.inputs[0]]
    acc = op_of(node.op).accum_type(node, qg) or t_in
    if node.attrs.kind == "mean":
        t_rc = reciprocal_type(node, qg.layer_types[node.name])
        spec.params.append(("recip", np.asarray(qg.qparams[node.name]["recip"])[-1:], t_rc))
        recip = "@p.recip"
    else:                                   # no reciprocal: a null ROM the kernel never reads
        t_rc, recip = Fixed(2, 1, False), "static_cast<const unsigned char *>(0)"
    spec.types.update(accum=acc, recip=t_rc)
    spec.config_base = "fsim::reduce_config"
    spec.call("fsim::reduce", ["@config", "@in.type", "@types.accum", "@types.recip", "@out.type"],
              ["@in", "@out", recip])
    return spec


@builder("MatMul")
def matmul(node: Node, qg: QGraph, n_mult: int) -> LayerSpec:
    sa, sb = (tuple(qg.graph.shapes[t]) for t in node.inputs)
    so = tuple(qg.graph.shapes[node.outputs[0]])
    spec = LayerSpec("fsim_reduce.h", summary=f"batched matmul ({so[:-2]}: {sa[-2]}x{sa[-1]} by {sb[-2]}x{sb[-1]})",
                     macs_per_output=int(sa[-1]))
    spec.const("groups", size(so[:-2]))
    for name, v in (("n", sa[-2]), ("k", sa[-1]), ("m", sb[-1])):
        spec.const(name, int(v))
    for prefix, s in (("a", sa), ("b", sb)):
        idx = broadcast_index(s[:-2], so[:-2])
        if idx is None:
            raise UnsupportedModelError(f"node {node.name!r} (MatMul): batch dims {s[:-2]} broadcast to {so[:-2]} in a "
                                        "way HLS generation does not index")
        div, mod = idx
        spec.const(f"{prefix}_div", int(div))
        spec.const(f"{prefix}_mod", int(mod if mod else size(so[:-2])))
    spec.const("activation", _act(node), "int")
    spec.types["accum"] = op_of(node.op).accum_type(node, qg)
    spec.config_base = "fsim::matmul_config"
    spec.call("fsim::matmul", ["@config", "@in.type", "@in1.type", "@types.accum", "@out.type"], ["@in", "@in1", "@out"])
    return spec
