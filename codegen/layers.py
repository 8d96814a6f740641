"""Per-op context builders: a graph node -> the plain values its template renders.

One builder per op kind, registered with `@builder("Op")`.  A builder reads the node's attrs,
shapes and raw parameters and returns the config constants (name, C++ type, value) of the
layer's struct, the parameter arrays it needs and the kernel header it calls into.  The
arithmetic itself lives in the hand-written kernels (`hls_templates/nnet/`); each builder
states which ops module docstring the kernel reproduces.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from fpga_sim.errors import UnsupportedModelError
from fpga_sim.fixed import Fixed
from fpga_sim.graph import Node, QGraph


@dataclass
class LayerSpec:
    """What a builder returns: the kernel header, config constants and parameter arrays."""

    kernel_header: str
    consts: list[tuple[str, str, Any]] = field(default_factory=list)   # (name, ctype, value)
    params: list[tuple[str, np.ndarray, Fixed]] = field(default_factory=list)  # (role, raw, type)
    types: dict[str, Fixed] = field(default_factory=dict)                # weight/bias/accum/... typedefs
    summary: str = ""
    macs_per_output: int = 0
    extra: dict[str, Any] = field(default_factory=dict)                  # anything else the template reads
    # the generic template (hls_templates/layer.h.j2): the config struct's base and the kernel calls
    config_base: str | None = None
    calls: list[tuple[str, list[str], list[str]]] = field(default_factory=list)   # (kernel, template args, args)
    pragmas: list[str] = field(default_factory=list)

    def const(self, name: str, value: Any, ctype: str | None = None) -> None:
        if ctype is None:
            ctype = "bool" if isinstance(value, (bool, np.bool_)) else ("int" if int(value) < 0 else "unsigned")
        self.consts.append((name, ctype, value))

    def call(self, kernel: str, targs: list[Any], args: list[Any]) -> None:
        """One kernel call of the generic template.  Each template argument and argument is C++
        text, or a reference to this layer's names: "@config", "@in", "@in1", "@out", "@in.type",
        "@out.type", "@types.<kind>", "@p.<role>", "@ins" (every input, comma-separated), "@lanes.out_par" and
        "@lanes.ii" (the simulator's element lanes for this layer: outputs an iteration, cycles each)."""
        self.calls.append((kernel, [str(a) for a in targs], [str(a) for a in args]))


def resolve_calls(spec: LayerSpec, layer: dict[str, Any]) -> list[dict[str, Any]]:
    """The spec's calls with every "@" reference replaced by the layer's C++ names."""
    def port(ref: str) -> dict[str, Any]:
        kind = "inputs" if ref.startswith("in") else "outputs"
        idx = ref[2:] if kind == "inputs" else ref[3:]
        return layer[kind][int(idx) if idx else 0]

    def one(ref: str) -> str:
        if not ref.startswith("@"):
            return ref
        head, _, tail = ref[1:].partition(".")
        if head == "config":
            return layer["config"]
        if head == "ins":
            return ", ".join(t["arg"] for t in layer["inputs"])
        if head in ("types", "p", "lanes"):
            return str(layer[head][tail])
        return port(head)["type" if tail == "type" else "arg"]

    return [{"kernel": k, "targs": [one(a) for a in targs], "args": [one(a) for a in args]} for k, targs, args in spec.calls]


Builder = Callable[[Node, QGraph, int], LayerSpec]
BUILDERS: dict[str, Builder] = {}


def builder(op_name: str) -> Callable[[Builder], Builder]:
    def register(fn: Builder) -> Builder:
        BUILDERS[op_name] = fn
        return fn

    return register


def get_builder(node: Node) -> Builder:
    try:
        return BUILDERS[node.op]
    except KeyError:
        raise UnsupportedModelError(
            f"node {node.name!r}: op {node.op} has no HLS template; ops with templates: "
            f"{', '.join(sorted(BUILDERS))}") from None


def op_of(name: str) -> Any:
    """The registered op; falls back to importing every op module only when it is not loaded."""
    from fpga_sim.ops import REGISTRY, get_op

    return REGISTRY[name] if name in REGISTRY else get_op(name)


def split_parallel(k: int, n_mult: int, n_out: int) -> tuple[int, int]:
    """(k_par, out_par) as the simulated MAC array uses M multipliers on K-product outputs."""
    m = max(1, int(n_mult))
    k = max(1, int(k))
    if k >= m:
        return m, 1
    return k, max(1, min(m // k, n_out))


def size(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape, dtype=np.int64))


# Builders live in modules of their own, one per family of ops; importing them registers them.
from . import layers_mac as _mac  # noqa: E402,F401
from . import layers_elementwise as _elementwise  # noqa: E402,F401
from . import layers_pool as _pool  # noqa: E402,F401
from . import layers_arith as _arith  # noqa: E402,F401
from . import layers_layout as _layout  # noqa: E402,F401
from . import layers_quant as _quant  # noqa: E402,F401
from . import layers_nonlinear as _nonlinear  # noqa: E402,F401
from . import layers_reduce as _reduce  # noqa: E402,F401
