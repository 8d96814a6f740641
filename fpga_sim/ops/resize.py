"""Resize (opsets 10-19) and Upsample (7-9): nearest and (multi)linear, from scales or sizes,
with onnxruntime's coordinate transformations and nearest-rounding modes.

Per resized axis, output index x maps to the input coordinate (float32, as onnxruntime computes
it) of its `coordinate_transformation_mode`: half_pixel (default) (x + 0.5) / s - 0.5,
pytorch_half_pixel (the same, 0 for an output of length 1), align_corners x (in - 1) / (out - 1),
asymmetric x / s; opsets < 11 are asymmetric.  s is the given
scale, or out / in when sizes are given.

nearest: the coordinate rounded by `nearest_mode` (round_prefer_floor (default),
round_prefer_ceil, floor, ceil; opsets < 11: floor when upsampling, ceil when downsampling),
clamped to the axis.  An index map (`ops.remap`): one cast per output element, none by default.

linear: the coordinate clamped to [0, in - 1]; i0 = floor, i1 = min(i0 + 1, in - 1), w1 = c - i0.
Fixed point, the way an FPGA interpolator does it:

    W1 = floor(w1 * 2^F + 1/2), W0 = 2^F - W1         // F = LINEAR_WEIGHT_FRAC: 12-bit weights,
                                                      // W0 + W1 = 1 exactly (constants stay exact)
    acc = sum over the 2^R corners of  x[corner] * prod_k W_k   // exact integer products and sums
    result_t y = (result_t)acc;    // acc has frac(x) + F*R bits; one rounding: result_t's mode

R is the number of axes interpolated (at most 3); frac widths must keep x's width + F*R <= 62
(int64 exactness).  The float kernel uses the unquantised w1 (onnxruntime's reference).  Without
a configured result type the layer keeps its input's type (`keeps_input_type`): interpolated
values lie within the input's range, so only the final rounding is to the input's resolution.

Refused, with one sentence: modes other than nearest/linear (cubic), coordinate modes
tf_crop_and_resize, tf_half_pixel_for_nn and half_pixel_symmetric, antialias, keep_aspect_ratio_policy other than
stretch, non-constant scales/sizes, a batch-axis scale other than 1, both or neither of scales
and sizes.  A size given for the batch axis is read as the exporter's batch size: never resized.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import FpgaSimError
from ..fixed import Fixed
from ..graph import Node
from .base import op
from .common import element_cost, in_type, node_name, result_type, unsupported
from .remap import INDEX_BITS, IndexMap, RemapOp, axis_table, flat_indices, strides

LINEAR_WEIGHT_FRAC = 12
MAX_LINEAR_AXES = 3
LINEAR_RANK = 4          # per-sample axes the HLS kernel of a linear resize has counters for
COORD_MODES = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric")
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


@dataclass(frozen=True)
class ResizeAttrs:
    """Per per-sample axis: source indices (nearest: i0 only), linear i1 and weights."""

    mode: str                                 # "nearest" or "linear"
    i0: tuple[tuple[int, ...], ...]
    i1: tuple[tuple[int, ...], ...]
    w1: tuple[tuple[float, ...], ...]         # float weight of i1 (linear; 0 on axes not resized)
    in_shapes: tuple[tuple[int, ...], ...]
    out_shape: tuple[int, ...]

    @property
    def interpolated(self) -> tuple[int, ...]:
        """Axes whose output mixes two input indices (linear only)."""
        return tuple(k for k, w in enumerate(self.w1) if any(w)) if self.mode == "linear" else ()

    def w1_raw(self, k: int) -> np.ndarray:
        return np.floor(np.asarray(self.w1[k], dtype=np.float64) * (1 << LINEAR_WEIGHT_FRAC) + 0.5).astype(np.int64)


def original_coordinate(mode: str, x: np.ndarray, scale: np.float32, n_in: int, n_out: int) -> np.ndarray:
    """onnxruntime's get_original_coordinate, in float32."""
    f = np.float32
    x = x.astype(f)
    if mode == "asymmetric":
        return x / scale
    if mode == "align_corners":
        return np.zeros_like(x) if n_out == 1 else x * f(n_in - 1) / f(n_out - 1)
    if mode == "pytorch_half_pixel" and n_out == 1:
        return np.zeros_like(x)
    return (x + f(0.5)) / scale - f(0.5)


