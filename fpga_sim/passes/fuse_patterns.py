"""Fuse the decomposed forms older exporters write back into one op each:

- SiLU:  Mul(x, Sigmoid(x))                                   -> Swish(x)
- GELU:  Mul(Mul(x, Add(Erf(Div(x, sqrt2)), 1)), 0.5)         -> Gelu(x)   (and the orders
         x*0.5 first, Mul by 1/sqrt2 for the Div, constants on either side); the tanh form
         0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))), x^3 as Pow or two Muls -> Gelu(tanh)
- LayerNorm: d = Sub(x, ReduceMean(x)); Div(d, Sqrt(Add(ReduceMean(Pow(d, 2)), eps)))
         over the trailing axes, then optional Mul(gamma) and Add(beta)  -> LayerNormalization

so that each is computed the way an FPGA computes the whole function (one table, one
normalisation) instead of a chain of rounded steps.  Only when every intermediate has no other
reader; the fused node keeps the last node's output name (the comparison lines up).
"""
from __future__ import annotations

import math

import numpy as np
from onnx import NodeProto, helper

from .base import NodePass
from .state import OnnxState


def _scalar(st: OnnxState, tensor: str) -> float | None:
    v = st.consts.get(tensor)
    if v is None or np.asarray(v).size != 1:
        return None
    return float(np.asarray(v).reshape(()))


def _other(n: NodeProto, tensor: str) -> str | None:
    """The other input of a two-input node that reads `tensor`."""
    if len(n.input) != 2 or tensor not in n.input:
        return None
    return n.input[1] if n.input[0] == tensor else n.input[0]


def _near(v: float | None, target: float) -> bool:
    return v is not None and abs(v - target) <= 1e-4 * abs(target)


def _single_user(st: OnnxState, tensor: str, op_type: str) -> NodeProto | None:
    u = st.only_consumer(tensor)
    return u if u is not None and u.op_type == op_type else None


def _replace(st: OnnxState, chain: list[NodeProto], new: NodeProto) -> None:
    """Put `new` where the last node of `chain` was and remove the chain."""
    last = chain[-1]
    i = next(k for k, n in enumerate(st.nodes) if n is last)
    st.nodes[i] = new
    for n in chain[:-1]:
        st.remove(n)


class FuseSilu(NodePass):
    """Mul(x, Sigmoid(x)) with the Sigmoid read only by that Mul -> Swish(x) (alpha 1)."""

    name = "fuse_silu"

    def _parts(self, st: OnnxState, sig: NodeProto):
        if sig.op_type != "Sigmoid":
            return None
        mul = _single_user(st, sig.output[0], "Mul")
        if mul is None or _other(mul, sig.output[0]) != sig.input[0]:
            return None
        return mul

    def match(self, st: OnnxState, n: NodeProto) -> bool:
        return self._parts(st, n) is not None

    def rewrite(self, st: OnnxState, sig: NodeProto) -> None:
        mul = self._parts(st, sig)
        _replace(st, [sig, mul], helper.make_node("Swish", [sig.input[0]], [mul.output[0]], name=mul.name or sig.name))
        st.log.append(f"fused Sigmoid {sig.name!r} and Mul {mul.name!r} into Swish (SiLU)")


def _erf_head(st: OnnxState, erf: NodeProto):
    """(x, [Div|Mul]) for erf(x / sqrt2) or erf(x * (1/sqrt2))."""
    pre = st.producer(erf.input[0])
    if pre is None or pre.op_type not in ("Div", "Mul") or st.only_consumer(pre.output[0]) is not erf:
        return None
    x = next((t for t in pre.input if t not in st.consts), None)
    k = _scalar(st, _other(pre, x) or "")
    if x is None or not (_near(k, math.sqrt(2)) if pre.op_type == "Div" and pre.input[0] == x
                         else pre.op_type == "Mul" and _near(k, 1 / math.sqrt(2))):
        return None
    return x, [pre]


def _cube_of(st: OnnxState, t: str):
    """(x, nodes) when t = x^3 as Pow(x, 3) or x * (x * x) in either order."""
    n = st.producer(t)
    if n is None or st.only_consumer(t) is None:
        return None
    if n.op_type == "Pow" and _scalar(st, n.input[1]) == 3.0:
        return n.input[0], [n]
    if n.op_type != "Mul" or len(n.input) != 2:
        return None
    for k in (0, 1):
        sq, x = st.producer(n.input[k]), n.input[1 - k]
        if sq is not None and sq.op_type == "Mul" and list(sq.input) == [x, x] and st.only_consumer(sq.output[0]) is n:
            return x, [sq, n]
    return None


