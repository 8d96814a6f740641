"""The points of a sweep: the grid over (model, precision, hardware axes), or a seeded random or
Latin-hypercube sample of it, each resolved to a full `Hardware` configuration and keyed by a
hash of everything that determines its metrics (so a store can tell what is already done)."""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError, FpgaSimError
from ..hardware import Hardware
from ..parts import PARTS, get_part
from .spec import HARDWARE_FIELDS, SweepSpec

DEFAULT_MAX_POINTS = 100_000


@dataclass(frozen=True)
class Point:
    """One configuration to run: which model and precision, the hardware asked for, and what to cost on."""

    index: int                          # position in the full grid (points are run in this order)
    model: int                          # index into spec.models
    precision: int                      # index into spec.precisions
    hardware: dict[str, Any]            # the full configuration asked for (target part included)
    costed_on: dict[str, Any] | None    # Hardware fields the cost model runs on (None: invalid point)
    fits: bool                          # the target part holds n_dsp and sram_bytes
    note: str | None                    # why it does not fit, or why it is invalid
    key: str                            # hash of the full configuration


def grid_shape(spec: SweepSpec) -> tuple[int, ...]:
    return (len(spec.models), len(spec.precisions)) + tuple(len(a.values) for a in spec.axes)


def grid_size(spec: SweepSpec) -> int:
    return math.prod(grid_shape(spec))


def planned_count(spec: SweepSpec) -> int:
    """How many points the sweep asks for (before duplicates of a Latin-hypercube sample are merged)."""
    size = grid_size(spec)
    return size if spec.sample == "grid" else min(spec.samples or 0, size)


def check_size(spec: SweepSpec, max_points: int) -> None:
    """Refuse, before anything runs, a sweep with more points than max_points."""
    n, size = planned_count(spec), grid_size(spec)
    if n > max_points:
        dims = " x ".join(str(d) for d in grid_shape(spec))
        raise ConfigError(f"sweep file {spec.path!r} asks for {n:,} points (grid {dims} = {size:,}), more than "
                          f"--max-points {max_points:,}; raise --max-points, or sample the grid with "
                          "[points] sample = \"random\" or \"lhs\" and samples = N")


def sample_indices(spec: SweepSpec) -> np.ndarray:
    """Grid positions to run, ascending: all of them, a seeded random subset, or a Latin-hypercube
    sample (each axis's range cut into `samples` strata, one draw per stratum; repeats merged)."""
    shape = grid_shape(spec)
    size = math.prod(shape)
    if spec.sample == "grid" or (spec.samples or 0) >= size and spec.sample == "random":
        return np.arange(size, dtype=np.int64)
    rng = np.random.default_rng(spec.seed)
    n = int(spec.samples or 0)
    if spec.sample == "random":
        return np.sort(rng.choice(size, size=n, replace=False)).astype(np.int64)
    return np.unique(np.ravel_multi_index(latin_hypercube(shape, n, rng), shape)).astype(np.int64)


def latin_hypercube(shape: tuple[int, ...], n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """n draws of a coordinate per axis: [0, 1) cut into n strata, each stratum drawn once per axis
    (in an independent random order), mapped onto the axis's values."""
    coords = []
    for m in shape:
        strata = (rng.permutation(n) + rng.random(n)) / n
        coords.append(np.minimum((strata * m).astype(np.int64), m - 1))
    return tuple(coords)


def config_key(config: dict[str, Any]) -> str:
    """sha256 of the configuration as canonical JSON."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _fields(hw: Hardware) -> dict[str, Any]:
    """hw.to_dict() without dataclasses.asdict's deep copies (a sweep plans 100,000s of points)."""
    return {name: getattr(hw, name) for name in HARDWARE_FIELDS}


def _with(base: Hardware, values: dict[str, Any]) -> Hardware:
    """base.replace(**values), taking the short way when the part stays (replace is then exactly this)."""
    return base.replace(**values) if "part" in values else Hardware(**{**_fields(base), **values})


def resolve_hardware(base: Hardware, values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None, bool, str | None]:
    """(configuration asked for, Hardware fields to cost on, fits the part, note).

    A point whose n_dsp or sram_bytes exceeds its target part is kept: it is costed on the smallest
    part that holds it, with the target's DSP port widths and clock, and marked as not fitting.
    A point no Hardware accepts (e.g. sram_read_ports=1) gets costed_on None and the error as note.
    """
    part = get_part(values.get("part", base.part))
    problems = []
    n_dsp, sram = values.get("n_dsp", base.n_dsp), values.get("sram_bytes", base.sram_bytes)
    if isinstance(n_dsp, int) and n_dsp > part.dsp_slices:
        problems.append(f"n_dsp={n_dsp} exceeds the {part.dsp_slices} DSP slices of {part.name}")
    if isinstance(sram, int) and sram > part.onchip_bytes:
        problems.append(f"sram_bytes={sram} exceeds the {part.onchip_bytes} bytes of on-chip RAM of {part.name}")
    try:
        if not problems:
            hw = _fields(_with(base, values))
            return hw, hw, True, None
        probe = _with(base, {**values, "n_dsp": min(n_dsp, part.dsp_slices), "sram_bytes": min(sram, part.onchip_bytes)})
        asked = {**_fields(probe), "n_dsp": n_dsp, "sram_bytes": sram}
        host = next((p for p in sorted(PARTS.values(), key=lambda p: (p.dsp_slices, p.onchip_bytes))
                     if p.dsp_slices >= n_dsp and p.onchip_bytes >= sram), None)
        note = "; ".join(problems)
        if host is None:
            return asked, None, False, f"{note}, and no known part holds it"
        costed = probe.replace(part=host.name, n_dsp=n_dsp, sram_bytes=sram, dsp_a_bits=probe.dsp_a_bits,
                               dsp_b_bits=probe.dsp_b_bits, clock_mhz=probe.clock_mhz)
        costed = _fields(costed)
        return asked, costed, False, f"{note} (costed as if the part were large enough)"
    except FpgaSimError as e:
        return {**_fields(base), **values}, None, not problems, str(e)


def make_points(spec: SweepSpec, model_ids: list[dict[str, Any]], precision_ids: list[dict[str, Any]],
                base: Hardware | None = None) -> list[Point]:
    """Every point the sweep runs, in grid order.  model_ids/precision_ids identify each model
    (ONNX and data digests) and precision (type, config digest) in the key."""
    base = base or spec.base_hardware()
    shape = grid_shape(spec)
    points = []
    for index in sample_indices(spec):
        coord = np.unravel_index(int(index), shape)
        m, p = int(coord[0]), int(coord[1])
        values = spec.values({a.name: a.values[int(c)] for a, c in zip(spec.axes, coord[2:])})
        asked, costed, fits, note = resolve_hardware(base, values)
        key = config_key({"mode": spec.mode, "model": model_ids[m], "precision": precision_ids[p],
                          "hardware": asked})
        points.append(Point(int(index), m, p, asked, costed, fits, note, key))
    return points
