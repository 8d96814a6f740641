"""Look-up-table activations (Sigmoid, Tanh) as HLS computes them: a table over a clamped range.

The table has N = 2**table_bits entries over the input range [-2**range_log2, 2**range_log2);
entry i holds f at the MIDDLE of its bin (hls4ml uses the bin's left edge; the middle halves the
worst-case error for the same table), rounded to nearest (AP_RND) and saturated into the
layer's result type.  The table is the node's "table" param, so codegen emits the same raw
values the engine reads.

Integer arithmetic (per element), with n = table_bits, r = range_log2:

    typedef ap_fixed<n, r + 1, AP_TRN, AP_SAT> index_t;   // LSB = the bin width 2^(r+1-n)
    index_t xi = x;                 // floor to the bin, saturate to [-2^r, 2^r - bin]
    unsigned idx = raw(xi) + N/2;   // raw(xi) = xi.range(n-1, 0) as a signed n-bit integer;
                                    // equivalently flip its sign bit: 0 .. N-1
    result_t y = TABLE[idx];        // entries are raw result_t values: no further cast

In raw integers (what `lut_kernel` does): with s = F_in + r + 1 - n, idx = (x_raw >> s) (or
x_raw << -s), plus N/2, clamped to [0, N-1]; the shift is arithmetic, i.e. a floor.  No overflow happens at run time (entries that saturated are counted when the table is built).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from numba import njit

from ..errors import FpgaSimError
from ..fixed import Fixed
from ..graph import LayerTypes, Node
from .common import element_cost, in_type, node_name, relu_flag, result_type


@dataclass(frozen=True)
class LutAttrs:
    """Table geometry: 2**table_bits entries over [-2**range_log2, 2**range_log2)."""

    table_bits: int = 10
    range_log2: int = 3

    def __post_init__(self) -> None:
        if not 1 <= int(self.table_bits) <= 20:
            raise FpgaSimError(f"LUT table_bits {self.table_bits} is not supported; 1..20 is accepted")

    @property
    def entries(self) -> int:
        return 1 << self.table_bits

    @property
    def index_type(self) -> Fixed:
        return Fixed(self.table_bits, self.range_log2 + 1, True, "AP_TRN", "AP_SAT")

    def bin_centres(self) -> np.ndarray:
        step = np.ldexp(1.0, self.range_log2 + 1 - self.table_bits)
        return -np.ldexp(1.0, self.range_log2) + (np.arange(self.entries) + 0.5) * step


def build_table(fn: Callable[[np.ndarray], np.ndarray], attrs: LutAttrs) -> np.ndarray:
    """f at the middle of every bin, float64 (quantised later with the result type)."""
    return np.asarray(fn(attrs.bin_centres()), dtype=np.float64)


def table_type(types: LayerTypes) -> Fixed:
    """The table's entries: the result type, rounded to nearest and saturated when built."""
    return types.result.with_modes(rounding="AP_RND", overflow="AP_SAT")


@njit(cache=True, nogil=True)
def lut_kernel(x, shift, table, relu, out) -> None:
    """out[i] = table[clamp(floor(x[i] / 2**shift) + N/2, 0, N-1)] for raw inputs x."""
    n = table.size
    half = n // 2
    for i in range(x.size):
        v = x[i]
        if shift >= 0:
            q = v >> min(shift, 63)
        else:
            lim = np.int64(n)   # beyond +-N the clamp decides; clamping first keeps the shift in range
            q = min(max(v, -lim), lim) << min(-shift, 40)
        idx = min(max(q + half, 0), n - 1)
        r = table[idx]
        if relu and r < 0:
            r = 0
        out[i] = r


class LutOp:
    """Mixin with everything a LUT activation needs except its function and default range."""

    func: Callable[[np.ndarray], np.ndarray]
    default_range_log2: int = 3
    op_name: str = ""

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        attrs = LutAttrs(range_log2=self.default_range_log2)
        return [Node(node_name(onnx_node), self.op_name, [onnx_node.input[0]], [onnx_node.output[0]], attrs,
                     params={"table": build_table(type(self).func, attrs)})]

    def infer_shapes(self, node: Node, in_shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        return [tuple(in_shapes[0])]

    def quantize_params(self, node: Node, types: LayerTypes) -> tuple[dict[str, np.ndarray], int]:
        table = build_table(type(self).func, node.attrs)  # rebuilt: the attrs may have been changed
        raw, n = table_type(types).quantize_counted(table)
        return {"table": raw}, n

    def run_float(self, node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
        y = type(self).func(np.asarray(inputs[0], dtype=np.float64))
        if node.activation == "relu":
            y = np.maximum(y, 0.0)
        return [y]

    def run_fixed(self, node: Node, inputs: list[np.ndarray], qg: Any) -> tuple[list[np.ndarray], int]:
        attrs: LutAttrs = node.attrs
        table = np.ascontiguousarray(qg.qparams[node.name]["table"], dtype=np.int64)
        if table.size != attrs.entries:
            raise FpgaSimError(f"node {node.name!r} ({node.op}): table has {table.size} entries, attrs say {attrs.entries}")
        x = np.ascontiguousarray(inputs[0], dtype=np.int64)
        shift = in_type(qg, node).frac + attrs.range_log2 + 1 - attrs.table_bits
        out = np.empty(x.size, dtype=np.int64)
        lut_kernel(x.reshape(-1), shift, table, relu_flag(node), out)
        return [out.reshape(x.shape)], 0

    def cost(self, node: Node, qg: Any, hw: Any) -> Any:
        """One table read per output; the table is parameter memory."""
        return element_cost(self, node, qg, hw, ops_per_output=1, weight_words=node.attrs.entries,
                            weight_bits=result_type(qg, node).width)
