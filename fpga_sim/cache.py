"""Where fpga-sim keeps what it can rebuild: trained models and compiled kernels."""
from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """$FPGA_SIM_CACHE, else $XDG_CACHE_HOME/fpga-sim, else ~/.cache/fpga-sim."""
    own = os.environ.get("FPGA_SIM_CACHE")
    if own:
        return Path(own).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "fpga-sim"
