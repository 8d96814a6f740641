"""Overflow warnings: which layer wrapped or saturated, in what type, on what float range, and the fix.

A fixed-point run that silently differs from float because a type overflowed is the most common
surprise of HLS C-simulation.  `overflow_warnings(qg, sim, x)` turns the engine's overflow counts
(per layer at run time, input quantisation, parameter quantisation) into one `OverflowWarning`
per affected layer: the count, the slot and type that overflowed, the float range the reference
run saw there (the value before a fused ReLU, which is what the result type must hold), and a
type that holds that range with the same fractional bits.  The CLI prints `w.line()`; the report
shows the same rows (`to_dict()`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from .fixed import Fixed
from .graph import QGraph
from .quantization import int_bits_for


@dataclass(frozen=True)
class OverflowWarning:
    """One layer whose values wrapped or saturated: what, how often, and a type that would hold them."""

    layer: str
    op: str
    count: int                 # overflow events over the batch
    samples: int
    slot: str                  # "result", "accum", "weight" (parameters) or "input"
    type: str                  # the type that overflowed
    lo: float                  # float range seen where it overflowed
    hi: float
    fix: str                   # a type that would hold the range (same fractional bits)
    mode: str                  # "wrapped" or "saturated"
    harmless: bool = False     # only negative values saturated before a fused ReLU: the output is unchanged

    def line(self) -> str:
        """One line for a terminal or log."""
        where = "parameters" if self.slot == "weight" else f"{self.slot} type"
        text = (f"overflow: {self.layer} ({self.op}): {self.count:,} values {self.mode} over {self.samples} samples in "
                f"{where} {self.type}; float range seen [{self.lo:.4g}, {self.hi:.4g}]; {self.fix} would hold it")
        return text + ("; harmless here: only negative values saturated, and the fused ReLU zeroes them"
                       if self.harmless else "")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def holding_type(t: Fixed, lo: float, hi: float) -> Fixed:
    """The type with t's fractional bits, rounding and overflow modes and enough integer bits for
    [lo, hi] (at least one more than t has: t overflowed, if only by rounding at its edge)."""
    signed = t.signed or lo < 0
    mag = max(abs(lo), abs(hi))
    need = max(int_bits_for(mag) - (0 if signed else 1), t.int_bits + 1)     # int_bits_for counts a sign bit
    return Fixed(t.width + need - t.int_bits, need, signed, t.rounding, t.overflow)


def _mode(t: Fixed) -> str:
    return "wrapped" if t.overflow == "AP_WRAP" else "saturated"


def pre_activation_ranges(qg: QGraph, x: Any) -> dict[str, tuple[float, float]]:
    """Float (min, max) of every node's output before its fused activation, and of every input, on x."""
    from .ops import get_op
    from .simulation import run_float

    g = qg.graph
    env = run_float(g, x, keep_all=True)
    ranges: dict[str, tuple[float, float]] = {}
    for t in g.inputs:
        ranges[t] = (float(env[t].min()), float(env[t].max())) if env[t].size else (0.0, 0.0)
    for n in g.nodes:
        if n.activation is not None:
            out = get_op(n.op).run_float(dataclasses.replace(n, activation=None), [env[t] for t in n.inputs])[0]
        else:
            out = env[n.outputs[0]]
        ranges[n.name] = (float(np.min(out)), float(np.max(out))) if np.size(out) else (0.0, 0.0)
    return ranges


def overflow_warnings(qg: QGraph, sim: Any, x: Any) -> list[OverflowWarning]:
    """One warning per layer (or input) that overflowed in `sim`, a simulation of qg on x.  The float
    reference is run only when something overflowed."""
    from .ops import get_op

    counted = {r.name: int(r.overflows) for r in sim.layers if r.overflows}
    params = {k: int(v) for k, v in qg.quant_overflows.items() if v}
    inputs = int(sim.totals.get("input_overflows", 0))
    if not (counted or params or inputs):
        return []
    samples = int(sim.totals.get("batch", 0)) or int(np.shape(next(iter(sim.outputs.values())))[0])
    ranges = pre_activation_ranges(qg, x)
    g = qg.graph
    found: list[OverflowWarning] = []
    if inputs:
        for t in g.inputs:
            ty = qg.tensor_types[t]
            lo, hi = ranges[t]
            if lo < ty.min or hi > ty.max:
                found.append(OverflowWarning(t, "input", inputs, samples, "input", str(ty), lo, hi,
                                             str(holding_type(ty, lo, hi)), _mode(ty)))
    for n in g.nodes:
        lt = qg.layer_types[n.name]
        if n.name in params and lt.weight is not None:      # the parameter array that overflowed most
            per = []
            for pname, v in n.params.items():
                t = lt.bias if pname == "bias" and lt.bias is not None else lt.weight
                if np.size(v):
                    per.append((t.quantize_counted(np.asarray(v, np.float64))[1], float(np.min(v)), float(np.max(v)), t))
            _, lo, hi, bad = max(per, key=lambda p: p[0])
            found.append(OverflowWarning(n.name, n.op, params[n.name], samples, "weight", str(bad), lo, hi,
                                         str(holding_type(bad, lo, hi)), _mode(bad)))
        if n.name not in counted:
            continue
        lo, hi = ranges[n.name]
        res = lt.result
        slot, ty, fix = "result", res, holding_type(res, lo, hi)
        if lt.accum is not None and res.min <= lo and hi <= res.max:     # the result holds it: the sums did not
            safe = get_op(n.op).safe_accum(n, [qg.tensor_types[t] for t in n.inputs], lt.weight)
            if safe is not None and safe != lt.accum:
                slot, ty, fix = "accum", lt.accum, safe
        harmless = (slot == "result" and n.activation == "relu" and res.overflow != "AP_WRAP" and hi <= res.max)
        found.append(OverflowWarning(n.name, n.op, counted[n.name], samples, slot, str(ty), lo, hi, str(fix),
                                     _mode(ty), harmless))
    return found
