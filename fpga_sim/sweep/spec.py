"""The sweep file (TOML): models, precisions, hardware axes, how points are drawn, what to optimise.

`load_spec(path)` reads and checks it all before any point runs: every error is a `ConfigError`
naming the key and what is accepted.  The README's "Design-space sweeps" section documents
the format; `fpga_sim/data/sweep_lenet.toml` is a commented example.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config_file import check_keys, read_toml
from ..errors import ConfigError
from ..hardware import Hardware
from ..parts import PARTS, get_part
from .pareto import metric_names

MODES = ("cost", "simulate")
SAMPLINGS = ("grid", "random", "lhs")
TOP_KEYS = ("name", "mode", "objectives", "models", "precisions", "hardware", "points")
MODEL_KEYS = ("name", "path", "input", "labels", "calibration", "data_samples")
DEFAULT_OBJECTIVES = {"cost": ("latency_us", "energy_total_pj"),
                      "simulate": ("latency_us", "energy_total_pj", "accuracy_loss")}
HARDWARE_FIELDS = tuple(f.name for f in dataclasses.fields(Hardware))
LARGEST_PART = max(PARTS.values(), key=lambda p: (p.dsp_slices, p.onchip_bytes)).name


@dataclass(frozen=True)
class ModelEntry:
    """A bundled model name or an ONNX path, with the data to simulate (None: the default data)."""

    spec: str                        # zoo name or ONNX path (absolute)
    input: str | None = None
    labels: str | None = None
    calibration: str | None = None
    data_samples: int | None = None  # first N evaluation inputs (simulate mode)

    @property
    def label(self) -> str:
        return Path(self.spec).stem if self.spec.lower().endswith(".onnx") else self.spec


@dataclass(frozen=True)
class PrecisionEntry:
    """A default type, optionally with a per-layer config file (the ones `simulate --config` takes)."""

    type: str
    config: str | None = None

    @property
    def label(self) -> str:
        return self.type if self.config is None else f"{self.type} + {Path(self.config).name}"

    @property
    def bits(self) -> int | None:
        """The default type's width (auto<W>: W), for the energy-vs-bit-width plot."""
        from ..quantization import parse_type

        return getattr(parse_type(self.type, "precision"), "width", None)


@dataclass(frozen=True)
class Axis:
    """One swept dimension: a Hardware field (or "model"/"precision") and its values in order."""

    name: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class SweepSpec:
    path: str
    name: str
    mode: str
    objectives: tuple[str, ...]
    models: tuple[ModelEntry, ...]
    precisions: tuple[PrecisionEntry, ...]
    hardware_file: str | None
    fixed: dict[str, Any]            # Hardware fields set to one value
    axes: tuple[Axis, ...]           # Hardware fields swept, in file order
    sample: str = "grid"
    samples: int | None = None
    seed: int = 0

    def base_hardware(self) -> Hardware:
        """The machine every point starts from: the hardware file on a fixed target part (without a
        file, the defaults shrunk to fit a small part, as `--target` does); the other fixed fields
        are applied with each point's axis values, so a point that does not fit is marked, not refused."""
        from ..cli.inputs import load_hardware

        return load_hardware(self.hardware_file, self.fixed.get("part"))

    def values(self, axis_values: dict[str, Any]) -> dict[str, Any]:
        """A point's Hardware fields on top of the base: the fixed ones, then its axis values."""
        return {**{k: v for k, v in self.fixed.items() if k != "part"}, **axis_values}


# ----------------------------------------------------------------------------- reading
def load_spec(path: str | Path) -> SweepSpec:
    """Read and check a sweep file (every key, every axis value) without loading any model."""
    p = Path(path)
    data = read_toml(p, "sweep file")
    where = f"sweep file {str(p)!r}"
    try:
        return _parse(data, p)
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None


def _parse(data: dict[str, Any], path: Path) -> SweepSpec:
    check_keys(data, TOP_KEYS, "top-level key")
    here = path.resolve().parent
    mode = data.get("mode", "cost")
    if mode not in MODES:
        raise ConfigError(f"mode {mode!r} is not known; accepted: {', '.join(MODES)}")
    models = tuple(_model(m, i, here) for i, m in enumerate(_nonempty_list(data, "models")))
    precisions = tuple(_precision(p, i, here) for i, p in enumerate(_nonempty_list(data, "precisions")))
    objectives = _objectives(data.get("objectives", DEFAULT_OBJECTIVES[mode]), mode)
    hw_file, fixed, axes = _hardware(data.get("hardware", {}), here)
    sample, samples, seed = _points(data.get("points", {}))
    return SweepSpec(str(path), str(data.get("name", path.stem)), mode, objectives, models, precisions,
                     hw_file, fixed, axes, sample, samples, seed)


