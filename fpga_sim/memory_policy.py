"""Where each tensor lives: the memory policy of `Hardware`, resolved for one graph.

Tensor classes and their places ("on_chip" or "dram"):
- MAC weights (conv/dense kernels and biases): `Hardware.weights`.  On chip they are ROMs in
  BRAM/URAM; in DRAM they are streamed through the read port, one output-channel tile at a time.
- the constants of other layers (function tables of the LUT ops, LayerNorm's rsqrt table,
  scales, biases, index tables): always on chip, ROMs initialised with the bitstream
  (`rom_arrays`); a look-up is an on-chip read, never DRAM traffic.  They count against the
  budget before either class above.
- activations between accelerator layers: `Hardware.activations`.  On chip each is a buffer; in
  DRAM the producer writes it and every consumer reads it back.
- the network's input: `Hardware.network_input` ("dram": read over m_axi by the layers that use
  it; "on_chip": the host preloads it into BRAM, the lecture's "data in SRAM").
- the network's outputs (and tensors the host reads): always DRAM, written by their producer.
- a tensor that only renames another's storage (an op whose `shares_storage(node, qg)` is true,
  e.g. a Flatten that keeps the type) lives where its source lives; when it is a network
  output, its source is written to that DRAM by its producer.

"auto" keeps a class on chip when it fits: the part's BRAM/URAM less the tile SRAM
(`sram_bytes`) must hold the constant ROMs, the on-chip weights, activation buffers and a
preloaded input.
Activations are preferred on chip (they would cost a write and a read each), then weights.
Bytes are words at their widths rounded up to whole bytes, as the machine counts them.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import ConfigError
from .tiling import weight_streams, word_bytes

if TYPE_CHECKING:
    from .graph import Node, QGraph
    from .hardware import Hardware


@dataclass(frozen=True)
class Policy:
    """The policy in force for one graph on one machine, with the sizes that decided it."""

    weights: str                 # "on_chip" | "dram"
    activations: str             # "on_chip" | "dram"
    network_input: str           # "on_chip" | "dram"
    weight_bytes: int            # MAC weights of the accelerator layers
    activation_bytes: int        # tensors between accelerator layers
    input_bytes: int             # the network's accelerator inputs
    resident_budget: int         # part BRAM/URAM less the tile SRAM, bytes
    reason: str
    rom_bytes: int = 0           # constant ROMs of the non-MAC layers (always on chip)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class LayerIO:
    """Where one layer's tensors live (what `cost_layer` charges to the DRAM ports)."""

    inputs_in_dram: tuple[bool, ...]   # per input tensor of the node, in order
    dram_input_words: int              # words of those inputs that are read from DRAM
    weights_in_dram: bool
    output_in_dram: bool


def standalone_io(input_words: int, weight_bytes: int, hw: "Hardware") -> LayerIO:
    """A layer costed on its own: its input is the network input, its output a network output."""
    net_in = network_input(hw)
    w = hw.weights
    if w == "auto":
        w = "on_chip" if weight_bytes <= resident_budget(hw) else "dram"
    return LayerIO((net_in == "dram",), input_words if net_in == "dram" else 0, w == "dram", True)


def network_input(hw: "Hardware") -> str:
    if hw.network_input is not None:
        return hw.network_input
    return "on_chip" if hw.data_in_sram else "dram"


def resident_budget(hw: "Hardware") -> int:
    return max(0, hw.part_info.onchip_bytes - hw.sram_bytes)


def rom_arrays(node: "Node", qg: "QGraph") -> tuple[tuple[int, int], ...]:
    """(words, bits) of each constant array a non-MAC layer keeps on chip: the op's `rom(node,
    qg)` where it states one (tables at their own widths, as the HLS stores them), else its
    parameters at the layer's types (biases in the bias type, the rest in the weight type, else
    the result type)."""
    from .ops import get_op

    rom = getattr(get_op(node.op), "rom", None)
    arrays = rom(node, qg) if rom is not None else None
    return tuple(arrays) if arrays is not None else param_arrays(node, qg)


def param_arrays(node: "Node", qg: "QGraph") -> tuple[tuple[int, int], ...]:
    """(words, bits) of each of a layer's quantised parameters at the layer's types."""
    lt = qg.layer_types[node.name]
    return tuple((int(v.size), (lt.bias if p == "bias" and lt.bias is not None else (lt.weight or lt.result)).width)
                 for p, v in qg.qparams.get(node.name, {}).items())


def _tensor_bytes(qg: "QGraph", t: str) -> int:
    from .ops.common import in_size

    return word_bytes(in_size(qg, t), qg.tensor_types[t].width)


