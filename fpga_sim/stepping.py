"""Cycle stepping of the machine: `step_machine` (a thin wrapper of one Numba kernel) and the port rates.

Schedule (see `machine.py` for the whole model).  Each cycle, in order:
1. compute: the array issues if its tile is on chip; a cycle that completes an output (group)
   needs the array's output register free, otherwise the array stalls (FIFO full);
2. DRAM read port: loads the next tile's inputs/weights at the read bandwidth;
3. write port: drains the FIFO and then the output register at the write bandwidth (a result
   can pass straight through in the cycle it is produced); what is not written moves into the
   FIFO (`fifo_depth` words), the rest stays in the output register.
Fractional bandwidths are exact rationals: a port earns num/den words per cycle and may bank at
most one cycle's worth beyond a whole word, so an idle port cannot burst.  Steady states are
skipped exactly (see `step_machine`).
"""
from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

import numpy as np
from numba import njit

from .errors import ConfigError

TRACE_CAP = 100_000          # cycles kept in a per-cycle trace
RING = 8                     # earlier output completions compared when looking for a steady state


def step_machine(tile_out: np.ndarray, c: int, p: int, k: int, m: int, fifo_depth: int, w_num: int, w_den: int,
                 r_num: int, r_den: int, tile_reads: np.ndarray, double_buffer: bool, trace_busy: np.ndarray,
                 trace_fifo: np.ndarray, trace_written: np.ndarray,
                 allow_skip: bool = True) -> tuple[int, int, int, int, int]:
    """Step the machine until every output is written: tile t computes tile_out[t] outputs after
    its tile_reads[t] DRAM words are loaded (int64 arrays, one entry per tile).  Returns (last write cycle, compute
    cycles, FIFO-stall cycles, read-stall cycles, cycles the read port moved data).

    Steady state is skipped exactly: the machine is deterministic, and its next cycles depend
    on the outputs left in the tile, the words written and the words left in the tile being
    loaded only through the thresholds `left > p`, `written < n_out` and `tile_left > words a
    cycle can move`.  When, at the cycle an output completes, the rest of the state (tile,
    accumulation counter, output register, FIFO, port credits, tiles loaded) equals the state
    at an earlier completion, the cycles in between repeat; as many whole periods as keep the
    thresholds untouched are applied at once, then stepping resumes (`allow_skip=False` steps
    every cycle; the trace arrays' first cycles are always stepped and recorded).

    The wrapper exists for the first run's compile time: the ring buffer and the output total
    are made here (np.zeros and .sum() in the kernel compile their own implementations: the
    first simulate of LeNet compiled the kernel in ~2.1 s, now ~1.75 s: medians of 5 and 6 cold
    runs), and every scalar goes in as a Python int or bool, so with the int64 arrays machine.py
    passes the kernel has exactly one signature."""
    ring = np.zeros((RING, 16), np.int64)
    ints = (int(v) for v in (tile_out.sum(), c, p, k, m, fifo_depth, w_num, w_den, r_num, r_den))
    return _step_machine(tile_out, *ints, tile_reads, bool(double_buffer), trace_busy, trace_fifo, trace_written,
                         bool(allow_skip), ring)


