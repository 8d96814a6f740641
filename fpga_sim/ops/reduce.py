"""ReduceSum, ReduceMean and ReduceMax over any per-sample axes (keepdims either way).

Integer arithmetic (per output, over the M inputs x_j it reduces, in row-major order):

    Sum / Mean:  accum_t acc = 0;
                 acc += (accum_t)x_j;          // each cast to accum_t, each sum assigned to it
                 Sum:  result_t y = acc;                    // one cast
                 Mean: result_t y = acc * RECIP;            // RECIP = 1/M as AveragePool's recip_t
                                                            // (`avgpool.reciprocal_type`), exact
                                                            // product, one cast
    Max:         input_t m = max_j x_j;  result_t y = m;   // exact compare, one cast (keeps the
                                                            // input type when none is configured)
    // fused ReLU, if any, after the cast

The default accumulator (`safe_accum`) is the input type widened by ceil(log2 M) bits: it
cannot overflow.  The batch axis cannot be reduced (ONNX's "all axes" when none are given
includes it).  Overflows counted: accumulator adds and final casts that wrapped/saturated.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from ..errors import FpgaSimError
from ..fixed import Fixed
from ..fixed_kernels import requant
from ..graph import LayerTypes, Node
from .avgpool import reciprocal_type
from .base import Op, op
from .common import check_accum_width, check_product_width, element_cost, in_type, max_accum_width, node_name, \
    relu_flag, result_type, unsupported

KINDS = ("sum", "mean", "max")


@dataclass(frozen=True)
class ReduceAttrs:
    """Per-sample axes reduced (sorted), whether they stay as size-1 axes, and the reduction."""

    axes: tuple[int, ...] = (0,)
    keepdims: bool = True
    kind: str = "sum"
    m: int = 1                 # values reduced into each output


def moved(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Batched x with the reduced per-sample axes moved last: (N * rest, M), row-major."""
    kept = [a + 1 for a in range(x.ndim - 1) if a not in axes]
    t = np.transpose(x, [0] + kept + [a + 1 for a in axes])
    m = int(np.prod([x.shape[a + 1] for a in axes], dtype=np.int64))
    return np.ascontiguousarray(t.reshape(-1, m))


@njit(cache=True, nogil=True)
def reduce_kernel(x, kind, recip, a_shift, a_width, a_signed, a_rnd, a_ovf, r_shift, r_width, r_signed, r_rnd,
                  r_ovf, relu, out) -> int:
    """x (rows, M) raw -> out (rows,) raw; kind 0 sum, 1 mean, 2 max; returns the overflow count."""
    n = 0
    for r in range(x.shape[0]):
        if kind == 2:
            v = x[r, 0]
            for j in range(1, x.shape[1]):
                v = max(v, x[r, j])
        else:
            v = np.int64(0)
            for j in range(x.shape[1]):
                t, o1 = requant(x[r, j], a_shift, a_width, a_signed, a_rnd, a_ovf)
                v, o2 = requant(v + t, 0, a_width, a_signed, a_rnd, a_ovf)
                n += o1 + o2
            if kind == 1:
                v = v * recip
        y, o = requant(v, r_shift, r_width, r_signed, r_rnd, r_ovf)
        if relu and y < 0:
            y = 0
        out[r] = y
        n += o
    return n


