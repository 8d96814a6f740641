"""QDQ ONNX (QuantizeLinear / DequantizeLinear pairs) -> integer layers and requantisers.

Rules (ARCHITECTURE.md, "Types from the model"); run on the ONNX graph before constant folding:

- a DequantizeLinear of a constant (int8 weights, int32 biases) is not folded to floats: the
  MAC layer that reads it (Conv, Gemm, MatMul) takes the centred integers q - zp as its weights
  and bias, typed ap_int<W> by the model; its accumulator is exact and is its result, worth
  s_in * s_w[c] per output channel;
- an activation tensor q written by a QuantizeLinear is held centred, r = q - zp, typed
  ap_int/ap_uint covering [qmin - zp, qmax - zp]; a DequantizeLinear of it is no node at all
  (its readers read r);
- a QuantizeLinear becomes a `Requant` node (ops/requant.py) from its input's unit (a scale, or
  the 2**-frac of a fixed-point tensor) into its scale, clamped to [qmin - zp, qmax - zp]; one
  that repeats its input's scale and range (QDQ around MaxPool, Flatten) is no node at all;
- an Add of integer tensors (and an integer constant) with different scales (onnxruntime's
  QLinearAdd) requantises each operand onto one fine unit, min(scales) / 2**ADD_FRAC_BITS, adds
  exactly, and its QuantizeLinear requantises the sum;
- ops that only move, compare or clip values (MaxPool, Relu, Reshape, Flatten, ...) keep their
  input's unit; any other reader of an integer tensor, and a graph output, gets a `Requant`
  into a fixed-point type (the default precision): the integer domain ends there.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from onnx import NodeProto, helper

from ..errors import UnsupportedModelError
from ..fixed import Fixed
from .base import Pass
from .state import OnnxState

# numpy dtype name of the zero point -> (bits, signed)
INT_TYPES = {"uint8": (8, False), "int8": (8, True), "uint16": (16, False), "int16": (16, True),
             "int4": (4, True), "uint4": (4, False), "int32": (32, True)}
_ONNX_INT = {2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 21: "uint4", 22: "int4", 6: "int32"}
UNIT_KEEPING = ("MaxPool", "GlobalMaxPool", "Relu", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity")
PER_CHANNEL_KEEPING = ("MaxPool", "GlobalMaxPool", "Relu", "Identity")
MACS = ("Conv", "Gemm", "MatMul")
ADD_FRAC_BITS = 12     # an integer Add aligns its operands on the finest scale / 2**ADD_FRAC_BITS


@dataclass
class _Unit:
    scale: np.ndarray        # real value of one raw unit: 1 value, or one per channel (per-sample axis 0)
    lo: int | None = None    # the centred range a QuantizeLinear clamped to (None: an accumulator)
    hi: int | None = None


@dataclass
class _IntConst:
    q: np.ndarray            # centred integers q - zp
    scale: np.ndarray        # per-axis scales (broadcastable to q along `axis`)
    axis: int
    bits: int
    signed: bool
    value: np.ndarray        # the dequantised float value (for readers that are not MAC layers)


def is_qdq(n: NodeProto) -> bool:
    return n.domain in ("", "ai.onnx") and n.op_type in ("QuantizeLinear", "DequantizeLinear")


def _bad(n: NodeProto, message: str) -> UnsupportedModelError:
    return UnsupportedModelError(f"node {n.name or n.output[0]!r} ({n.op_type}): {message}")


def int_range(bits: int, signed: bool) -> tuple[int, int]:
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)


def int_type(lo: int, hi: int) -> Fixed:
    """ap_int<W> / ap_uint<W> covering [lo, hi]."""
    if lo >= 0:
        w = max(hi.bit_length(), 1)
        return Fixed(w, w, False, "AP_RND_CONV", "AP_SAT")
    w = max(hi.bit_length(), (-lo - 1).bit_length()) + 1
    return Fixed(w, w, True, "AP_RND_CONV", "AP_SAT")


def _qparams(st: OnnxState, n: NodeProto) -> tuple[np.ndarray, np.ndarray, int, bool, int]:
    """(scale, zero point, bits, signed, axis) of a Q/DQ node, checked."""
    if len(n.input) < 2 or n.input[1] not in st.consts:
        raise _bad(n, "input 1 (scale) must be a constant initializer; computed scales are not supported")
    if int(st.attr(n, "block_size", 0) or 0):
        raise _bad(n, "blocked quantisation (block_size > 0) is not supported; per-tensor and per-axis are accepted")
    scale = np.asarray(st.consts[n.input[1]], np.float64).reshape(-1)
    if scale.size == 0 or not np.isfinite(scale).all() or (scale <= 0).any():
        raise _bad(n, f"scale {scale[:4].tolist()} must be finite and > 0")
    if len(n.input) > 2 and n.input[2]:
        if n.input[2] not in st.consts:
            raise _bad(n, "input 2 (zero point) must be a constant initializer")
        zp_arr = np.asarray(st.consts[n.input[2]])
        kind = zp_arr.dtype.name
    else:
        out_dtype = int(st.attr(n, "output_dtype", 0) or 0)
        kind = _ONNX_INT.get(out_dtype, "uint8") if n.op_type == "QuantizeLinear" else (
            np.asarray(st.consts[n.input[0]]).dtype.name if n.input[0] in st.consts else "uint8")
        zp_arr = np.zeros(1, np.int64)
    if kind not in INT_TYPES:
        raise _bad(n, f"quantised type {kind} is not supported; accepted: {', '.join(INT_TYPES)}")
    bits, signed = INT_TYPES[kind]
    zp = zp_arr.astype(np.int64).reshape(-1)
    lo, hi = int_range(bits, signed)
    if (zp < lo).any() or (zp > hi).any():
        raise _bad(n, f"zero point {zp[:4].tolist()} is outside its type's range [{lo}, {hi}]")
    if zp.size not in (1, scale.size):
        raise _bad(n, f"{zp.size} zero points for {scale.size} scales; one per scale is accepted")
    axis = int(st.attr(n, "axis", 1))
    if scale.size > 1:
        shape = st.consts[n.input[0]].shape if n.input[0] in st.consts else st.shapes.get(n.input[0])
        if shape is None or not -len(shape) <= axis < len(shape):
            raise _bad(n, f"axis {axis} does not exist for a tensor of shape {shape}")
        axis %= len(shape)
        if shape[axis] != scale.size:
            raise _bad(n, f"{scale.size} per-axis scales do not match axis {axis} of length {shape[axis]}")
    return scale, np.broadcast_to(zp, scale.shape), bits, signed, axis


def _requant(name: str, x: str, out: str, in_scale, out_scale, lo=None, hi=None) -> NodeProto:
    from ..ops.requant import DOMAIN, MULTIPLIER_BITS

    kw = {"mult_bits": MULTIPLIER_BITS, "axis": 0}
    if len(in_scale):                 # left out: the unit of a fixed-point input / output type
        kw["in_scale"] = [float(v) for v in in_scale]
    if len(out_scale):
        kw["out_scale"] = [float(v) for v in out_scale]
    if lo is not None:
        kw.update(lo=int(lo), hi=int(hi))
    return helper.make_node("Requant", [x], [out], domain=DOMAIN, name=name, **kw)


def _weight_channel_axis(n: NodeProto, st: OnnxState) -> int:
    """Axis of a MAC layer's weight constant that runs over its output channels."""
    if n.op_type == "Conv":
        return 0
    if n.op_type == "Gemm":
        return 0 if int(st.attr(n, "transB", 0)) else 1
    return 1   # MatMul: W is (in, out)


