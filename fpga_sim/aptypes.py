"""Find Xilinx's open-source `ap_types` headers (ap_fixed.h), for g++ C-simulation and tests.

One place decides where the headers come from, so the cross-check tests and code generation
compile against the same copy.  Order: an explicit path, `$FPGA_SIM_AP_TYPES`,
`$XILINX_HLS/include` (a Vitis HLS install), then the copy that the `hls4ml` PyPI package ships
(`hls4ml/templates/vivado/ap_types`).  hls4ml is located without importing it (importing is slow
and pulls in heavy dependencies).
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from .errors import FpgaSimError

HEADER = "ap_fixed.h"
ENV_VAR = "FPGA_SIM_AP_TYPES"


def _hls4ml_copy() -> Path | None:
    """Where the installed hls4ml package keeps its ap_types copy, or None when not installed."""
    try:
        spec = importlib.util.find_spec("hls4ml")
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    roots = list(spec.submodule_search_locations or [])
    if not roots and spec.origin:
        roots = [str(Path(spec.origin).parent)]
    for root in roots:
        return Path(root) / "templates" / "vivado" / "ap_types"
    return None


def find_ap_types(explicit: str | Path | None = None) -> Path:
    """Return the directory holding ap_fixed.h; raise FpgaSimError listing every place looked.

    An explicit path (or `$FPGA_SIM_AP_TYPES`) that does not hold the header is an error rather
    than a silent fall-through, so a typo never compiles against a different copy than intended.
    """
    looked: list[str] = []
    if explicit is not None:
        d = Path(explicit).expanduser()
        if (d / HEADER).is_file():
            return d.resolve()
        raise FpgaSimError(
            f"ap_types directory {str(d)!r} given explicitly does not contain {HEADER}; "
            "pass the directory that holds ap_fixed.h (e.g. $XILINX_HLS/include)"
        )
    env = os.environ.get(ENV_VAR)
    if env:
        d = Path(env).expanduser()
        if (d / HEADER).is_file():
            return d.resolve()
        raise FpgaSimError(
            f"${ENV_VAR}={env!r} does not contain {HEADER}; set it to the directory that holds "
            "ap_fixed.h, or unset it to use $XILINX_HLS/include or the hls4ml package's copy"
        )
    looked.append(f"${ENV_VAR} (not set)")
    xilinx = os.environ.get("XILINX_HLS")
    if xilinx:
        d = Path(xilinx).expanduser() / "include"
        if (d / HEADER).is_file():
            return d.resolve()
        looked.append(f"$XILINX_HLS/include = {str(d)!r} (no {HEADER})")
    else:
        looked.append("$XILINX_HLS/include ($XILINX_HLS not set)")
    d = _hls4ml_copy()
    if d is not None and (d / HEADER).is_file():
        return d.resolve()
    if d is None:
        looked.append("the hls4ml package's templates/vivado/ap_types (hls4ml not installed)")
    else:
        looked.append(f"the hls4ml package's copy {str(d)!r} (no {HEADER})")
    raise FpgaSimError(
        f"cannot find Xilinx's ap_types headers ({HEADER}); looked in: {'; '.join(looked)}. "
        f"Fix: `pip install hls4ml` (or fpga-sim's [flow] extra), or set ${ENV_VAR} (or $XILINX_HLS) to a "
        "directory holding ap_fixed.h"
    )
