"""Context builders for Reshape/Flatten, Concat (any axis), constant Pad and the index-map ops
(Transpose, Slice, Gather, Expand, DepthToSpace/SpaceToDepth, nearest Resize, ConvTranspose's
ZeroInsert) and linear Resize (kernels in
`hls_templates/nnet/fsim_layout.h`, arithmetic as in `fpga_sim/ops/reshape.py`, `concat.py`,
`pad.py`, `remap.py`)."""
from __future__ import annotations

import numpy as np

from fpga_sim.errors import UnsupportedModelError
from fpga_sim.fixed import Fixed
from fpga_sim.graph import Node, QGraph
from fpga_sim.ops.remap import INDEX_BITS, IndexMap

from .layers import LayerSpec, builder, op_of as get_op, size

INDEX_TYPE = Fixed(INDEX_BITS, INDEX_BITS)      # table entries: plain int32 addresses (FILL = -2^30)


def _act(node: Node) -> str:
    return "fsim::ACT_RELU" if node.activation == "relu" else "fsim::ACT_NONE"


@builder("Reshape")
def reshape(node: Node, qg: QGraph, n_mult: int) -> LayerSpec:
    spec = LayerSpec("fsim_layout.h", summary="reshape: a copy of the flat buffer, cast to the result type")
    n = size(qg.graph.shapes[node.inputs[0]])
    spec.call("fsim::copy_rows", [1, n, n, 0, _act(node), "@lanes.out_par", "@lanes.ii"], ["@in", "@out"])
    return spec


@builder("Concat")
def concat(node: Node, qg: QGraph, n_mult: int) -> LayerSpec:
    """One loop over the output (hls_templates/concat.h.j2), the simulator's element lanes wide:
    output i is row i // row_out, position i % row_out, found in the part (an input, or a
    constant: raw result_t values repeated for every sample) whose block holds it."""
    a = node.attrs
    raw = qg.qparams.get(node.name, {})
    parts = a.parts([raw[f"const{j}"].shape for j in range(len(a.const_at))])
    inner = size(a.out_shape[a.axis + 1:])
    spec = LayerSpec("fsim_layout.h", summary=f"concat of {len(parts)} parts on per-sample axis {a.axis}")
    t_out = qg.layer_types[node.name].result
    offset, blocks = 0, []
    for kind, j, shape in parts:
        row = shape[a.axis] * inner
        if kind != "in":
            spec.types[f"const{j}"] = t_out
            spec.params.append((f"const{j}", raw[f"const{j}"], t_out))
        blocks.append({"kind": kind, "j": j, "role": f"const{j}", "row": row, "off": offset})
        offset += row
    spec.extra.update(activation=_act(node), parts=blocks, row_out=offset)
    return spec


def remap_spec(node: Node, qg: QGraph, index_map: IndexMap, summary: str) -> LayerSpec:
    """The `fsim::remap` call of one index map: loop dims and table offsets as config constants,
    the source tables as one int32 ROM, the fill value as a raw result_t."""
    from fpga_sim.ops.remap import MAX_RANK

    loop = index_map.loop
    if len(loop) > MAX_RANK:
        raise UnsupportedModelError(f"node {node.name!r} ({node.op}): an index map of {len(loop)} axes; "
                                    f"HLS generation supports up to {MAX_RANK}")
    pad = MAX_RANK - len(loop)
    dims = (1,) * pad + tuple(loop)
    tables = ((0,),) * pad + tuple(index_map.src)
    offsets = np.cumsum([0] + [len(t) for t in tables[:-1]])
    spec = LayerSpec("fsim_layout.h", summary=summary)
    spec.const("n_loop", size(loop))
    for k, (d, o) in enumerate(zip(dims, offsets)):
        spec.const(f"d{k}", int(d))
        spec.const(f"o{k}", int(o))
    spec.const("activation", _act(node), "int")
    t_out = qg.layer_types[node.name].result
    spec.types.update(src=INDEX_TYPE, fill=t_out)
    spec.params.append(("src", np.concatenate([np.asarray(t, np.int64) for t in tables]), INDEX_TYPE))
    fill = get_op(node.op).fill_value
    spec.params.append(("fill", np.asarray(t_out.quantize(np.array([fill])), np.int64).reshape(1), t_out))
    spec.config_base = "fsim::remap_config"
    spec.call("fsim::remap", ["@config", "@in.type", "@out.type"], ["@in", "@out", "@p.src", "@p.fill"])
    return spec


