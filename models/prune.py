"""Magnitude pruning (Han et al., "Learning both Weights and Connections", Deep Compression).

Train, remove every connection whose |weight| is below a per-layer threshold, retrain the
survivors with the pruned connections held at zero (masks on weights and on gradients), and
repeat with a rising sparsity: an iterative schedule prunes gently first and lets the network
recover before the next cut.  Biases are not pruned.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from fpga_sim.errors import FpgaSimError

from .train import TrainConfig, accuracy, train
from .zoo import count_params, weight_layers

Masks = dict[str, torch.Tensor]


def quantile_threshold(weight: torch.Tensor, sparsity: float) -> float:
    """The |w| below which a fraction `sparsity` of the weights lies (ties kept)."""
    if not 0.0 <= sparsity < 1.0:
        raise FpgaSimError(f"sparsity {sparsity!r} must lie in [0, 1)")
    mags = weight.detach().abs().flatten().sort().values
    k = int(round(sparsity * mags.numel()))
    return 0.0 if k == 0 else float(mags[k - 1])


def std_threshold(weight: torch.Tensor, quality: float) -> float:
    """Han et al.'s rule: threshold = quality parameter x standard deviation of the layer's weights."""
    return float(quality * weight.detach().std())


def magnitude_masks(model: nn.Module, sparsity: dict[str, float], old: Masks | None = None) -> tuple[Masks, dict[str, float]]:
    """Per-layer keep-masks (|w| > threshold, and kept before) and the thresholds used."""
    layers = weight_layers(model)
    unknown = set(sparsity) - set(layers)
    if unknown:
        raise FpgaSimError(f"sparsity names layers {sorted(unknown)} that are not in the model; layers: {sorted(layers)}")
    masks, thresholds = {}, {}
    for name, layer in layers.items():
        w = layer.weight.detach()
        if name not in sparsity:
            masks[name] = torch.ones_like(w, dtype=torch.bool) if old is None else old[name]
            thresholds[name] = 0.0
            continue
        t = quantile_threshold(w, sparsity[name])
        keep = w.abs() > t
        masks[name] = keep if old is None else keep & old[name]
        thresholds[name] = t
    return masks, thresholds


def apply_masks(model: nn.Module, masks: Masks) -> None:
    """Zero the pruned weights (in place)."""
    layers = weight_layers(model)
    with torch.no_grad():
        for name, m in masks.items():
            layers[name].weight.mul_(m)


def mask_gradients(model: nn.Module, masks: Masks) -> None:
    """Zero the gradients of pruned weights, so the optimiser never moves them."""
    layers = weight_layers(model)
    for name, m in masks.items():
        g = layers[name].weight.grad
        if g is not None:
            g.mul_(m)


def default_sparsity(model: nn.Module, target: float = 0.93, first: float = 0.5, last: float = 0.8) -> dict[str, float]:
    """Final per-layer sparsity: the small first and last layers are pruned gently, as in Deep Compression."""
    names = list(weight_layers(model))
    s = {n: target for n in names}
    s[names[0]], s[names[-1]] = first, last
    return s


@dataclass
class LayerSparsity:
    name: str
    shape: tuple[int, ...]
    weights: int
    nonzero: int
    threshold: float

    @property
    def sparsity(self) -> float:
        return 1.0 - self.nonzero / self.weights


@dataclass
class PruneReport:
    """Per-layer and total sparsity, the compression rate and accuracy before and after."""

    layers: list[LayerSparsity]
    params: int
    nonzero_params: int
    accuracy_before: float | None = None
    accuracy_after: float | None = None
    history: list[dict] = field(default_factory=list)   # per schedule step: sparsity, accuracy

    @property
    def sparsity(self) -> float:
        w = sum(l.weights for l in self.layers)
        return 1.0 - sum(l.nonzero for l in self.layers) / w

    @property
    def compression_rate(self) -> float:
        """All parameters / non-zero parameters (biases count as kept), as the lecture's 9x."""
        return self.params / self.nonzero_params

    def to_dict(self) -> dict:
        return {"layers": [dict(l.__dict__, shape=list(l.shape), sparsity=l.sparsity) for l in self.layers],
                "params": self.params, "nonzero_params": self.nonzero_params, "sparsity": self.sparsity,
                "compression_rate": self.compression_rate, "accuracy_before": self.accuracy_before,
                "accuracy_after": self.accuracy_after, "history": self.history}


def sparsity_report(model: nn.Module, masks: Masks, thresholds: dict[str, float] | None = None) -> PruneReport:
    layers = weight_layers(model)
    rows = [LayerSparsity(n, tuple(layers[n].weight.shape), int(m.numel()),
                          int((layers[n].weight.detach() != 0).sum()), (thresholds or {}).get(n, 0.0))
            for n, m in masks.items()]
    return PruneReport(rows, count_params(model), count_params(model, nonzero=True))


def schedule_sparsities(final: dict[str, float], steps: int) -> list[dict[str, float]]:
    """Geometric schedule: density falls by the same factor at each step, reaching `final` at the end."""
    if steps < 1:
        raise FpgaSimError(f"pruning schedule needs at least 1 step, got {steps}")
    return [{n: 1.0 - (1.0 - s) ** ((i + 1) / steps) for n, s in final.items()} for i in range(steps)]


def prune(model: nn.Module, x: np.ndarray, y: np.ndarray, sparsity: dict[str, float] | None = None, *,
          steps: int = 3, retrain: TrainConfig | None = None, x_test: np.ndarray | None = None,
          y_test: np.ndarray | None = None, progress: bool = True) -> tuple[Masks, PruneReport]:
    """Iteratively prune `model` in place to the per-layer `sparsity`, retraining after each cut."""
    final = sparsity or default_sparsity(model)
    retrain = retrain or TrainConfig(epochs=10, lr=1e-3)
    evaluate = x_test is not None and y_test is not None
    before = accuracy(model, x_test, y_test) if evaluate else None
    masks: Masks | None = None
    history: list[dict] = []
    thresholds: dict[str, float] = {}
    for i, target in enumerate(schedule_sparsities(final, steps)):
        masks, thresholds = magnitude_masks(model, target, masks)
        apply_masks(model, masks)
        cut = accuracy(model, x_test, y_test) if evaluate else None
        m = masks
        train(model, x, y, retrain, before_step=lambda mod: mask_gradients(mod, m),
              after_step=lambda mod: apply_masks(mod, m), progress=progress, label=f"prune step {i + 1}/{steps}")
        rep = sparsity_report(model, masks)
        history.append({"step": i + 1, "sparsity": rep.sparsity, "accuracy_after_cut": cut,
                        "accuracy_after_retrain": accuracy(model, x_test, y_test) if evaluate else None})
    report = sparsity_report(model, masks, thresholds)
    report.accuracy_before, report.history = before, history
    report.accuracy_after = history[-1]["accuracy_after_retrain"]
    return masks, report
