"""fpga-sim: a trained network on an FPGA, on paper first.

ONNX -> fixed-point integer graph -> cycle-level, bit-accurate simulation -> HLS C++.
Public names are imported lazily so `import fpga_sim` stays light.
"""
from __future__ import annotations

__version__ = "0.1.0"

from . import _numba_cache
from .lazy_exports import lazy_getattr

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
__getattr__ = lazy_getattr(__name__, globals(), _EXPORTS)


def __dir__() -> list[str]:
    return __all__
