"""The small torch networks compared across tools: the model zoo's MLP and LeNet on 8x8 digits.

Weights are the zoo's seeded initialisation: throughput and bit agreement do not depend on
training, and the benchmark never waits for one.  Inputs are real digits from scikit-learn.
"""
from __future__ import annotations

import io
import warnings

import numpy as np
import onnx


def zoo_model(name: str, seed: int = 0):
    """models.zoo.build(name, seed) in eval mode."""
    from models import zoo

    return zoo.build(name, seed=seed).eval()


def digits_images(n: int) -> np.ndarray:
    """n test images (NCHW float32 in [0, 1]); repeated when n exceeds the test split."""
    from models.data import load_digits_split

    _, _, x, _ = load_digits_split(8)
    reps = -(-n // len(x))
    return np.ascontiguousarray(np.concatenate([x] * reps)[:n])


def to_onnx(model, example: np.ndarray) -> onnx.ModelProto:
    """Export with a symbolic batch dimension (the legacy exporter: plain ops, no torch.export)."""
    import torch

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, torch.from_numpy(example), buf, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "N"}, "y": {0: "N"}}, opset_version=13, dynamo=False)
    return onnx.load_from_string(buf.getvalue())
