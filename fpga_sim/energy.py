"""Energy per action (pJ): the lecture's 45 nm table, scaled to the widths a layer uses.

Energy of a layer = sum over action kinds of count x energy per action.  The table is quoted
at 32-bit operands; narrower (or wider) integer words scale as documented in the TOML file:
adds ~ bits, multiplies ~ a_bits * b_bits (bits^2 when both are equal), memory ~ bits moved.
Floating-point actions are only defined at 32 bits (the float32 comparison mode).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from .config_file import read_toml
from .errors import ConfigError

DATA_DIR = Path(__file__).resolve().parent / "data"
BUILTIN_TABLES = {"45nm": DATA_DIR / "energy_45nm.toml"}
PJ_KEYS = ("int_add", "float_add", "int_mult", "float_mult", "sram_read", "sram_write", "dram_read", "dram_write")
SCALING_KEYS = ("add", "mult", "memory")


@dataclass(frozen=True)
class EnergyTable:
    """pJ per action at `reference_bits`, and the exponents that scale them to other widths."""

    name: str
    pj: dict[str, float]
    reference_bits: int = 32
    scaling: dict[str, float] = field(default_factory=lambda: {"add": 1.0, "mult": 2.0, "memory": 1.0})
    source: str = ""

    def __post_init__(self) -> None:
        missing = [k for k in PJ_KEYS if k not in self.pj]
        if missing:
            raise ConfigError(f"energy table {self.name!r} lacks [pj] keys {', '.join(missing)}; required: {', '.join(PJ_KEYS)}")
        bad = [k for k, v in self.pj.items() if not isinstance(v, (int, float)) or v < 0]
        if bad:
            raise ConfigError(f"energy table {self.name!r}: [pj] {', '.join(bad)} must be non-negative numbers (pJ)")
        if not isinstance(self.reference_bits, int) or self.reference_bits <= 0:
            raise ConfigError(f"energy table {self.name!r}: reference_bits must be a positive integer, got {self.reference_bits!r}")
        for k in SCALING_KEYS:
            if k not in self.scaling or not isinstance(self.scaling[k], (int, float)):
                raise ConfigError(f"energy table {self.name!r}: [scaling] needs numeric {', '.join(SCALING_KEYS)}")

    # ---------------------------------------------------------------- per action
    def _ratio(self, bits: float, kind: str) -> float:
        return (float(bits) / self.reference_bits) ** self.scaling[kind]

    def int_add(self, bits: int) -> float:
        """pJ of one integer add of `bits`-wide operands."""
        return self.pj["int_add"] * self._ratio(bits, "add")

    def int_mult(self, a_bits: int, b_bits: int) -> float:
        """pJ of one a_bits x b_bits integer multiply (quadratic: scales with a_bits * b_bits)."""
        # (a*b / ref^2) ** (mult/2): equals (bits/ref)**mult when a == b
        r = (float(a_bits) * float(b_bits) / self.reference_bits ** 2) ** (self.scaling["mult"] / 2.0)
        return self.pj["int_mult"] * r

    def float_add(self) -> float:
        return self.pj["float_add"]

    def float_mult(self) -> float:
        return self.pj["float_mult"]

    def memory(self, kind: str, bits: int) -> float:
        """pJ to move one `bits`-wide word: kind is sram_read, sram_write, dram_read or dram_write."""
        if kind not in ("sram_read", "sram_write", "dram_read", "dram_write"):
            raise ConfigError(f"unknown memory action {kind!r}; accepted: sram_read, sram_write, dram_read, dram_write")
        return self.pj[kind] * self._ratio(bits, "memory")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "reference_bits": self.reference_bits, "pj": dict(self.pj),
                "scaling": dict(self.scaling), "source": self.source}

    def rows(self) -> list[tuple[str, float]]:
        """The table as the lecture prints it: (operation at reference width, pJ)."""
        b = self.reference_bits
        names = {"int_add": f"{b} bit int ADD", "float_add": f"{b} bit float ADD",
                 "int_mult": f"{b} bit int MULT", "float_mult": f"{b} bit float MULT",
                 "sram_read": f"{b} bit SRAM read", "sram_write": f"{b} bit SRAM write (assumed = read)",
                 "dram_read": f"{b} bit DRAM read", "dram_write": f"{b} bit DRAM write (assumed = read)"}
        return [(names[k], float(self.pj[k])) for k in PJ_KEYS]


def _from_file(path: Path) -> EnergyTable:
    data = read_toml(path, "energy table file", f"; give a TOML path or one of: {', '.join(BUILTIN_TABLES)}")
    unknown = sorted(set(data) - {"meta", "pj", "scaling"})
    if unknown:
        raise ConfigError(f"energy table file {str(path)!r}: unknown section(s) {', '.join(unknown)}; accepted: meta, pj, scaling")
    meta = data.get("meta", {})
    pj = {k: float(v) if isinstance(v, (int, float)) else v for k, v in data.get("pj", {}).items()}
    unknown_pj = sorted(set(pj) - set(PJ_KEYS))
    if unknown_pj:
        raise ConfigError(f"energy table file {str(path)!r}: unknown [pj] key(s) {', '.join(unknown_pj)}; accepted: {', '.join(PJ_KEYS)}")
    scaling = {"add": 1.0, "mult": 2.0, "memory": 1.0}
    scaling.update(data.get("scaling", {}))
    return EnergyTable(name=str(meta.get("name", path.stem)), pj=pj,
                       reference_bits=int(meta.get("reference_bits", 32)), scaling=scaling,
                       source=str(meta.get("source", str(path))))


@lru_cache(maxsize=32)
def _cached(resolved: str) -> EnergyTable:
    return _from_file(Path(resolved))


def load_energy_table(name_or_path: str | Path = "45nm") -> EnergyTable:
    """A built-in table by name ("45nm") or a user's TOML file with [meta], [pj], [scaling]."""
    key = str(name_or_path)
    if key in BUILTIN_TABLES:       # already absolute: no file-system walk on every layer's cost
        return _cached(str(BUILTIN_TABLES[key]))
    return _cached(str(Path(key).resolve()))
