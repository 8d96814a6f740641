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

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ConfigError
from .layer_energy import Widths, layer_energy
from .results import LayerReport
from .stepping import TRACE_CAP, rational, step_machine
from .tiling import blocked_tiling, weight_streams, word_bytes

if TYPE_CHECKING:
    from .fixed import Fixed
    from .graph import LayerTypes, Node, QGraph
    from .hardware import Hardware

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
    streams = weight_streams(work, hw, wbits)
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
    w_bytes = sum(word_bytes(wd, b) for wd, b in streams.weight_streams)
    i_bytes = word_bytes(work.input_words, ibits)
    if hw.data_in_sram:
        tiles, reads, tiling = 1, 0, "data in SRAM"
        if i_bytes + w_bytes > hw.sram_bytes:
            tiling += f" (assumed: working set {i_bytes + w_bytes} B exceeds sram_bytes {hw.sram_bytes})"
        read_i = read_w = 0
    else:
        capacity = hw.sram_bytes // (2 if hw.double_buffer else 1)
        tiles, reads, tiling = blocked_tiling(work.input_words, i_bytes, w_words, w_bytes,
                                       work.macs_per_output or work.ops_per_output, capacity, work.name)
        tiles = max(1, min(tiles, work.outputs))
        # split re-read words between inputs and weights in proportion to the re-read operand
        extra = reads - work.input_words - w_words
        if extra and work.input_words and extra % work.input_words == 0:
            read_i, read_w = work.input_words + extra, w_words
        else:
            read_i, read_w = work.input_words, w_words + extra

    wn, wd = rational(hw.dram_write_words_per_cycle, "dram_write_words_per_cycle")
    rn, rd = rational(hw.dram_read_words_per_cycle, "dram_read_words_per_cycle")
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
    # weight read words: scale each stream by how often weights were read
    w_factor = read_w / w_words if w_words else 0.0
    dram_read_bytes = word_bytes(read_i, ibits) + round(w_bytes * w_factor)
    dram_write_bytes = word_bytes(work.outputs, obits)

    widths = Widths(ibits, wbits, obits, abits, streams.weight_read_bits)
    energy = layer_energy(et, widths, is_mac=is_mac, float32=float32, macs=macs, adds=adds, lane_reads=sram_reads,
                          input_reads=read_i, weight_streams=streams.weight_streams, weight_factor=w_factor,
                          dram_writes=work.outputs)

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
