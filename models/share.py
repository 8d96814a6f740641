"""Trained quantisation: per-layer k-means weight sharing with centroid fine-tuning (Deep Compression).

Each layer's non-zero weights are clustered into 2**bits - 1 centroids (scikit-learn KMeans,
initialised linearly between the smallest and largest weight, which Han et al. found best since
it keeps the rare large weights); code 0 is reserved for the exact zero of pruned connections,
so a layer holds at most 2**bits distinct values and is stored as bits-wide indices plus a
codebook.  Fine-tuning then trains the centroids: the gradient of a centroid is the sum of the
gradients of all the weights that share it, and every weight is rewritten from its centroid
after each step, so weights only ever take codebook values.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from fpga_sim.errors import FpgaSimError

from .train import TrainConfig, train
from .zoo import weight_layers


@dataclass
class SharedLayer:
    """One layer's codebook: index per weight (0 = pruned zero) and the trainable centroids."""

    name: str
    bits: int
    index: torch.Tensor          # long, same shape as the weight; 0 means "pruned, exactly zero"
    centroids: torch.Tensor      # float, (2**bits - 1,) or fewer; code c >= 1 uses centroids[c - 1]

    def codebook(self) -> torch.Tensor:
        """All code values, code 0 first (the zero)."""
        return torch.cat([self.centroids.new_zeros(1), self.centroids])

    def weight(self) -> torch.Tensor:
        return self.codebook()[self.index]


def linear_init(values: np.ndarray, k: int) -> np.ndarray:
    """k centroids evenly spaced over [min, max] of the weights (Deep Compression's linear initialisation)."""
    return np.linspace(float(values.min()), float(values.max()), k)


def cluster(values: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """1-D k-means with linear initialisation: (centroids, label per value)."""
    from sklearn.cluster import KMeans

    values = np.asarray(values, dtype=np.float64).reshape(-1, 1)
    k = int(min(k, len(np.unique(values))))
    if k < 1:
        raise FpgaSimError("weight sharing needs at least one non-zero weight in the layer")
    km = KMeans(n_clusters=k, init=linear_init(values, k).reshape(-1, 1), n_init=1, random_state=seed)
    labels = km.fit_predict(values)
    return km.cluster_centers_.reshape(-1), labels


def default_bits(model: nn.Module, conv: int = 8, dense: int = 5) -> dict[str, int]:
    """Codebook bits per layer: 8 for conv and 5 for dense, the lecture's lossless setting."""
    return {n: conv if isinstance(l, nn.Conv2d) else dense for n, l in weight_layers(model).items()}


def share_weights(model: nn.Module, bits: dict[str, int] | None = None, seed: int = 0) -> dict[str, SharedLayer]:
    """Cluster every named layer's non-zero weights and rewrite the weights from the codebooks."""
    layers = weight_layers(model)
    bits = bits or default_bits(model)
    shared: dict[str, SharedLayer] = {}
    for name, b in bits.items():
        if name not in layers:
            raise FpgaSimError(f"weight sharing names layer {name!r}, which is not in the model; layers: {sorted(layers)}")
        if not 1 <= int(b) <= 16:
            raise FpgaSimError(f"codebook bits for layer {name!r} must be 1..16, got {b!r}")
        w = layers[name].weight.detach()
        nz = (w != 0).flatten()
        centroids, labels = cluster(w.flatten()[nz].numpy(), (1 << int(b)) - 1, seed)
        index = torch.zeros(w.numel(), dtype=torch.long)
        index[nz] = torch.as_tensor(labels, dtype=torch.long) + 1
        shared[name] = SharedLayer(name, int(b), index.view_as(w),
                                   torch.tensor(centroids, dtype=w.dtype).requires_grad_(True))
    write_weights(model, shared)
    return shared


def write_weights(model: nn.Module, shared: dict[str, SharedLayer]) -> None:
    """Set every shared layer's weights to its codebook values."""
    layers = weight_layers(model)
    with torch.no_grad():
        for name, s in shared.items():
            layers[name].weight.copy_(s.weight())


def centroid_gradients(weight_grad: torch.Tensor, s: SharedLayer) -> torch.Tensor:
    """Gradient of each centroid = sum of the gradients of the weights in its cluster."""
    sums = torch.zeros(len(s.centroids) + 1, dtype=weight_grad.dtype)
    sums.scatter_add_(0, s.index.flatten(), weight_grad.flatten())
    return sums[1:]                 # code 0 (pruned zero) is not trained


def fine_tune(model: nn.Module, shared: dict[str, SharedLayer], x: np.ndarray, y: np.ndarray,
              config: TrainConfig | None = None, *, train_bias: bool = True, progress: bool = True) -> list[float]:
    """Train the centroids (and, by default, the biases) with grouped gradients; weights stay on the codebook."""
    layers = weight_layers(model)
    params = [s.centroids for s in shared.values()]
    if train_bias:
        params += [l.bias for l in layers.values() if l.bias is not None]

    def group(mod: nn.Module) -> None:
        for name, s in shared.items():
            g = layers[name].weight.grad
            s.centroids.grad = centroid_gradients(g, s) if g is not None else None

    return train(model, x, y, config or TrainConfig(epochs=10, lr=5e-4), params=params, before_step=group,
                 after_step=lambda mod: write_weights(mod, shared), progress=progress, label="fine-tune centroids")


def codes(shared: dict[str, SharedLayer]) -> dict[str, np.ndarray]:
    """Codebook index arrays per layer (for storage and Huffman coding)."""
    return {n: s.index.numpy() for n, s in shared.items()}
