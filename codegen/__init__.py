"""HLS C++ from the quantised graph: `write_hls` renders a Vitis HLS project from Jinja
templates (`hls_templates/`), `csim` builds it with g++ and runs its testbench."""
from __future__ import annotations

from .csim import compile_batch, compile_csim, count_batch, count_csim, csim, csim_batch, run_csim
from .writer import record_counts, write_hls

__all__ = ["write_hls", "csim", "csim_batch", "compile_csim", "compile_batch", "run_csim", "count_csim", "count_batch", "record_counts"]
