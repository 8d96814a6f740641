"""QONNX's quantisers (`Quant`, `BipolarQuant`, `Trunc`) as fixed-point types and casts.

A QONNX `Quant(x, scale, zeropt, bitwidth)` computes (qonnx.custom_op.general.intquant)

    y = clamp(round(x / scale + zeropt), min_int, max_int) - zeropt) * scale

With a power-of-two scale 2**-F and zero point 0 that is exactly a cast into
ap_fixed<W, W - F> (ap_ufixed when signed=0) with saturation: `narrow` (signed) is the
symmetric range, AP_SAT_SYM; the rounding mode maps one to one (`ROUNDING` below; qonnx's
ROUND is NumPy's round, half to even = AP_RND_CONV).  Clamping before rounding (as qonnx does)
equals rounding then saturating, because the bounds are integers.  `BipolarQuant(x, s)` is
sign(x) in {-s, +s} (x >= 0 -> +s); `Trunc` (v2, six inputs) is a cast to its output scale and
bit width with its rounding mode.

`qonnx_type` turns a quantiser's constants into a `Fixed` (or raises one sentence naming the
node, the input and what is accepted); `quantize_const` evaluates one on a constant exactly as
qonnx does (weights and biases are folded to their quantised values at import).  On an
activation the quantiser lowers to a graph node `Quant`: a cast into its type (the relu
template with no bounds in HLS), which `passes/absorb_quant.py` folds into the layer that
produces its input when that is exact.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UnsupportedModelError
from ..fixed import Fixed
from ..graph import Node
from .base import Op, op
from .common import apply_activation, cast, element_cost, in_type, node_name, result_type, unsupported

QONNX_DOMAINS = ("qonnx.custom_op.general", "finn.custom_op.general", "onnx.brevitas")
QONNX_OPS = ("Quant", "BipolarQuant", "Trunc")
MAX_BITS = 64
# qonnx rounding_mode -> ap_fixed rounding (CEIL and UP have no ap_fixed mode)
ROUNDING = {
    "ROUND": "AP_RND_CONV", "HALF_EVEN": "AP_RND_CONV", "FLOOR": "AP_TRN", "ROUND_TO_ZERO": "AP_TRN_ZERO",
    "DOWN": "AP_TRN_ZERO", "HALF_UP": "AP_RND_INF", "HALF_DOWN": "AP_RND_ZERO",
}


@dataclass(frozen=True)
class QuantAttrs:
    """A quantiser on an activation: its type; bipolar: sign(x) * 2**-frac.  lo/hi: no clamp
    bounds (the node shares the Relu/Clip kernel, as a pure cast)."""

    fixed: Fixed
    bipolar: bool = False
    lo: float | None = None
    hi: float | None = None


def is_qonnx(onnx_node: Any) -> bool:
    return onnx_node.domain in QONNX_DOMAINS and onnx_node.op_type in QONNX_OPS


def _bad(onnx_node: Any, message: str) -> UnsupportedModelError:
    return UnsupportedModelError(f"node {onnx_node.name or onnx_node.output[0]!r} ({onnx_node.op_type}): {message}")


def _const(onnx_node: Any, consts: dict[str, np.ndarray], index: int, what: str) -> np.ndarray:
    name = onnx_node.input[index] if len(onnx_node.input) > index else ""
    if not name or name not in consts:
        raise _bad(onnx_node, f"input {index} ({what}) must be a constant initializer; quantisers with "
                              f"computed {what}s are not supported")
    return np.asarray(consts[name], dtype=np.float64)


def _attr(onnx_node: Any, name: str, default: Any) -> Any:
    from onnx import helper

    for a in onnx_node.attribute:
        if a.name == name:
            v = helper.get_attribute_value(a)
            return v.decode() if isinstance(v, bytes) else v
    return default


def _bits(onnx_node: Any, value: np.ndarray, what: str) -> int:
    if value.size != 1 or not np.isfinite(value).all() or float(value.reshape(-1)[0]) != round(float(value.reshape(-1)[0])):
        raise _bad(onnx_node, f"{what} {value.reshape(-1)[:4].tolist()} must be one integer from 1 to {MAX_BITS}")
    b = int(value.reshape(-1)[0])
    if not 1 <= b <= MAX_BITS:
        raise _bad(onnx_node, f"{what} {b} is outside the accepted 1 to {MAX_BITS} bits")
    return b


def _frac_of_scale(onnx_node: Any, scale: np.ndarray, what: str = "scale") -> np.ndarray:
    """-log2(scale) per element; the scale must be finite, > 0 and a power of two."""
    if scale.size == 0 or not np.isfinite(scale).all() or (scale <= 0).any():
        raise _bad(onnx_node, f"{what} {scale.reshape(-1)[:4].tolist()} must be finite and > 0")
    mant, exp = np.frexp(scale)
    if not (mant == 0.5).all():
        raise _bad(onnx_node, f"{what} {scale.reshape(-1)[:4].tolist()} is not a power of two; only power-of-two "
                              f"scales map onto ap_fixed types (other scales: QuantizeLinear/DequantizeLinear)")
    return (1 - exp).astype(np.int64)


def _rounding(onnx_node: Any) -> str:
    mode = str(_attr(onnx_node, "rounding_mode", "ROUND" if onnx_node.op_type == "Quant" else "FLOOR")).upper()
    if mode not in ROUNDING:
        raise _bad(onnx_node, f"rounding_mode {mode!r} has no ap_fixed equivalent; accepted: {', '.join(ROUNDING)}")
    return ROUNDING[mode]


def _int_range(signed: bool, narrow: bool, bits: int) -> tuple[int, int]:
    """qonnx's min_int / max_int."""
    if signed:
        return (-(1 << (bits - 1)) + (1 if narrow else 0)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - (2 if narrow else 1)


def _broadcast(onnx_node: Any, value: np.ndarray, shape: tuple[int, ...], what: str) -> np.ndarray:
    try:
        return np.broadcast_to(value, shape)
    except ValueError:
        raise _bad(onnx_node, f"{what} of shape {value.shape} does not broadcast to the quantised tensor's "
                              f"shape {shape}; a scalar or one value per channel is accepted") from None


def quant_spec(onnx_node: Any, consts: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, int, bool, bool, str]:
    """(scale, zeropt, bits, signed, narrow, ap rounding) of a Quant / Trunc, checked."""
    if onnx_node.op_type == "Trunc":
        if len(onnx_node.input) != 6:
            raise _bad(onnx_node, f"has {len(onnx_node.input)} inputs; only qonnx's Trunc v2 (x, scale, zeropt, "
                                  f"input_bit_width, output_scale, output_bit_width) is accepted")
        scale = _const(onnx_node, consts, 4, "output scale")
        zp = _const(onnx_node, consts, 2, "zero point")
        bits = _bits(onnx_node, _const(onnx_node, consts, 5, "output bit width"), "output bit width")
        _bits(onnx_node, _const(onnx_node, consts, 3, "input bit width"), "input bit width")
    else:
        scale = _const(onnx_node, consts, 1, "scale")
        zp = _const(onnx_node, consts, 2, "zero point")
        bits = _bits(onnx_node, _const(onnx_node, consts, 3, "bit width"), "bit width")
    signed = bool(int(_attr(onnx_node, "signed", 1)))
    narrow = bool(int(_attr(onnx_node, "narrow", 0)))
    lo, hi = _int_range(signed, narrow, bits)
    if not np.isfinite(zp).all() or (zp != np.round(zp)).any() or (zp < lo).any() or (zp > hi).any():
        raise _bad(onnx_node, f"zero point {zp.reshape(-1)[:4].tolist()} must be integers inside the quantised "
                              f"range [{lo}, {hi}]")
    return scale, zp, bits, signed, narrow, _rounding(onnx_node)


def qonnx_type(onnx_node: Any, consts: dict[str, np.ndarray]) -> Fixed:
    """The ap_fixed type a quantiser on an activation is: one power-of-two scale, zero point 0."""
    if onnx_node.op_type == "BipolarQuant":
        frac = _frac_of_scale(onnx_node, _const(onnx_node, consts, 1, "scale"))
        if frac.size != 1:
            raise _bad(onnx_node, "a per-channel scale on an activation is not supported; one scale is accepted")
        return Fixed(2, 2 - int(frac.reshape(-1)[0]), True, "AP_TRN", "AP_SAT")
    scale, zp, bits, signed, narrow, rnd = quant_spec(onnx_node, consts)
    frac = _frac_of_scale(onnx_node, scale)
    if frac.size != 1 or np.unique(frac).size != 1:
        raise _bad(onnx_node, f"a per-channel scale ({scale.size} values) on an activation is not supported; one "
                              f"power-of-two scale is accepted")
    if (zp != 0).any():
        raise _bad(onnx_node, f"zero point {zp.reshape(-1)[:4].tolist()} on an activation: only 0 maps onto an "
                              f"ap_fixed type (non-zero zero points: QuantizeLinear/DequantizeLinear)")
    if narrow and not signed:
        raise _bad(onnx_node, "narrow=1 with signed=0 (range [0, 2^W - 2]) has no ap_ufixed equivalent; "
                              "accepted: narrow=0, or narrow=1 with signed=1")
    if bits == 1 and signed:
        raise _bad(onnx_node, "a 1-bit signed Quant is bipolar in qonnx; export it as BipolarQuant")
    if bits > (64 if signed else 63):
        raise _bad(onnx_node, f"bit width {bits} unsigned does not fit the engine's int64 raw values; at most 63 "
                              f"bits unsigned (64 signed) are accepted")
    f = int(frac.reshape(-1)[0])
    return Fixed(bits, bits - f, signed, rnd, "AP_SAT_SYM" if narrow else "AP_SAT")


def quantize_const(onnx_node: Any, consts: dict[str, np.ndarray]) -> tuple[np.ndarray, Fixed]:
    """A quantiser on a constant (weights, biases): its value as qonnx computes it, and its type:
    the quantiser's own bit width (per-channel power-of-two scales widened to one type), else
    (zero points) the narrowest Fixed holding every value exactly."""
    x = _const(onnx_node, consts, 0, "input")
    if onnx_node.op_type == "BipolarQuant":
        s = _broadcast(onnx_node, _const(onnx_node, consts, 1, "scale"), x.shape, "scale")
        frac = _frac_of_scale(onnx_node, np.asarray(s))
        return np.where(x >= 0, 1.0, -1.0) * s, covering_type(np.where(x >= 0, 1.0, -1.0) * s, int(frac.max()), True)
    scale, zp, bits, signed, narrow, rnd = quant_spec(onnx_node, consts)
    frac = _frac_of_scale(onnx_node, scale)
    if onnx_node.op_type == "Trunc":
        raise _bad(onnx_node, "Trunc on a constant is not supported; Trunc is accepted on activations")
    s = _broadcast(onnx_node, scale, x.shape, "scale")
    z = _broadcast(onnx_node, zp, x.shape, "zero point")
    lo, hi = _int_range(signed, narrow, bits)
    q = _ROUND[rnd](np.clip(x / s + z, lo, hi))
    if bits == 1 and signed:
        q = np.where(x / s + z >= 0, 1.0, -1.0)
    value = (q - z) * s
    if (zp == 0).all() and not (bits == 1 and signed):
        # the model's own bit width (it drives DSP packing): W bits at the finest scale, plus one
        # bit per halving between the coarsest and the finest per-channel scale
        f_lo, f_hi = int(frac.min()), int(frac.max())
        width = bits + f_hi - f_lo
        if width <= (64 if signed else 63):
            return value, Fixed(width, bits - f_lo, signed, rnd, "AP_SAT_SYM" if narrow and signed else "AP_SAT")
    return value, covering_type(value, int(frac.max()), signed or bool((zp != 0).any()))


# qonnx's rounding functions (resolve_rounding_mode), by the ap_fixed mode they equal
_ROUND = {
    "AP_RND_CONV": np.round, "AP_TRN": np.floor, "AP_TRN_ZERO": np.fix,
    "AP_RND_INF": lambda v: np.sign(v) * np.floor(np.abs(v) + 0.5),
    "AP_RND_ZERO": lambda v: np.sign(v) * np.ceil(np.abs(v) - 0.5),
}


def covering_type(value: np.ndarray, frac: int, signed: bool) -> Fixed:
    """Narrowest Fixed with `frac` fractional bits holding every value exactly."""
    raw = np.round(np.ldexp(value, frac)).astype(np.int64) if value.size else np.zeros(1, np.int64)
    lo, hi = int(raw.min()), int(raw.max())
    signed = signed or lo < 0
    need = max(hi.bit_length(), (-lo - 1).bit_length() if lo < 0 else 0) + (1 if signed else 0)
    width = max(need, 1)
    return Fixed(width, width - frac, signed, "AP_RND_CONV", "AP_SAT")


@op("Quant")
class Quant(Op):
    """A QONNX quantiser left on an activation: a cast into its type (no clamp bounds)."""

    onnx_ops = QONNX_OPS
    template = "layer"         # the generic template, with the Relu/Clip kernel call (codegen/layers_quant.py)

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        consts = {t: ctx.const(t) for t in onnx_node.input[1:] if t and ctx.const(t) is not None}
        if ctx.const(onnx_node.input[0]) is not None:
            raise unsupported(ctx, onnx_node, "a quantiser on a constant should have been folded; this is a bug")
        t = qonnx_type(onnx_node, consts)
        attrs = QuantAttrs(t, bipolar=onnx_node.op_type == "BipolarQuant")
        return [Node(node_name(onnx_node), "Quant", [onnx_node.input[0]], [onnx_node.output[0]], attrs)]

    def infer_shapes(self, node: Node, in_shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        return [tuple(in_shapes[0])]

    def run_float(self, node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """qonnx's float semantics (bit-exact for float64 inputs on the type's grid)."""
        t = node.attrs.fixed
        x = np.asarray(inputs[0], dtype=np.float64)
        if node.attrs.bipolar:
            y = np.where(x >= 0, t.resolution, -t.resolution)
        else:
            y = t.to_float(t.quantize(x))
        return [np.maximum(y, 0.0) if node.activation == "relu" else y]

    def run_fixed(self, node: Node, inputs: list[np.ndarray], qg: Any) -> tuple[list[np.ndarray], int]:
        t_in, t_out = in_type(qg, node), result_type(qg, node)
        v = np.asarray(inputs[0], dtype=np.int64)
        if node.attrs.bipolar:
            one = t_out.quantize(np.float64(node.attrs.fixed.resolution))
            return [apply_activation(node, np.where(v >= 0, one, -one).astype(np.int64))], 0
        y, n = cast(v, t_in, t_out)
        return [apply_activation(node, y)], n

    def cost(self, node: Node, qg: Any, hw: Any) -> Any:
        """One cast (a round-and-saturate in LUTs) per output."""
        return element_cost(self, node, qg, hw, ops_per_output=1, notes="quantiser from the model: a cast")



# ------------------------------------------------------------------ float reference in ONNX
def _std_round(mk: Any, y: str, rnd: str) -> str:
    """qonnx's rounding function as standard ONNX ops (Round is half to even, as NumPy's)."""
    if rnd == "AP_RND_CONV":
        return mk("Round", [y])
    if rnd == "AP_TRN":
        return mk("Floor", [y])
    sign, mag = mk("Sign", [y]), mk("Abs", [y])
    if rnd == "AP_TRN_ZERO":
        return mk("Mul", [sign, mk("Floor", [mag])])
    half = mk.const(0.5)
    if rnd == "AP_RND_INF":
        return mk("Mul", [sign, mk("Floor", [mk("Add", [mag, half])])])
    return mk("Mul", [sign, mk("Ceil", [mk("Sub", [mag, half])])])   # AP_RND_ZERO: half down


class _Maker:
    """Appends standard ONNX nodes (and float32 constants) named after one quantiser."""

    def __init__(self, base: str, nodes: list, inits: list) -> None:
        self.base, self.nodes, self.inits, self.k = base, nodes, inits, 0

    def _name(self) -> str:
        self.k += 1
        return f"{self.base}__std{self.k}"

    def const(self, value: Any) -> str:
        from onnx import numpy_helper

        name = self._name()
        self.inits.append(numpy_helper.from_array(np.asarray(value, np.float32), name))
        return name

    def __call__(self, op_type: str, inputs: list[str], out: str | None = None) -> str:
        from onnx import helper

        out = out or self._name()
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out))
        return out


def qonnx_as_onnx(proto: Any) -> Any:
    """A copy of a QONNX model whose quantisers are standard ONNX ops computing what qonnx's
    executor computes (in float32), so onnxruntime can run the float reference of `compare`."""
    from onnx import ModelProto, numpy_helper

    m = ModelProto()
    m.CopyFrom(proto)
    consts = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    nodes: list = []
    inits: list = []
    for n in m.graph.node:
        if not is_qonnx(n):
            nodes.append(n)
            continue
        mk, x, out = _Maker(n.output[0], nodes, inits), n.input[0], n.output[0]
        if n.op_type == "BipolarQuant":
            mk("Where", [mk("GreaterOrEqual", [x, mk.const(0.0)]), n.input[1], mk("Neg", [n.input[1]])], out)
            continue
        scale, zp, bits, signed, narrow, rnd = quant_spec(n, consts)
        lo, hi = _int_range(signed, narrow, bits)
        if n.op_type == "Trunc":          # v2: round onto the input grid, then the output scale
            s_in = np.asarray(consts[n.input[1]], np.float64)
            trunc = np.exp2(np.round(np.log2(scale / s_in)))
            y = mk("Round", [mk("Add", [mk("Div", [x, n.input[1]]), n.input[2]])])
            y = mk("Div", [y, mk.const(trunc)])
            zp_out = mk.const(zp / trunc)
            s_out = mk.const(scale)
        else:
            y = mk("Add", [mk("Div", [x, n.input[1]]), n.input[2]])
            zp_out, s_out = n.input[2], n.input[1]
        y = mk("Max", [mk("Min", [y, mk.const(float(hi))]), mk.const(float(lo))])
        y = _std_round(mk, y, rnd)
        mk("Mul", [mk("Sub", [y, zp_out]), s_out], out)
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    m.graph.initializer.extend(inits)
    keep = [o for o in m.opset_import if o.domain not in QONNX_DOMAINS]
    del m.opset_import[:]
    m.opset_import.extend(keep)
    return m
