"""What a layer keeps in memory and how it is tiled: weight streams and the tiling policy (`plan_tiles`)."""
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


@dataclass(frozen=True)
class TilePlan:
    """How a layer's DRAM-resident tensors pass through the tile SRAM, tile by tile.

    Tiles split the layer's output channels into groups of `channels_per_tile` (the last may be
    smaller); tile t computes the outputs of its channels.  Before tile 0 the DRAM-resident
    inputs are loaded whole (once); before each tile its channels' weights (and biases) are
    loaded when the weights live in DRAM; after each tile its outputs are written when the
    output lives in DRAM.  The code generator emits exactly these loops and buffers."""

    channels: int                       # output channels of the layer (1 for non-MAC layers)
    channels_per_tile: int
    tile_outputs: tuple[int, ...]       # outputs computed per tile
    tile_reads: tuple[int, ...]         # DRAM words loaded before each tile (tile 0: inputs first)
    input_reads: int                    # DRAM input words (all tiles)
    weight_reads: int                   # DRAM weight words (all tiles)
    buffers: int                        # copies of each per-tile buffer: 2 when double buffered
    input_buffer_bytes: int             # the DRAM inputs' buffer
    weight_tile_bytes: int              # one tile's weights (0: weights on chip)
    output_tile_bytes: int              # one tile's outputs (0: output on chip)
    input_restreamed: bool = False      # the DRAM input does not fit beside a tile: read again per tile
    output_streamed: bool = False       # a channel's outputs do not fit: written through the FIFO as produced

    @property
    def tiles(self) -> int:
        return len(self.tile_outputs)

    @property
    def sram_bytes_used(self) -> int:
        return self.input_buffer_bytes + self.buffers * (self.weight_tile_bytes + self.output_tile_bytes)

    def describe(self) -> str:
        again = "; the input, too large to stay in the SRAM, is read from DRAM again for each tile" if self.input_restreamed else ""
        if self.output_streamed:
            again += "; outputs go to DRAM through the FIFO as they are produced (a channel's outputs exceed the SRAM)"
        if self.tiles == 1:
            return "one tile" + again
        return f"{self.tiles} tiles of {self.channels_per_tile} of {self.channels} output channels" + again

    def to_dict(self) -> dict[str, object]:
        d = dict(self.__dict__)
        d["tile_outputs"], d["tile_reads"] = list(self.tile_outputs), list(self.tile_reads)
        d.update(tiles=self.tiles, sram_bytes_used=self.sram_bytes_used)
        return d


def output_channels(work: "LayerWork") -> int:
    """Output channels of a MAC layer: its dense weights are channels x K (biases one each)."""
    k = work.macs_per_output
    dense_w = work.weight_words - min(work.bias_words, work.weight_words)
    if k <= 0 or dense_w <= 0 or dense_w % k or work.outputs % (dense_w // k):
        return 1
    return dense_w // k


def plan_tiles(work: "LayerWork", *, dram_input_words: int, input_bits: int, weights_in_dram: bool,
               weight_words: int, weight_bytes: int, output_in_dram: bool, output_bits: int,
               capacity: int, double_buffer: bool) -> TilePlan:
    """The fewest output-channel tiles whose buffers fit `capacity` bytes of tile SRAM."""
    cout = output_channels(work) if work.macs_per_output > 0 else 1
    plane = work.outputs // cout
    in_b = word_bytes(dram_input_words, input_bits)
    w_words = weight_words if weights_in_dram else 0
    w_ch = -(-weight_bytes // cout) if weights_in_dram else 0          # bytes of one channel's weights
    o_ch = word_bytes(plane, output_bits) if output_in_dram else 0
    # the input kept whole in the SRAM, else read again per tile; outputs staged per tile, else
    # streamed through the output FIFO as they are produced
    for resident, staged in ((True, True), (False, True), (False, False)):
        in_keep = in_b if resident else 0
        o_keep = o_ch if staged else 0
        for n in range(1, cout + 1):
            ct = -(-cout // n)
            if n > 1 and ct == -(-cout // (n - 1)):
                continue
            n_eff = -(-cout // ct)
            bufs = 2 if double_buffer and n_eff > 1 else 1
            if in_keep + bufs * ct * (w_ch + o_keep) <= capacity:
                bounds = [min(cout, t * ct) for t in range(n_eff + 1)]
                outs = tuple((bounds[t + 1] - bounds[t]) * plane for t in range(n_eff))
                wr = [bounds[t + 1] * w_words // cout - bounds[t] * w_words // cout for t in range(n_eff)]
                if resident:
                    wr[0] += dram_input_words
                else:
                    wr = [r + dram_input_words for r in wr]
                in_reads = dram_input_words * (1 if resident else n_eff)
                return TilePlan(cout, ct, outs, tuple(wr), in_reads, w_words, bufs, in_keep,
                                ct * w_ch, ct * o_keep, input_restreamed=not resident and dram_input_words > 0,
                                output_streamed=not staged and o_ch > 0)
    need = (2 if double_buffer and cout > 1 else 1) * w_ch
    raise ConfigError(
        f"layer {work.name!r}: SRAM too small: one output channel's weights need {need} B of tile SRAM but sram_bytes={capacity}; raise sram_bytes or keep the layer's "
        "tensors on chip (weights/activations = \"on_chip\")")
