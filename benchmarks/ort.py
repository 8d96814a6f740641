"""onnxruntime float32, the peer every figure is compared with: one session, default threads."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import onnx

# Threads for onnxruntime's intra-op pool (None: its default, one per core); the runner's
# --threads sets it together with BLAS's and Numba's so every peer gets the same cores.
THREADS: int | None = None


def session(model: onnx.ModelProto) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3          # the light models' warnings are about their own layout
    if THREADS is not None:
        opts.intra_op_num_threads = THREADS
        opts.inter_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def ort_runner(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> Callable[[], list[np.ndarray]]:
    """A zero-argument call of a fresh session on fixed inputs."""
    sess = session(model)
    return lambda: sess.run(None, feeds)
