"""What a layer keeps in memory and how it is tiled: weight streams and the tiling policy."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import ConfigError

if TYPE_CHECKING:
    from .hardware import Hardware
    from .machine import LayerWork


def word_bytes(words: int, bits: int) -> int:
    return int(words) * ((int(bits) + 7) // 8)


@dataclass(frozen=True)
class Streams:
    """What a layer stores: weights as (words, bits) streams, and the MACs per output issued."""

    weight_streams: tuple[tuple[int, int], ...]
    k_eff: int
    weight_read_bits: int      # bits of a weight word as the array reads it from SRAM


def weight_streams(work: "LayerWork", hw: "Hardware", wbits: int) -> Streams:
    k = work.macs_per_output
    bias = min(work.bias_words, work.weight_words)
    dense_w = work.weight_words - bias
    if dense_w <= 0 or wbits == 0:
        return Streams(((work.weight_words, wbits),) if work.weight_words else (), k, wbits)
    words, k_eff, idx_bits, streams = dense_w, k, 0, []
    if hw.skip_zero_weights and work.nonzero_weight_words is not None:
        words = int(work.nonzero_weight_words)
        k_eff = math.ceil(k * words / dense_w) if words else 0
        idx_bits = hw.sparse_index_bits
    entry_bits = wbits
    cb = work.codebook_bits
    if hw.weights_as_codebook and cb is not None and 0 < cb < wbits:
        entry_bits = cb
        streams.append((1 << cb, wbits))       # the codebook itself
    streams.append((words, entry_bits + idx_bits))
    if bias:
        streams.append((bias, wbits))
    return Streams(tuple(streams), k_eff, entry_bits)


def blocked_tiling(i_words: int, i_bytes: int, w_words: int, w_bytes: int, k: int, capacity: int,
            name: str) -> tuple[int, int, str]:
    """(tiles, DRAM read words, description) under the blocked-GEMM policy in the module doc."""
    if i_bytes + w_bytes <= capacity:
        return 1, i_words + w_words, "one tile"
    bi = i_bytes / max(i_words, 1)
    bw = w_bytes / max(w_words, 1) if w_words else 0.0
    kk = max(k, 1)
    min_w = kk * bw if w_words else 0.0
    if kk * bi + min_w > capacity:
        raise ConfigError(
            f"layer {name!r}: SRAM too small: a tile needs at least {math.ceil(kk * bi + min_w)} bytes "
            f"(one output's {kk} inputs and weights) but {capacity} bytes are available; raise sram_bytes")
    best: tuple[int, int, int, str] | None = None
    cands = sorted({min(i_words, max(1, round(1.15 ** e))) for e in range(0, 400)})
    for n_i in cands:
        tile_i = math.ceil(i_words / n_i)
        if tile_i < min(kk, i_words) and n_i > 1:
            break
        room = capacity - tile_i * bi
        if w_words == 0:
            if room < 0:
                continue
            cand = (i_words, n_i, n_i, f"{n_i} input tiles")
        else:
            if room < min_w:
                continue
            n_w = math.ceil(w_bytes / room)
            if n_i == 1 or n_w == 1:
                reads = i_words + w_words
            else:
                reads = min(i_words + n_i * w_words, w_words + n_w * i_words)
            cand = (reads, n_i * n_w, n_i, f"{n_i} input x {n_w} weight tiles")
        if best is None or cand[:2] < best[:2]:
            best = cand
    if best is None:
        raise ConfigError(f"layer {name!r}: SRAM too small for any tiling ({capacity} bytes); raise sram_bytes")
    return best[1], best[0], best[3]
