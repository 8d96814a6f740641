"""What a simulation reports: per layer (`LayerReport`) and for the whole network (`SimResult`)."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

# Energy breakdown keys, in the order reports show them.
ENERGY_KINDS: tuple[str, ...] = ("mult", "add", "sram_read", "sram_write", "dram_read", "dram_write")


# What limits a layer, as the machine reports it -> as people read it.
BOUND_TEXT = {"compute": "compute", "bandwidth": "DRAM write bandwidth", "balanced": "balanced",
              "memory-read": "DRAM read bandwidth", "load-then-compute": "load then compute",
              "layout": "layout", "host": "host"}


@dataclass
class LayerReport:
    """Cost of one inference of one layer on the simulated machine.

    Counts are per inference (one sample).  Words are data words of the layer's own types;
    bytes are those words at their bit widths rounded up to whole bytes per word.
    """

    name: str
    op: str
    on_accelerator: bool = True       # False: executed on the host, not costed in cycles
    outputs: int = 0                  # output values produced
    macs_per_output: int = 0          # K
    macs: int = 0                     # multiply-accumulates actually issued
    adds: int = 0                     # additions (adder tree, bias, pooling, element-wise)
    multipliers: int = 0              # M: multiplies the array can issue per cycle
    cycles: int = 0                   # total, including stalls and pipeline latency
    compute_cycles: int = 0           # cycles the array issued work
    stall_cycles: int = 0             # cycles the array waited (FIFO full, DRAM read)
    mult_utilisation: float = 0.0     # multiplier-cycles used / multiplier-cycles available
    write_utilisation: float = 0.0    # DRAM write port busy fraction
    sram_reads: int = 0               # words
    sram_writes: int = 0              # words
    dram_reads: int = 0               # words
    dram_writes: int = 0              # words
    dram_read_bytes: int = 0
    dram_write_bytes: int = 0
    energy_pj: dict[str, float] = field(default_factory=dict)   # keys from ENERGY_KINDS
    latency_us: float = 0.0
    bound: str = ""                   # a key of BOUND_TEXT
    overflows: int = 0                # values that saturated or wrapped (filled by simulate)
    notes: str = ""
    memory: dict[str, Any] = field(default_factory=dict)   # where its tensors live and the tile plan
    trace: dict[str, np.ndarray] | None = None   # optional per-cycle trace, capped in length

    @property
    def energy_total_pj(self) -> float:
        return float(sum(self.energy_pj.values()))

    def fresh(self, **changes: Any) -> "LayerReport":
        """A copy that owns its mutable dicts (energy, memory), with `changes` applied: how a
        shared, remembered report is handed out.  Shallow otherwise, several times cheaper than
        `dataclasses.replace` (a whole network's reports are copied on every simulate call)."""
        c = object.__new__(LayerReport)
        c.__dict__.update(self.__dict__)
        c.energy_pj, c.memory = dict(self.energy_pj), dict(self.memory)
        c.__dict__.update(changes)
        return c

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("trace")
        d["energy_total_pj"] = self.energy_total_pj
        return d


def to_jsonable(obj: Any) -> Any:
    """numpy scalars/arrays and dataclasses -> plain JSON types."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if hasattr(obj, "to_dict"):
        return to_jsonable(obj.to_dict())
    return obj


def dumps(obj: Any) -> str:
    return json.dumps(to_jsonable(obj), indent=2)