def _nonempty_list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    if value is None:
        raise ConfigError(f"key {key!r} is missing; give a list with at least one entry")
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{key} must be a non-empty list, got {value!r}")
    return value


def _path(value: Any, key: str, here: Path, must_exist: bool = True) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{key} must be a file path string, got {value!r}")
    p = Path(value).expanduser()
    p = p if p.is_absolute() else here / p
    if must_exist and not p.is_file():
        raise ConfigError(f"{key} file {value!r} does not exist (relative paths are read from the sweep file's folder)")
    return str(p)


def _model(entry: Any, i: int, here: Path) -> ModelEntry:
    key = f"models[{i}]"
    if isinstance(entry, str):
        entry = {"path": entry} if entry.lower().endswith(".onnx") else {"name": entry}
    if not isinstance(entry, dict):
        raise ConfigError(f"{key} must be a bundled model name, an .onnx path or a table, got {entry!r}")
    check_keys(entry, MODEL_KEYS, "model key", f"{key}.")
    if ("name" in entry) == ("path" in entry):
        raise ConfigError(f"{key} needs exactly one of name (a bundled model) or path (an .onnx file)")
    spec = _path(entry["path"], f"{key}.path", here) if "path" in entry else entry["name"]
    if not isinstance(spec, str) or not spec:
        raise ConfigError(f"{key}.name must be a bundled model name such as 'lenet', got {spec!r}")
    files = {k: _path(entry[k], f"{key}.{k}", here) for k in ("input", "labels", "calibration") if k in entry}
    if ("labels" in files or "calibration" in files) and "input" not in files:
        raise ConfigError(f"{key}: labels and calibration go with input (an .npy of the data to simulate)")
    n = entry.get("data_samples")
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
        raise ConfigError(f"{key}.data_samples must be a positive integer, got {n!r}")
    return ModelEntry(spec, files.get("input"), files.get("labels"), files.get("calibration"), n)


def _precision(entry: Any, i: int, here: Path) -> PrecisionEntry:
    from ..cli.inputs import DEFAULT_PRECISION
    from ..quantization import load_config, parse_type

    key = f"precisions[{i}]"
    if isinstance(entry, str):
        entry = {"config": entry} if entry.lower().endswith(".toml") else {"type": entry}
    if not isinstance(entry, dict) or not entry or set(entry) - {"type", "config"}:
        raise ConfigError(f"{key} must be a type string such as 'ap_fixed<8,3>', a per-layer config .toml, "
                          f"or a table with type and/or config, got {entry!r}")
    ty = entry.get("type", DEFAULT_PRECISION)
    parse_type(ty, key)
    config = _path(entry["config"], f"{key}.config", here) if "config" in entry else None
    if config:
        load_config(config)
    return PrecisionEntry(ty, config)


def _objectives(value: Any, mode: str) -> tuple[str, ...]:
    known = metric_names(mode)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise ConfigError(f"objectives must be a non-empty list of metric names; accepted: {', '.join(known)}")
    for name in value:
        if name not in known:
            extra = " (accuracy needs mode = \"simulate\")" if name in metric_names("simulate") else ""
            raise ConfigError(f"objective {name!r} is not a metric of mode {mode!r}{extra}; accepted: {', '.join(known)}")
    return tuple(value)


def _points(table: Any) -> tuple[str, int | None, int]:
    if not isinstance(table, dict):
        raise ConfigError(f"points must be a table (sample, samples, seed), got {table!r}")
    check_keys(table, ("sample", "samples", "seed"), "points key", "points.")
    sample = table.get("sample", "grid" if "samples" not in table else "random")
    if sample not in SAMPLINGS:
        raise ConfigError(f"points.sample {sample!r} is not known; accepted: {', '.join(SAMPLINGS)}")
    samples = table.get("samples")
    if sample == "grid" and samples is not None:
        raise ConfigError("points.samples goes with sample = \"random\" or \"lhs\"; the grid runs every point")
    if sample != "grid" and (not isinstance(samples, int) or isinstance(samples, bool) or samples < 1):
        raise ConfigError(f"points.samples must be a positive integer with sample = {sample!r}, got {samples!r}")
    seed = table.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"points.seed must be a non-negative integer, got {seed!r}")
    return sample, samples, seed


