"""Huffman coding of codebook indices and relative indices (the last stage of Deep Compression)."""
from __future__ import annotations

import heapq
import math
from collections import Counter
from typing import Hashable, Iterable


def code_lengths(counts: dict[Hashable, int]) -> dict[Hashable, int]:
    """Optimal prefix-code length per symbol (Huffman's algorithm on a heap); one symbol gets 1 bit."""
    items = [(c, s) for s, c in counts.items() if c > 0]
    if not items:
        return {}
    if len(items) == 1:
        return {items[0][1]: 1}
    # heap entries: (weight, tie-breaker, symbols in the subtree)
    heap = [(c, i, [s]) for i, (c, s) in enumerate(items)]
    heapq.heapify(heap)
    lengths = {s: 0 for _, s in items}
    tie = len(heap)
    while len(heap) > 1:
        c1, _, s1 = heapq.heappop(heap)
        c2, _, s2 = heapq.heappop(heap)
        for s in s1 + s2:
            lengths[s] += 1          # every merge puts the subtree one level deeper
        heapq.heappush(heap, (c1 + c2, tie, s1 + s2))
        tie += 1
    return lengths


def table_bits(lengths: dict[Hashable, int], alphabet_bits: int) -> int:
    """Bits to transmit a canonical Huffman table: the cheaper of a dense list of code lengths for
    all 2**alphabet_bits symbols, or (symbol, length) pairs for the symbols present."""
    if not lengths:
        return 0
    len_bits = max(1, math.ceil(math.log2(max(lengths.values()) + 1)))
    return min((1 << alphabet_bits) * len_bits, len(lengths) * (alphabet_bits + len_bits))


def encoded_bits(symbols: Iterable[Hashable], alphabet_bits: int | None = None) -> int:
    """Size in bits of `symbols` Huffman-coded, plus its table when alphabet_bits is given."""
    counts = Counter(symbols)
    lengths = code_lengths(counts)
    payload = sum(counts[s] * n for s, n in lengths.items())
    return payload + (table_bits(lengths, alphabet_bits) if alphabet_bits is not None else 0)
