"""A tiny model, its data and sweep files for the sweep tests (milliseconds per point)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.test_cli import TINY_SHAPE, tiny_onnx

HARDWARE = """
[hardware]
part = "xc7a35t"
weights = "dram"              # streamed weights pass through the tile SRAM: 4 B cannot hold a tile
n_dsp = { pow2 = [4, 128] }
sram_bytes = [4, 4096, 65536]
dram_read_words_per_cycle = { start = 1.0, stop = 4.0, step = 1.0 }
"""


def write_model(folder: Path, samples: int = 24) -> Path:
    """tiny.onnx, x.npy and y.npy in folder."""
    folder.mkdir(parents=True, exist_ok=True)
    tiny_onnx(folder / "tiny.onnx")
    rng = np.random.default_rng(1)
    np.save(folder / "x.npy", rng.uniform(0, 1, (samples, *TINY_SHAPE)))
    np.save(folder / "y.npy", rng.integers(0, 3, samples))
    return folder / "tiny.onnx"


def write_sweep(folder: Path, *, mode: str = "cost", hardware: str = HARDWARE, extra: str = "", tail: str = "",
                precisions: str = '["ap_fixed<16,6>", "ap_fixed<8,3,AP_RND,AP_SAT>"]', name: str = "sweep.toml") -> Path:
    """A sweep file over the tiny model (written beside it if missing)."""
    if not (folder / "tiny.onnx").exists():
        write_model(folder)
    text = (f'mode = "{mode}"\n{extra}\nmodels = [{{ path = "tiny.onnx", input = "x.npy", labels = "y.npy" }}]\n'
            f"precisions = {precisions}\n{hardware}\n{tail}\n")
    path = folder / name
    path.write_text(text)
    return path
