"""`Hardware`: the simulated accelerator's parameters, every field with its unit, validated.

The default architecture is one reused MAC array of DSP multipliers fed from on-chip SRAM,
an output FIFO drained to DRAM through a write port, and a DRAM read port that loads inputs
and weights that live in DRAM (see `machine.py` for how these are stepped).  Where each class
of tensor lives is the memory policy (`weights`, `activations`, `network_input`), resolved for a
graph by `memory_policy.resolve`; `sram_bytes` is the tile SRAM that DRAM-resident tensors are
loaded into (tensors kept on chip have buffers of their own, beside it on the part).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config_file import check_keys, read_toml
from .energy import BUILTIN_TABLES, EnergyTable, load_energy_table
from .errors import ConfigError
from .parts import Part, get_part


@dataclass(frozen=True)
class Hardware:
    """One accelerator configuration.  Units are in the comment beside each field."""

    part: str = "xczu3eg"               # target FPGA part (see parts.PARTS); its budget is checked
    n_dsp: int = 64                     # DSP slices given to the MAC array (count)
    dsp_a_bits: int | None = None       # multiplier port A width, bits (None: the part's, 27 on DSP48E2)
    dsp_b_bits: int | None = None       # multiplier port B width, bits (None: the part's, 18)
    pack_int8: bool = False             # pack two <=8-bit multiplies into one DSP (shared operand)
    clock_mhz: float | None = None      # clock, MHz (None: the part's default clock)
    sram_bytes: int = 512 * 1024        # tile SRAM (BRAM/URAM) that DRAM-resident inputs, weights and outputs pass through, bytes
    sram_read_ports: int = 0            # SRAM words readable per cycle (0: as many as the array needs)
    dram_read_words_per_cycle: float = 4.0    # DRAM read bandwidth, data words per cycle (fractional ok)
    dram_write_words_per_cycle: float = 2.0   # DRAM write bandwidth, data words per cycle (fractional ok)
    fifo_depth: int = 64                # output FIFO between the array and the DRAM write port, words
    pipeline_latency: int = 10          # cycles from the last issue to the result (DSP + adder tree)
    # memory policy, one entry per tensor class (see memory_policy.py; the report says which is in force and why)
    weights: str = "auto"               # MAC weights: "on_chip" (ROM in BRAM/URAM), "dram" (streamed by output-channel
                                        #   tiles through the read port), "auto" (on chip when they fit the part)
    activations: str = "auto"           # tensors between layers: "on_chip" buffers, "dram" (the producer writes them,
                                        #   the consumer reads them back), "auto" (on chip when they fit the part)
    network_input: str | None = None    # the network's input: "dram" (read over m_axi) or "on_chip" (preloaded into
                                        #   BRAM by the host); None: "on_chip" with data_in_sram, else "dram"
    data_in_sram: bool = False          # the lecture's setting in one flag: weights and network input on chip
                                        #   (every output is still written to DRAM when it is a network output)
    double_buffer: bool = True          # two buffers per DRAM tile: the next tile loads while this one computes
    skip_zero_weights: bool = False     # sparse hardware: zero weights are neither stored nor multiplied
    sparse_index_bits: int = 4          # relative index stored with each non-zero weight when skipping, bits
    weights_as_codebook: bool = False   # weights stored as codebook indices (weight sharing), decoded on chip
    energy_table: str = "45nm"          # built-in energy table name or path to a TOML table

    # ---------------------------------------------------------------- checking
    def __post_init__(self) -> None:
        part = get_part(self.part)
        object.__setattr__(self, "part", part.name)
        if self.dsp_a_bits is None:
            object.__setattr__(self, "dsp_a_bits", part.dsp_a_bits)
        if self.dsp_b_bits is None:
            object.__setattr__(self, "dsp_b_bits", part.dsp_b_bits)
        if self.clock_mhz is None:
            object.__setattr__(self, "clock_mhz", part.default_clock_mhz)
        for name in ("n_dsp", "dsp_a_bits", "dsp_b_bits", "sram_bytes"):
            v = getattr(self, name)
            if not _is_int(v) or v <= 0:
                raise ConfigError(f"hardware field {name} must be a positive integer, got {v!r}")
        for name in ("sram_read_ports", "fifo_depth", "pipeline_latency", "sparse_index_bits"):
            v = getattr(self, name)
            if not _is_int(v) or v < 0:
                raise ConfigError(f"hardware field {name} must be a non-negative integer, got {v!r}")
        for name in ("dram_read_words_per_cycle", "dram_write_words_per_cycle", "clock_mhz"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v <= 0:
                raise ConfigError(f"hardware field {name} must be a positive number, got {v!r}")
        _check_policy(self)
        for name in ("pack_int8", "data_in_sram", "double_buffer", "skip_zero_weights", "weights_as_codebook"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"hardware field {name} must be true or false, got {getattr(self, name)!r}")
        if self.n_dsp > part.dsp_slices:
            raise ConfigError(
                f"hardware n_dsp={self.n_dsp} does not fit part {part.name}, which has {part.dsp_slices} DSP slices; "
                f"set n_dsp <= {part.dsp_slices} or choose a larger part")
        if self.sram_bytes > part.onchip_bytes:
            raise ConfigError(
                f"hardware sram_bytes={self.sram_bytes} does not fit part {part.name}, which has "
                f"{part.onchip_bytes} bytes of BRAM/URAM; set sram_bytes <= {part.onchip_bytes} or choose a larger part")
        if self.sram_read_ports == 1:
            raise ConfigError("hardware sram_read_ports=1 cannot feed a multiply (it reads an input and a weight); "
                              "use 0 (matched to the array) or at least 2")
        if self.energy_table not in BUILTIN_TABLES and not Path(self.energy_table).is_file():
            raise ConfigError(f"hardware energy_table {self.energy_table!r} is neither a built-in table "
                              f"({', '.join(BUILTIN_TABLES)}) nor an existing TOML file")

    # ------------------------------------------------------------ construction
    @classmethod
    def lecture(cls) -> "Hardware":
        """The lecture's 13x13 setup: 25 DSP multipliers, one DRAM write per cycle, image and
        weights already in SRAM, every layer's output written to DRAM, zero pipeline latency, no
        FIFO beyond the write port."""
        return cls(part="xc7z020", n_dsp=25, data_in_sram=True, activations="dram", dram_write_words_per_cycle=1.0,
                   dram_read_words_per_cycle=1.0, fifo_depth=0, pipeline_latency=0,
                   sram_bytes=64 * 1024, double_buffer=False)

    @classmethod
    def from_toml(cls, path: str | Path) -> "Hardware":
        """Load from a TOML file whose top-level keys (or a [hardware] table) are field names."""
        p = Path(path)
        data = read_toml(p, "hardware file")
        if set(data) == {"hardware"} and isinstance(data["hardware"], dict):
            data = data["hardware"]
        et = data.get("energy_table")
        if isinstance(et, str) and et not in BUILTIN_TABLES and not Path(et).is_absolute():
            data = {**data, "energy_table": str((p.parent / et).resolve())}
        try:
            return cls.from_dict(data)
        except ConfigError as e:
            raise ConfigError(f"hardware file {str(p)!r}: {e}") from None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Hardware":
        """Build from a mapping of field names; unknown keys are errors that list the accepted ones."""
        check_keys(data, (f.name for f in dataclasses.fields(cls)), "hardware key")
        return cls(**data)

    def replace(self, **kw: Any) -> "Hardware":
        """A copy with some fields changed (validated again).  Changing the part also resets the
        DSP port widths and clock that were taken from the old part's defaults."""
        d = self.to_dict()
        if "part" in kw:
            old = get_part(self.part)
            for name, default in (("dsp_a_bits", old.dsp_a_bits), ("dsp_b_bits", old.dsp_b_bits),
                                  ("clock_mhz", old.default_clock_mhz)):
                if name not in kw and d[name] == default:
                    d[name] = None
        return Hardware.from_dict({**d, **kw})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    # --------------------------------------------------------------- derived
    @property
    def part_info(self) -> Part:
        return get_part(self.part)

    @property
    def energy(self) -> EnergyTable:
        return load_energy_table(self.energy_table)

    def dsps_per_multiply(self, a_bits: int, b_bits: int) -> int:
        """DSP slices one a_bits x b_bits multiply needs: operands wider than a port are split
        into port-sized pieces (the better of the two orientations), as HLS does on DSP48E2."""
        a, b = int(a_bits), int(b_bits)
        if a <= 0 or b <= 0:
            raise ConfigError(f"multiply operand widths must be positive, got {a}x{b}")
        pa, pb = self.dsp_a_bits, self.dsp_b_bits
        return min(math.ceil(a / pa) * math.ceil(b / pb), math.ceil(b / pa) * math.ceil(a / pb))

    def multipliers_per_cycle(self, a_bits: int, b_bits: int) -> int:
        """M: a_bits x b_bits multiplies the array issues per cycle (two per DSP when packing
        two <=8-bit multiplies is on).  Raises when n_dsp cannot build even one multiplier."""
        if self.pack_int8 and a_bits <= 8 and b_bits <= 8:
            return 2 * self.n_dsp
        per = self.dsps_per_multiply(a_bits, b_bits)
        m = self.n_dsp // per
        if m == 0:
            raise ConfigError(f"hardware n_dsp={self.n_dsp} cannot build one {a_bits}x{b_bits}-bit multiplier, "
                              f"which takes {per} DSPs of {self.dsp_a_bits}x{self.dsp_b_bits} bits")
        return m

    @property
    def period_ns(self) -> float:
        return 1000.0 / float(self.clock_mhz)


PLACES = ("on_chip", "dram")


def _check_policy(hw: "Hardware") -> None:
    """The memory policy fields name a place; the lecture flag cannot contradict them."""
    for name, accepted in (("weights", PLACES + ("auto",)), ("activations", PLACES + ("auto",)),
                           ("network_input", PLACES + (None,))):
        v = getattr(hw, name)
        if v not in accepted:
            raise ConfigError(f"hardware field {name} must be one of {', '.join(repr(a) for a in accepted)}, got {v!r}")
    if hw.data_in_sram is True and (hw.weights == "dram" or hw.network_input == "dram"):
        raise ConfigError("hardware data_in_sram=true puts weights and the network input on chip; it contradicts "
                          f"weights={hw.weights!r}, network_input={hw.network_input!r} (drop one of them)")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)
