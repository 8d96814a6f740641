"""The sweep's models and data, loaded once on the client and checked before any point runs.

Bundled models are trained (or taken from the cache) here, so workers need only the ONNX file
(a path they can read: a shared filesystem on a cluster) and the small data arrays shipped with
the tasks; workers never import torch.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FpgaSimError
from .spec import ModelEntry, PrecisionEntry, SweepSpec


@dataclass(frozen=True)
class ModelInput:
    """What a worker needs to quantise and (in simulate mode) run one model."""

    label: str
    onnx_path: str
    digest: str                    # sha256 of the ONNX file and the data: part of every point's key
    data_name: str
    calibration: np.ndarray
    x: np.ndarray | None           # evaluation inputs (simulate mode only)
    y: np.ndarray | None           # their labels, when known


def _sha256(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(hashlib.sha256(p).digest())
    return h.hexdigest()


def _array_bytes(a: np.ndarray | None) -> bytes:
    return b"" if a is None else str(a.dtype).encode() + str(a.shape).encode() + np.ascontiguousarray(a).tobytes()


def load_model(entry: ModelEntry, where: str, mode: str, cache_dir: str | None = None,
               progress: bool = True) -> ModelInput:
    """Resolve one model (training a bundled one if it is not cached), import it, load its data."""
    from ..cli import inputs

    try:
        source = inputs.resolve_model(entry.spec, cache_dir=cache_dir, progress=progress)
        graph = inputs.load_graph(source.onnx_path)
        shape = tuple(graph.shapes[graph.inputs[0]])
        if entry.input:
            x = inputs.as_batch(inputs.load_array(entry.input, f"{where}.input"), shape, f"{where}.input")
            y = None
            if entry.labels:
                y = inputs.load_array(entry.labels, f"{where}.labels").astype(np.int64).ravel()
                if len(y) < len(x):
                    raise FpgaSimError(f"{where}.labels has {len(y)} labels for {len(x)} inputs")
            cal = (inputs.as_batch(inputs.load_array(entry.calibration, f"{where}.calibration"), shape,
                                   f"{where}.calibration") if entry.calibration else x)
            data = inputs.Dataset(f"inputs from {Path(entry.input).name}", cal, x, y)
        else:
            data = inputs.default_data(shape)
    except FpgaSimError as e:
        raise FpgaSimError(f"{where} ({entry.spec}): {e}") from None
    x, y = data.x, data.y
    if entry.data_samples:
        x = x[:entry.data_samples]
        y = None if y is None else y[:entry.data_samples]
    elif y is not None:
        y = y[:len(x)]
    if mode == "cost":
        x = y = None
    calibration = np.ascontiguousarray(data.calibration, dtype=np.float64)
    digest = _sha256(Path(source.onnx_path).read_bytes(), _array_bytes(calibration), _array_bytes(x), _array_bytes(y))
    return ModelInput(entry.label, str(Path(source.onnx_path).resolve()), digest, data.name, calibration,
                      None if x is None else np.ascontiguousarray(x, dtype=np.float64), y)


def load_models(spec: SweepSpec, cache_dir: str | None = None, progress: bool = True) -> list[ModelInput]:
    return [load_model(m, f"models[{i}]", spec.mode, cache_dir, progress) for i, m in enumerate(spec.models)]


def precision_id(p: PrecisionEntry) -> dict[str, Any]:
    """The precision's part of a point's key: its type and the content of its config file."""
    digest = _sha256(Path(p.config).read_bytes()) if p.config else None
    return {"type": p.type, "config": digest}


def check_quantise(models: list[ModelInput], precisions: tuple[PrecisionEntry, ...]) -> None:
    """Quantise every (model, precision) once here, so a config naming a layer the model lacks is
    bad input before any point runs, not an error on every point."""
    from ..onnx_import import load_onnx
    from ..quantization import quantize

    for m in models:
        graph = load_onnx(m.onnx_path)
        for i, p in enumerate(precisions):
            try:
                quantize(graph, calibration=m.calibration, precision=p.type, config=p.config)
            except FpgaSimError as e:
                raise FpgaSimError(f"precisions[{i}] ({p.label}) on model {m.label}: {e}") from None
