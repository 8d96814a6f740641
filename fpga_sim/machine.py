"""The simulated accelerator: one reused MAC array, an output FIFO and DRAM ports.

An op describes what one inference of a layer asks of the machine as a `LayerWork`;
`cost_layer` steps the machine cycle by cycle (a Numba kernel) and returns a `LayerReport`.

Schedule (DESIGN.md, "The simulated machine").  M multiplies issue per cycle (n_dsp and the
operand widths, see `Hardware.multipliers_per_cycle`); an output needs K multiply-accumulates:
- K >= M: one output at a time, ceil(K/M) cycles each (an adder tree reduces the M products);
- K <  M: floor(M/K) outputs per cycle (a group; the last group of a tile may be smaller).
Each cycle, in order:
1. compute: the array issues if its tile is on chip; a cycle that completes an output (group)
   needs the array's output register free, otherwise the array stalls (FIFO full);
2. DRAM read port: loads the next tile's inputs/weights at the read bandwidth;
3. DRAM write port: drains the FIFO and then the output register at the write bandwidth (a
   result can pass straight through in the cycle it is produced); what is not written moves
   into the FIFO (`fifo_depth` words), the rest stays in the output register.
Steady states are skipped exactly (see `step_machine`): a layer of millions of cycles costs
about a millisecond, and `cost_layer(..., skip_steady_state=False)` steps every cycle.
Fractional bandwidths are exact rationals: a port earns num/den words per cycle and may bank at
most one cycle's worth beyond a whole word, so an idle port cannot burst.  The layer's cycle
count is the cycle of its last DRAM write plus the pipeline latency.

Non-MAC layers (K = 0: pooling, element-wise add, concat, LUT activations) use the same
schedule on `n_dsp` element lanes built in LUTs: an output takes `ops_per_output` lane
operations (at least 1: a copy), its results leave through the same FIFO and write port.

Memory.  With `data_in_sram` the inputs and weights are on chip and nothing is read from DRAM.
Otherwise the layer's inputs and weights are loaded through the read port, tile by tile.
Tiling policy (blocked GEMM): the SRAM (half of it when double buffering) holds one input tile
and one weight tile; if the whole working set fits there is one tile and every word is read
once.  Otherwise inputs are split into n_i and weights into n_w tiles, every (input, weight)
tile pair is computed once, and the outer operand is read once while the inner one is re-read
per outer tile: reads = min(I + n_i*W, W + n_w*I) (I + W when either operand is a single
tile), with n_i chosen to minimise reads.  A tile is at least one output's K inputs and K
weights; a smaller SRAM is an error.  Convolution halos are not modelled (tiles are GEMM
blocks).  Outputs are spread evenly over the tiles and so are the read words.  Without double
buffering a tile loads only after the previous tile's compute ended; with it, a tile loads
while the previous one computes.

Memory words are the layer's own data words.  SRAM reads: every multiply reads an input and a
weight word (non-MAC: every lane op reads one input word); SRAM writes: words loaded from DRAM.
Adds: K per output for MAC layers (K-1 in the adder tree/accumulator plus the bias),
`ops_per_output` per output otherwise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
from numba import njit

from .errors import ConfigError
from .results import LayerReport

if TYPE_CHECKING:
    from .fixed import Fixed
    from .graph import LayerTypes, Node, QGraph
    from .hardware import Hardware

TRACE_CAP = 100_000          # cycles kept in a per-cycle trace
RING = 8                     # earlier output completions compared when looking for a steady state
BALANCED = 0.95              # both the array and the write port at least this busy: "balanced"
FLOAT32_MANTISSA_BITS = 24   # a float32 multiply is costed as a 24x24 mantissa multiply on DSPs


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
    bias_words: int = 0           # of weight_words, how many are biases (never skipped or shared)


# ----------------------------------------------------------------------------- kernel
@njit(cache=True, nogil=True)
def step_machine(n_out, c, p, k, m, fifo_depth, w_num, w_den, r_num, r_den, n_tiles, read_words,
                 double_buffer, trace_busy, trace_fifo, trace_written, allow_skip=True):
    """Step the machine until every output is written.  Returns (last write cycle, compute
    cycles, FIFO-stall cycles, read-stall cycles, cycles the read port moved data).

    Steady state is skipped exactly: the machine is deterministic, and its next cycles depend
    on the outputs left in the tile, the words written and the words left in the tile being
    loaded only through the thresholds `left > p`, `written < n_out` and `tile_left > words a
    cycle can move`.  When, at the cycle an output completes, the rest of the state (tile,
    accumulation counter, output register, FIFO, port credits, tiles loaded) equals the state
    at an earlier completion, the cycles in between repeat; as many whole periods as keep the
    thresholds untouched are applied at once, then stepping resumes."""
    cap = trace_busy.size
    out_base, out_rem = n_out // n_tiles, n_out % n_tiles
    rd_base, rd_rem = read_words // n_tiles, read_words % n_tiles
    cp = 0                                   # tile the array works on
    left = out_base + (1 if out_rem > 0 else 0)
    loaded = 0                               # tiles fully on chip
    tile_left = rd_base + (1 if rd_rem > 0 else 0)
    while loaded < n_tiles and tile_left == 0:
        loaded += 1
        tile_left = rd_base + (1 if loaded < rd_rem else 0)
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
    ring = np.zeros((RING, 16), np.int64)
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
                            left = out_base + (1 if cp < out_rem else 0)
            else:
                stall_read += 1
        # 2. DRAM read port
        if loaded < n_tiles and (loaded <= cp + 1 if double_buffer else loaded <= cp):
            rcredit = min(rcredit + r_num, rcap)
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
                tile_left = rd_base + (1 if loaded < rd_rem else 0)
        # 3. DRAM write port
        wcredit = min(wcredit + w_num, wcap)
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
            for e in range(min(n_ring, RING)):
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


# ----------------------------------------------------------------------------- helpers
@lru_cache(maxsize=64)
def _rational(x: float, field: str) -> tuple[int, int]:
    """x as a small fraction (cached: every layer of every simulate() asks for the same rates)."""
    f = Fraction(x).limit_denominator(1 << 16)
    if f <= 0:
        raise ConfigError(f"hardware {field} must be positive, got {x!r}")
    return f.numerator, f.denominator


def _bytes(words: int, bits: int) -> int:
    return int(words) * ((int(bits) + 7) // 8)


@dataclass(frozen=True)
class _Streams:
    """What a layer stores: weights as (words, bits) streams, and the MACs per output issued."""

    weight_streams: tuple[tuple[int, int], ...]
    k_eff: int
    weight_read_bits: int      # bits of a weight word as the array reads it from SRAM


def _weight_streams(work: LayerWork, hw: "Hardware", wbits: int) -> _Streams:
    k = work.macs_per_output
    bias = min(work.bias_words, work.weight_words)
    dense_w = work.weight_words - bias
    if dense_w <= 0 or wbits == 0:
        return _Streams(((work.weight_words, wbits),) if work.weight_words else (), k, wbits)
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
    return _Streams(tuple(streams), k_eff, entry_bits)


def _tiling(i_words: int, i_bytes: int, w_words: int, w_bytes: int, k: int, capacity: int,
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


# ----------------------------------------------------------------------------- cost
def cost_layer(work: LayerWork, hw: "Hardware", trace: bool = False, float32: bool = False,
               skip_steady_state: bool = True) -> LayerReport:
    """Step one layer's inference on `hw`; `float32` costs the same layer with float32 operands.
    `skip_steady_state=False` steps every cycle (the skip is exact; tests compare the two)."""
    if not work.on_accelerator:
        return LayerReport(name=work.name, op=work.op, on_accelerator=False, outputs=work.outputs,
                           macs_per_output=work.macs_per_output, bound="host",
                           notes="executed on the host: not costed in cycles or energy")
    if work.outputs <= 0:
        raise ConfigError(f"layer {work.name!r} ({work.op}) produces no outputs; cannot cost it")
    et = hw.energy
    if float32:
        ibits = wbits = obits = abits = 32
    else:
        ibits, wbits, obits = work.input_bits, work.weight_bits, work.output_bits
        abits = work.accum_bits or max(obits, ibits)
    is_mac = work.macs_per_output > 0
    streams = _weight_streams(work, hw, wbits)
    if is_mac:
        mb = (FLOAT32_MANTISSA_BITS, FLOAT32_MANTISSA_BITS) if float32 else (ibits, wbits)
        m = hw.multipliers_per_cycle(*mb)
        if hw.sram_read_ports:
            m = max(1, min(m, hw.sram_read_ports // 2))
        k = max(streams.k_eff, 1)
    else:
        m = hw.n_dsp if not hw.sram_read_ports else max(1, min(hw.n_dsp, hw.sram_read_ports))
        k = max(work.ops_per_output, 1)
    if k >= m:
        c, p = -(-k // m), 1
    else:
        c, p = 1, m // k

    # DRAM reads and tiling
    w_words = sum(wd for wd, _ in streams.weight_streams)
    w_bytes = sum(_bytes(wd, b) for wd, b in streams.weight_streams)
    i_bytes = _bytes(work.input_words, ibits)
    if hw.data_in_sram:
        tiles, reads, tiling = 1, 0, "data in SRAM"
        if i_bytes + w_bytes > hw.sram_bytes:
            tiling += f" (assumed: working set {i_bytes + w_bytes} B exceeds sram_bytes {hw.sram_bytes})"
        read_i = read_w = 0
    else:
        capacity = hw.sram_bytes // (2 if hw.double_buffer else 1)
        tiles, reads, tiling = _tiling(work.input_words, i_bytes, w_words, w_bytes,
                                       work.macs_per_output or work.ops_per_output, capacity, work.name)
        tiles = max(1, min(tiles, work.outputs))
        # split re-read words between inputs and weights in proportion to the re-read operand
        extra = reads - work.input_words - w_words
        if extra and work.input_words and extra % work.input_words == 0:
            read_i, read_w = work.input_words + extra, w_words
        else:
            read_i, read_w = work.input_words, w_words + extra

    wn, wd = _rational(hw.dram_write_words_per_cycle, "dram_write_words_per_cycle")
    rn, rd = _rational(hw.dram_read_words_per_cycle, "dram_read_words_per_cycle")
    cap = TRACE_CAP if trace else 0
    tb = np.zeros(cap, np.int64)
    tf = np.zeros(cap, np.int64)
    tw = np.zeros(cap, np.int64)
    last, compute, stall_fifo, stall_read, read_busy = step_machine(
        work.outputs, c, p, k, m, hw.fifo_depth, wn, wd, rn, rd, tiles, reads, hw.double_buffer, tb, tf, tw, skip_steady_state)
    cycles = int(last) + hw.pipeline_latency

    # counts
    macs = work.outputs * streams.k_eff if is_mac else 0
    adds = macs if is_mac else work.outputs * work.ops_per_output
    sram_reads = 2 * macs if is_mac else work.outputs * max(work.ops_per_output, 1)
    sram_writes = reads
    w_read_bits = streams.weight_read_bits
    # weight read words: scale each stream by how often weights were read
    w_factor = read_w / w_words if w_words else 0.0
    dram_read_bytes = _bytes(read_i, ibits) + round(w_bytes * w_factor)
    dram_write_bytes = _bytes(work.outputs, obits)

    def mem(kind: str, bits: int) -> float:
        return et.memory(kind, bits)

    w_read_energy = sum(wdw * w_factor * mem("dram_read", b) for wdw, b in streams.weight_streams)
    w_load_energy = sum(wdw * w_factor * mem("sram_write", b) for wdw, b in streams.weight_streams)
    if float32:
        e_mult, e_add = et.float_mult(), et.float_add()
    else:
        e_mult = et.int_mult(ibits, wbits) if is_mac else 0.0
        e_add = et.int_add(abits)
    energy = {
        "mult": macs * e_mult,
        "add": adds * e_add,
        "sram_read": (macs * (mem("sram_read", ibits) + mem("sram_read", w_read_bits)) if is_mac
                      else sram_reads * mem("sram_read", ibits)),
        "sram_write": read_i * mem("sram_write", ibits) + w_load_energy,
        "dram_read": read_i * mem("dram_read", ibits) + w_read_energy,
        "dram_write": work.outputs * mem("dram_write", obits),
    }

    base = max(int(last), 1)
    compute_min = (work.outputs * c) if c > 1 else -(-work.outputs // p)
    busy = {"compute": compute_min / base,
            "bandwidth": work.outputs / hw.dram_write_words_per_cycle / base,
            "memory-read": (reads / hw.dram_read_words_per_cycle / base) if reads else 0.0}
    if busy["compute"] >= BALANCED and busy["bandwidth"] >= BALANCED:
        bound = "balanced"
    else:
        bound = max(busy, key=lambda kk: busy[kk])
    notes = (f"M={m} {'multipliers' if is_mac else 'lanes'}, {c} cycle(s)/output, {p} output(s)/cycle; "
             f"tiling: {tiling} ({tiles} tile(s)); stalls: {stall_fifo} FIFO-full, {stall_read} waiting "
             f"for DRAM reads; busy: array {busy['compute']:.2f}, write port {busy['bandwidth']:.2f}, "
             f"read port {busy['memory-read']:.2f}" + ("; float32 operands" if float32 else ""))
    rep = LayerReport(
        name=work.name, op=work.op, on_accelerator=True, outputs=work.outputs,
        macs_per_output=work.macs_per_output, macs=macs, adds=adds, multipliers=m,
        cycles=cycles, compute_cycles=int(compute), stall_cycles=int(stall_fifo + stall_read),
        mult_utilisation=(macs / (m * cycles)) if cycles and is_mac else 0.0,
        write_utilisation=min(1.0, work.outputs / (hw.dram_write_words_per_cycle * cycles)) if cycles else 0.0,
        sram_reads=sram_reads, sram_writes=sram_writes, dram_reads=reads, dram_writes=work.outputs,
        dram_read_bytes=int(dram_read_bytes), dram_write_bytes=int(dram_write_bytes),
        energy_pj={kk: float(v) for kk, v in energy.items()},
        latency_us=cycles / float(hw.clock_mhz), bound=bound, notes=notes,
    )
    if trace:
        n = min(int(last), cap)
        rep.trace = {"mults_busy": tb[:n], "fifo_occupancy": tf[:n], "words_written": tw[:n]}
    return rep


# ----------------------------------------------------------------------------- one-layer graphs
def single_layer_qgraph(node: "Node", in_shape: tuple[int, ...], in_type: "Fixed", types: "LayerTypes",
                        raw_params: dict[str, np.ndarray] | None = None) -> "QGraph":
    """A QGraph holding just `node` (tests, the seed analysis, benchmarks): shapes from the op,
    params quantised with the layer's types unless raw ones are given."""
    from .graph import Graph, QGraph
    from .ops.base import REGISTRY, get_op

    op = REGISTRY[node.op] if node.op in REGISTRY else get_op(node.op)
    out_shape = op.infer_shapes(node, [tuple(in_shape)])[0]
    g = Graph(name=node.name, nodes=[node], inputs=list(node.inputs), outputs=list(node.outputs),
              shapes={node.inputs[0]: tuple(in_shape), node.outputs[0]: tuple(out_shape)})
    if raw_params is None:
        raw_params, n = op.quantize_params(node, types)
    else:
        n = 0
    return QGraph(graph=g, tensor_types={node.inputs[0]: in_type, node.outputs[0]: types.result},
                  layer_types={node.name: types}, qparams={node.name: dict(raw_params)},
                  quant_overflows={node.name: n})


def report_row(rep: LayerReport) -> dict[str, Any]:
    """The columns a table of layers shows (CLI, seed analysis)."""
    return {"name": rep.name, "outputs": rep.outputs, "macs_per_output": rep.macs_per_output,
            "cycles": rep.cycles, "compute_cycles": rep.compute_cycles, "bound": rep.bound,
            "mult_utilisation": rep.mult_utilisation, "write_utilisation": rep.write_utilisation,
            "energy_pj": rep.energy_total_pj}
