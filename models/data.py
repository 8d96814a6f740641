"""The digits data every model trains on: scikit-learn's bundled 8x8 handwritten digits.

No download: the 1,797 images ship inside scikit-learn.  The split is stratified and seeded, so
every run (and every cached checkpoint) sees the same train and test samples.  Pixels (0..16)
are scaled to [0, 1] and laid out NCHW float32, the layout the ONNX export and fpga_sim use.
"""
from __future__ import annotations

import numpy as np

from fpga_sim.errors import FpgaSimError

SPLIT_SEED = 0
TEST_FRACTION = 0.25
SIZES = (8, 16, 32)


def upscale(x: np.ndarray, size: int) -> np.ndarray:
    """Bilinearly resize NCHW images to size x size (for networks that downsample more)."""
    if x.shape[-1] == size:
        return x
    import torch
    import torch.nn.functional as F

    t = F.interpolate(torch.from_numpy(np.ascontiguousarray(x)), size=(size, size), mode="bilinear",
                      align_corners=False)
    return t.clamp_(0.0, 1.0).numpy().astype(np.float32)


def load_digits_split(size: int = 8, test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED,
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test): NCHW float32 in [0, 1], int64 labels, deterministic."""
    if size not in SIZES:
        raise FpgaSimError(f"digits image size {size!r} is not available; accepted sizes: {SIZES}")
    if not 0.0 < test_fraction < 1.0:
        raise FpgaSimError(f"test_fraction {test_fraction!r} must lie strictly between 0 and 1")
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images.astype(np.float32) / 16.0)[:, None, :, :]
    y = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=test_fraction, random_state=seed, stratify=y)
    return upscale(x_tr, size), y_tr, upscale(x_te, size), y_te


def data_spec(size: int = 8, test_fraction: float = TEST_FRACTION, seed: int = SPLIT_SEED) -> dict:
    """What a checkpoint records about the data it was trained on."""
    return {"dataset": "sklearn.load_digits", "size": size, "test_fraction": test_fraction,
            "split_seed": seed, "layout": "NCHW float32 in [0,1]"}