def _tanh_head(st: OnnxState, tanh: NodeProto):
    """(x, nodes) for tanh(sqrt(2/pi) * (x + 0.044715 * x^3))."""
    m3 = st.producer(tanh.input[0])
    if m3 is None or m3.op_type != "Mul" or st.only_consumer(m3.output[0]) is not tanh:
        return None
    a = next((t for t in m3.input if t not in st.consts), None)
    if a is None or not _near(_scalar(st, _other(m3, a) or ""), math.sqrt(2 / math.pi)):
        return None
    add = st.producer(a)
    if add is None or add.op_type != "Add" or len(add.input) != 2 or st.only_consumer(a) is not m3:
        return None
    for x, b in ((add.input[0], add.input[1]), (add.input[1], add.input[0])):
        mc = st.producer(b)
        if mc is None or mc.op_type != "Mul" or st.only_consumer(b) is not add:
            continue
        cube_t = next((t for t in mc.input if t not in st.consts), None)
        if cube_t is None or not _near(_scalar(st, _other(mc, cube_t) or ""), 0.044715):
            continue
        cube = _cube_of(st, cube_t)
        if cube is not None and cube[0] == x:
            return x, cube[1] + [mc, add, m3]
    return None


class FuseGelu(NodePass):
    """x * 0.5 * (1 + f), f = erf(x / sqrt2) or tanh(sqrt(2/pi) (x + 0.044715 x^3)), any order
    of the two Muls -> Gelu(x) (approximate "none" or "tanh")."""

    name = "fuse_gelu"

    def _parts(self, st: OnnxState, f: NodeProto):
        head = _erf_head(st, f) if f.op_type == "Erf" else _tanh_head(st, f) if f.op_type == "Tanh" else None
        if head is None:
            return None
        x, chain = head
        add = _single_user(st, f.output[0], "Add")
        if add is None or not _near(_scalar(st, _other(add, f.output[0]) or ""), 1.0):
            return None
        m1 = _single_user(st, add.output[0], "Mul")
        if m1 is None:
            return None
        y = _other(m1, add.output[0])
        if y == x:                                   # (x * (1 + f)) * 0.5
            m2 = _single_user(st, m1.output[0], "Mul")
            if m2 is None or not _near(_scalar(st, _other(m2, m1.output[0]) or ""), 0.5):
                return None
            return x, chain + [f, add, m1, m2]
        half = st.producer(y or "")                  # (x * 0.5) * (1 + f)
        if half is None or half.op_type != "Mul" or x not in half.input or st.only_consumer(y) is not m1:
            return None
        if not _near(_scalar(st, _other(half, x) or ""), 0.5):
            return None
        return x, [half] + chain + [f, add, m1]

    def match(self, st: OnnxState, n: NodeProto) -> bool:
        return self._parts(st, n) is not None

    def rewrite(self, st: OnnxState, f: NodeProto) -> None:
        x, chain = self._parts(st, f)
        last = chain[-1]
        form = "none" if f.op_type == "Erf" else "tanh"
        _replace(st, chain, helper.make_node("Gelu", [x], [last.output[0]], name=last.name or f.name, approximate=form))
        st.log.append(f"fused the decomposed GELU ({form}) around {f.op_type} {f.name!r} into Gelu")


def _reduce_axes(st: OnnxState, n: NodeProto) -> list[int] | None:
    """A ReduceMean's axes (attribute before opset 18, input after) with keepdims=1, else None."""
    if n.op_type != "ReduceMean" or int(st.attr(n, "keepdims", 1)) != 1:
        return None
    if len(n.input) > 1 and n.input[1]:
        v = st.consts.get(n.input[1])
        return None if v is None else [int(a) for a in np.asarray(v).reshape(-1)]
    axes = st.attr(n, "axes")
    return None if axes is None else [int(a) for a in axes]


def _trailing(axes: list[int], rank: int) -> int | None:
    """The first axis when `axes` are the trailing axes of a rank-`rank` tensor (not the batch)."""
    norm = sorted(a + rank if a < 0 else a for a in axes)
    if not norm or norm != list(range(norm[0], rank)) or norm[0] == 0:
        return None
    return norm[0]


