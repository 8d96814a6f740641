"""Vitis HLS part strings for the short part names fpga-sim's `parts.py` knows.

`set_part` needs a full device string (device, package, speed grade); the simulator only needs
the device.  A target given with a package suffix (``xczu9eg-ffvb1156-2-e``) is used as is.
"""
from __future__ import annotations

import re

from fpga_sim.errors import ConfigError

# A common package and speed grade per device (the boards these parts usually sit on).
FULL_PART: dict[str, str] = {
    "xc7a35t": "xc7a35tcpg236-1",          # Basys 3 / Arty A7-35
    "xc7z020": "xc7z020clg400-1",          # PYNQ-Z1/Z2
    "xczu3eg": "xczu3eg-sbva484-1-e",      # Ultra96
    "xczu7ev": "xczu7ev-ffvc1156-2-e",     # ZCU106
    "xczu9eg": "xczu9eg-ffvb1156-2-e",     # ZCU102
    "xcvu9p": "xcvu9p-flga2104-2L-e",      # VCU118
    "xcu250": "xcu250-figd2104-2L-e",      # Alveo U250
}

_PART_TEXT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$")


def vitis_part(target: str) -> str:
    """The string for `set_part`: a full part passes through, a short device name is completed."""
    t = str(target).strip()
    if not _PART_TEXT.match(t):
        raise ConfigError(
            f"target part {target!r} is not a part name; accepted: letters, digits, '-' and '_' "
            f"(e.g. {', '.join(FULL_PART)} or a full part such as xczu9eg-ffvb1156-2-e)")
    return FULL_PART.get(t.lower(), t)
