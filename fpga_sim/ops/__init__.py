"""Op modules.  Importing this package registers every op (see `base.op`)."""
from __future__ import annotations

import importlib

from .base import ONNX_LOWERING, REGISTRY, Op, get_op, op

# One line per op module; adding an op adds its module name here.
OP_MODULES: tuple[str, ...] = (
    "conv",
    "dense",
    "relu",
    "leaky_relu",
    "sigmoid",
    "tanh",
    "maxpool",
    "avgpool",
    "add",
    "mul",
    "batchnorm",
    "concat",
    "reshape",
    "pad",
    "lrn",
    "softmax",
    "sub",
    "div",
    "pow",
    "hard_sigmoid",
    "hard_swish",
    "silu",
    "erf",
    "gelu",
    "exp",
    "reciprocal",
    "sqrt",
    "layer_norm",
    "instance_norm",
    "reduce",
    "matmul",
    "softmax_lut",
    "transpose",
    "slice",
    "split",
    "gather",
    "squeeze",
    "expand",
    "depth_to_space",
    "resize",
    "conv_transpose",
    "quant",
    "requant",
)


def load_all() -> None:
    for mod in OP_MODULES:
        importlib.import_module(f"{__name__}.{mod}")


__all__ = ["ONNX_LOWERING", "REGISTRY", "Op", "get_op", "op", "load_all", "OP_MODULES"]
