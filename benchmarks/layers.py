"""Layer throughput: the engine's bit-accurate kernel against onnxruntime float32 and NumPy int64.

Each case runs the same input through three peers in one process: onnxruntime (float32, the
speed users compare against), the plain NumPy int64 reference (`int_reference`, also the
exactness oracle) and fpga-sim's `run_fixed`.  The engine's output must equal the reference's
bit for bit; the cycle-level cost of the layer is timed beside it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import onnx

from . import engine, onnx_models
from .timing import measure, ratio
from .ort import ort_runner

PRECISIONS = ("ap_fixed<16,6>", "ap_fixed<8,3>")
# Issue 9's targets: engine MAC/s over onnxruntime float32 MAC/s on the 3x3 conv.
CONV_TARGETS = {"ap_fixed<16,6>": 0.2, "ap_fixed<8,3>": 0.5}
DEPTHWISE_TARGET = 0.5      # issue 18: depthwise conv >= 0.5x onnxruntime


@dataclass(frozen=True)
class LayerCase:
    name: str
    kind: str                   # "conv", "dense" or "depthwise"
    build: Callable[[], onnx.ModelProto]
    macs: int                   # multiply-accumulates of one run (the whole batch)
    targeted: bool = False      # the issue sets a throughput target for this case


def cases(quick: bool) -> list[LayerCase]:
    if quick:
        c, hw, d, dwc = 16, 16, 256, 32
    else:
        c, hw, d, dwc = 64, 56, 4096, 128
    return [
        LayerCase(f"conv3x3 {hw}x{hw}x{c}->{c}", "conv", lambda: onnx_models.conv_model(1, c, hw, c),
                  hw * hw * c * c * 9, targeted=True),
        LayerCase(f"dense {d}->{d}", "dense", lambda: onnx_models.dense_model(1, d, d), d * d),
        LayerCase(f"depthwise3x3 {hw}x{hw}x{dwc}", "depthwise",
                  lambda: onnx_models.conv_model(1, dwc, hw, dwc, groups=dwc), hw * hw * dwc * 9),
    ]


def run(quick: bool, hardware: Any = None, budget_s: float | None = None) -> list[dict[str, Any]]:
    """One row per (case, precision)."""
    budget = budget_s if budget_s is not None else (0.1 if quick else 1.5)
    rows = []
    for case in cases(quick):
        model = case.build()
        name, shape = onnx_models.activation_input(model)
        x = np.random.default_rng(1).uniform(-1, 1, shape).astype(np.float32)
        t_ort, _ = measure(ort_runner(model, {name: x}), budget)
        for prec in PRECISIONS:
            rows.append(_row(case, model, x, prec, t_ort, hardware, budget))
    return rows


def _row(case: LayerCase, model: onnx.ModelProto, x: np.ndarray, prec: str, t_ort: Any,
         hardware: Any, budget: float) -> dict[str, Any]:
    row: dict[str, Any] = {"case": case.name, "kind": case.kind, "precision": prec, "macs": case.macs,
                           "ort_s": t_ort.best_s, "ort_macs_per_s": case.macs / t_ort.best_s}
    try:
        qg = engine.quantized(model, x, prec)
        node = engine.mac_node(qg)
        x_raw, run_engine = engine.layer_runner(qg, node, x)
        t_eng, y_eng = measure(run_engine, budget)
        t_ref, y_ref = measure(engine.reference_runner(qg, node, x_raw), budget, min_runs=1, max_runs=3)
    except Exception as e:  # noqa: BLE001 - reported in the table, never hidden
        row["error"] = f"{type(e).__name__}: {e}"
        return row
    exact, ndiff = engine.bit_exact(y_ref, y_eng)
    types = qg.layer_types[node.name]
    row.update({
        "accum": str(types.accum),
        "engine_s": t_eng.best_s, "engine_first_s": t_eng.first_s,
        "engine_macs_per_s": case.macs / t_eng.best_s,
        "numpy_int64_s": t_ref.best_s, "numpy_int64_macs_per_s": case.macs / t_ref.best_s,
        "vs_ort": ratio(case.macs / t_eng.best_s, case.macs / t_ort.best_s),
        "vs_numpy_int64": ratio(case.macs / t_eng.best_s, case.macs / t_ref.best_s),
        "bit_exact": exact, "mismatches": ndiff, "outputs": int(np.asarray(y_ref).size),
    })
    if case.kind == "depthwise":
        row["target_vs_ort"] = DEPTHWISE_TARGET
        row["target_met"] = bool(row["vs_ort"] is not None and row["vs_ort"] >= DEPTHWISE_TARGET)
    if case.targeted:
        target = CONV_TARGETS[prec]
        row["target_vs_ort"] = target
        row["target_met"] = bool(row["vs_ort"] is not None and row["vs_ort"] >= target)
    if hardware is not None:
        try:
            t_cost, rep = measure(engine.layer_cost_runner(qg, node, hardware), budget, min_runs=1, max_runs=5)
            row.update({"cost_s": t_cost.best_s, "cycles": int(rep.cycles),
                        "cycles_per_host_s": rep.cycles / t_cost.best_s if t_cost.best_s else None,
                        "bound": rep.bound})
        except Exception as e:  # noqa: BLE001
            row["cost_error"] = f"{type(e).__name__}: {e}"
    return row
