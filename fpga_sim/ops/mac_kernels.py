"""The multiply-accumulate engine shared by Conv and Dense: exact HLS arithmetic, fast.

HLS arithmetic (ARCHITECTURE.md): each product is exact, cast to the accumulator type, summed
in the accumulator type (overflow applied per add); the bias, cast to the accumulator type, is
the initial value; the sum is cast to the result type, then the fused ReLU.

`run_mac_fixed` runs one layer by the first exact, preferred route of the table in
`mac_routes.py` (what each route computes, when it is exact, when it is chosen); `route=` (or
`forced_route` around an op's run_fixed) names one, `recording_routes` lists the routes taken.
A dense layer is a 1x1 convolution on a 1x1 image here.
"""
from __future__ import annotations

import contextlib
import contextvars
import math
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from ..errors import ConfigError
from ..fixed import MAX_WIDTH, Fixed, product_type
from ..graph import Node
from ..machine import LayerWork
from .mac_bounds import gemm_plan  # noqa: F401 (the BLAS plan, named here for callers)
from .mac_routes import ROUTE_NAMES, run_mac

if TYPE_CHECKING:
    from ..graph import QGraph
    from ..hardware import Hardware

_FORCED: contextvars.ContextVar[str | None] = contextvars.ContextVar("mac_route", default=None)
_LOG: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("mac_route_log", default=None)


@contextlib.contextmanager
def forced_route(name: str | None) -> Iterator[None]:
    """Every MAC layer run inside takes route `name` (one of mac_routes.ROUTE_NAMES), or raises
    ConfigError where that route is not exact."""
    if name is not None and name not in ROUTE_NAMES:
        raise ConfigError(f"unknown MAC route {name!r}; accepted: {', '.join(ROUTE_NAMES)}")
    tok = _FORCED.set(name)
    try:
        yield
    finally:
        _FORCED.reset(tok)


@contextlib.contextmanager
def recording_routes() -> Iterator[list[str]]:
    """A list receiving the name of the route every MAC layer run inside takes, in order."""
    log: list[str] = []
    tok = _LOG.set(log)
    try:
        yield log
    finally:
        _LOG.reset(tok)


def layer_types_of(node: Node, qg: "QGraph", safe: Any) -> tuple[Fixed, Fixed, Fixed | None, Fixed, Fixed]:
    """(input, weight, bias, accum, result) types of a MAC layer: data types within int64,
    accumulators up to 128 bits (beyond int64 the route table takes its wide route)."""
    lt = qg.layer_types.get(node.name)
    if lt is None or lt.weight is None:
        raise ConfigError(f"node {node.name!r} ({node.op}) has no weight type in the quantised graph")
    tin = qg.tensor_types[node.inputs[0]]
    acc = lt.accum or safe(node, [tin], lt.weight)
    for what, t in (("input", tin), ("weight", lt.weight), ("bias", lt.bias), ("result", lt.result)):
        if t is not None and not t.fits_int64:
            raise ConfigError(f"node {node.name!r} ({node.op}): {what} type {t} does not fit int64; data, weight, bias "
                              f"and result types accept at most 64 bits (63 unsigned)")
    if acc.width > MAX_WIDTH:
        raise ConfigError(f"node {node.name!r} ({node.op}): accumulator {acc} is wider than the {MAX_WIDTH} bits "
                          f"the engine accepts")
    return tin, lt.weight, lt.bias, acc, lt.result


def mac_safe_accum(k: int, tin: Fixed, weight: Fixed) -> Fixed:
    """Narrowest accumulator holding any sum of k products and one product-sized bias exactly."""
    p = product_type(tin, weight)
    width = p.width + math.ceil(math.log2(k + 1))
    return Fixed(width, width - p.frac, p.signed)


def run_mac_fixed(node: Node, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, types: tuple,
                  attrs: Any, out_hw: tuple[int, int], route: str | None = None) -> tuple[np.ndarray, int]:
    """Bit-accurate conv of raw x (N,C,H,W) with raw w (Cout,Cg,kh,kw): (raw out, overflows),
    by the route table of mac_routes.py (`route` forces one by name)."""
    return run_mac(node, x, w, b, types, attrs, out_hw, route=route or _FORCED.get(), taken=_LOG.get())


def mac_layer_work(node: Node, qg: "QGraph", outputs: int, k: int, input_words: int, safe: Any,
                   hw: "Hardware | None" = None) -> LayerWork:
    """LayerWork of a conv/dense node from its types and raw (or float) parameters.  The
    non-zero count and codebook width are computed only when `hw` uses them (or hw is None)."""
    tin, tw, tb, acc, res = layer_types_of(node, qg, safe)
    params = qg.qparams.get(node.name) or node.params
    w = np.asarray(params["weight"])
    nb = int(np.asarray(params["bias"]).size) if "bias" in params else 0
    nonzero = int(np.count_nonzero(w)) if hw is None or hw.skip_zero_weights else None
    cb = None
    if hw is None or hw.weights_as_codebook:
        cb = max(1, math.ceil(math.log2(max(int(np.unique(w).size), 2))))
    return LayerWork(name=node.name, op=node.op, outputs=int(outputs), macs_per_output=int(k),
                     input_words=int(input_words), weight_words=int(w.size) + nb, input_bits=tin.width,
                     weight_bits=tw.width, output_bits=res.width, accum_bits=acc.width,
                     nonzero_weight_words=nonzero, codebook_bits=cb, bias_words=nb)
