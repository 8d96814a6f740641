"""Pure data movement as one index map: the shared base of Transpose, Slice, Gather, Expand,
DepthToSpace/SpaceToDepth, Concat on any axis, nearest Resize and ConvTranspose's zero insertion.

Every such op writes each output element from one input element (or a fill value), and the
address of that element is a *sum of per-axis tables* over a loop of coordinates d:

    src(d) = S_0[d_0] + S_1[d_1] + ... ;   dst(d) = D_0[d_0] + D_1[d_1] + ...   (or the flat d)
    out[dst(d)] = src(d) < 0 ? fill : (result_t)in[src(d)]

A transpose's tables are strides in permuted order, a slice's `start + step * j` strides, a
gather's the constant indices, an expand's zeros, a nearest resize's the nearest source index
per axis, a zero insertion's a negative entry (FILL) where no input element lands.  Tables are
tiny (the sum of the loop's dims), so the HLS kernel (`fsim::remap` in nnet/fsim_layout.h)
holds them in ROM and adds `rank` entries per output; no division, no multiplication.

Integer arithmetic (per output element): one cast from the input type to the result type
(result_t's rounding/overflow; no work when they are equal, the default: `keeps_input_type`).
Overflows are counted per output element (an expanded element that saturates counts each time).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from ..errors import UnsupportedModelError
from ..graph import Node
from .base import Op
from .common import cast, element_cost, in_type, result_type, unsupported

FILL = -(1 << 30)        # a source table entry: "no input element here" (any sum with it is < 0)
MAX_RANK = 8             # loop axes the HLS kernel has counters for
INDEX_BITS = 32          # a table entry: a plain signed address


@dataclass(frozen=True)
class IndexMap:
    """out[dst(d)] = in[src(d)] for every d in the row-major loop `loop` (see the module doc).

    `dst` None: the output is written in loop order (dst(d) = the flat index of d)."""

    loop: tuple[int, ...]
    src: tuple[tuple[int, ...], ...]
    dst: tuple[tuple[int, ...], ...] | None = None

    def __post_init__(self) -> None:
        for tabs in (self.src,) + ((self.dst,) if self.dst is not None else ()):
            if len(tabs) != len(self.loop) or any(len(t) != d for t, d in zip(tabs, self.loop)):
                raise ValueError(f"index map tables {[len(t) for t in tabs]} do not match the loop {self.loop}")


def strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Row-major strides of a per-sample shape."""
    out, acc = [], 1
    for d in reversed(shape):
        out.append(acc)
        acc *= int(d)
    return tuple(reversed(out))


def axis_table(stride: int, indices: Any) -> tuple[int, ...]:
    """One loop axis reading source indices `indices` along an axis of `stride` (negative: FILL)."""
    return tuple(FILL if int(i) < 0 else int(i) * int(stride) for i in indices)


def identity_map(shape: tuple[int, ...]) -> IndexMap:
    """Every element to itself (a copy): the loop is the shape, the tables its strides."""
    st = strides(shape)
    return IndexMap(tuple(shape), tuple(axis_table(s, range(d)) for s, d in zip(st, shape)))


def _sum_tables(tabs: tuple[tuple[int, ...], ...]) -> np.ndarray:
    total = np.zeros((), dtype=np.int64)
    for k, t in enumerate(tabs):
        shape = [1] * len(tabs)
        shape[k] = len(t)
        total = total + np.asarray(t, dtype=np.int64).reshape(shape)
    return total.reshape(-1)


@lru_cache(maxsize=512)
def flat_indices(m: IndexMap) -> tuple[np.ndarray, np.ndarray | None]:
    """(source index per loop point, -1 where FILL; destination index or None for loop order)."""
    src = _sum_tables(m.src)
    src = np.where(src < 0, -1, src)
    return src, (None if m.dst is None else _sum_tables(m.dst))


def per_sample_axis(ctx: Any, onnx_node: Any, axis: int, rank: int, what: str = "axis") -> int:
    """An ONNX axis of a batched rank-`rank` tensor -> the per-sample axis; the batch axis is refused."""
    a = int(axis) + rank if int(axis) < 0 else int(axis)
    if not 0 <= a < rank:
        raise unsupported(ctx, onnx_node, f"{what} {axis} is out of range for a rank-{rank} tensor; -{rank}..{rank - 1} is accepted")
    if a == 0:
        raise unsupported(ctx, onnx_node, f"{what} {axis} is the batch axis; only per-sample axes (1..{rank - 1}) are supported")
    return a - 1


