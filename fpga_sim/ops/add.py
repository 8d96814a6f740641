"""Add and Sum of activations (and at most one constant addend): a sum in the accumulator.

Integer arithmetic (per output element; inputs broadcast per sample as numpy does):

    accum_t acc = (accum_t)B[i];        // only with a constant addend: B raw in the bias type
                                        // (the layer's bias type, else weight, else result type)
    acc = acc + (accum_t)x0[i];         // each input cast to accum_t (its rounding/overflow),
    acc = acc + (accum_t)x1[i]; ...     // then each sum assigned to accum_t (its overflow),
                                        // inputs in ONNX input order; a subtracted input
                                        // (Sub, `ops.sub`) is acc = acc - (accum_t)x_k[i]
    result_t y = acc;                   // one cast: result_t's rounding/overflow
    // fused ReLU, if any, after the cast: if (y < 0) y = 0;

The default accumulator (`safe_accum`) has the finest input grid and enough integer bits for
the sum of all terms, so it cannot overflow.  Overflows counted: every cast and add that
wrapped/saturated.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from ..errors import FpgaSimError
from ..fixed import Fixed
from ..fixed_kernels import cast_params, requant
from ..graph import LayerTypes, Node
from .base import Op, op
from .common import bias_type, check_accum_width, element_cost, node_name, relu_flag, result_type, unsupported
from .mac_epilogue import sum_cast


@dataclass(frozen=True)
class AddAttrs:
    """Which ONNX op it came from and the sign of each activation input (empty: all +1); the
    constant addend, if any, is the "bias" param (already signed)."""

    source: str = "Add"
    signs: tuple[int, ...] = ()


@njit(cache=True, nogil=True)
def sum_kernel(terms, shifts, signs, a_width, a_signed, a_rnd, a_ovf, r_shift, r_width, r_signed, r_rnd, r_ovf,
               relu, out) -> int:
    """terms (T, S) raw, each row cast by shifts[t] into the accumulator and added (signs[t] = 1)
    or subtracted (-1) in order."""
    n = 0
    for i in range(terms.shape[1]):
        acc = np.int64(0)
        for t in range(terms.shape[0]):
            v, o1 = requant(terms[t, i], shifts[t], a_width, a_signed, a_rnd, a_ovf)
            acc, o2 = requant(acc + v if signs[t] > 0 else acc - v, 0, a_width, a_signed, a_rnd, a_ovf)
            n += o1 + o2
        r, o = requant(acc, r_shift, r_width, r_signed, r_rnd, r_ovf)
        if relu and r < 0:
            r = 0
        out[i] = r
        n += o
    return n


def _sum_is_exact(types: list[Fixed], shifts: list[int], acc: Fixed) -> bool:
    """Whether, for any values of the term types, each cast into acc is an exact left shift
    (shift <= 0) and every partial sum stays inside acc's unflagged range (type bounds only)."""
    if any(k > 0 for k in shifts):
        return False
    hi = sum(t.max_raw << -k for t, k in zip(types, shifts))
    lo = sum(t.min_raw << -k for t, k in zip(types, shifts))
    return hi <= acc.max_raw and lo >= acc.min_exact_raw and acc.sum_fits_int64


def _per_sample_const(value: np.ndarray, rank: int) -> np.ndarray:
    """A constant broadcast against batched tensors -> its per-sample form (drop a batch axis of 1)."""
    v = np.asarray(value, dtype=np.float64)
    if v.ndim == rank + 1:
        if v.shape[0] != 1:
            raise ValueError(f"constant of shape {v.shape} varies along the batch axis")
        v = v[0]
    return v


def input_signs(node: Node) -> list[int]:
    """+1 / -1 per activation input (Sub subtracts its second input)."""
    signs = getattr(node.attrs, "signs", ())
    return list(signs) if signs else [1] * len(node.inputs)


def _signed_int_bits(t: Fixed) -> int:
    return t.int_bits + (0 if t.signed else 1)


