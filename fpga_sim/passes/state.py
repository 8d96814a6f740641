"""`OnnxState`: the ONNX graph as the importer's passes rewrite it (nodes + constants)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from onnx import NodeProto


@dataclass
class OnnxState:
    """A mutable view of an ONNX graph.

    `nodes` are NodeProtos in topological order; `consts` holds every constant tensor
    (initializers and folded results) by name; `shapes` holds full shapes (batch included) of
    every tensor shape inference could resolve; `inputs`/`outputs` are the activation tensors
    the graph takes and gives.
    """

    nodes: list[NodeProto]
    consts: dict[str, np.ndarray]
    inputs: list[str]
    outputs: list[str]
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    opset: int = 13
    log: list[str] = field(default_factory=list)
    const_types: dict[str, Any] = field(default_factory=dict)  # folded quantiser output -> (Fixed, value)
    model_tensor_types: dict[str, dict[str, Any]] = field(default_factory=dict)  # node output -> slot -> Fixed
    real_scales: dict[str, np.ndarray] = field(default_factory=dict)  # QDQ integer tensor -> scale of one unit
    original: list[tuple[str, str, list[str], list[str]]] = field(default_factory=list)  # (name, op, ins, outs) as read
    batch_one: bool = False  # every graph input declares its batch dimension as the constant 1

    def producer(self, tensor: str) -> NodeProto | None:
        for n in self.nodes:
            if tensor in n.output:
                return n
        return None

    def consumers(self, tensor: str) -> list[NodeProto]:
        return [n for n in self.nodes if tensor in n.input]

    def only_consumer(self, tensor: str) -> NodeProto | None:
        """The single node reading `tensor`, or None when it has several readers or is an output."""
        if tensor in self.outputs:
            return None
        users = self.consumers(tensor)
        return users[0] if len(users) == 1 else None

    def remove(self, node: NodeProto) -> None:
        self.nodes[:] = [n for n in self.nodes if n is not node]

    def replace_input(self, old: str, new: str) -> None:
        """Every reader of `old` reads `new` instead."""
        for n in self.nodes:
            for i, name in enumerate(n.input):
                if name == old:
                    n.input[i] = new

    def rename_output(self, node: NodeProto, old: str, new: str) -> None:
        """`node` now produces `new` in place of `old` (readers of `old` follow)."""
        for i, name in enumerate(node.output):
            if name == old:
                node.output[i] = new
        self.replace_input(old, new)
        if old in self.shapes and new not in self.shapes:
            self.shapes[new] = self.shapes[old]

    def new_const(self, base: str, value: np.ndarray) -> str:
        """Store a new constant under a name derived from `base` that is not yet taken."""
        name, k = base, 1
        taken = self._names()
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        self.consts[name] = value
        return name

    def _names(self) -> set[str]:
        names: set[str] = set(self.consts) | set(self.inputs) | set(self.outputs)
        for n in self.nodes:
            names.update(n.input)
            names.update(n.output)
        return names

    def attr(self, node: NodeProto, name: str, default: Any = None) -> Any:
        from onnx import helper

        for a in node.attribute:
            if a.name == name:
                return helper.get_attribute_value(a)
        return default
