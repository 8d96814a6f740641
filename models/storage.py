"""Model size as Deep Compression counts it: dense, sparse (relative indices), shared, Huffman.

- dense: every weight at `value_bits`.
- sparse: the non-zeros in flattened order, each stored with the gap to the previous one in
  `index_bits` bits (Han et al.: 8 for conv, 5 for fc); a gap longer than 2**index_bits inserts
  a filler zero entry.
- shared: each stored entry holds a codebook index of `code_bits` instead of its value, plus a
  codebook of 2**code_bits centroids at `centroid_bits` (the lecture's 409600*8 + 256*16 bits).
- huffman: the codebook-index and gap streams Huffman-coded (with their tables), plus the codebook.
Biases are always stored dense at `bias_bits`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import nn

from fpga_sim.errors import FpgaSimError

from . import huffman
from .zoo import weight_layers

SCHEMES = ("dense", "sparse", "shared", "huffman")


def shared_storage_bits(n_weights: int, code_bits: int, centroid_bits: int = 16) -> int:
    """Weights as codebook indices plus the codebook itself (the lecture's trained-quantisation math)."""
    return n_weights * code_bits + (1 << code_bits) * centroid_bits


def relative_entries(mask: np.ndarray, index_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(gaps, is_filler) of the stored entries of a flattened keep-mask in relative-index form."""
    span = 1 << index_bits
    gaps, fillers = [], []
    prev = -1
    for p in np.flatnonzero(np.asarray(mask).reshape(-1)):
        g = int(p) - prev
        while g > span:                       # gap too long for index_bits: a filler zero entry
            gaps.append(span)
            fillers.append(True)
            g -= span
        gaps.append(g)
        fillers.append(False)
        prev = int(p)
    return np.asarray(gaps, dtype=np.int64), np.asarray(fillers, dtype=bool)


@dataclass
class LayerSize:
    name: str
    weights: int
    nonzero: int
    entries: int          # stored entries (non-zeros + fillers) for sparse schemes
    bits: int
    code_bits: int = 0    # codebook index width (shared/huffman)


def layer_bits(weight: np.ndarray, scheme: str, *, value_bits: int = 32, index_bits: int = 5,
               code_bits: int = 5, centroid_bits: int = 32, codes: np.ndarray | None = None) -> tuple[int, int]:
    """(size in bits, stored entries) of one weight tensor under `scheme`.

    `codes` (same shape as weight) holds codebook indices for shared/huffman; zero weights are code 0.
    """
    w = np.asarray(weight)
    if scheme not in SCHEMES:
        raise FpgaSimError(f"unknown storage scheme {scheme!r}; accepted: {', '.join(SCHEMES)}")
    if scheme == "dense":
        return w.size * value_bits, w.size
    gaps, fill = relative_entries(w != 0, index_bits)
    n = len(gaps)
    if scheme == "sparse":
        return n * (value_bits + index_bits), n
    if codes is None:
        raise FpgaSimError(f"storage scheme {scheme!r} needs the codebook indices of the layer")
    kept = np.asarray(codes).reshape(-1)[np.flatnonzero(w.reshape(-1) != 0)]
    entry_codes = np.zeros(n, dtype=np.int64)
    entry_codes[~fill] = kept
    codebook = (1 << code_bits) * centroid_bits
    if scheme == "shared":
        return n * (code_bits + index_bits) + codebook, n
    return (huffman.encoded_bits(entry_codes.tolist(), code_bits)
            + huffman.encoded_bits(gaps.tolist(), index_bits) + codebook), n


def default_bits(layer: nn.Module, conv: int, dense: int) -> int:
    return conv if isinstance(layer, nn.Conv2d) else dense


def codes_from_weights(weight: np.ndarray) -> tuple[np.ndarray, int]:
    """(code per weight, code bits) of a layer read as a codebook: code 0 is zero, the other
    distinct values get codes 1..n; bits = ceil(log2(n + 1)), at least 1."""
    w = np.asarray(weight)
    values, inverse = np.unique(w[w != 0], return_inverse=True)
    codes = np.zeros(w.shape, dtype=np.int64)
    codes[w != 0] = inverse + 1
    return codes, max(1, int(np.ceil(np.log2(len(values) + 1))))


def model_size(model: nn.Module, scheme: str, *, value_bits: int = 32, bias_bits: int = 32,
               code_bits: dict[str, int] | None = None, index_bits: dict[str, int] | None = None,
               codes: dict[str, np.ndarray] | None = None, centroid_bits: int = 32) -> dict:
    """Per-layer and total size of a model's parameters; bytes are total bits / 8 rounded up.

    For shared/huffman the codes and code bits are read from the weights' distinct values unless given.
    """
    layers = weight_layers(model)
    rows: list[LayerSize] = []
    total = 0
    for name, layer in layers.items():
        w = layer.weight.detach().cpu().numpy()
        ib = (index_bits or {}).get(name, default_bits(layer, 8, 5))
        layer_codes, cb = (None, 0) if scheme in ("dense", "sparse") else codes_from_weights(w)
        cb = (code_bits or {}).get(name, cb)
        if codes is not None and name in codes:
            layer_codes = codes[name]
        bits, entries = layer_bits(w, scheme, value_bits=value_bits, index_bits=ib, code_bits=cb,
                                   centroid_bits=centroid_bits, codes=layer_codes)
        if layer.bias is not None:
            bits += layer.bias.numel() * bias_bits
        rows.append(LayerSize(name, int(w.size), int((w != 0).sum()), entries, int(bits), cb))
        total += bits
    # parameters outside Conv/Linear layers (none in the zoo, but count them honestly)
    covered = {id(p) for l in layers.values() for p in l.parameters(recurse=False)}
    other = sum(p.numel() for p in model.parameters() if id(p) not in covered)
    total += other * value_bits
    return {"scheme": scheme, "bits": int(total), "bytes": int((total + 7) // 8),
            "layers": [r.__dict__ for r in rows]}


def nonzero_params(model: nn.Module) -> int:
    return int(sum(int((p.detach() != 0).sum()) for p in model.parameters()))


def dense_bytes(model: nn.Module, bits: int = 32) -> int:
    return (sum(p.numel() for p in model.parameters()) * bits + 7) // 8