# ---------------------------------------------------------------------------- hardware
def _hardware(table: Any, here: Path) -> tuple[str | None, dict[str, Any], tuple[Axis, ...]]:
    if not isinstance(table, dict):
        raise ConfigError(f"hardware must be a table of Hardware fields, got {table!r}")
    check_keys(table, ("file",) + HARDWARE_FIELDS, "hardware key", "hardware.")
    hw_file = _path(table["file"], "hardware.file", here) if "file" in table else None
    base = Hardware.from_toml(hw_file) if hw_file else Hardware()
    fixed: dict[str, Any] = {}
    axes: list[Axis] = []
    for name, value in table.items():
        if name == "file":
            continue
        values = axis_values(value, f"hardware.{name}")
        if name == "energy_table":
            values = tuple(v if not isinstance(v, str) or v in ("45nm",) or Path(v).is_absolute()
                           else str(here / v) for v in values)
        for v in values:
            _check_value(base, name, v)
        if isinstance(value, (list, dict)):
            axes.append(Axis(name, values))
        else:
            fixed[name] = values[0]
    return hw_file, fixed, tuple(axes)


def axis_values(value: Any, key: str) -> tuple[Any, ...]:
    """A list, a range table {start, stop, step} (stop included when reached), powers of two
    {pow2 = [lo, hi]}, or one scalar -> the axis's values."""
    if isinstance(value, list):
        if not value:
            raise ConfigError(f"{key} is an empty axis; give at least one value")
        if len(set(map(repr, value))) != len(value):
            raise ConfigError(f"{key} lists a value twice: {value!r}")
        return tuple(value)
    if not isinstance(value, dict):
        return (value,)
    if set(value) == {"pow2"}:
        return _pow2(value["pow2"], key)
    if set(value) != {"start", "stop", "step"}:
        raise ConfigError(f"{key} must be a list, {{start, stop, step}} or {{pow2 = [lo, hi]}}, got keys "
                          f"{', '.join(value) or 'none'}")
    return _range(value["start"], value["stop"], value["step"], key)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _range(start: Any, stop: Any, step: Any, key: str) -> tuple[Any, ...]:
    if not all(map(_number, (start, stop, step))):
        raise ConfigError(f"{key}: start, stop and step must be numbers, got {start!r}, {stop!r}, {step!r}")
    if step == 0:
        raise ConfigError(f"{key}: step is zero; give a step that moves from start ({start}) toward stop ({stop})")
    if (stop - start) * step < 0:
        raise ConfigError(f"{key}: step {step} has the wrong sign to go from start {start} to stop {stop}")
    n = int(math.floor((stop - start) / step + 1e-9)) + 1
    if all(isinstance(v, int) for v in (start, stop, step)):
        return tuple(start + i * step for i in range(n))
    return tuple(float(start + i * step) for i in range(n))


def _pow2(bounds: Any, key: str) -> tuple[int, ...]:
    if (not isinstance(bounds, list) or len(bounds) != 2
            or not all(isinstance(b, int) and not isinstance(b, bool) and b >= 1 for b in bounds)):
        raise ConfigError(f"{key}.pow2 must be [lo, hi], two positive integers, got {bounds!r}")
    lo, hi = bounds
    values = tuple(2 ** k for k in range(0, hi.bit_length() + 1) if lo <= 2 ** k <= hi)
    if not values:
        raise ConfigError(f"{key}.pow2 = [{lo}, {hi}] holds no power of two; give lo <= hi around one")
    return values


def _check_value(base: Hardware, name: str, value: Any) -> None:
    """Reject a value no point could use (wrong type, out of range) while leaving fit to the part
    for each point: the value is checked on the largest part."""
    if name == "part":
        get_part(value)
        return
    try:
        base.replace(**{name: value, "part": LARGEST_PART})
    except ConfigError as e:
        raise ConfigError(f"hardware.{name} value {value!r}: {e}") from None
