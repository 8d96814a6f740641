"""Trained models on real data (sklearn digits), ONNX export and the lecture's compression methods.

`get_trained(name)` returns a cached, trained, ONNX-exported model (see `models.recipes.RECIPES`);
`models.data.load_digits_split(size)` gives the data.  Names resolve lazily so that importing
`models` does not import torch until a model is needed.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {"get_trained": "recipes", "TrainedModel": "recipes", "RECIPES": "recipes",
            "load_digits_split": "data"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'models' has no attribute {name!r}")