def accelerator_tensors(qg: "QGraph") -> tuple[list["Node"], set[str], set[str], dict[str, str]]:
    """(accelerator nodes, network outputs of the accelerator (DRAM), intermediate tensors with
    storage of their own, renamed tensors -> the tensor whose storage they share)."""
    from .ops import get_op

    acc = [n for n in qg.nodes if get_op(n.op).on_accelerator]
    host_reads = {t for n in qg.nodes if not get_op(n.op).on_accelerator for t in n.inputs}
    produced = {t for n in acc for t in n.outputs}
    outs = {t for t in produced if t in qg.graph.outputs or t in host_reads}
    renamed: dict[str, str] = {}
    for n in acc:
        shares = getattr(get_op(n.op), "shares_storage", None)
        if shares is not None and len(n.inputs) == 1 and shares(n, qg):
            src = renamed.get(n.inputs[0], n.inputs[0])
            if n.outputs[0] in outs and src in qg.graph.inputs:
                continue                  # a network input renamed to a network output: copied
            renamed[n.outputs[0]] = src
            if n.outputs[0] in outs:      # the producer writes the network output's DRAM directly
                outs.add(src)
    return acc, outs, produced - outs - set(renamed), renamed


_CACHE: dict[tuple[int, "Hardware"], tuple[Any, Policy, tuple]] = {}


def forget(qg: "QGraph") -> None:
    """Drop the policies resolved for qg (its nodes, types or outputs may have changed in place)."""
    for key in [k for k in _CACHE if k[0] == id(qg)]:
        del _CACHE[key]


def resolve(qg: "QGraph", hw: "Hardware") -> Policy:
    """The policy for `qg` on `hw`: explicit places as given, "auto" decided by the part's budget."""
    return _resolved(qg, hw)[0]


def _resolved(qg: "QGraph", hw: "Hardware") -> tuple[Policy, tuple]:
    """(policy, accelerator_tensors(qg)), computed once per (graph, hardware) until `forget`."""
    key = (id(qg), hw)
    hit = _CACHE.get(key)
    if hit is not None and hit[0]() is qg:
        return hit[1], hit[2]
    from .ops import get_op

    tensors = accelerator_tensors(qg)
    acc, outs, inter, _ = tensors
    w_bytes = rom_bytes = 0
    for n in acc:
        op = get_op(n.op)
        if hasattr(op, "work"):
            work = op.work(n, qg, hw)
            w_bytes += sum(word_bytes(w, b) for w, b in weight_streams(work, hw, work.weight_bits).weight_streams)
        else:
            rom_bytes += sum(word_bytes(w, b) for w, b in rom_arrays(n, qg))
    a_bytes = sum(_tensor_bytes(qg, t) for t in inter)
    net = network_input(hw)
    i_bytes = sum(_tensor_bytes(qg, t) for t in qg.graph.inputs if any(t in n.inputs for n in acc))
    budget = resident_budget(hw)
    fixed = rom_bytes + (i_bytes if net == "on_chip" else 0)
    part = hw.part_info.name
    w, a = hw.weights, hw.activations
    if w == "auto" or a == "auto":
        order = [(wp, ap) for ap in ("on_chip", "dram") for wp in ("on_chip", "dram")
                 if (w == "auto" or wp == w) and (a == "auto" or ap == a)]
        for wp, ap in order:
            if fixed + (w_bytes if wp == "on_chip" else 0) + (a_bytes if ap == "on_chip" else 0) <= budget:
                break
        w, a = wp, ap
        reason = (f"auto: {part} has {budget:,} B of BRAM/URAM beside the {hw.sram_bytes:,} B tile SRAM; "
                  f"tables and constants {rom_bytes:,} B on chip; weights {w_bytes:,} B -> {w}, activations {a_bytes:,} B -> {a}")
    else:
        reason = f"explicit: weights {w}, activations {a}"
    reason += f"; network input {net} ({'preloaded' if net == 'on_chip' else 'read over m_axi'}), outputs to DRAM"
    need = fixed + (w_bytes if w == "on_chip" else 0) + (a_bytes if a == "on_chip" else 0)
    if need > budget:
        tables = f" ({rom_bytes:,} B of them the tables and constants of non-MAC layers)" if rom_bytes else ""
        raise ConfigError(f"memory policy weights={w}, activations={a} keeps {need:,} B on chip{tables}, but {part} has "
                          f"{budget:,} B beside sram_bytes={hw.sram_bytes:,}; put a class in DRAM, lower "
                          "sram_bytes or choose a larger part")
    pol = Policy(w, a, net, w_bytes, a_bytes, i_bytes, budget, reason, rom_bytes)
    if len(_CACHE) > 64:
        _CACHE.clear()
    _CACHE[key] = (weakref.ref(qg), pol, tensors)
    return pol, tensors


def tensor_place(qg: "QGraph", hw: "Hardware", tensor: str) -> str:
    """"on_chip" or "dram" for one activation tensor of the graph."""
    pol, (_, outs, _, renamed) = _resolved(qg, hw)
    tensor = renamed.get(tensor, tensor)
    if tensor in qg.graph.inputs:
        return pol.network_input
    return "dram" if tensor in outs else pol.activations


def layer_io(node: "Node", qg: "QGraph", hw: "Hardware") -> LayerIO:
    """Where `node`'s inputs, weights and output live under the graph's policy."""
    from .ops.common import in_size

    pol = resolve(qg, hw)
    dram = tuple(tensor_place(qg, hw, t) == "dram" for t in node.inputs)
    words = sum(in_size(qg, t) for t, d in zip(node.inputs, dram) if d)
    out = any(tensor_place(qg, hw, t) == "dram" for t in node.outputs)
    return LayerIO(dram, int(words), pol.weights == "dram", out)
