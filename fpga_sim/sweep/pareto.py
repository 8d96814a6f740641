"""The metrics a point reports, which way each is better, and the Pareto front over a sweep's objectives."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

# Metric -> its unit and meaning (per inference).  Every cost-mode metric comes from cost_report.
COST_METRICS: dict[str, str] = {
    "cycles": "cycles per inference",
    "latency_us": "latency, µs",
    "throughput_per_s": "inferences per second",
    "energy_total_pj": "energy, pJ",
    "dram_words": "DRAM words read + written",
    "dram_reads": "DRAM words read",
    "dram_writes": "DRAM words written",
    "sram_reads": "SRAM words read",
    "stall_cycles": "cycles the array waited",
    "macs": "multiply-accumulates",
    "multipliers": "multiplies issued per cycle (widest layer)",
    "param_bits": "bits of parameters",
    "n_dsp": "DSP slices",
    "sram_bytes": "on-chip SRAM, bytes",
}
SIMULATE_METRICS: dict[str, str] = {
    "accuracy_fixed": "fixed-point accuracy on the labels",
    "accuracy_float": "float accuracy on the labels",
    "agreement": "top-1 agreement with float",
    "accuracy_loss": "float accuracy - fixed accuracy (1 - agreement without labels)",
    "overflows": "values that saturated or wrapped over the data",
}
MAXIMISED = frozenset({"throughput_per_s", "accuracy_fixed", "accuracy_float", "agreement"})


def metric_names(mode: str) -> tuple[str, ...]:
    return tuple(COST_METRICS) + (tuple(SIMULATE_METRICS) if mode == "simulate" else ())


def objective_value(metrics: dict[str, Any], name: str) -> float:
    """The metric as a quantity to minimise (maximised metrics negated); missing -> +inf."""
    v = metrics.get(name)
    if v is None:
        return float("inf")
    return -float(v) if name in MAXIMISED else float(v)


def pareto_mask(values: np.ndarray) -> np.ndarray:
    """Rows of values (n, k), all minimised, that no other row dominates (<= everywhere, < somewhere).
    Equal rows are all kept."""
    n = len(values)
    keep = np.ones(n, dtype=bool)
    order = np.lexsort(values.T[::-1])           # by the first objective, then the next...
    front: list[int] = []
    for i in order:
        v = values[i]
        for j in front:
            w = values[j]
            if np.all(w <= v) and np.any(w < v):
                keep[i] = False
                break
        else:
            front.append(i)
    return keep


def pareto_front(rows: Iterable[dict[str, Any]], objectives: tuple[str, ...]) -> list[dict[str, Any]]:
    """The points (status ok, fitting their part) on the front, sorted by the first objective."""
    candidates = [r for r in rows if r.get("status") == "ok" and r.get("fits", True)]
    if not candidates:
        return []
    values = np.array([[objective_value(r["metrics"], o) for o in objectives] for r in candidates], dtype=float)
    mask = pareto_mask(values)
    front = [r for r, k in zip(candidates, mask) if k]
    return sorted(front, key=lambda r: tuple(objective_value(r["metrics"], o) for o in objectives))
