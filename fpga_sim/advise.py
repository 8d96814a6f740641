"""`advise`: the narrowest per-layer types that keep a model's top-1 agreement with float above a target.

The search runs on the fast engine, every trial a bit-accurate simulation:
1. Start from the uniform default (`auto<16>`: 16 bits, integer bits from the calibration ranges)
   and resolve it to explicit types.
2. For every slot (the weights, largest first; then the input's type and every MAC layer's
   result in graph order; then the accumulators), bisect the width between 2 bits and the
   budget: integer bits stay what the float range needs (weights: their values; results: the
   calibration range *before* a fused ReLU, so nothing saturates on it; accumulators: the
   never-overflowing integer bits), so narrowing drops fractional bits only.  A width passes
   when the search set's top-1 agreement with the float run (and the output SQNR, when a target
   is given) stays at or above target, with every earlier slot already at its narrowed width
   (greedy).
3. Joint check on a separate set (the test split): while it falls short, the one slot whose extra
   bit raises the check set's agreement most gets it (so the reported agreement is on data this
   last step saw; the search itself never sees it).
The result is a config in hls4ml's layout (`Advice.toml()`), which `simulate --config` and
`flow --config` take, with explicit types for every layer so it reproduces without calibration.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .errors import FpgaSimError
from .fixed import Fixed
from .graph import Graph, QGraph
from .ops import get_op
from .quantization import int_bits_for, quantize

MIN_WIDTH = 2
BRAM36_BITS = 36 * 1024


@dataclass(frozen=True)
class Trial:
    """One simulation of the search: a slot at a width, and what it gave."""

    layer: str
    slot: str
    width: int
    agreement: float
    sqnr_db: float
    passed: bool


@dataclass
class Advice:
    """The types found, how well they do against float, and what they cost against the default."""

    config: dict[str, Any]                     # hls4ml layout, explicit types
    types: dict[str, dict[str, str]]           # layer (or input) -> slot -> type, the searched slots
    default_types: dict[str, dict[str, str]]
    agreement: float                           # joint check set
    sqnr_db: float
    agreement_default: float
    search_agreement: float
    widened: list[str]                         # slots the joint check gave one more bit, in order
    costs: dict[str, dict[str, float]]         # "default" / "advised" -> metric -> value
    trials: list[Trial] = field(default_factory=list)
    target_agreement: float = 0.99
    target_sqnr_db: float | None = None
    budget_bits: int = 16

    def savings(self) -> dict[str, float]:
        """Fraction of each cost the advised types save against the default (0.25 = 25% less)."""
        d, a = self.costs["default"], self.costs["advised"]
        return {k: (1.0 - a[k] / d[k]) if d[k] else 0.0 for k in d}

    def toml(self, header: str = "") -> str:
        """The config as TOML (`quantize(config=path)`, `--config`)."""
        lines = [f"# {h}" for h in header.splitlines()] + ["[Model]", f'Precision = {json.dumps(self.config["Model"]["Precision"])}']
        for name, entry in self.config["LayerName"].items():
            lines += ["", f"[LayerName.{json.dumps(name)}.Precision]"]
            lines += [f"{slot} = {json.dumps(t)}" for slot, t in entry["Precision"].items()]
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        return {"types": self.types, "default_types": self.default_types, "agreement": self.agreement,
                "sqnr_db": self.sqnr_db, "agreement_default": self.agreement_default,
                "search_agreement": self.search_agreement, "widened": self.widened, "costs": self.costs,
                "savings": self.savings(), "target_agreement": self.target_agreement,
                "target_sqnr_db": self.target_sqnr_db, "budget_bits": self.budget_bits,
                "trials": len(self.trials), "config": self.config}


# ------------------------------------------------------------------------------ what it costs
def resources(qg: QGraph, hw: Any) -> dict[str, float]:
    """Cycles and energy of one inference (the machine model), and the design's DSPs and BRAM:
    DSPs = the widest MAC layer's multipliers x DSP slices per multiply (half a slice when two
    <=8-bit multiplies pack); BRAM = every parameter array in 36 Kb blocks, rounded up per array:
    the MAC layers' weights and biases at their types, and the other layers' on-chip ROMs
    (function tables, scales, index tables) at the widths the HLS stores them
    (`memory_policy.rom_arrays`; "rom_bits" of "param_bits")."""
    from .memory_policy import param_arrays, rom_arrays
    from .simulation import cost_report

    rep = cost_report(qg, hw)
    dsps = 0.0
    for r in rep.layers:
        lt = qg.layer_types[r.name]
        node = qg.graph.node(r.name)
        if lt.weight is None or not r.multipliers:
            continue
        a, b = qg.tensor_types[node.inputs[0]].width, lt.weight.width
        per = 0.5 if (hw.pack_int8 and a <= 8 and b <= 8) else hw.dsps_per_multiply(a, b)
        dsps = max(dsps, math.ceil(r.multipliers * per))
    bits = bram = rom = 0
    for n in qg.nodes:
        op = get_op(n.op)
        if not op.on_accelerator:
            continue
        mac = hasattr(op, "work")
        for words, width in (param_arrays(n, qg) if mac else rom_arrays(n, qg)):
            b = words * width
            bits += b
            rom += 0 if mac else b
            bram += math.ceil(b / BRAM36_BITS)
    return {"cycles": float(rep.totals["cycles"]), "energy_pj": float(rep.totals["energy_total_pj"]),
            "dsp": float(dsps), "bram36": float(bram), "param_bits": float(bits), "rom_bits": float(rom)}


# ------------------------------------------------------------------------------ the search
def fitting(width: int, mag: float) -> Fixed:
    """A signed `width`-bit AP_RND/AP_SAT type with the integer bits values up to mag need, rounded
    values included (0.124 rounds up to 0.125, past the largest ap_fixed<3,-2>)."""
    t = Fixed(width, int_bits_for(mag), True, "AP_RND", "AP_SAT")
    fits = t.quantize_counted(np.array([mag, -mag]))[1] == 0
    return t if fits else Fixed(width, t.int_bits + 1, True, "AP_RND", "AP_SAT")


def _agreement(qg: QGraph, x: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    from .comparison import sqnr_db
    from .simulation import simulate

    sim = simulate(qg, x)
    got = next(iter(sim.outputs.values())).reshape(len(x), -1)
    return float(np.mean(got.argmax(axis=1) == ref.argmax(axis=1))), sqnr_db(ref, got)


def _explicit(qg: QGraph) -> dict[str, dict[str, Fixed]]:
    """The default's types as explicit per-layer slots (pass-through layers keep their input's)."""
    slots: dict[str, dict[str, Fixed]] = {t: {"result": qg.tensor_types[t]} for t in qg.graph.inputs}
    for n in qg.nodes:
        lt = qg.layer_types[n.name]
        s: dict[str, Fixed] = {} if get_op(n.op).keeps_input_type else {"result": lt.result}
        if lt.weight is not None:
            s["weight"] = lt.weight
        if lt.bias is not None:
            s["bias"] = lt.bias
        slots[n.name] = s
    return slots


def _config(slots: dict[str, dict[str, Fixed]], default: str) -> dict[str, Any]:
    return {"Model": {"Precision": default},
            "LayerName": {k: {"Precision": {s: str(t) for s, t in v.items()}} for k, v in slots.items() if v}}


def _searchable(graph: Graph) -> list[tuple[str, str]]:
    """(layer or input, slot) in search order: the weights, largest array first (the greedy search
    narrows first where a bit costs most); then the input and the results, in graph order; then
    the accumulators, whose fractional bits range up to their final input's and weights'."""
    macs = [n for n in graph.nodes if "weight" in n.params]
    order = [(n.name, "weight") for n in sorted(macs, key=lambda n: -n.params["weight"].size)]
    order += [(t, "result") for t in graph.inputs] + [(n.name, "result") for n in macs]
    return order + [(n.name, "accum") for n in macs]


def advise(graph: Graph, calibration: np.ndarray, x_search: np.ndarray, x_check: np.ndarray, *,
           target_agreement: float = 0.99, target_sqnr_db: float | None = None, budget_bits: int = 16,
           default: str = "auto<16>", hardware: Any = None,
           progress: Callable[[str, int, int], None] | None = None) -> Advice:
    """Search the narrowest types (module docstring); `progress(slot, i, n)` is called per slot."""
    from .hardware import Hardware
    from .overflow_report import pre_activation_ranges
    from .simulation import run_float

    if not 0.0 < target_agreement <= 1.0:
        raise FpgaSimError(f"target agreement {target_agreement} must lie in (0, 1], e.g. 0.99")
    if not MIN_WIDTH <= budget_bits <= 32:
        raise FpgaSimError(f"budget of {budget_bits} bits is outside {MIN_WIDTH}..32; it is the widest weight, "
                           "input or result type the search may give")
    hw = Hardware() if hardware is None else hardware
    base = quantize(graph, calibration=calibration, precision=default)
    slots = _explicit(base)
    ranges = pre_activation_ranges(base, calibration)
    ref_s = next(iter(run_float(graph, x_search).values())).reshape(len(x_search), -1)
    ref_c = next(iter(run_float(graph, x_check).values())).reshape(len(x_check), -1)
    build = lambda s: quantize(graph, precision=default, config=_config(s, default))  # noqa: E731
    ok = lambda a, q: a >= target_agreement and (target_sqnr_db is None or q >= target_sqnr_db)  # noqa: E731

    agree0, sqnr0 = _agreement(build(slots), x_search, ref_s)
    if not ok(agree0, sqnr0):
        raise FpgaSimError(f"the default {default} itself reaches top-1 agreement {agree0:.4f} (SQNR {sqnr0:.1f} dB) "
                           "on the search set, below the target; lower --target-agreement or --target-sqnr")

    def input_type(layer: str, s: dict[str, dict[str, Fixed]]) -> Fixed:
        return build(s).tensor_types[graph.node(layer).inputs[0]]

    def candidate(layer: str, slot: str, width: int, s: dict[str, dict[str, Fixed]]) -> Fixed:
        if slot == "accum":
            node = graph.node(layer)
            safe = get_op(node.op).safe_accum(node, [input_type(layer, s)], s[layer]["weight"])
            return Fixed(safe.int_bits + width, safe.int_bits, safe.signed)     # width = fractional bits kept
        if slot == "weight":
            vals = [v for k, v in graph.node(layer).params.items() if k != "bias"]
            mag = max(float(np.max(np.abs(v))) for v in vals)
        else:
            lo, hi = ranges[layer]
            mag = max(abs(lo), abs(hi))
        return fitting(width, mag)

    trials: list[Trial] = []
    order = _searchable(graph)
    chosen: dict[tuple[str, str], int] = {}

    def with_width(layer: str, slot: str, width: int) -> dict[str, dict[str, Fixed]]:
        """A copy of the current slots with this slot at `width` (a layer's bias follows its weights)."""
        s = {k: dict(v) for k, v in slots.items()}
        s[layer][slot] = candidate(layer, slot, width, slots)
        if slot == "weight" and "bias" in graph.node(layer).params:
            b = graph.node(layer).params["bias"]
            s[layer]["bias"] = fitting(s[layer]["weight"].width, float(np.max(np.abs(b))) if b.size else 0.0)
        return s
    for i, (layer, slot) in enumerate(order):
        if progress:
            progress(f"{layer} {slot}", i, len(order))
        if slot == "accum":        # search the fractional bits kept, 0 up to the exact product's
            lo_w, hi_w = -1, input_type(layer, slots).frac + slots[layer]["weight"].frac
        else:
            lo_w, hi_w = MIN_WIDTH - 1, budget_bits
        while hi_w - lo_w > 1:                     # invariant: hi_w passes (or is the start), lo_w fails or is below range
            mid = (lo_w + hi_w) // 2
            a, q = _agreement(build(with_width(layer, slot, mid)), x_search, ref_s)
            trials.append(Trial(layer, slot, mid, a, q, ok(a, q)))
            hi_w, lo_w = (mid, lo_w) if ok(a, q) else (hi_w, mid)
        chosen[(layer, slot)] = hi_w
        slots = with_width(layer, slot, hi_w)
    search_agree, _ = _agreement(build(slots), x_search, ref_s)

    widened: list[str] = []
    agree, sqnr = _agreement(build(slots), x_check, ref_c)
    while not ok(agree, sqnr) and len(widened) < 4 * len(order):
        # the joint check: give one more bit to the slot that helps the check set most, until it passes
        tried = []
        for layer, slot in order:
            if slot != "accum" and chosen[(layer, slot)] >= budget_bits:
                continue
            tried.append((*_agreement(build(with_width(layer, slot, chosen[(layer, slot)] + 1)), x_check, ref_c),
                          layer, slot))
        if not tried:
            break
        agree, sqnr, layer, slot = max(tried, key=lambda t: (t[0], t[1]))
        chosen[(layer, slot)] += 1
        slots = with_width(layer, slot, chosen[(layer, slot)])
        widened.append(f"{layer} {slot}")
    if not ok(agree, sqnr):
        raise FpgaSimError(f"no types within {budget_bits} bits keep agreement {target_agreement} on the check set "
                           f"(reached {agree:.4f}); raise --budget-bits or lower the target")
    final = build(slots)
    assert _agreement(final, x_check, ref_c) == (agree, sqnr)     # what is reported is what the config computes
    agree_default, _ = _agreement(base, x_check, ref_c)
    searched = {layer for layer, _ in order}
    pick = lambda s: {k: {sl: str(t) for sl, t in v.items() if sl != "bias"} for k, v in s.items() if k in searched}  # noqa: E731
    default_slots = _explicit(base)
    for n in graph.nodes:
        if "weight" in n.params:
            default_slots[n.name]["accum"] = base.layer_types[n.name].accum
    return Advice(config=_config(slots, default), types=pick(slots), default_types=pick(default_slots),
                  agreement=agree, sqnr_db=sqnr, agreement_default=agree_default, search_agreement=search_agree,
                  widened=widened, costs={"default": resources(base, hw), "advised": resources(final, hw)},
                  trials=trials, target_agreement=target_agreement, target_sqnr_db=target_sqnr_db,
                  budget_bits=budget_bits)
