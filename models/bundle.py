"""What ships inside the package (`fpga_sim/bundled.py` reads it): trained ONNX models and the digits split.

`fpga-sim train --bundle lenet mlp` calls `write_bundle`: each recipe is trained (or taken from
the checkpoint cache), exported, and copied into `fpga_sim/data/models/` with a JSON of what it
is.  Training is deterministic on CPU (one thread, seeded; see `models.train.train`), so the
record names the torch build and the CPU kernel set that made it: a retrain under both gives the
same weights bit for bit (tests/test_bundled_models.py checks it), elsewhere the same accuracy.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from fpga_sim.bundled import BUNDLED_DIR, weights_sha256
from fpga_sim.errors import FpgaSimError

from .data import data_spec, load_digits_split
from .export import onnx_predict


def training_platform() -> dict[str, Any]:
    """The torch build, CPU and kernel set a training ran on (what bit-identical retraining needs:
    the same torch and AVX512 kernels still give other weights on another vendor's CPU)."""
    import torch

    from fpga_sim.host import cpu_model

    return {"torch": torch.__version__, "cpu": cpu_model(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "threads": 1}


def write_digits(dest: Path) -> Path:
    """The 8x8 digits split as uint8 pixels 0..16 (exact: the float inputs are these over 16)."""
    x_tr, y_tr, x_te, y_te = load_digits_split(8)
    pix = lambda x: np.rint(x[:, 0] * 16.0).astype(np.uint8)  # noqa: E731
    for x in (x_tr, x_te):        # the round trip is exact, or the file would not be the split
        if not np.array_equal(pix(x).astype(np.float32) / 16.0, x[:, 0]):
            raise FpgaSimError("the digits pixels are not multiples of 1/16; they cannot ship as uint8")
    path = dest / "digits8.npz"
    np.savez_compressed(path, train_images=pix(x_tr), train_labels=y_tr.astype(np.uint8),
                        test_images=pix(x_te), test_labels=y_te.astype(np.uint8))
    return path


def bundle_record(trained: Any, onnx_path: Path) -> dict[str, Any]:
    """The JSON that ships beside a model: recipe, accuracy (torch and onnxruntime), provenance."""
    _, _, x_te, y_te = load_digits_split(8)
    ort_acc = float((onnx_predict(onnx_path, x_te).argmax(axis=1) == y_te).mean())
    meta = trained.metadata
    return {"name": trained.name, "doc": meta.get("doc", ""), "recipe": meta.get("recipe"), "key": meta.get("key"),
            "data": data_spec(), "test_samples": int(len(y_te)), "accuracy": float(trained.accuracy),
            "accuracy_onnxruntime": ort_acc, "params": meta.get("params"), "trained_on": training_platform(),
            "weights_sha256": weights_sha256(onnx_path), "made_by": f"fpga-sim train --bundle {trained.name}"}


def write_bundle(names: list[str], dest: Path = BUNDLED_DIR, cache_dir: str | Path | None = None,
                 progress: bool = True) -> list[dict[str, Any]]:
    """Train (or reuse) each recipe and ship its ONNX and record into dest, with the digits split."""
    from .recipes import get_trained

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    write_digits(dest)
    records = []
    for name in names:
        trained = get_trained(name=name, cache_dir=cache_dir, progress=progress)
        onnx_path = dest / f"{name}.onnx"
        shutil.copyfile(trained.onnx_path, onnx_path)
        record = bundle_record(trained, onnx_path)
        onnx_path.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
        records.append({**record, "onnx": str(onnx_path)})
    return records
