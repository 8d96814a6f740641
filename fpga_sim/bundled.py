"""The trained models and the digits data that ship inside the package, so the main job needs no torch.

`fpga-sim train --bundle NAME...` (models/bundle.py) writes, into `fpga_sim/data/models/`:
NAME.onnx (the recipe's export, verified against onnxruntime) and NAME.json (what it is: the
recipe and its cache key, the test-split accuracy, the torch build and CPU kernels that trained
it, a hash of its weights), and `digits8.npz`, the 8x8 digits split every model trains and is
tested on (scikit-learn's copy of the UCI "Optical Recognition of Handwritten Digits" test set,
Alpaydin and Kaynak, CC BY 4.0; pixels 0..16 as uint8, scaled here exactly as `models.data`
does).  This module only reads them: numpy and the standard
library, nothing of torch or scikit-learn.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import FpgaSimError

BUNDLED_DIR = Path(__file__).parent / "data" / "models"
DIGITS_FILE = BUNDLED_DIR / "digits8.npz"


@dataclass(frozen=True)
class BundledModel:
    """A shipped ONNX model and its metadata (accuracy on the digits test split, provenance)."""

    name: str
    onnx_path: Path
    accuracy: float
    metadata: dict[str, Any] = field(default_factory=dict)


def bundled_names(root: Path = BUNDLED_DIR) -> list[str]:
    """Names of the models that ship (an .onnx with its .json beside it)."""
    return sorted(p.stem for p in root.glob("*.onnx") if p.with_suffix(".json").is_file())


def get_bundled(name: str, root: Path = BUNDLED_DIR) -> BundledModel:
    """The shipped model `name`; an FpgaSimError naming the shipped ones when it is not one."""
    onnx_path, meta_path = root / f"{name}.onnx", root / f"{name}.json"
    if not (onnx_path.is_file() and meta_path.is_file()):
        raise FpgaSimError(f"model {name!r} does not ship with fpga-sim; shipped: {', '.join(bundled_names(root)) or 'none'}")
    meta = json.loads(meta_path.read_text())
    return BundledModel(name, onnx_path, float(meta["accuracy"]), meta)


def weights_sha256(onnx_path: str | Path) -> str:
    """A hash of every initializer's name, shape, dtype and bytes: equal hashes, bit-identical weights."""
    import onnx
    from onnx import numpy_helper

    h = hashlib.sha256()
    for init in sorted(onnx.load(str(onnx_path)).graph.initializer, key=lambda t: t.name):
        arr = numpy_helper.to_array(init)
        h.update(f"{init.name}|{arr.shape}|{arr.dtype}|".encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def digits_images_to_inputs(images: np.ndarray) -> np.ndarray:
    """uint8 pixels 0..16 (N, 8, 8) -> NCHW float32 in [0, 1], exactly as `models.data` scales them."""
    return (np.asarray(images).astype(np.float32) / 16.0)[:, None, :, :]


def load_digits8(path: Path = DIGITS_FILE) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test) of the shipped 8x8 digits split, equal to
    `models.data.load_digits_split(8)` value for value (a test checks it against scikit-learn)."""
    if not path.is_file():
        raise FpgaSimError(f"the shipped digits data {path} is missing; reinstall fpga-sim or run "
                           "`fpga-sim train --bundle lenet`")
    with np.load(path, allow_pickle=False) as z:
        return (digits_images_to_inputs(z["train_images"]), z["train_labels"].astype(np.int64),
                digits_images_to_inputs(z["test_images"]), z["test_labels"].astype(np.int64))
