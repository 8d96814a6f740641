"""ONNX export that the fpga_sim importer accepts, checked against onnxruntime.

torch 2.13's default exporter (dynamo) needs the onnxscript package; the TorchScript-based
exporter (`dynamo=False`) does not and emits exactly the plain ops the zoo is built from.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from fpga_sim.errors import FpgaSimError, UnsupportedModelError

PLAIN_OPS = frozenset({"Conv", "Gemm", "Relu", "MaxPool", "AveragePool", "GlobalAveragePool", "Concat",
                       "Add", "Flatten"})
OPSET = 13
INPUT_NAME, OUTPUT_NAME = "input", "logits"


def export_onnx(model: nn.Module, path: str | Path, in_size: int = 8, opset: int = OPSET) -> Path:
    """Write `model` as ONNX (input "input" NCHW float32 with a dynamic batch, output "logits")."""
    import onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.eval()
    dummy = torch.zeros(1, 1, in_size, in_size)
    tmp = path.with_suffix(".onnx.tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # the legacy exporter announces its deprecation
        torch.onnx.export(model, (dummy,), str(tmp), dynamo=False, opset_version=opset,
                          input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                          dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}})
    proto = onnx.load(str(tmp))
    onnx.checker.check_model(proto)
    bad = sorted({n.op_type for n in proto.graph.node} - PLAIN_OPS)
    if bad:
        tmp.unlink()
        raise UnsupportedModelError(f"{path}: export produced ops {bad}; the zoo must use only {sorted(PLAIN_OPS)}")
    tmp.replace(path)
    return path


def onnx_predict(path: str | Path, x: np.ndarray) -> np.ndarray:
    """Logits from onnxruntime (the float reference fpga_sim compares against)."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {INPUT_NAME: np.ascontiguousarray(x, dtype=np.float32)})[0]


def verify_onnx(model: nn.Module, path: str | Path, x: np.ndarray, atol: float = 1e-4) -> float:
    """Max |torch - onnxruntime| over x; raises when it exceeds atol."""
    model.eval()
    with torch.no_grad():
        ref = model(torch.as_tensor(x, dtype=torch.float32)).numpy()
    err = float(np.abs(onnx_predict(path, x) - ref).max())
    if err > atol:
        raise FpgaSimError(f"{path}: onnxruntime differs from torch by {err:.3g} (> {atol}) on the check inputs")
    return err