class ReduceOp(Op):
    """One ONNX Reduce* op; `kind` picks the reduction, `axes_input_since` the opset from which
    the axes are an input instead of an attribute."""

    kind: str = "sum"
    axes_input_since: int = 13
    template = "layer"
    relu_fusable = False

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        shape = tuple(ctx.shape(onnx_node.input[0]))
        a = ctx.attrs(onnx_node)
        if ctx.opset >= self.axes_input_since:
            axes = None
            if len(onnx_node.input) > 1 and onnx_node.input[1]:
                c = ctx.const(onnx_node.input[1])
                if c is None:
                    raise unsupported(ctx, onnx_node, "the axes must be a constant")
                axes = [int(v) for v in np.asarray(c).reshape(-1)]
            if not axes and int(a.get("noop_with_empty_axes", 0)):
                raise unsupported(ctx, onnx_node, "noop_with_empty_axes with no axes is an identity; give the axes")
        else:
            axes = a.get("axes")
        rank = len(shape) + 1
        axes = list(range(rank)) if not axes else [int(v) + rank if int(v) < 0 else int(v) for v in axes]
        if 0 in axes or any(not 0 <= v < rank for v in axes) or len(set(axes)) != len(axes):
            raise unsupported(ctx, onnx_node, f"axes {axes} of a rank-{rank} input are not accepted; distinct "
                                              f"per-sample axes (1..{rank - 1}, the batch axis is never reduced) are")
        per_sample = tuple(sorted(v - 1 for v in axes))
        m = int(np.prod([shape[k] for k in per_sample], dtype=np.int64))
        attrs = ReduceAttrs(per_sample, bool(int(a.get("keepdims", 1))), self.kind, m)
        node = Node(node_name(onnx_node), self.name, [onnx_node.input[0]], [onnx_node.output[0]], attrs)
        if self.kind == "mean":
            recip = np.zeros(m + 1)
            recip[m] = 1.0 / m
            node.params["recip"] = recip
        return [node]

    def infer_shapes(self, node: Node, in_shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        s, a = tuple(in_shapes[0]), node.attrs
        if a.keepdims:
            return [tuple(1 if k in a.axes else d for k, d in enumerate(s))]
        return [tuple(d for k, d in enumerate(s) if k not in a.axes)]

    def safe_accum(self, node: Node, in_types: list[Fixed], weight: Fixed | None) -> Fixed | None:
        if self.kind == "max":
            return None
        t = in_types[0]
        m = node.attrs.m
        grow = (m - 1).bit_length()
        i = t.int_bits + grow + (0 if t.signed else 1)
        w = min(t.width + grow + (0 if t.signed else 1), max_accum_width(True))
        if i > max_accum_width(True):
            raise FpgaSimError(f"node {node.name!r} ({self.name}): a safe accumulator for {t} over {m} values needs {i} integer bits; at most 63 are supported")
        return Fixed(w, i, True)

    def quantize_params(self, node: Node, types: LayerTypes) -> tuple[dict[str, np.ndarray], int]:
        if "recip" not in node.params:
            return {}, 0
        raw, n = reciprocal_type(node, types).quantize_counted(node.params["recip"])
        return {"recip": raw}, n

    def run_float(self, node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
        x = np.asarray(inputs[0], dtype=np.float64)
        ax = tuple(a + 1 for a in node.attrs.axes)
        fn = {"sum": np.sum, "mean": np.mean, "max": np.max}[self.kind]
        y = fn(x, axis=ax, keepdims=node.attrs.keepdims)
        return [np.maximum(y, 0.0) if node.activation == "relu" else y]

    def accum_type(self, node: Node, qg: Any) -> Fixed | None:
        lt = qg.layer_types[node.name]
        if lt.accum is not None or self.kind == "max":
            return lt.accum
        return self.safe_accum(node, [in_type(qg, node)], lt.weight)

    def run_fixed(self, node: Node, inputs: list[np.ndarray], qg: Any) -> tuple[list[np.ndarray], int]:
        t_in, t_out = in_type(qg, node), result_type(qg, node)
        x = np.asarray(inputs[0], dtype=np.int64)
        x2 = moved(x, node.attrs.axes)
        out = np.empty(x2.shape[0], dtype=np.int64)
        (shape,) = self.infer_shapes(node, [x.shape[1:]])
        if self.kind == "max":
            n = reduce_kernel(x2, 2, 0, 0, *t_in.codes, t_in.frac - t_out.frac, *t_out.codes, relu_flag(node), out)
            return [out.reshape((x.shape[0],) + shape)], int(n)
        t_acc = self.accum_type(node, qg)
        check_accum_width(node, t_acc)
        recip, r_frac = 0, 0
        if self.kind == "mean":
            t_rc = reciprocal_type(node, qg.layer_types[node.name])      # as quantize_params made RECIP
            check_product_width(node, t_acc, t_rc)
            recip, r_frac = int(qg.qparams[node.name]["recip"][-1]), t_rc.frac
        n = reduce_kernel(x2, KINDS.index(self.kind), recip, t_in.frac - t_acc.frac, *t_acc.codes,
                          t_acc.frac + r_frac - t_out.frac, *t_out.codes, relu_flag(node), out)
        return [out.reshape((x.shape[0],) + shape)], int(n)

    def rom(self, node: Node, qg: Any) -> tuple[tuple[int, int], ...]:
        """(words, bits) of the on-chip constants: a mean's one reciprocal 1/M (quantize_params
        keeps 1/m at index m; only that entry is stored)."""
        if self.kind != "mean":
            return ()
        return ((1, reciprocal_type(node, qg.layer_types[node.name]).width),)

    def cost(self, node: Node, qg: Any, hw: Any) -> Any:
        """M - 1 adds or compares per output (plus the multiply by 1/M for a mean)."""
        m = node.attrs.m
        acc = self.accum_type(node, qg)
        return element_cost(self, node, qg, hw, ops_per_output=max(1, m - 1 + (self.kind == "mean")),
                            accum_bits=acc.width if acc is not None else 0)


def _register(name: str, kind: str, axes_input_since: int) -> type[ReduceOp]:
    """One registered reduction: its ONNX type, kind, and the opset whose axes became an input;
    a max keeps its input's type (its result is one of the inputs)."""
    cls = type(name, (ReduceOp,), {"onnx_ops": (name,), "kind": kind, "axes_input_since": axes_input_since,
                                   "keeps_input_type": kind == "max", "__module__": __name__})
    return op(name)(cls)


ReduceSum = _register("ReduceSum", "sum", 13)
ReduceMean = _register("ReduceMean", "mean", 18)
ReduceMax = _register("ReduceMax", "max", 18)
