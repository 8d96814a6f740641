"""Real FPGA parts as data: DSP slices, on-chip RAM and a default clock, for budget checks.

Numbers are the device totals from Xilinx/AMD product tables (DS190 Zynq-7000, DS891 Zynq
UltraScale+, DS962 Alveo U250, DS890 UltraScale+ Virtex).  A BRAM36 block holds 36 Kb
(4608 bytes of data); a URAM block holds 288 Kb (36864 bytes).  The default clock is a
comfortable HLS target for the family, not the fabric maximum.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .errors import ConfigError

BRAM36_BYTES = 36 * 1024 // 8      # 4608 bytes of data per 36 Kb block RAM
URAM_BYTES = 288 * 1024 // 8       # 36864 bytes per UltraRAM block


@dataclass(frozen=True)
class Part:
    """One FPGA device: its multiplier and memory budget."""

    name: str
    family: str
    dsp_slices: int           # DSP48E1/DSP48E2 slices on the device
    dsp_a_bits: int           # multiplier port A width (25 for DSP48E1, 27 for DSP48E2)
    dsp_b_bits: int           # multiplier port B width (18 for both)
    bram36: int               # 36 Kb block RAMs
    uram: int                 # 288 Kb UltraRAM blocks (0 where the family has none)
    default_clock_mhz: float  # default HLS clock target, MHz

    @property
    def bram_bytes(self) -> int:
        """Block RAM capacity in bytes."""
        return self.bram36 * BRAM36_BYTES

    @property
    def onchip_bytes(self) -> int:
        """All on-chip RAM usable as SRAM (BRAM + URAM), bytes."""
        return self.bram36 * BRAM36_BYTES + self.uram * URAM_BYTES

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["bram_bytes"] = self.bram_bytes
        d["onchip_bytes"] = self.onchip_bytes
        return d


PARTS: dict[str, Part] = {
    p.name: p
    for p in (
        Part("xc7a35t", "artix7", 90, 25, 18, 50, 0, 100.0),
        Part("xc7z020", "zynq7000", 220, 25, 18, 140, 0, 100.0),
        Part("xczu3eg", "zynquplus", 360, 27, 18, 216, 0, 200.0),
        Part("xczu7ev", "zynquplus", 1728, 27, 18, 312, 96, 200.0),
        Part("xczu9eg", "zynquplus", 2520, 27, 18, 912, 0, 200.0),
        Part("xcvu9p", "virtexuplus", 6840, 27, 18, 2160, 960, 250.0),
        Part("xcu250", "alveo", 12288, 27, 18, 2688, 1280, 300.0),
    )
}


def get_part(name: str) -> Part:
    """Look a part up by name, case-insensitively; the speed-grade/package suffix is ignored
    (``xczu9eg-ffvb1156-2-e`` is ``xczu9eg``)."""
    key = str(name).strip().lower()
    if key in PARTS:
        return PARTS[key]
    for known in sorted(PARTS, key=len, reverse=True):
        if key.startswith(known + "-"):
            return PARTS[known]
    raise ConfigError(f"unknown FPGA part {name!r}; known parts: {', '.join(PARTS)}")
