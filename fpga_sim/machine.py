"""The simulated accelerator: one reused MAC array, an output FIFO and DRAM ports.

An op describes what one inference of a layer asks of the machine as a `LayerWork`;
`cost_layer` steps the machine cycle by cycle and returns a `LayerReport`.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LayerWork:
    """The work of one layer for one inference, as the op's cost() describes it."""

    name: str
    op: str
    outputs: int                  # output values produced (and written to DRAM)
    macs_per_output: int          # K: multiply-accumulates per output (0: no multiplies)
    input_words: int              # activation words the layer reads (all inputs)
    weight_words: int             # parameter words (weights + biases)
    input_bits: int               # width of an activation word
    weight_bits: int              # width of a weight word (0 when no weights)
    output_bits: int              # width of an output word
    accum_bits: int = 0           # width of the accumulator (energy of adds)
    ops_per_output: int = 0       # non-MAC element operations per output (compare, add, LUT)
    nonzero_weight_words: int | None = None   # for skip-zero hardware: weights that are not zero
    codebook_bits: int | None = None          # weights stored as indices of this many bits
    on_accelerator: bool = True
