"""Look-up-table functions (Sigmoid, Tanh, SiLU, GELU, Erf, Exp, HardSigmoid, HardSwish) as HLS
computes them: a table over a clamped range, with a tail rule on either side.

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
x_raw << -s), plus N/2, clamped to [0, N-1]; the shift is arithmetic, i.e. a floor.

Tails: outside the table's range a function such as SiLU or GELU is not flat, so each side has a
rule, `below` (x < -2^r) and `above` (x >= 2^r): "clamp" (the end entry, as above), "zero"
(y = 0) or "identity" (y = (result_t)x, one cast).  The tests run on raw values against the
thresholds LO = ceil(-2^(F_in + r)) and HI = ceil(2^(F_in + r)), exact integers:

    if (BELOW != CLAMP && raw(x) <  LO) y = BELOW == ZERO ? 0 : (result_t)x;
    else if (ABOVE != CLAMP && raw(x) >= HI) y = ABOVE == ZERO ? 0 : (result_t)x;
    else y = TABLE[idx];

Overflows counted: identity-tail casts that wrapped/saturated (entries that saturated are
counted when the table is built).
"""
from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Any, Callable

import numpy as np
from numba import njit

from ..errors import FpgaSimError
from ..fixed import Fixed
from ..fixed_kernels import requant
from ..graph import LayerTypes, Node
from .common import element_cost, in_type, node_name, out_size, relu_flag, result_type


TAILS = ("clamp", "zero", "identity")


@dataclass(frozen=True)
class LutAttrs:
    """Table geometry: 2**table_bits entries over [-2**range_log2, 2**range_log2)."""

    table_bits: int = 10
    range_log2: int = 3
    below: str = "clamp"      # tail rule for x < -2**range_log2: clamp | zero | identity
    above: str = "clamp"      # tail rule for x >= 2**range_log2
    coeffs: tuple[float, ...] = ()   # the function's own constants (HardSigmoid's alpha, beta; Swish's alpha)
    variant: str = ""                # the function's form (Gelu: "none" exact, "tanh")

    def __post_init__(self) -> None:
        if not 1 <= int(self.table_bits) <= 20:
            raise FpgaSimError(f"LUT table_bits {self.table_bits} is not supported; 1..20 is accepted")
        for side in (self.below, self.above):
            if side not in TAILS:
                raise FpgaSimError(f"LUT tail rule {side!r} is not known; accepted: {', '.join(TAILS)}")

    def tail_codes(self) -> tuple[int, int]:
        return TAILS.index(self.below), TAILS.index(self.above)

    def thresholds(self, t_in: Fixed) -> tuple[int, int]:
        """(LO, HI) raw input values: x < LO is below the table, x >= HI above it (exact)."""
        e = min(t_in.frac + self.range_log2, 62)
        mag = math.ldexp(1.0, e)
        return int(math.ceil(-mag)), int(math.ceil(mag))

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
def lut_kernel(x, shift, table, tails, lo, hi, id_shift, width, signed, rnd, ovf, relu, out) -> int:
    """out[i] = table[clamp(floor(x[i] / 2**shift) + N/2, 0, N-1)] for raw inputs x, or the tail
    rule (tails = (below, above) codes of TAILS) outside [lo, hi); returns the overflow count."""
    n = table.size
    half = n // 2
    n_ovf = 0
    for i in range(x.size):
        v = x[i]
        side = tails[0] if v < lo else (tails[1] if v >= hi else 0)
        if side != 0:
            r = np.int64(0)
            if side == 2:
                r, o = requant(v, id_shift, width, signed, rnd, ovf)
                n_ovf += o
            if relu and r < 0:
                r = 0
            out[i] = r
            continue
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
    return n_ovf


