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
(The generated element kernels pipeline one output per iteration; their lanes are not yet
unrolled to `n_dsp`, so their C-sim loop counts differ from these compute cycles.)

Memory (`memory_policy.py`): each of the layer's inputs, its weights and its output lives on
chip or in DRAM (`LayerIO`).  What lives in DRAM passes through the tile SRAM (`sram_bytes`) as
`tiling.plan_tiles` lays it out: output-channel tiles, the DRAM inputs loaded once before tile
0, each tile's weights before it, each tile's outputs written after it (through the FIFO).
Without double buffering a tile loads only after the previous tile's compute ended; with it (two
buffers per tile) a tile loads while the previous one computes.  An on-chip output is written
to its buffer as fast as the array produces it.  The code generator emits the same loops.

Memory words are the layer's own data words.  SRAM reads: every multiply reads an input and a
weight word (non-MAC: every lane op reads one input word); SRAM writes: words loaded from DRAM.
Adds: K per output for MAC layers (K-1 in the adder tree/accumulator plus the bias),
`ops_per_output` per output otherwise.
"""
from __future__ import annotations

import dataclasses
from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ConfigError
from .layer_energy import Widths, layer_energy
from .results import LayerReport
from .stepping import TRACE_CAP, rational, step_machine
from .memory_policy import LayerIO, standalone_io
from .tiling import plan_tiles, weight_streams, word_bytes

if TYPE_CHECKING:
    from .fixed import Fixed
    from .graph import LayerTypes, Node, QGraph
    from .hardware import Hardware

BALANCED = 0.95              # both the array and the write port at least this busy: "balanced"
LOAD_SHARE = 0.05            # a single tile waiting at least this share of its cycles: "load-then-compute"
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
    rom_reads: tuple[tuple[int, int], ...] = ()   # (words, bits) read per inference from on-chip constant ROMs (tables)


# ----------------------------------------------------------------------------- cost
_MEMO: "OrderedDict[tuple, LayerReport]" = OrderedDict()
_MEMO_LOCK = Lock()
MEMO_SIZE = 4096             # distinct layer shapes remembered (a network repeats most of its layers)


def cost_layer(work: LayerWork, hw: "Hardware", trace: bool = False, float32: bool = False,
               skip_steady_state: bool = True, io: "LayerIO | None" = None) -> LayerReport:
    """Step one layer's inference on `hw`; `float32` costs the same layer with float32 operands.
    `io`: where the layer's tensors live (`memory_policy.layer_io`); None costs the layer on its
    own (its input the network input, its output a network output).
    `skip_steady_state=False` steps every cycle (the skip is exact; tests compare the two).

    The report depends on nothing but these arguments (all immutable values), so a layer equal
    to one costed before but for its name (ResNet's repeated blocks) is a copy of that report."""
    if trace:
        return _cost_layer(work, hw, True, float32, skip_steady_state, io)
    key = (dataclasses.replace(work, name=""), hw, float32, skip_steady_state, io)     # every field but the name
    with _MEMO_LOCK:
        hit = _MEMO.get(key)
        if hit is not None:
            _MEMO.move_to_end(key)
    if hit is None:
        hit = _cost_layer(work, hw, False, float32, skip_steady_state, io)
        with _MEMO_LOCK:
            _MEMO[key] = hit
            if len(_MEMO) > MEMO_SIZE:
                _MEMO.popitem(last=False)
    return hit.fresh(name=work.name)


def forget_layer_costs() -> None:
    """Empty the memo of `cost_layer` (benchmarks time a cold cost model with it)."""
    with _MEMO_LOCK:
        _MEMO.clear()


def _cost_layer(work: LayerWork, hw: "Hardware", trace: bool, float32: bool, skip_steady_state: bool,
                io: "LayerIO | None") -> LayerReport:
    """`cost_layer` without the memo: one Numba stepping of the machine."""
    if not work.on_accelerator:
        return LayerReport(name=work.name, op=work.op, on_accelerator=False, outputs=work.outputs,
                           macs_per_output=work.macs_per_output, bound="host",
                           notes="executed on the host: not costed in cycles or energy")
    if work.outputs <= 0:
        raise ConfigError(f"layer {work.name!r} ({work.op}) produces no outputs; cannot cost it")
    if float32:
        ibits = wbits = obits = abits = 32
    else:
        ibits, wbits, obits = work.input_bits, work.weight_bits, work.output_bits
        abits = work.accum_bits or max(obits, ibits)
    is_mac = work.macs_per_output > 0
    streams = weight_streams(work, hw, wbits)
    w_words = sum(wd for wd, _ in streams.weight_streams)
    w_bytes = sum(word_bytes(wd, b) for wd, b in streams.weight_streams)
    if io is None:
        io = standalone_io(work.input_words, w_bytes if is_mac else 0, hw)
    if is_mac:
        mb = (FLOAT32_MANTISSA_BITS, FLOAT32_MANTISSA_BITS) if float32 else (ibits, wbits)
        m = hw.multipliers_per_cycle(*mb)
        if hw.sram_read_ports:
            m = max(1, min(m, hw.sram_read_ports // 2))
        k = max(streams.k_eff, 1)
    else:
        m = hw.n_dsp if not hw.sram_read_ports else max(1, min(hw.n_dsp, hw.sram_read_ports))
        k = max(work.ops_per_output, 1)
    c, p = (-(-k // m), 1) if k >= m else (1, m // k)

    plan = plan_tiles(work, dram_input_words=io.dram_input_words, input_bits=ibits,
                      weights_in_dram=is_mac and io.weights_in_dram, weight_words=w_words, weight_bytes=w_bytes,
                      output_in_dram=io.output_in_dram, output_bits=obits, capacity=hw.sram_bytes,
                      double_buffer=hw.double_buffer)
    reads = plan.input_reads + plan.weight_reads
    writes = work.outputs if io.output_in_dram else 0
    if io.output_in_dram:
        wn, wd = rational(hw.dram_write_words_per_cycle, "dram_write_words_per_cycle")
    else:   # on-chip output buffer: written as fast as the array produces
        wn, wd = p, 1
    rn, rd = rational(hw.dram_read_words_per_cycle, "dram_read_words_per_cycle")
    cap = TRACE_CAP if trace else 0
    tb = np.zeros(cap, np.int64)
    tf = np.zeros(cap, np.int64)
    tw = np.zeros(cap, np.int64)
    last, compute, stall_fifo, stall_read, read_busy = step_machine(
        np.asarray(plan.tile_outputs, np.int64), c, p, k, m, hw.fifo_depth, wn, wd, rn, rd,
        np.asarray(plan.tile_reads, np.int64), hw.double_buffer and plan.buffers == 2, tb, tf, tw, skip_steady_state)
    cycles = int(last) + hw.pipeline_latency

    macs = work.outputs * streams.k_eff if is_mac else 0
    adds = macs if is_mac else work.outputs * work.ops_per_output
    sram_reads = 2 * macs if is_mac else work.outputs * max(work.ops_per_output, 1)
    rom_reads = tuple((w, 32 if float32 else b) for w, b in work.rom_reads)
    w_factor = plan.weight_reads / w_words if w_words else 0.0
    widths = Widths(ibits, wbits, obits, abits, streams.weight_read_bits)
    energy = layer_energy(hw.energy, widths, is_mac=is_mac, float32=float32, macs=macs, adds=adds,
                          lane_reads=sram_reads, input_reads=plan.input_reads,
                          weight_streams=streams.weight_streams, weight_factor=w_factor, dram_writes=writes,
                          rom_reads=rom_reads)
    bound, busy = label_bound(work.outputs, int(last), int(compute), int(stall_fifo), int(stall_read), c, p,
                              plan.tiles, writes, reads, hw)
    notes = (f"M={m} {'multipliers' if is_mac else 'lanes'}, {c} cycle(s)/output, {p} output(s)/cycle; "
             f"tiling: {plan.describe()}; stalls: {stall_fifo} FIFO-full, {stall_read} waiting "
             f"for DRAM reads; busy: array {busy['compute']:.2f}, write port {busy['bandwidth']:.2f}, "
             f"read port {busy['memory-read']:.2f}" + ("; float32 operands" if float32 else ""))
    memory = {"inputs": ["dram" if d else "on_chip" for d in io.inputs_in_dram],
              "weights": ("dram" if io.weights_in_dram else "on_chip") if is_mac and w_words else "on_chip",
              "output": "dram" if io.output_in_dram else "on_chip", "cycles_per_output": c,
              "outputs_per_cycle": p, **plan.to_dict()}
    rep = LayerReport(
        name=work.name, op=work.op, on_accelerator=True, outputs=work.outputs,
        macs_per_output=work.macs_per_output, macs=macs, adds=adds, multipliers=m,
        cycles=cycles, compute_cycles=int(compute), stall_cycles=int(stall_fifo + stall_read),
        mult_utilisation=(macs / (m * cycles)) if cycles and is_mac else 0.0,
        write_utilisation=min(1.0, writes / (hw.dram_write_words_per_cycle * cycles)) if cycles else 0.0,
        sram_reads=sram_reads + sum(w for w, _ in rom_reads), sram_writes=reads, dram_reads=reads, dram_writes=writes,
        dram_read_bytes=word_bytes(plan.input_reads, ibits) + round(w_bytes * w_factor),
        dram_write_bytes=word_bytes(writes, obits),
        energy_pj=energy, latency_us=cycles / float(hw.clock_mhz), bound=bound, notes=notes, memory=memory,
    )
    if trace:
        n = min(int(last), cap)
        rep.trace = {"mults_busy": tb[:n], "fifo_occupancy": tf[:n], "words_written": tw[:n]}
    return rep


def label_bound(outputs: int, last: int, compute: int, stall_fifo: int, stall_read: int, c: int, p: int,
                tiles: int, writes: int, reads: int, hw: "Hardware") -> tuple[str, dict[str, float]]:
    """What the layer's cycles were spent on.  "balanced": the array and the write port both at
    least 95% busy; "load-then-compute": a single tile whose DRAM load (at least 5% of the
    cycles) precedes its compute; otherwise the largest of: the array issuing ("compute"),
    waiting for DRAM reads ("memory-read"), waiting for the write port, FIFO full or draining
    after the last issue ("bandwidth")."""
    base = max(last, 1)
    compute_min = (outputs * c) if c > 1 else -(-outputs // p)
    busy = {"compute": compute_min / base,
            "bandwidth": writes / hw.dram_write_words_per_cycle / base,
            "memory-read": (reads / hw.dram_read_words_per_cycle / base) if reads else 0.0}
    if busy["compute"] >= BALANCED and busy["bandwidth"] >= BALANCED:
        return "balanced", busy
    if tiles == 1 and stall_read >= LOAD_SHARE * base and compute > 0:
        return "load-then-compute", busy
    return max(busy, key=lambda kk: busy[kk]), busy


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