def nearest_index(mode: str, c: np.ndarray, downsampling: bool) -> np.ndarray:
    if mode == "simple":
        return np.ceil(c) if downsampling else np.trunc(c)
    if mode == "floor":
        return np.floor(c)
    if mode == "ceil":
        return np.ceil(c)
    if mode == "round_prefer_ceil":
        return np.where(c >= 0, np.floor(c + np.float32(0.5)), np.ceil(c - np.float32(0.5)))
    half = c == np.floor(c) + np.float32(0.5)
    return np.where(half, np.floor(c), np.round(c))


def _axis(mode: str, coord: str, nearest: str, n_in: int, n_out: int, scale: float) -> tuple[list[int], list[int], list[float]]:
    s = np.float32(scale)
    c = original_coordinate(coord, np.arange(n_out), s, n_in, n_out)
    if mode == "nearest":
        idx = np.clip(nearest_index(nearest, c, s < 1).astype(np.int64), 0, n_in - 1)
        return idx.tolist(), idx.tolist(), [0.0] * n_out
    c = np.clip(c, np.float32(0), np.float32(n_in - 1))
    i0 = np.minimum(c.astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    w1 = np.where(i0 == i1, 0.0, (c - i0.astype(np.float32)).astype(np.float64))
    i1 = np.where(w1 == 0, i0, i1)          # a tap of weight 0 is no tap
    return i0.tolist(), i1.tolist(), w1.tolist()


def _const_floats(ctx: Any, onnx_node: Any, tensor: str, what: str) -> list[float] | None:
    if not tensor:
        return None
    v = ctx.const(tensor)
    if v is None:
        raise unsupported(ctx, onnx_node, f"{what} is not a constant; constant {what} are supported")
    v = np.asarray(v).reshape(-1)
    return None if v.size == 0 else [float(e) for e in v]


def _scales_and_sizes(onnx_node: Any, ctx: Any, a: dict[str, Any]) -> tuple[list[float] | None, list[float] | None]:
    ins = list(onnx_node.input) + [""] * 4
    if onnx_node.op_type == "Upsample":
        if ctx.opset < 9:
            return [float(v) for v in a.get("scales", [])] or None, None
        return _const_floats(ctx, onnx_node, ins[1], "scales"), None
    if ctx.opset < 11:
        return _const_floats(ctx, onnx_node, ins[1], "scales"), None
    return _const_floats(ctx, onnx_node, ins[2], "scales"), _const_floats(ctx, onnx_node, ins[3], "sizes")


def _check_modes(ctx: Any, onnx_node: Any, a: dict[str, Any]) -> tuple[str, str, str]:
    old = onnx_node.op_type == "Upsample" or ctx.opset < 11
    mode = str(a.get("mode", "nearest"))
    mode = {"bilinear": "linear", "trilinear": "linear"}.get(mode, mode)     # Upsample-7's spellings
    if mode not in ("nearest", "linear"):
        raise unsupported(ctx, onnx_node, f"mode {mode!r} is not supported; 'nearest' and 'linear' are")
    coord = "asymmetric" if old else str(a.get("coordinate_transformation_mode", "half_pixel"))
    if coord not in COORD_MODES:
        raise unsupported(ctx, onnx_node, f"coordinate_transformation_mode {coord!r} is not supported; "
                                          f"{', '.join(map(repr, COORD_MODES))} are")
    nearest = "simple" if old else str(a.get("nearest_mode", "round_prefer_floor"))
    if nearest not in NEAREST_MODES + ("simple",):
        raise unsupported(ctx, onnx_node, f"nearest_mode {nearest!r} is not supported; {', '.join(map(repr, NEAREST_MODES))} are")
    if int(a.get("antialias", 0)):
        raise unsupported(ctx, onnx_node, "antialias=1 is not supported; antialias=0 is")
    policy = str(a.get("keep_aspect_ratio_policy", "stretch"))
    if policy != "stretch":
        raise unsupported(ctx, onnx_node, f"keep_aspect_ratio_policy {policy!r} is not supported; 'stretch' is")
    return mode, coord, nearest


@op("Resize")
class Resize(RemapOp):
    onnx_ops = ("Resize", "Upsample")

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        x = onnx_node.input[0]
        shape = tuple(int(d) for d in ctx.shape(x))
        rank = len(shape) + 1
        a = ctx.attrs(onnx_node)
        mode, coord, nearest = _check_modes(ctx, onnx_node, a)
        scales, sizes = _scales_and_sizes(onnx_node, ctx, a)
        if (scales is None) == (sizes is None):
            raise unsupported(ctx, onnx_node, "scales and sizes are both given or both missing; exactly one is accepted")
        axes = [int(v) % rank for v in a.get("axes", range(rank))]
        given = scales if scales is not None else sizes
        if len(given) != len(axes):
            raise unsupported(ctx, onnx_node, f"{len(given)} {'scales' if scales else 'sizes'} for {len(axes)} axes; one per axis is accepted")
        full_in = (None,) + shape
        per_axis: dict[int, tuple[int, float]] = {}
        for ax, g in zip(axes, given):
            if scales is not None:
                if g <= 0:
                    raise unsupported(ctx, onnx_node, f"scale {g} on axis {ax} is not positive; positive scales are accepted")
                n_out = None if ax == 0 else int(np.float32(g) * np.float32(full_in[ax]))
                per_axis[ax] = (n_out, g)
            else:
                per_axis[ax] = (int(g), None if ax == 0 else float(np.float32(g) / np.float32(full_in[ax])))
        b_out, b_scale = per_axis.pop(0, (None, 1.0))
        if scales is not None and b_scale != 1.0:   # a size there is the exporter's batch: kept as it is
            raise unsupported(ctx, onnx_node, f"scale {b_scale} would resize the batch axis; a scale of 1 there is accepted")
        i0, i1, w1, out = [], [], [], []
        for k, n_in in enumerate(shape):
            n_out, s = per_axis.get(k + 1, (n_in, 1.0))
            if n_out < 1:
                raise unsupported(ctx, onnx_node, f"axis {k + 1} of size {n_in} would be resized to {n_out}; outputs of at least 1 are accepted")
            ti0, ti1, tw = _axis(mode, coord, nearest, n_in, n_out, s)
            i0.append(tuple(ti0)), i1.append(tuple(ti1)), w1.append(tuple(tw)), out.append(n_out)
        attrs = ResizeAttrs(mode, tuple(i0), tuple(i1), tuple(w1), (shape,), tuple(out))
        if len(attrs.interpolated) > MAX_LINEAR_AXES:
            raise unsupported(ctx, onnx_node, f"linear interpolation on {len(attrs.interpolated)} axes; at most "
                                              f"{MAX_LINEAR_AXES} are supported")
        return [Node(node_name(onnx_node), "Resize", [x], [onnx_node.output[0]], attrs)]

    def maps(self, node: Node) -> list[IndexMap]:
        """Nearest: one index map.  (Linear reads 2^R of them: `corners`.)"""
        a = node.attrs
        st = strides(a.in_shapes[0])
        return [IndexMap(a.out_shape, tuple(axis_table(s, t) for s, t in zip(st, a.i0)))]

    def corners(self, node: Node) -> list[tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]]:
        """Linear: per corner, (flat source indices, float weights per axis, raw weights per axis)
        as broadcastable arrays over the output (the interpolated axes only carry weights)."""
        a = node.attrs
        st, rank = strides(a.in_shapes[0]), len(a.out_shape)
        axes = a.interpolated
        out = []
        for mask in range(1 << len(axes)):
            tabs, wf, wr = [], [], []
            for k in range(rank):
                pick = k in axes and mask >> axes.index(k) & 1
                tabs.append(axis_table(st[k], a.i1[k] if pick else a.i0[k]))
                if k in axes:
                    shape = [1] * rank
                    shape[k] = a.out_shape[k]
                    w = np.asarray(a.w1[k], np.float64)
                    r = a.w1_raw(k)
                    wf.append((w if pick else 1.0 - w).reshape(shape))
                    wr.append((r if pick else (1 << LINEAR_WEIGHT_FRAC) - r).reshape(shape))
            src, _ = flat_indices(IndexMap(a.out_shape, tuple(tabs)))
            out.append((src, wf, wr))
        return out

    def run_float(self, node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
        if node.attrs.mode == "nearest":
            return super().run_float(node, inputs)
        x = np.asarray(inputs[0], dtype=np.float64)
        n = x.shape[0]
        flat = x.reshape(n, -1)
        y = np.zeros((n,) + node.attrs.out_shape)
        for src, wf, _ in self.corners(node):
            w = np.ones(node.attrs.out_shape)
            for f in wf:
                w = w * f
            y += flat[:, src].reshape(y.shape) * w
        return [y]

    def accum_type(self, node: Node, t_in: Fixed) -> Fixed:
        """The exact type of the interpolation sum: x's type with F*R more fractional bits."""
        r = len(node.attrs.interpolated)
        acc = Fixed(t_in.width + LINEAR_WEIGHT_FRAC * r + 1, t_in.int_bits + 1, True)
        if acc.width > 62:
            raise FpgaSimError(f"node {node.name!r} (Resize): linear interpolation of {t_in} on {r} axes needs a "
                               f"{acc.width}-bit sum; input widths of at most {61 - LINEAR_WEIGHT_FRAC * r} bits are accepted")
        return acc

    def run_fixed(self, node: Node, inputs: list[np.ndarray], qg: Any) -> tuple[list[np.ndarray], int]:
        if node.attrs.mode == "nearest":
            return super().run_fixed(node, inputs, qg)
        t_in, t_out = in_type(qg, node), result_type(qg, node)
        acc_t = self.accum_type(node, t_in)
        x = np.asarray(inputs[0], dtype=np.int64)
        n = x.shape[0]
        flat = x.reshape(n, -1)
        acc = np.zeros((n,) + node.attrs.out_shape, dtype=np.int64)
        for src, _, wr in self.corners(node):
            w = np.ones(node.attrs.out_shape, dtype=np.int64)
            for r in wr:
                w = w * r
            acc += flat[:, src].reshape(acc.shape) * w
        y, n_over = t_out.cast_counted(acc, acc_t)
        return [y], int(n_over)

    def rom(self, node: Node, qg: Any) -> tuple[tuple[int, int], ...] | None:
        """Nearest: the index map's; linear: four tables (two source offsets, two weights) per
        axis, padded to LINEAR_RANK axes as the HLS kernel holds them."""
        if node.attrs.mode == "nearest":
            return super().rom(node, qg)
        words = LINEAR_RANK - len(node.attrs.out_shape) + sum(node.attrs.out_shape)
        return ((words, INDEX_BITS),) * 4

    def cost(self, node: Node, qg: Any, hw: Any) -> Any:
        """Nearest: a copy per output; linear: one multiply-add per corner (2^R) per output."""
        if node.attrs.mode == "nearest":
            return super().cost(node, qg, hw)
        r = len(node.attrs.interpolated)
        return element_cost(self, node, qg, hw, ops_per_output=1 << r, weight_bits=LINEAR_WEIGHT_FRAC * r,
                            notes=f"linear: {1 << r} weighted taps per output, {LINEAR_WEIGHT_FRAC}-bit weights")