class LutOp:
    """Mixin with everything a LUT activation needs except its function and default range."""

    func: Callable[[np.ndarray], np.ndarray]
    default_range_log2: int = 3
    tails: tuple[str, str] = ("clamp", "clamp")     # (below, above): see the module docstring
    template = "layer"
    name: str                                        # the registered op name (ops.base.op sets it)

    def default_attrs(self, onnx_attrs: dict[str, Any]) -> LutAttrs:
        """The table geometry from the ONNX node's attributes (ops with constants override this)."""
        return LutAttrs(range_log2=self.default_range_log2, below=self.tails[0], above=self.tails[1])

    def evaluate(self, x: np.ndarray, attrs: LutAttrs) -> np.ndarray:
        """The exact function in float64 (the table holds it at the bin centres)."""
        return type(self).func(np.asarray(x, dtype=np.float64))

    def lower(self, onnx_node: Any, ctx: Any) -> list[Node]:
        attrs = self.default_attrs(ctx.attrs(onnx_node))
        return [self.make_node(node_name(onnx_node), onnx_node.input[0], onnx_node.output[0], attrs)]

    def make_node(self, name: str, x: str, y: str, attrs: LutAttrs) -> Node:
        """The op's node on tensor x."""
        return Node(name, self.name, [x], [y], attrs,
                    params={"table": build_table(lambda v: self.evaluate(v, attrs), attrs)})

    def infer_shapes(self, node: Node, in_shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        return [tuple(in_shapes[0])]

    def quantize_params(self, node: Node, types: LayerTypes) -> tuple[dict[str, np.ndarray], int]:
        table = build_table(lambda v: self.evaluate(v, node.attrs), node.attrs)  # rebuilt: attrs may have changed
        raw, n = table_type(types).quantize_counted(table)
        return {"table": raw}, n

    def run_float(self, node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
        y = self.evaluate(np.asarray(inputs[0], dtype=np.float64), node.attrs)
        if node.activation == "relu":
            y = np.maximum(y, 0.0)
        return [y]

    def run_fixed(self, node: Node, inputs: list[np.ndarray], qg: Any) -> tuple[list[np.ndarray], int]:
        attrs: LutAttrs = node.attrs
        table = np.ascontiguousarray(qg.qparams[node.name]["table"], dtype=np.int64)
        if table.size != attrs.entries:
            raise FpgaSimError(f"node {node.name!r} ({node.op}): table has {table.size} entries, attrs say {attrs.entries}")
        x = np.ascontiguousarray(inputs[0], dtype=np.int64)
        t_in, t_out = in_type(qg, node), result_type(qg, node)
        shift = t_in.frac + attrs.range_log2 + 1 - attrs.table_bits
        lo, hi = attrs.thresholds(t_in)
        out = np.empty(x.size, dtype=np.int64)
        n = lut_kernel(x.reshape(-1), shift, table, np.array(attrs.tail_codes(), dtype=np.int64), lo, hi,
                       t_in.frac - t_out.frac, *t_out.codes, relu_flag(node), out)
        return [out.reshape(x.shape)], int(n)

    def rom(self, node: Node, qg: Any) -> tuple[tuple[int, int], ...]:
        """(words, bits) of the on-chip table: a ROM initialised with the bitstream."""
        return ((node.attrs.entries, table_type(qg.layer_types[node.name]).width),)

    def cost(self, node: Node, qg: Any, hw: Any) -> Any:
        """One table read per output, from the on-chip ROM (no DRAM traffic)."""
        ((words, bits),) = self.rom(node, qg)
        return element_cost(self, node, qg, hw, ops_per_output=1, weight_words=words, weight_bits=bits,
                            rom_reads=((out_size(qg, node), bits),))


def set_tables(graph: Any, table_bits: int | None = None, range_log2: int | None = None,
               layers: Any = None) -> list[str]:
    """Give the table layers of a float graph (every LutOp and mantissa-table layer, or those
    named in `layers`) another table size (2**table_bits entries; mantissa tables: bits after the
    leading one) and, for LutOps, range before `quantize`; a LutOp's entries take the layer's
    result type (set it with the quantisation config).  Returns the layers changed."""
    from dataclasses import replace

    from .base import get_op
    from .mantissa_lut import MantissaOp

    def is_table(n: Node) -> bool:
        return isinstance(get_op(n.op), (LutOp, MantissaOp))

    wanted = None if layers is None else set(layers)
    changed = []
    for node in graph.nodes:
        op = get_op(node.op)
        if not is_table(node) or (wanted is not None and node.name not in wanted):
            continue
        if isinstance(op, MantissaOp):
            node.attrs = replace(node.attrs, **({} if table_bits is None else {"table_bits": table_bits}))
            node.params["table"] = node.attrs.table()
        else:
            kw = {k: v for k, v in (("table_bits", table_bits), ("range_log2", range_log2)) if v is not None}
            node.attrs = replace(node.attrs, **kw)
            node.params["table"] = build_table(lambda v, a=node.attrs: op.evaluate(v, a), node.attrs)
        changed.append(node.name)
    if wanted is not None and wanted - set(changed):
        raise FpgaSimError(f"set_tables: {', '.join(sorted(wanted - set(changed)))} is not a table layer of the graph; "
                           f"its table layers: {', '.join(n.name for n in graph.nodes if is_table(n))}")
    return changed
