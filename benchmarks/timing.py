"""Wall-clock timing shared by every benchmark: warm up once, then the best of several runs.

The best (minimum) of repeated runs is the least noisy estimate on a shared 2-core machine; the
median is kept beside it so a reader can see the spread.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Timing:
    best_s: float
    median_s: float
    runs: int
    first_s: float          # the warm-up call (includes any compilation)

    def to_dict(self) -> dict[str, Any]:
        return {"best_s": self.best_s, "median_s": self.median_s, "runs": self.runs,
                "first_s": self.first_s}


def measure(fn: Callable[[], Any], budget_s: float = 1.0, min_runs: int = 3,
            max_runs: int = 50) -> tuple[Timing, Any]:
    """Time fn(): one warm-up call, then runs until `budget_s` is spent (min_runs..max_runs).

    Returns the timing and the value of the last call (so callers can check what they timed).
    """
    t0 = time.perf_counter()
    value = fn()
    first = time.perf_counter() - t0
    times: list[float] = []
    spent = 0.0
    while len(times) < min_runs or (spent < budget_s and len(times) < max_runs):
        t0 = time.perf_counter()
        value = fn()
        dt = time.perf_counter() - t0
        times.append(dt)
        spent += dt
    return Timing(min(times), statistics.median(times), len(times), first), value


def ratio(ours: float | None, peer: float | None) -> float | None:
    """ours/peer for throughputs (higher is better); None when either is missing or zero."""
    if not ours or not peer:
        return None
    return ours / peer