def data_input(ctx: Any, onnx_node: Any) -> tuple[str, tuple[int, ...]]:
    """The node's data input (an activation: a constant one is refused) and its per-sample shape."""
    x = onnx_node.input[0]
    if ctx.const(x) is not None:
        raise unsupported(ctx, onnx_node, "the data input is a constant; constant folding should have removed this node")
    return x, tuple(int(d) for d in ctx.shape(x))


class RemapOp(Op):
    """Base of the data-movement ops: attrs carry `out_shape`; the op states `maps(node)`, one
    IndexMap per input (several inputs write disjoint parts of the output through `dst`)."""

    keeps_input_type = True
    template = "layer"
    fill_value: float = 0.0        # the value FILL entries produce (result type, exact for 0)
    index_tables: ClassVar[bool] = True   # the HLS kernel (fsim::remap) holds the source tables in ROM

    def maps(self, node: Node) -> list[IndexMap]:
        raise NotImplementedError

    def infer_shapes(self, node: Node, in_shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        want = tuple(tuple(s) for s in node.attrs.in_shapes)
        if tuple(tuple(s) for s in in_shapes) != want:
            raise UnsupportedModelError(f"node {node.name!r} ({node.op}): lowered for input shapes {want}, "
                                        f"given {tuple(map(tuple, in_shapes))}")
        return [tuple(node.attrs.out_shape)]

    def _run(self, node: Node, inputs: list[np.ndarray], fill: Any, dtype: Any, convert: Any) -> tuple[np.ndarray, int]:
        """Every input's map applied: gathered values converted by `convert(k, values) -> (values,
        overflows)` (only the elements read, one per output), FILL points set to `fill`."""
        n = inputs[0].shape[0]
        out = np.empty((n, int(np.prod(node.attrs.out_shape, dtype=np.int64))), dtype=dtype)
        overflows = 0
        for k, (x, m) in enumerate(zip(inputs, self.maps(node))):
            src, dst = flat_indices(m)
            valid = src >= 0
            picked, c = convert(k, np.asarray(x).reshape(n, -1)[:, src[valid]])
            overflows += int(c)
            if valid.all():
                vals = picked
            else:
                vals = np.full((n, src.size), fill, dtype=dtype)
                vals[:, valid] = picked
            if dst is None:
                out[:] = vals
            else:
                out[:, dst] = vals
        return out.reshape((n,) + tuple(node.attrs.out_shape)), overflows

    def run_float(self, node: Node, inputs: list[np.ndarray]) -> list[np.ndarray]:
        xs = [np.asarray(x, dtype=np.float64) for x in inputs]
        return [self._run(node, xs, self.fill_value, np.float64, lambda k, v: (v, 0))[0]]

    def run_fixed(self, node: Node, inputs: list[np.ndarray], qg: Any) -> tuple[list[np.ndarray], int]:
        t_out = result_type(qg, node)
        fill = int(np.asarray(t_out.quantize(np.array(self.fill_value))).reshape(-1)[0])
        xs = [np.asarray(x, dtype=np.int64) for x in inputs]
        y, n = self._run(node, xs, fill, np.int64, lambda k, v: cast(v, in_type(qg, node, k), t_out))
        return [y], n

    def rom(self, node: Node, qg: Any) -> tuple[tuple[int, int], ...] | None:
        """(words, bits) of the on-chip ROMs of a one-input map: its source tables, padded to
        MAX_RANK axes of one entry as the HLS kernel holds them, and the fill value; None (the
        parameters as stored) for several inputs."""
        maps = self.maps(node) if self.index_tables else []
        if len(maps) != 1:
            return None
        (m,) = maps
        return ((MAX_RANK - len(m.loop) + sum(len(t) for t in m.src), INDEX_BITS), (1, result_type(qg, node).width))

    def cost(self, node: Node, qg: Any, hw: Any) -> Any:
        """A copy (and cast) per output: `rank` table reads and adds form each address (address
        generation: a counter's work in hardware, not charged as memory reads)."""
        return element_cost(self, node, qg, hw, ops_per_output=1, notes="data movement: one read and one write per output")
