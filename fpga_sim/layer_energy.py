"""Energy of one layer's inference: the action counts the machine produced, times the energy
table's pJ per action at the layer's word widths (see `energy.py` for the table and scaling).

Memory words are the layer's own data words.  SRAM reads: every multiply reads an input and a
weight word (non-MAC: every lane op reads one input word), and every look-up reads a word of an
on-chip constant ROM (a function table, a per-element scale) at that ROM's width: tables are
BRAM/LUTRAM initialised with the bitstream, never DRAM traffic.  SRAM writes: words loaded from DRAM.
Adds: K per output for MAC layers (K-1 in the adder tree/accumulator plus the bias),
`ops_per_output` per output otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .energy import EnergyTable


@dataclass(frozen=True)
class Widths:
    """Word widths, bits, of one layer as the machine moves and computes them."""

    input_bits: int
    weight_bits: int
    output_bits: int
    accum_bits: int
    weight_read_bits: int     # a weight word as the array reads it (a codebook index when shared)


def layer_energy(et: "EnergyTable", widths: Widths, *, is_mac: bool, float32: bool, macs: int, adds: int,
                 lane_reads: int, input_reads: int, weight_streams: tuple[tuple[int, int], ...],
                 weight_factor: float, dram_writes: int,
                 rom_reads: tuple[tuple[int, int], ...] = ()) -> dict[str, float]:
    """pJ per action kind (keys of results.ENERGY_KINDS).  `input_reads`: input words loaded from
    DRAM; `weight_factor`: how many times each stored weight word was loaded from DRAM (0: on
    chip); `dram_writes`: output words written to DRAM; `rom_reads`: (words, bits) read from
    on-chip constant ROMs."""
    mem = et.memory
    ib = widths.input_bits
    w_read = sum(words * weight_factor * mem("dram_read", b) for words, b in weight_streams)
    w_load = sum(words * weight_factor * mem("sram_write", b) for words, b in weight_streams)
    rom = sum(words * mem("sram_read", b) for words, b in rom_reads)
    if float32:
        e_mult, e_add = et.float_mult(), et.float_add()
    else:
        e_mult = et.int_mult(ib, widths.weight_bits) if is_mac else 0.0
        e_add = et.int_add(widths.accum_bits)
    return {
        "mult": float(macs * e_mult),
        "add": float(adds * e_add),
        "sram_read": float(macs * (mem("sram_read", ib) + mem("sram_read", widths.weight_read_bits)) if is_mac
                           else lane_reads * mem("sram_read", ib)) + rom,
        "sram_write": float(input_reads * mem("sram_write", ib) + w_load),
        "dram_read": float(input_reads * mem("dram_read", ib) + w_read),
        "dram_write": float(dram_writes * mem("dram_write", widths.output_bits)),
    }