@njit(cache=True, nogil=True)
def _step_machine(tile_out, n_out, c, p, k, m, fifo_depth, w_num, w_den, r_num, r_den, tile_reads,
                  double_buffer, trace_busy, trace_fifo, trace_written, allow_skip, ring):
    """step_machine's kernel; n_out = tile_out.sum(), ring an int64 (RING, 16) scratch array."""
    cap = trace_busy.size
    n_tiles = tile_out.size
    cp = 0                                   # tile the array works on
    left = tile_out[0]
    loaded = 0                               # tiles fully on chip
    tile_left = tile_reads[0]
    while loaded < n_tiles and tile_left == 0:
        loaded += 1
        tile_left = tile_reads[loaded] if loaded < n_tiles else 0
    counter = 0
    pending = 0
    occ = 0
    written = 0
    wcredit = 0
    rcredit = 0
    wcap = w_num + w_den - 1
    rcap = r_num + r_den - 1
    rmax = rcap // r_den            # most words the read port moves in one cycle
    last = 0
    compute = 0
    stall_fifo = 0
    stall_read = 0
    read_busy = 0
    cycle = 0
    n_ring = 0
    while written < n_out:
        cycle += 1
        busy = 0
        completed = False
        # 1. compute
        if cp < n_tiles:
            if loaded > cp:
                completes = c == 1 or counter == c - 1
                if completes and pending > 0:
                    stall_fifo += 1
                else:
                    compute += 1
                    if c > 1:
                        busy = m if counter < c - 1 else k - (c - 1) * m
                        counter += 1
                        if counter == c:
                            counter = 0
                            pending = 1
                            left -= 1
                            completed = True
                    else:
                        g = p if p < left else left
                        busy = g * k
                        pending = g
                        left -= g
                        completed = True
                    if left == 0:
                        cp += 1
                        if cp < n_tiles:
                            left = tile_out[cp]
            else:
                stall_read += 1
        # 2. DRAM read port
        if loaded < n_tiles and (loaded <= cp + 1 if double_buffer else loaded <= cp):
            rcredit += r_num
            if rcredit > rcap:
                rcredit = rcap
            take = rcredit // r_den
            if take > tile_left:
                take = tile_left
            rcredit -= take * r_den
            tile_left -= take
            if take > 0:
                read_busy += 1
                if busy == 0:
                    completed = True     # a loading-only cycle is an event too (see the skip below)
            while loaded < n_tiles and tile_left == 0:
                loaded += 1
                tile_left = tile_reads[loaded] if loaded < n_tiles else 0
        # 3. DRAM write port
        wcredit += w_num
        if wcredit > wcap:
            wcredit = wcap
        total = occ + pending
        w = wcredit // w_den
        if w > total:
            w = total
        wcredit -= w * w_den
        written += w
        rest = total - w
        occ = rest if rest < fifo_depth else fifo_depth
        pending = rest - occ
        if w > 0:
            last = cycle
        if cycle <= cap:
            trace_busy[cycle - 1] = busy
            trace_fifo[cycle - 1] = occ
            trace_written[cycle - 1] = w
        if completed and allow_skip and cycle >= cap and cp < n_tiles:
            skipped = False
            for e in range(n_ring if n_ring < RING else RING):
                r = ring[e]
                if (r[0] == cp and r[1] == counter and r[2] == pending and r[3] == occ and r[4] == wcredit
                        and r[5] == rcredit and r[6] == loaded):
                    period = cycle - r[8]
                    dl = r[9] - left
                    dw = written - r[10]
                    dr = r[7] - tile_left
                    if dl < 0 or dw < 0 or dr < 0 or (dl == 0 and dr == 0):
                        continue
                    n = n_out
                    if dl > 0:
                        n = (left - p - 1) // dl
                    if dw > 0:
                        nw = (n_out - 1 - written) // dw
                        if nw < n:
                            n = nw
                    if dr > 0:   # a load in flight: stay clear of the cycle the tile completes
                        nr = (tile_left - rmax - 1) // dr
                        if nr < n:
                            n = nr
                    if n >= 1:
                        cycle += n * period
                        left -= n * dl
                        written += n * dw
                        tile_left -= n * dr
                        compute += n * (compute - r[11])
                        stall_fifo += n * (stall_fifo - r[12])
                        stall_read += n * (stall_read - r[13])
                        read_busy += n * (read_busy - r[14])
                        if last > r[8]:
                            last += n * period
                        skipped = True
                    break
            if skipped:
                n_ring = 0
            else:
                r = ring[n_ring % RING]
                r[0] = cp
                r[1] = counter
                r[2] = pending
                r[3] = occ
                r[4] = wcredit
                r[5] = rcredit
                r[6] = loaded
                r[7] = tile_left
                r[8] = cycle
                r[9] = left
                r[10] = written
                r[11] = compute
                r[12] = stall_fifo
                r[13] = stall_read
                r[14] = read_busy
                n_ring += 1
    return last, compute, stall_fifo, stall_read, read_busy


@lru_cache(maxsize=64)
def rational(x: float, field: str) -> tuple[int, int]:
    """x as a small fraction (cached: every layer of every simulate() asks for the same rates)."""
    f = Fraction(x).limit_denominator(1 << 16)
    if f <= 0:
        raise ConfigError(f"hardware {field} must be positive, got {x!r}")
    return f.numerator, f.denominator
