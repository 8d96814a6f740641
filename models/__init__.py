"""Trained models on real data (sklearn digits), ONNX export and the lecture's compression methods.

`get_trained(name)` returns a cached, trained, ONNX-exported model (see `models.recipes.RECIPES`);
`models.data.load_digits_split(size)` gives the data.  Names resolve lazily so that importing
`models` does not import torch until a model is needed.
"""
from __future__ import annotations

from fpga_sim.lazy_exports import lazy_getattr

_EXPORTS = {"get_trained": "recipes", "TrainedModel": "recipes", "RECIPES": "recipes",
            "load_digits_split": "data"}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr(__name__, globals(), _EXPORTS)
