"""Context builders for the table-based functions: Reciprocal and Sqrt (kernel in
`hls_templates/nnet/fsim_nonlinear.h`, arithmetic as in `fpga_sim/ops/mantissa_lut.py`), and the
row normalisations LayerNorm / InstanceNorm and the accelerator's Softmax (`fsim_norm.h`,
`ops/layer_norm.py`, `ops/softmax_lut.py`)."""
from __future__ import annotations

import numpy as np

from fpga_sim.errors import UnsupportedModelError
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


def _rows_of_trailing(node: Node, qg: QGraph, axes: tuple[int, ...]) -> None:
    """HLS kernels read each row as M consecutive values: the reduced axes must be the last ones."""
    rank = len(qg.graph.shapes[node.inputs[0]])
    if tuple(axes) != tuple(range(rank - len(axes), rank)):
        raise UnsupportedModelError(
            f"node {node.name!r} ({node.op}): HLS generation normalises along the trailing axes only; "
            f"axes {tuple(axes)} of a rank-{rank} tensor are not (transpose them last first)")


@builder("LayerNormalization")
@builder("InstanceNormalization")
def layer_norm(node: Node, qg: QGraph, n_mult: int) -> LayerSpec:
    from fpga_sim.ops.common import bias_type, param_type
    from fpga_sim.ops.layer_norm import RowPlan, rows

    from .layers import op_of

    attrs = node.attrs
    shape = tuple(qg.graph.shapes[node.inputs[0]])
    t_in = qg.tensor_types[node.inputs[0]]
    lt = qg.layer_types[node.name]
    t_g, t_b = param_type(lt), bias_type(lt)
    r, m = rows(attrs, shape)
    plan = RowPlan.make(attrs, t_in, m)
    op = op_of(node.op)
    qp = qg.qparams[node.name]
    # InstanceNorm: one value per row (channel); LayerNorm: one per position of the row
    g, b = (qp["scale"], qp["bias"]) if attrs.per_channel else op.row_params(node, r, m, qp["scale"], qp["bias"])
    g, b = np.asarray(g).reshape(-1), np.asarray(b).reshape(-1)
    spec = LayerSpec("fsim_norm.h", summary=f"normalise {r} rows of {m} values: exact sums, one rsqrt table read per row")
    for name, value, ctype in (("rows", r, None), ("m", m, None), ("g_rows", max(1, g.size // m), None),
                               ("per_row", bool(attrs.per_channel), None),
                               ("in_signed", bool(t_in.signed), None), ("k", plan.k, None),
                               ("e", f"{plan.e}LL", "long long"), ("v_frac", plan.v_frac, "int"),
                               ("table_bits", attrs.table_bits, None), ("z_base", plan.z_shift_base, "int")):
        spec.const(name, value, ctype)
    spec.const("activation", _act(node), "int")
    spec.types.update(z=attrs.z_type, g=t_g, b=t_b, accum=op.accum_type(node, qg), table=attrs.table.table_type)
    spec.params += [("g", g, t_g), ("b", b, t_b),
                    ("table", np.asarray(qg.qparams[node.name]["table"]), attrs.table.table_type)]
    spec.config_base = "fsim::norm_config"
    spec.call("fsim::normalise_rows", ["@config", "@in.type", "@types.z", "@types.g", "@types.b", "@types.accum",
                                   "@out.type"], ["@in", "@out", "@p.g", "@p.b", "@p.table"])
    return spec


@builder("SoftmaxLut")
def softmax_lut(node: Node, qg: QGraph, n_mult: int) -> LayerSpec:
    from fpga_sim.ops.softmax_lut import row_shape

    attrs = node.attrs
    shape = tuple(qg.graph.shapes[node.inputs[0]])
    axes, m = row_shape(attrs, shape)
    _rows_of_trailing(node, qg, axes)
    t_in = qg.tensor_types[node.inputs[0]]
    s_min, p_t = attrs.plan(m)
    lo, _ = attrs.exp_table.thresholds(t_in)
    spec = LayerSpec("fsim_norm.h", summary=f"softmax of rows of {m}: exp table, exact sum, one reciprocal per row")
    for name, value, ctype in (("rows", size(shape) // m, None), ("m", m, None), ("in_signed", bool(t_in.signed), None),
                               ("e_shift", t_in.frac + attrs.exp_table.range_log2 + 1 - attrs.exp_table.table_bits, "int"),
                               ("e_entries", attrs.exp_table.entries, None), ("e_lo_raw", f"{lo}LL", "long long"),
                               ("recip_bits", attrs.recip.table_bits, None), ("f_e", attrs.exp_type.frac, "int"),
                               ("s_min", s_min, "int")):
        spec.const(name, value, ctype)
    spec.const("activation", _act(node), "int")
    spec.types.update(p=p_t, exp=attrs.exp_type, recip=attrs.recip.table_type)
    spec.params += [("exp", np.asarray(qg.qparams[node.name]["exp_table"]), attrs.exp_type),
                    ("recip", np.asarray(qg.qparams[node.name]["recip_table"]), attrs.recip.table_type)]
    spec.config_base = "fsim::softmax_lut_config"
    spec.call("fsim::softmax_lut", ["@config", "@in.type", "@types.p", "@out.type"], ["@in", "@out", "@p.exp", "@p.recip"])
    return spec
