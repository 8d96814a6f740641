"""The contract every op module fulfils, and the registry that maps op names to them.

One op = one module in `fpga_sim/ops/` holding its whole story: lowering from ONNX, shape
inference, the float and the bit-accurate integer kernels, the cost on the simulated machine,
and the name of its HLS template in `hls_templates/`.  Modules register with `@op("Name")`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:  # imported for annotations only
    from ..fixed import Fixed
    from ..graph import LayerTypes, Node, QGraph
    from ..hardware import Hardware
    from ..results import LayerReport

REGISTRY: dict[str, "Op"] = {}
ONNX_LOWERING: dict[str, "Op"] = {}


def op(name: str):
    """Class decorator: register an op under `name` and for each ONNX op type it lowers."""

    def register(cls: type["Op"]) -> type["Op"]:
        if name in REGISTRY:
            raise RuntimeError(f"op {name!r} registered twice")
        for onnx_type in cls.onnx_ops:   # checked before anything is registered: no half registration
            owner = ONNX_LOWERING.get(onnx_type)
            if owner is not None:
                raise RuntimeError(f"ONNX op type {onnx_type!r} is claimed by both {type(owner).__module__} "
                                   f"and {cls.__module__}; one module lowers each ONNX op type")
        inst = cls()
        inst.name = name
        REGISTRY[name] = inst
        for onnx_type in cls.onnx_ops:
            ONNX_LOWERING[onnx_type] = inst
        return cls

    return register


class Op:
    """Base class: override what the op needs.  Every method works on one node."""

    name: str = ""
    onnx_ops: ClassVar[tuple[str, ...]] = ()   # ONNX op types this module lowers
    template: ClassVar[str | None] = None       # hls_templates/<template> for codegen
    on_accelerator: ClassVar[bool] = True       # False: executed on the host (e.g. Softmax)
    # True: every output value is one of the input values (max, copy, clamp, layout), so without a
    # configured result type the layer keeps its input's type (quantization uses this).
    keeps_input_type: ClassVar[bool] = False
    # True: a ReLU reading only this layer's output may fuse into it (passes/fuse_relu.py); the op's
    # kernels then apply `common.apply_activation` after the cast to the result type.
    relu_fusable: ClassVar[bool] = False

    def lower(self, onnx_node: Any, ctx: Any) -> "list[Node]":
        """ONNX NodeProto -> graph nodes (ctx gives constants and shapes)."""
        raise NotImplementedError(f"op {self.name} has no ONNX lowering")

    def infer_shapes(self, node: "Node", in_shapes: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
        """Per-sample output shapes from per-sample input shapes."""
        raise NotImplementedError

    def safe_accum(self, node: "Node", in_types: "list[Fixed]", weight: "Fixed | None") -> "Fixed | None":
        """The narrowest accumulator type that cannot overflow for this layer (None: no accumulator)."""
        return None

    def result_bound(self, node: "Node", in_types: "list[Fixed]", in_shapes: list[tuple[int, ...]]) -> float | None:
        """The largest |value| the op can output whatever its inputs hold, when the op's maths bounds
        it (a softmax: 1); None otherwise.  An `auto` result type is sized to hold this bound
        rather than the calibrated range, which unseen inputs may exceed."""
        return None

    def quantize_params(self, node: "Node", types: "LayerTypes") -> tuple[dict[str, np.ndarray], int]:
        """Float params -> (raw ints, overflow count): "bias" in the bias type, the rest in the weight type."""
        raw: dict[str, np.ndarray] = {}
        overflows = 0
        for pname, value in node.params.items():
            t = types.bias if pname == "bias" and types.bias is not None else types.weight
            if t is None:
                raise ValueError(f"node {node.name!r} ({self.name}) has parameter {pname!r} but no type for it")
            raw[pname], n = t.quantize_counted(value)
            overflows += n
        return raw, overflows

    def run_float(self, node: "Node", inputs: list[np.ndarray]) -> list[np.ndarray]:
        """Float64 reference on batched NCHW arrays (calibration and tests)."""
        raise NotImplementedError

    def run_fixed(self, node: "Node", inputs: list[np.ndarray], qg: "QGraph") -> tuple[list[np.ndarray], int]:
        """Bit-accurate integer execution: raw inputs -> (raw outputs, overflow count)."""
        raise NotImplementedError

    def cost(self, node: "Node", qg: "QGraph", hw: "Hardware") -> "LayerReport":
        """Cycles, memory traffic and energy of one inference of this layer on `hw`."""
        raise NotImplementedError

    def cost_float32(self, node: "Node", qg: "QGraph", hw: "Hardware") -> "LayerReport | None":
        """The same layer costed with float32 operands and words (what fixed point saves), or None
        when the op has no float32 variant (the report leaves it out)."""
        return None


def get_op(name: str) -> Op:
    hit = REGISTRY.get(name)
    if hit is not None:           # registered: its module is loaded (simulate asks once per node per call)
        return hit
    from . import load_all

    load_all()
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown op {name!r}; registered: {', '.join(sorted(REGISTRY))}") from None
