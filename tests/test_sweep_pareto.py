"""The Pareto front against a brute-force O(n^2) reference, with maximised metrics and ties."""
from __future__ import annotations

import numpy as np

from fpga_sim.sweep.pareto import metric_names, pareto_front, pareto_mask


def _brute(values: np.ndarray) -> np.ndarray:
    n = len(values)
    return np.array([not any(np.all(values[j] <= values[i]) and np.any(values[j] < values[i])
                             for j in range(n) if j != i) for i in range(n)])


def test_mask_equals_brute_force_on_random_sets():
    rng = np.random.default_rng(0)
    for k in (1, 2, 3):
        for _ in range(20):
            v = rng.integers(0, 6, (40, k)).astype(float)      # small integers: many ties
            assert np.array_equal(pareto_mask(v), _brute(v))


def test_front_keeps_fitting_ok_points_and_maximises_accuracy():
    rows = [
        {"key": "a", "status": "ok", "fits": True, "metrics": {"latency_us": 1.0, "accuracy_fixed": 0.90}},
        {"key": "b", "status": "ok", "fits": True, "metrics": {"latency_us": 2.0, "accuracy_fixed": 0.95}},
        {"key": "c", "status": "ok", "fits": True, "metrics": {"latency_us": 3.0, "accuracy_fixed": 0.94}},
        {"key": "d", "status": "ok", "fits": False, "metrics": {"latency_us": 0.5, "accuracy_fixed": 0.99}},
        {"key": "e", "status": "error", "fits": True, "metrics": {}},
    ]
    assert [r["key"] for r in pareto_front(rows, ("latency_us", "accuracy_fixed"))] == ["a", "b"]
    assert [r["key"] for r in pareto_front(rows, ("latency_us",))] == ["a"]
    assert "accuracy_loss" in metric_names("simulate") and "accuracy_loss" not in metric_names("cost")