def _remap(node: Node, qg: QGraph, n_mult: int) -> LayerSpec:
    (index_map,) = get_op(node.op).maps(node)
    return remap_spec(node, qg, index_map, f"{node.op}: an index map over {index_map.loop}, one copy per output")


for _op in ("Transpose", "Slice", "Gather", "Expand", "DepthToSpace", "ZeroInsert"):
    builder(_op)(_remap)


@builder("Resize")
def resize(node: Node, qg: QGraph, n_mult: int) -> LayerSpec:
    from fpga_sim.ops.resize import LINEAR_RANK, LINEAR_WEIGHT_FRAC

    a = node.attrs
    if a.mode == "nearest":
        return _remap(node, qg, n_mult)
    rank = len(a.out_shape)
    if rank > LINEAR_RANK:
        raise UnsupportedModelError(f"node {node.name!r} (Resize): linear on a per-sample rank {rank}; HLS generation "
                                    f"supports up to {LINEAR_RANK}")
    from fpga_sim.ops.remap import strides

    pad = LINEAR_RANK - rank
    st = strides(a.in_shapes[0])
    one = 1 << LINEAR_WEIGHT_FRAC
    tabs: dict[str, list[np.ndarray]] = {"i0": [], "i1": [], "w0": [], "w1": []}
    for k in range(-pad, rank):
        if k < 0:     # a padding axis: one entry, weight 1
            for name, v in (("i0", 0), ("i1", 0), ("w0", 1), ("w1", 0)):
                tabs[name].append(np.array([v], np.int64))
            continue
        w1 = a.w1_raw(k) if k in a.interpolated else np.zeros(a.out_shape[k], np.int64)
        w0 = one - w1 if k in a.interpolated else np.ones(a.out_shape[k], np.int64)
        tabs["i0"].append(np.asarray(a.i0[k], np.int64) * st[k])
        tabs["i1"].append(np.asarray(a.i1[k], np.int64) * st[k])
        tabs["w0"].append(w0)
        tabs["w1"].append(w1)
    dims = (1,) * pad + tuple(a.out_shape)
    offsets = np.cumsum([0] + list(dims[:-1]))
    t_in = qg.tensor_types[node.inputs[0]]
    acc = get_op("Resize").accum_type(node, t_in)
    spec = LayerSpec("fsim_layout.h", summary=f"linear resize {a.in_shapes[0]} -> {a.out_shape}, "
                     f"{1 << len(a.interpolated)} taps, {LINEAR_WEIGHT_FRAC}-bit weights")
    spec.const("n_loop", size(a.out_shape))
    for k, (d, o) in enumerate(zip(dims, offsets)):
        spec.const(f"d{k}", int(d))
        spec.const(f"o{k}", int(o))
    spec.const("in_signed", bool(t_in.signed))
    spec.const("activation", _act(node), "int")
    spec.types["accum"] = Fixed(62, 62 - acc.frac)
    for name, parts in tabs.items():
        spec.types[name] = INDEX_TYPE
        spec.params.append((name, np.concatenate(parts), INDEX_TYPE))
    spec.config_base = "fsim::resize_linear_config"
    spec.call("fsim::resize_linear", ["@config", "@in.type", "@types.accum", "@out.type"],
              ["@in", "@out", "@p.i0", "@p.i1", "@p.w0", "@p.w1"])
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
