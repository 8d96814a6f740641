"""fpga-sim: a trained network on an FPGA, on paper first.

ONNX -> fixed-point integer graph -> cycle-level, bit-accurate simulation -> HLS C++.
Public names are imported lazily so `import fpga_sim` stays light.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

from . import _numba_cache

_numba_cache.activate()      # before any kernel compiles: see _numba_cache.py

_EXPORTS = {
    "Fixed": "fixed",
    "product_type": "fixed",
    "fixed_point": "lecture",
    "find_ap_types": "aptypes",
    "Hardware": "hardware",
    "LayerWork": "machine",
    "cost_layer": "machine",
    "LayerReport": "results",
    "Graph": "graph",
    "Node": "graph",
    "QGraph": "graph",
    "LayerTypes": "graph",
    "load_onnx": "onnx_import",
    "quantize": "quantization",
    "simulate": "simulation",
    "SimResult": "simulation",
    "compare": "comparison",
    "FpgaSimError": "errors",
    "UnsupportedModelError": "errors",
    "ConfigError": "errors",
    "CheckFailed": "errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'fpga_sim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
