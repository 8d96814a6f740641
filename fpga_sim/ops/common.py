"""Helpers shared by the non-MAC op modules: node naming, types of a node, casts, costing.

Kept here so that every element-wise, pooling and layout op reads its types and describes its
work to the machine the same way.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import FpgaSimError, UnsupportedModelError
from ..fixed import Fixed

if TYPE_CHECKING:
    from ..graph import LayerTypes, Node, QGraph
    from ..hardware import Hardware
    from ..results import LayerReport


def node_name(onnx_node: Any) -> str:
    """The graph node's name: the ONNX node's name, else its first output's name."""
    return onnx_node.name or onnx_node.output[0]


def unsupported(ctx: Any, onnx_node: Any, message: str) -> Exception:
    """An error naming the node and its op (through the importer's context when it has one)."""
    err = getattr(ctx, "error", None)
    if err is not None:
        e = err(onnx_node, message)
        if isinstance(e, FpgaSimError):
            return e
    return UnsupportedModelError(f"node {onnx_node.name!r} ({onnx_node.op_type}): {message}")


def in_type(qg: "QGraph", node: "Node", i: int = 0) -> Fixed:
    return qg.tensor_types[node.inputs[i]]


def result_type(qg: "QGraph", node: "Node") -> Fixed:
    return qg.layer_types[node.name].result


def param_type(types: "LayerTypes") -> Fixed:
    """The type of an op's constants (scales, slopes): the layer's weight type, else its result type."""
    return types.weight if types.weight is not None else types.result


def bias_type(types: "LayerTypes") -> Fixed:
    """The type of an additive constant: the layer's bias type, else its constant type."""
    return types.bias if types.bias is not None else param_type(types)


def check_product_width(node: "Node", a: Fixed, b: Fixed) -> None:
    """Raw products are held in int64: refuse type pairs whose exact product would not fit
    (widths summing to at most 64, or 63 when both are unsigned)."""
    limit = 64 if (a.signed or b.signed) else 63
    if a.width + b.width > limit:
        raise FpgaSimError(
            f"node {node.name!r} ({node.op}): the exact product of {a} and {b} needs "
            f"{a.width + b.width} bits; types whose widths sum to at most {limit} are accepted"
        )


def max_accum_width(signed: bool) -> int:
    """Widest accumulator whose sum with one more accumulator-typed value still fits int64."""
    return 63 if signed else 62


def check_accum_width(node: "Node", acc: Fixed) -> None:
    if acc.width > max_accum_width(acc.signed):
        raise FpgaSimError(
            f"node {node.name!r} ({node.op}): accumulator {acc} is too wide for int64 sums; "
            f"at most {max_accum_width(True)} bits (signed) or {max_accum_width(False)} (unsigned) are accepted"
        )


def cast(raw: np.ndarray, src: Fixed, dst: Fixed) -> tuple[np.ndarray, int]:
    """Requantise raw values (vectorised); no work when the types share frac and range.

    AP_SAT_SYM targets always go through the kernel: converting into them maps the asymmetric
    minimum to -max, as ap_fixed.h does (a plain copy between identical types does not)."""
    sym = dst.overflow == "AP_SAT_SYM" and dst.signed
    if src == dst or (src.frac == dst.frac and dst.min_raw <= src.min_raw and src.max_raw <= dst.max_raw and not sym):
        return np.asarray(raw, dtype=np.int64), 0
    return dst.cast_counted(raw, src)


def apply_activation(node: "Node", raw: np.ndarray) -> np.ndarray:
    """A fused activation on raw result-type values (ReLU after the cast to the result type)."""
    if node.activation is None:
        return raw
    if node.activation == "relu":
        return np.maximum(raw, 0)
    raise FpgaSimError(f"node {node.name!r} ({node.op}): fused activation {node.activation!r} is not supported; accepted: relu")


def relu_flag(node: "Node") -> bool:
    apply_activation(node, np.zeros(0, dtype=np.int64))  # validates the name
    return node.activation == "relu"


def out_size(qg: "QGraph", node: "Node") -> int:
    return in_size(qg, node.outputs[0])


def in_size(qg: "QGraph", tensor: str) -> int:
    """Values per sample of a tensor (Python ints: exact, and ~10x cheaper than np.prod; the
    cost model asks for every tensor of every layer)."""
    return math.prod(int(d) for d in qg.graph.shapes[tensor])


def element_cost(
    op: Any,
    node: "Node",
    qg: "QGraph",
    hw: "Hardware",
    *,
    ops_per_output: int,
    weight_words: int = 0,
    weight_bits: int = 0,
    accum_bits: int = 0,
    notes: str = "",
    rom_reads: tuple[tuple[int, int], ...] = (),
) -> "LayerReport":
    """Describe a non-MAC layer (K = 0) to the machine and cost it with `machine.cost_layer`;
    `rom_reads`: (words, bits) the layer reads from its on-chip tables per inference."""
    from ..machine import LayerWork, cost_layer
    from ..memory_policy import layer_io

    in_words = sum(in_size(qg, t) for t in node.inputs)
    in_bits = max(qg.tensor_types[t].width for t in node.inputs)
    work = LayerWork(
        name=node.name,
        op=node.op,
        outputs=out_size(qg, node),
        macs_per_output=0,
        input_words=in_words,
        weight_words=int(weight_words),
        input_bits=int(in_bits),
        weight_bits=int(weight_bits),
        output_bits=result_type(qg, node).width,
        accum_bits=int(accum_bits),
        ops_per_output=int(ops_per_output),
        on_accelerator=bool(op.on_accelerator),
        rom_reads=tuple((int(w), int(b)) for w, b in rom_reads),
    )
    report = cost_layer(work, hw, io=layer_io(node, qg, hw))
    if notes:
        report.notes = (report.notes + "; " if report.notes else "") + notes
    return report
