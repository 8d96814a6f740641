"""The float graph the importer builds and the quantised graph the engine and codegen run.

Activation tensors are NCHW (or N x features); shapes stored here drop the batch dimension.
Tensor and node names are kept as they appear in the ONNX file (so onnxruntime can expose the
same tensors for comparison); codegen sanitises them before they reach C++.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .fixed import Fixed


@dataclass
class Node:
    """One layer: an op from the registry, its typed attributes and float parameters."""

    name: str
    op: str                                   # registry key, e.g. "Conv", "Dense", "MaxPool"
    inputs: list[str]                         # activation tensors consumed
    outputs: list[str]                        # activation tensors produced
    attrs: Any = None                         # the op's own attribute dataclass
    params: dict[str, np.ndarray] = field(default_factory=dict)  # float constants (weight, bias, ...)
    activation: str | None = None             # fused activation, e.g. "relu"


@dataclass
class Graph:
    """A topologically sorted list of nodes over named activation tensors."""

    name: str
    nodes: list[Node]
    inputs: list[str]
    outputs: list[str]
    shapes: dict[str, tuple[int, ...]]        # per-sample shape of every activation tensor
    source: str | None = None                 # the ONNX file it came from, if any
    # types the model itself carries (QONNX/QDQ quantisers): node or input -> slot -> Fixed
    model_types: dict[str, dict[str, Any]] = field(default_factory=dict)
    # integer tensors of QDQ models: real value = raw * scale (one value, or per channel, axis 0)
    real_scales: dict[str, np.ndarray] = field(default_factory=dict)
    # ONNX node name -> (graph node computing its result, ONNX op): fused and folded nodes too
    origin: dict[str, tuple[str, str]] = field(default_factory=dict)

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(f"no node named {name!r} in graph {self.name!r}")

    def producer(self, tensor: str) -> Node | None:
        for n in self.nodes:
            if tensor in n.outputs:
                return n
        return None

    def consumers(self, tensor: str) -> list[Node]:
        return [n for n in self.nodes if tensor in n.inputs]


@dataclass(frozen=True)
class LayerTypes:
    """The fixed-point types one layer computes with (hls4ml's weight/bias/accum/result)."""

    result: Fixed
    weight: Fixed | None = None
    bias: Fixed | None = None
    accum: Fixed | None = None


@dataclass
class QGraph:
    """A graph with a fixed-point type on every tensor and raw integer parameters."""

    graph: Graph
    tensor_types: dict[str, Fixed]                     # every activation tensor, inputs included
    layer_types: dict[str, LayerTypes]                 # by node name
    qparams: dict[str, dict[str, np.ndarray]]          # node name -> param name -> raw int64
    quant_overflows: dict[str, int] = field(default_factory=dict)  # params that saturated/wrapped
    from_model: dict[str, tuple[str, ...]] = field(default_factory=dict)  # node/input -> slots typed by the model
    config_notes: list[str] = field(default_factory=list)  # config keys accepted but not applicable

    @property
    def nodes(self) -> list[Node]:
        return self.graph.nodes
