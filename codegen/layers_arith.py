"""Context builders for Add/Sum, Mul by a constant and standalone BatchNorm (kernels in
`hls_templates/nnet/fsim_elementwise.h`, arithmetic as in `fpga_sim/ops/add.py`, `mul.py`,
`batchnorm.py`).  Constants are stored compactly with a (div, mod) index rule."""
from __future__ import annotations

import numpy as np

from fpga_sim.errors import UnsupportedModelError
from fpga_sim.graph import Node, QGraph
from fpga_sim.ops.common import bias_type, param_type

from .layers import LayerSpec, builder, op_of, size


def compact(raw: np.ndarray, shape: tuple[int, ...]) -> tuple[np.ndarray, int, int]:
    """A constant broadcast to `shape` as (stored values, div, mod): element i reads
    stored[(i // div) % mod].  Scalars and per-channel constants stay small; others expand."""
    a = np.asarray(raw, dtype=np.int64)
    full = np.broadcast_to(a, shape).reshape(-1)
    n = full.size
    if a.size == 1:
        return a.reshape(1), 1, 1
    lead = a.reshape((1,) * (len(shape) - a.ndim) + a.shape) if a.ndim < len(shape) else a
    if len(shape) >= 1 and lead.shape[0] == shape[0] and all(d == 1 for d in lead.shape[1:]):
        return lead.reshape(-1), n // shape[0], shape[0]
    return full, 1, n


def _index(spec: LayerSpec, prefix: str, div: int, mod: int) -> None:
    spec.const(f"{prefix}_div", int(div))
    spec.const(f"{prefix}_mod", int(mod))


def _act(spec: LayerSpec, node: Node) -> None:
    spec.const("activation", "fsim::ACT_RELU" if node.activation == "relu" else "fsim::ACT_NONE", "int")


@builder("Add")
def add(node: Node, qg: QGraph, n_mult: int) -> LayerSpec:
    from fpga_sim.ops.add import input_signs

    out_shape = tuple(qg.graph.shapes[node.outputs[0]])
    lt = qg.layer_types[node.name]
    spec = LayerSpec("fsim_elementwise.h", summary=f"sum of {len(node.inputs)} inputs in the accumulator")
    spec.const("n", size(out_shape))
    _broadcast_inputs(spec, node, qg, out_shape)
    spec.const("neg_mask", sum(1 << k for k, sign in enumerate(input_signs(node)) if sign < 0))
    spec.types["accum"] = op_of(node.op).accum_type(node, qg)
    has_bias = "bias" in qg.qparams.get(node.name, {})
    spec.const("has_bias", has_bias)
    if has_bias:
        t_b = bias_type(lt)
        vals, div, mod = compact(qg.qparams[node.name]["bias"], out_shape)
    else:   # never read; keeps the call uniform
        t_b, vals, div, mod = lt.result, np.zeros(1, np.int64), 1, 1
    spec.types["bias"] = t_b
    spec.params.append(("bias", vals, t_b))
    _index(spec, "b", div, mod)
    _act(spec, node)
    spec.config_base = "fsim::elementwise_config"
    spec.call("fsim::add", ["@config", "@types.accum", "@types.bias", "@out.type"], ["@out", "@p.bias", "@ins"])
    return spec