class AbsorbQdq(Pass):
    """Rewrite every Q/DQ of the graph at once (see the module docstring)."""

    name = "absorb_qdq"

    def apply(self, st: OnnxState) -> bool:
        if not any(is_qdq(n) for n in st.nodes):
            return False
        units: dict[str, _Unit] = {}
        ints: dict[str, _IntConst] = {}
        alias: dict[str, str] = {}
        done: dict[str, str] = {}          # integer tensor -> its fixed-point copy
        new: list[NodeProto] = []

        def leave(t: str, reader: str) -> str:
            """A fixed-point copy of integer tensor t (a Requant into the default precision)."""
            if t not in done:
                out = f"{t}__dequantized"
                new.append(_requant(f"{reader}__dequantize_{t}", t, out, units[t].scale, []))
                done[t] = out
            return done[t]

        for n in st.nodes:
            for k, i in enumerate(n.input):
                if i in alias:
                    n.input[k] = alias[i]
            if n.op_type == "DequantizeLinear" and is_qdq(n):
                scale, zp, bits, signed, axis = _qparams(st, n)
                x = n.input[0]
                if x in st.consts:
                    q = np.asarray(st.consts[x]).astype(np.int64)
                    shape = [1] * q.ndim
                    if scale.size > 1:
                        shape[axis] = scale.size
                    z, s = zp.reshape(shape) if q.ndim else zp, scale.reshape(shape) if q.ndim else scale
                    ints[n.output[0]] = _IntConst(q - z, s, axis, bits + int((zp != 0).any()), signed or bool((zp != 0).any()),
                                                  ((q - z) * s).astype(np.float64))
                    continue
                if x not in units:
                    raise _bad(n, f"dequantises {x!r}, which no QuantizeLinear of this model produces; integer graph "
                                  f"inputs are not supported (quantise the float input with a QuantizeLinear)")
                if scale.size != 1 or not np.allclose(units[x].scale, scale, rtol=1e-7, atol=0):
                    raise _bad(n, f"scale {scale[:4].tolist()} differs from the scale its QuantizeLinear wrote "
                                  f"({units[x].scale[:4].tolist()}); a Q/DQ pair must share scale and zero point")
                if n.output[0] in st.outputs:
                    new.append(_requant(n.name or f"{n.output[0]}__dequantize", x, n.output[0], units[x].scale, []))
                else:
                    alias[n.output[0]] = x
                continue
            if n.op_type == "QuantizeLinear" and is_qdq(n):
                scale, zp, bits, signed, axis = _qparams(st, n)
                if scale.size != 1:
                    raise _bad(n, f"{scale.size} per-axis scales on an activation are not supported; per-axis "
                                  f"quantisation is accepted on weights (DequantizeLinear of a constant)")
                x = n.input[0]
                if x in st.consts:
                    raise _bad(n, "quantises a constant at run time; quantised weights are accepted as "
                                  "DequantizeLinear of integer initializers")
                qmin, qmax = int_range(bits, signed)
                lo, hi = qmin - int(zp[0]), qmax - int(zp[0])
                u = units.get(x)
                if u is not None and (u.lo, u.hi) == (lo, hi) and u.scale.size == 1 and u.scale[0] == scale[0] \
                        and n.output[0] not in st.outputs:
                    alias[n.output[0]] = x        # same scale and range (after MaxPool, Flatten): no work
                    continue
                in_scale = u.scale if u is not None else []
                new.append(_requant(n.name or f"{n.output[0]}__requant", x, n.output[0], in_scale, scale, lo, hi))
                units[n.output[0]] = _Unit(scale.copy(), lo, hi)
                st.model_tensor_types[n.output[0]] = {"result": int_type(lo, hi)}
                continue
            if n.op_type in MACS and len(n.input) > 1 and n.input[1] in ints and n.input[0] in units \
                    and units[n.input[0]].scale.size == 1:
                self._integer_mac(st, n, units, ints)
                new.append(n)
                continue
            if n.op_type in ("Add", "Sum") and self._integer_add(n, st, units, ints, new):
                new.append(n)
                continue
            if n.input and n.input[0] in units and n.op_type in UNIT_KEEPING \
                    and all(i in st.consts or not i for i in n.input[1:]) \
                    and (units[n.input[0]].scale.size == 1 or n.op_type in PER_CHANNEL_KEEPING):
                units[n.output[0]] = units[n.input[0]]
                new.append(n)
                continue
            for k, i in enumerate(n.input):
                if i in units:
                    n.input[k] = leave(i, n.name or n.output[0])
            new.append(n)
        read = {i for n in new for i in n.input}
        for name, c in ints.items():
            if name in read:                      # read by something other than a MAC layer
                st.consts[name] = c.value
        for t in st.outputs:
            if t in units and t not in alias.values():
                raise UnsupportedModelError(f"graph output {t!r} is an integer (QuantizeLinear) tensor; a "
                                            f"DequantizeLinear before the output is accepted")
        st.nodes[:] = new
        st.real_scales.update({t: u.scale for t, u in units.items()})
        st.log.append(f"QDQ: {len(units)} integer tensors, {sum(1 for n in new if n.op_type == 'Requant')} requantisers")
        return True

    def _integer_mac(self, st: OnnxState, n: NodeProto, units: dict, ints: dict) -> None:
        w = ints[n.input[1]]
        ch = _weight_channel_axis(n, st)
        if w.scale.size > 1 and w.axis != ch:
            raise _bad(n, f"weights quantised per axis {w.axis}; per output channel (axis {ch}) is accepted")
        s_in = float(units[n.input[0]].scale[0])
        s_acc = s_in * w.scale.reshape(-1)
        n.input[1] = st.new_const(f"{n.input[1]}__int", w.q.astype(np.float64))
        slots = {"weight": Fixed(w.bits, w.bits, w.signed, "AP_RND_CONV", "AP_SAT")}
        if len(n.input) > 2 and n.input[2]:
            b = n.input[2]
            if b in ints and np.allclose(ints[b].scale.reshape(-1), s_acc, rtol=1e-6, atol=0):
                q = ints[b].q.reshape(-1).astype(np.float64)
            else:   # a bias in other units: rounded into the accumulator's (as onnxruntime's quantiser does)
                value = ints[b].value if b in ints else np.asarray(st.consts[b], np.float64)
                q = np.round(value.reshape(-1) / s_acc)
            n.input[2] = st.new_const(f"{b}__int", q)
            lo, hi = (int(q.min()), int(q.max())) if q.size else (0, 0)
            slots["bias"] = int_type(min(lo, -1), max(hi, 0))
        units[n.output[0]] = _Unit(s_acc)
        st.model_tensor_types[n.output[0]] = slots

    def _integer_add(self, n: NodeProto, st: OnnxState, units: dict, ints: dict, new: list) -> bool:
        """Add of per-tensor integer operands on one fine unit (see the module docstring)."""
        parts = []
        for i in n.input:
            if i in units and units[i].scale.size == 1 and units[i].lo is not None:
                parts.append((i, units[i], None))
            elif i in ints and ints[i].scale.size == 1:
                parts.append((i, None, ints[i]))
            else:
                return False
        if all(u is None for _, u, _ in parts) or sum(c is not None for _, _, c in parts) > 1:
            return False
        scales = [float((u or c).scale.reshape(-1)[0]) for _, u, c in parts]
        unit = min(scales) * 2.0 ** -ADD_FRAC_BITS
        lo_sum = hi_sum = 0
        slots: dict = {}
        for k, ((name, u, c), s) in enumerate(zip(parts, scales)):
            f = s / unit
            if u is not None:
                out = f"{name}__to_{n.output[0]}"
                new.append(_requant(f"{n.name or n.output[0]}__align_{k}", name, out, u.scale, [unit]))
                lo, hi = math.floor(u.lo * f), math.ceil(u.hi * f)
                st.model_tensor_types[out] = {"result": int_type(min(lo, -1), max(hi, 0))}
                units[out] = _Unit(np.array([unit]), lo, hi)
                n.input[k] = out
            else:
                q = np.round(c.q.astype(np.float64) * f)
                n.input[k] = st.new_const(f"{name}__int", q)
                lo, hi = (int(q.min()), int(q.max())) if q.size else (0, 0)
                slots["bias"] = int_type(min(lo, -1), max(hi, 0))
            lo_sum, hi_sum = lo_sum + lo, hi_sum + hi
        slots["result"] = int_type(min(lo_sum, -1), max(hi_sum, 0))
        units[n.output[0]] = _Unit(np.array([unit]), lo_sum, hi_sum)
        st.model_tensor_types[n.output[0]] = slots
        return True