class FuseLayerNorm(NodePass):
    """The mean/variance/sqrt/div chain over the trailing axes -> LayerNormalization(x, 1, 0);
    a following Mul / Add by a constant folds into its scale / bias (`FoldNormAffine`)."""

    name = "fuse_layer_norm"

    def _parts(self, st: OnnxState, div: NodeProto):
        if div.op_type != "Div":
            return None
        d, s = div.input
        sub, sqrt = st.producer(d), st.producer(s)
        if sub is None or sub.op_type != "Sub" or sqrt is None or sqrt.op_type != "Sqrt":
            return None
        x, mean_t = sub.input
        mean = st.producer(mean_t)
        add = st.producer(sqrt.input[0])
        if mean is None or mean.input[0] != x or add is None or add.op_type != "Add":
            return None
        var_t = next((t for t in add.input if t not in st.consts), None)
        eps = _scalar(st, _other(add, var_t) or "") if var_t else None
        var = st.producer(var_t or "")
        if eps is None or var is None:
            return None
        pw = st.producer(var.input[0])
        if pw is None or pw.op_type not in ("Pow", "Mul") or d not in pw.input:
            return None
        if pw.op_type == "Pow" and (pw.input[0] != d or _scalar(st, pw.input[1]) != 2.0):
            return None
        if pw.op_type == "Mul" and list(pw.input) != [d, d]:
            return None
        rank = len(st.shapes.get(x, ()))
        a1, a2 = _reduce_axes(st, mean), _reduce_axes(st, var)
        if not rank or a1 is None or a2 is None:
            return None
        axis = _trailing(a1, rank)
        if axis is None or _trailing(a2, rank) != axis:
            return None
        users = {id(n) for n in st.consumers(d)}
        if users != {id(pw), id(div)} or d in st.outputs:
            return None
        for t, reader in ((mean_t, sub), (pw.output[0], var), (var_t, add), (add.output[0], sqrt), (s, div)):
            if st.only_consumer(t) is not reader:
                return None
        return x, axis, eps, [mean, sub, pw, var, add, sqrt, div]

    def match(self, st: OnnxState, n: NodeProto) -> bool:
        return self._parts(st, n) is not None

    def rewrite(self, st: OnnxState, div: NodeProto) -> None:
        x, axis, eps, chain = self._parts(st, div)
        norm_shape = tuple(st.shapes[x][axis:])
        scale = st.new_const(f"{div.output[0]}__scale", np.ones(norm_shape, np.float32))
        bias = st.new_const(f"{div.output[0]}__bias", np.zeros(norm_shape, np.float32))
        ln = helper.make_node("LayerNormalization", [x, scale, bias], [div.output[0]], name=div.name or chain[0].name,
                              axis=axis - len(st.shapes[x]), epsilon=float(eps))
        _replace(st, chain, ln)
        st.log.append(f"fused the decomposed LayerNorm ending at Div {div.name!r} into LayerNormalization")


class FoldNormAffine(NodePass):
    """LayerNormalization -> Mul / Add by a constant over the normalised axes -> its scale / bias."""

    name = "fold_norm_affine"

    def _parts(self, st: OnnxState, n: NodeProto):
        if n.op_type not in ("Mul", "Add") or len(n.input) != 2:
            return None
        for t in n.input:
            ln = st.producer(t)
            c = _other(n, t)
            if ln is None or ln.op_type != "LayerNormalization" or c not in st.consts or st.only_consumer(t) is not n:
                continue
            if len(ln.input) < 3 or ln.input[1] not in st.consts or ln.input[2] not in st.consts:
                continue
            shape = st.consts[ln.input[1]].shape
            k = np.asarray(st.consts[c], dtype=np.float64)
            if k.ndim > len(shape):
                k = k.reshape(k.shape[k.ndim - len(shape):]) if all(d == 1 for d in k.shape[:k.ndim - len(shape)]) else None
            if k is None:
                continue
            try:
                if np.broadcast_shapes(k.shape, shape) != shape:
                    continue
            except ValueError:
                continue
            return ln, np.broadcast_to(k, shape)
        return None

    def match(self, st: OnnxState, n: NodeProto) -> bool:
        return self._parts(st, n) is not None

    def rewrite(self, st: OnnxState, n: NodeProto) -> None:
        ln, k = self._parts(st, n)
        g, b = st.consts[ln.input[1]].astype(np.float64), st.consts[ln.input[2]].astype(np.float64)
        g, b = (g * k, b * k) if n.op_type == "Mul" else (g, b + k)
        ln.input[1] = st.new_const(f"{ln.output[0]}__scale", g.astype(np.float32))
        ln.input[2] = st.new_const(f"{ln.output[0]}__bias", b.astype(np.float32))
        st.rename_output(ln, ln.output[0], n.output[0])
        st.remove(n)
        st.log.append(f"folded {n.op_type} {n.name!r} into LayerNormalization {ln.name!r}")