def broadcast_index(in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> tuple[int, int] | None:
    """(div, mod) reading an input of in_shape broadcast to out_shape at flat index i as
    (i // div) % mod (mod = 0: no broadcast); None when its non-1 axes are not one contiguous
    run equal to the output's (the only patterns the kernels index)."""
    if tuple(in_shape) == tuple(out_shape):
        return 1, 0
    s = (1,) * (len(out_shape) - len(in_shape)) + tuple(in_shape)
    kept = [k for k, d in enumerate(s) if d != 1]
    if not kept:
        return 1, 1
    a, b = kept[0], kept[-1] + 1
    if any(s[k] != out_shape[k] for k in range(a, b)):
        return None
    return size(out_shape[b:]), size(out_shape[a:b])


def _broadcast_inputs(spec: LayerSpec, node: Node, qg: QGraph, out_shape: tuple[int, ...]) -> None:
    """Config constants xk_div / xk_mod of every activation input (at most 4 broadcast)."""
    for k, t in enumerate(node.inputs):
        idx = broadcast_index(tuple(qg.graph.shapes[t]), out_shape)
        if idx is None or (k >= 4 and idx != (1, 0)):
            raise UnsupportedModelError(
                f"node {node.name!r} ({node.op}): input {t!r} of shape {tuple(qg.graph.shapes[t])} is broadcast to "
                f"{out_shape} in a way HLS generation does not index; equal shapes, and inputs whose non-1 axes are "
                "one run of the output's axes (the first 4 inputs), are supported")
        spec.const(f"x{k}_div", int(idx[0]))
        spec.const(f"x{k}_mod", int(idx[1]))


@builder("Mul")
def mul(node: Node, qg: QGraph, n_mult: int) -> LayerSpec:
    if "scale" not in qg.qparams.get(node.name, {}):
        return _mul_activations(node, qg)
    shape = tuple(qg.graph.shapes[node.inputs[0]])
    t_s = param_type(qg.layer_types[node.name])
    vals, div, mod = compact(qg.qparams[node.name]["scale"], shape)
    spec = LayerSpec("fsim_elementwise.h", summary="multiply by a constant, one cast")
    spec.const("n", size(shape))
    _index(spec, "p", div, mod)
    _act(spec, node)
    spec.types["scale"] = t_s
    spec.params.append(("scale", vals, t_s))
    spec.config_base = "fsim::elementwise_config"
    spec.call("fsim::mul_const", ["@config", "@in.type", "@types.scale", "@out.type"], ["@in", "@out", "@p.scale"])
    return spec


def _mul_activations(node: Node, qg: QGraph) -> LayerSpec:
    out_shape = tuple(qg.graph.shapes[node.outputs[0]])
    spec = LayerSpec("fsim_elementwise.h", summary="product of two activations, one cast")
    spec.const("n", size(out_shape))
    _broadcast_inputs(spec, node, qg, out_shape)
    _act(spec, node)
    spec.config_base = "fsim::elementwise_config"
    second = "@in1" if len(node.inputs) > 1 else "@in"     # Pow by 2: the one input twice
    spec.call("fsim::mul_act", ["@config", "@in.type", second + ".type", "@out.type"], ["@in", second, "@out"])
    return spec


for _name in ("Sub",):
    builder(_name)(add)
for _name in ("Div", "Pow"):
    builder(_name)(mul)


@builder("BatchNormalization")
def batchnorm(node: Node, qg: QGraph, n_mult: int) -> LayerSpec:
    shape = tuple(qg.graph.shapes[node.inputs[0]])
    lt = qg.layer_types[node.name]
    t_s, t_b = param_type(lt), bias_type(lt)
    s_vals, s_div, s_mod = compact(qg.qparams[node.name]["scale"], shape)
    b_vals, b_div, b_mod = compact(qg.qparams[node.name]["bias"], shape)
    spec = LayerSpec("fsim_elementwise.h", summary="per-channel scale and shift in the accumulator")
    spec.const("n", size(shape))
    _index(spec, "p", s_div, s_mod)
    _index(spec, "b", b_div, b_mod)
    _act(spec, node)
    spec.types.update(scale=t_s, bias=t_b, accum=op_of(node.op).accum_type(node, qg))
    spec.params += [("scale", s_vals, t_s), ("bias", b_vals, t_b)]
    spec.config_base = "fsim::elementwise_config"
    spec.call("fsim::scale_shift", ["@config", "@in.type", "@types.scale", "@types.bias", "@types.accum", "@out.type"],
              ["@in", "@out", "@p.scale", "@p.bias"])
    return spec