@op("Add")
class Add(Op):
    onnx_ops = ("Add", "Sum")
    template = "layer"
    keeps_input_type = False
    relu_fusable = False

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        return self.lower_signed(onnx_node, ctx, [1] * len(onnx_node.input))

    def lower_signed(self, onnx_node: Any, ctx: Any, signs: list[int]) -> list[Node]:
        """A sum of the node's inputs, input k taken with sign signs[k] (Sub: [1, -1])."""
        acts, consts, act_signs = [], [], []
        for name, sign in zip(onnx_node.input, signs):
            c = ctx.const(name)
            if c is None:
                acts.append((name, c))
                act_signs.append(sign)
            else:
                consts.append((name, sign * np.asarray(c, dtype=np.float64)))
        if not acts:
            raise unsupported(ctx, onnx_node, "every input is a constant; constant folding should have removed this node")
        if len(consts) > 1:
            raise unsupported(ctx, onnx_node, f"{len(consts)} constant inputs; at most one constant addend is supported")
        shapes = [tuple(ctx.shape(n)) for n, _ in acts]
        if len({len(s) for s in shapes}) != 1:
            raise unsupported(ctx, onnx_node, f"activation inputs of different ranks {shapes} would broadcast across the batch axis; equal ranks are supported")
        try:
            out = np.broadcast_shapes(*shapes)
            params = {}
            if consts:
                params["bias"] = _per_sample_const(consts[0][1], len(out))
                if np.broadcast_shapes(out, params["bias"].shape) != out:
                    raise ValueError(f"constant of shape {params['bias'].shape} would enlarge the output {out}")
        except ValueError as e:
            raise unsupported(ctx, onnx_node, f"inputs do not broadcast: {e}") from None
        signs_attr = tuple(act_signs) if any(v < 0 for v in act_signs) else ()
        return [Node(node_name(onnx_node), self.name, [n for n, _ in acts], [onnx_node.output[0]],
                     AddAttrs(onnx_node.op_type, signs_attr), params=params)]

    def infer_shapes(self, node: Node, in_shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        return [tuple(np.broadcast_shapes(*[tuple(s) for s in in_shapes]))]

    def safe_accum(self, node: Node, in_types: list[Fixed], weight: Fixed | None) -> Fixed | None:
        """Finest input grid, largest input range plus ceil(log2(terms)) bits: no overflow possible."""
        ints = [_signed_int_bits(t) for t in in_types]
        fracs = [t.frac for t in in_types]
        if "bias" in node.params:
            b = float(np.max(np.abs(node.params["bias"]), initial=0.0))
            ints.append(max(1, math.floor(math.log2(b)) + 2) if b > 0 else 1)
        grow = (len(ints) - 1).bit_length()
        i = max(ints) + grow
        f = min(max(fracs), 63 - i)    # beyond 63 bits (sums must fit int64), drop fractional bits
        if not 1 <= i + f <= 63:
            raise FpgaSimError(f"node {node.name!r} (Add): a safe accumulator needs {i + f} bits; 1..63 are supported")
        return Fixed(i + f, i, True)

    def quantize_params(self, node: Node, types: LayerTypes) -> tuple[dict[str, np.ndarray], int]:
        if "bias" not in node.params:
            return {}, 0
        raw, n = bias_type(types).quantize_counted(node.params["bias"])
        return {"bias": raw}, n

    def run_float(self, node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
        signs = input_signs(node)
        y = signs[0] * np.asarray(inputs[0], dtype=np.float64)
        for x, sign in zip(inputs[1:], signs[1:]):
            y = y + sign * np.asarray(x, dtype=np.float64)
        if "bias" in node.params:
            y = y + node.params["bias"]
        if node.activation == "relu":
            y = np.maximum(y, 0.0)
        return [y]

    def accum_type(self, node: Node, qg: Any) -> Fixed:
        lt = qg.layer_types[node.name]
        if lt.accum is not None:
            return lt.accum
        return self.safe_accum(node, [qg.tensor_types[t] for t in node.inputs], lt.weight)

    def run_fixed(self, node: Node, inputs: list[np.ndarray], qg: Any) -> tuple[list[np.ndarray], int]:
        t_acc, t_out = self.accum_type(node, qg), result_type(qg, node)
        check_accum_width(node, t_acc)
        xs = [np.asarray(x, dtype=np.int64) for x in inputs]
        shape = np.broadcast_shapes(*[x.shape for x in xs])
        rows, types, signs = [], [], []
        if "bias" in node.params:
            rows.append(np.broadcast_to(qg.qparams[node.name]["bias"], shape))
            types.append(bias_type(qg.layer_types[node.name]))
            signs.append(1)
        signs += input_signs(node)
        for x, t in zip(xs, node.inputs):
            rows.append(np.broadcast_to(x, shape))
            types.append(qg.tensor_types[t])
        shifts = [t.frac - t_acc.frac for t in types]
        if len(rows) >= 2 and all(sg == 1 for sg in signs) and _sum_is_exact(types, shifts, t_acc):
            # every cast into the accumulator is an exact left shift and no partial sum can leave
            # it: fused passes of two terms each (hls4ml's default accumulator is safe)
            flat = [np.ascontiguousarray(r).reshape(-1) for r in rows]
            out = np.empty(flat[0].size, dtype=np.int64)
            p, relu = cast_params(t_acc.frac - t_out.frac, *t_out.codes), relu_flag(node)
            n, a, sa = 0, flat[0], -shifts[0]
            for i in range(1, len(flat)):
                last = i == len(flat) - 1
                n += sum_cast(a, sa, flat[i], -shifts[i], p, last, relu, out)
                a, sa = out, 0
            return [out.reshape(shape)], int(n)
        terms = np.stack([r.reshape(-1) for r in rows])
        out = np.empty(terms.shape[1], dtype=np.int64)
        n = sum_kernel(terms, np.array(shifts, dtype=np.int64), np.array(signs, dtype=np.int64), *t_acc.codes, t_acc.frac - t_out.frac,
                       *t_out.codes, relu_flag(node), out)
        return [out.reshape(shape)], int(n)

    def cost(self, node: Node, qg: Any, hw: Any) -> Any:
        """One add per term beyond the first, at least one op per output."""
        terms = len(node.inputs) + ("bias" in node.params)
        words = node.params["bias"].size if "bias" in node.params else 0
        bits = bias_type(qg.layer_types[node.name]).width if words else 0
        return element_cost(self, node, qg, hw, ops_per_output=max(1, terms - 1), weight_words=words,
                            weight_bits=bits, accum_bits=self.accum_type(node, qg).width)
