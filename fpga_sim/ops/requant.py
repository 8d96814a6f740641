"""Requant: the integer requantiser of QDQ models (gemmlowp/TFLite-style integer inference).

A QDQ model's integer tensors are held centred, r = q - zero_point (so zero padding and ReLU
stay exact), with a real scale s: value = s * r.  Where a QuantizeLinear rescales a tensor whose
one raw unit is worth `u_in` (a scale, per channel for a MAC layer's accumulator s_in * s_w[c],
or 2**-frac of a fixed-point input) into units of `u_out` (a scale, or 2**-frac of a fixed-point
output when a DequantizeLinear leaves the integer domain), the factor f = u_in / u_out is an
integer multiplier M of `mult_bits` bits and a shift (f ~ M * 2**-shift, M in [2**(B-1), 2**B)):

    v = x * M                              // one DSP multiply (x: int64, M: B-bit unsigned)
    y = round_half_even(v / 2**shift)      // an add and a shift (QuantizeLinear rounds half to even)
    y = min(max(y, LO), HI)                // LO, HI = qmin - zp, qmax - zp (or the output type's range)

`requant_constants` computes (M, shift) from the node and its input/output types; the engine,
the cost and the generated C++ (hls_templates/nnet/fsim_requant.h) all use it.  The only
difference from onnxruntime, which multiplies by the float32 scale ratio, is the rounding of f
to B bits: a product within half an LSB of a rounding boundary can land one LSB apart.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from ..errors import FpgaSimError
from ..fixed import Fixed
from ..graph import Node
from .base import Op, op
from .common import in_type, node_name, result_type, unsupported

DOMAIN = "fpga_sim"
MULTIPLIER_BITS = 24   # bits of the requantiser's multiplier M (float32 carries 24 significant bits)

SHIFT_BITS = 8      # a stored per-channel shift: a signed 8-bit integer (|shift| < 128)


@dataclass(frozen=True)
class RequantAttrs:
    """in_scale / out_scale: real value of one raw unit (per channel along `axis`, or one value);
    None: the 2**-frac of the input / output fixed-point type.  lo/hi: clamp bounds of an
    integer output (None: the output type's range)."""

    in_scale: tuple[float, ...] | None
    out_scale: float | None
    lo: int | None = None
    hi: int | None = None
    axis: int = 0                 # per-sample channel axis of a per-channel in_scale
    mult_bits: int = MULTIPLIER_BITS


def _floats(v: Any) -> tuple[float, ...] | None:
    v = [float(a) for a in (v or [])]
    return tuple(v) if v else None


def requant_constants(node: Node, t_in: Fixed, t_out: Fixed) -> tuple[np.ndarray, np.ndarray]:
    """(M, shift) per channel (one entry for a per-tensor factor), int64."""
    a = node.attrs
    u_in = np.asarray(a.in_scale if a.in_scale is not None else [math.ldexp(1.0, -t_in.frac)], np.float64)
    u_out = a.out_scale if a.out_scale is not None else math.ldexp(1.0, -t_out.frac)
    f = u_in / u_out
    if not np.isfinite(f).all() or (f <= 0).any():
        raise FpgaSimError(f"node {node.name!r} (Requant): scale ratio {f[:4].tolist()} must be finite and > 0")
    mant, exp = np.frexp(f)
    m = np.round(np.ldexp(mant, a.mult_bits)).astype(np.int64)
    full = m == (1 << a.mult_bits)                  # mantissa rounded up to the next power of two
    m[full] >>= 1
    exp = exp + full
    return m, (a.mult_bits - exp).astype(np.int64)


def clamp_bounds(node: Node, t_out: Fixed) -> tuple[int, int]:
    a = node.attrs
    lo = t_out.min_raw if a.lo is None else max(a.lo, t_out.min_raw)
    hi = t_out.max_raw if a.hi is None else min(a.hi, t_out.max_raw)
    return lo, hi


@njit(cache=True, nogil=True)
def requant_kernel(x, mult, shift, lo, hi, out):
    """out[n, c, i] = clamp(round_half_even(x[n, c, i] * mult[c] / 2**shift[c]), lo, hi) on an
    (N, C, S) int64 array; returns how many values were clamped."""
    n_b, n_c, n_s = x.shape
    cnt = 0
    for n in range(n_b):
        for c in range(n_c):
            m, s = mult[c], shift[c]
            for i in range(n_s):
                v = x[n, c, i] * m
                if s > 0:
                    t = v >> s
                    r = v - (t << s)
                    half = np.int64(1) << (s - 1)
                    if r > half or (r == half and (t & 1) == 1):
                        t += 1
                else:
                    t = v << (-s)
                if t < lo:
                    t = lo
                    cnt += 1
                elif t > hi:
                    t = hi
                    cnt += 1
                out[n, c, i] = t
    return cnt


@op("Requant")
class Requant(Op):
    """Integer requantiser between a QDQ model's integer domains (see the module docstring)."""

    onnx_ops = ("Requant",)        # written by passes/absorb_qdq.py (domain "fpga_sim")
    template = "layer"

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        a = ctx.attrs(onnx_node)
        attrs = RequantAttrs(_floats(a.get("in_scale")), (_floats(a.get("out_scale")) or (None,))[0],
                             a.get("lo"), a.get("hi"), int(a.get("axis", 0)), int(a.get("mult_bits", MULTIPLIER_BITS)))
        if attrs.in_scale is not None and len(attrs.in_scale) > 1:
            shape = ctx.shape(onnx_node.input[0])
            if not 0 <= attrs.axis < len(shape) or shape[attrs.axis] != len(attrs.in_scale):
                raise unsupported(ctx, onnx_node, f"{len(attrs.in_scale)} per-channel scales do not match axis "
                                                  f"{attrs.axis} of the input's per-sample shape {shape}")
        return [Node(node_name(onnx_node), "Requant", [onnx_node.input[0]], [onnx_node.output[0]], attrs)]

    def infer_shapes(self, node: Node, in_shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        return [tuple(in_shapes[0])]

    def _per_channel(self, node: Node, x: np.ndarray) -> np.ndarray:
        """x (N, ...) as (N, C, S): C the scale's channels (1 for one scale)."""
        a = node.attrs
        if a.in_scale is None or len(a.in_scale) == 1:
            return x.reshape(x.shape[0], 1, -1)
        ax = a.axis + 1
        lead = int(np.prod(x.shape[1:ax], dtype=np.int64))
        if lead != 1:
            raise FpgaSimError(f"node {node.name!r} (Requant): per-channel scales on axis {a.axis} need it to be the first axis")
        return x.reshape(x.shape[0], x.shape[ax], -1)

    def run_float(self, node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """Float semantics: integer-domain tensors carry their integer values (as onnxruntime's)."""
        a = node.attrs
        x = np.asarray(inputs[0], np.float64)
        x3 = self._per_channel(node, x)
        real = x3 * np.asarray(a.in_scale, np.float64).reshape(1, -1, 1) if a.in_scale is not None else x3
        if a.out_scale is None:
            return [real.reshape(x.shape)]
        y = np.round(real / a.out_scale)
        y = np.clip(y, -np.inf if a.lo is None else a.lo, np.inf if a.hi is None else a.hi)
        return [y.reshape(x.shape)]

    def run_fixed(self, node: Node, inputs: list[np.ndarray], qg: Any) -> tuple[list[np.ndarray], int]:
        t_in, t_out = in_type(qg, node), result_type(qg, node)
        mult, shift = requant_constants(node, t_in, t_out)
        if t_in.width + node.attrs.mult_bits > 63:
            raise FpgaSimError(f"node {node.name!r} (Requant): input {t_in} times a {node.attrs.mult_bits}-bit multiplier "
                               f"exceeds 63 bits; input width + multiplier bits <= 63 are accepted")
        x = np.ascontiguousarray(np.asarray(inputs[0], np.int64))
        x3 = self._per_channel(node, x)
        mult = np.broadcast_to(mult, (x3.shape[1],)).copy()
        shift = np.broadcast_to(shift, (x3.shape[1],)).copy()
        lo, hi = clamp_bounds(node, t_out)
        out = np.empty_like(x3)
        n = requant_kernel(np.ascontiguousarray(x3), mult, shift, lo, hi, out)
        return [out.reshape(x.shape)], int(n) if node.attrs.out_scale is None else 0

    def rom(self, node: Node, qg: Any) -> tuple[tuple[int, int], ...]:
        """(words, bits) of the on-chip ROMs: one multiplier and one shift per channel."""
        n_mult = 1 if node.attrs.in_scale is None else len(node.attrs.in_scale)
        return ((n_mult, node.attrs.mult_bits), (n_mult, SHIFT_BITS))

    def cost(self, node: Node, qg: Any, hw: Any) -> Any:
        """One multiply per output on the DSP array (K = 1, M as the weight), plus the rounding
        add and the clamp's two compares; the multipliers and shifts are the layer's weight words,
        a ROM on chip whatever the policy says of MAC weights (they are per-channel constants)."""
        from dataclasses import replace

        from ..machine import LayerWork, cost_layer
        from ..memory_policy import layer_io
        from .common import out_size

        t_in, t_out = in_type(qg, node), result_type(qg, node)
        (n_mult, m_bits), (_, s_bits) = self.rom(node, qg)
        n = out_size(qg, node)
        work = LayerWork(name=node.name, op=node.op, outputs=n, macs_per_output=1,
                         input_words=n, weight_words=2 * n_mult, input_bits=t_in.width,
                         weight_bits=m_bits, output_bits=t_out.width,
                         accum_bits=t_in.width + m_bits, ops_per_output=3,
                         rom_reads=((n, s_bits),))     # M is read as the multiply's weight word
        report = cost_layer(work, hw, io=replace(layer_io(node, qg, hw), weights_in_dram=False))
        report.notes = (f"requantiser: x * M >> shift, {node.attrs.mult_bits}-bit multiplier"
                        + (f", {n_mult} channels" if n_mult > 1 else ""))
        return report
