"""The report's figures, drawn with matplotlib's Agg canvas (no display, no global pyplot state).

Every function takes plain report data (the dicts of `report.json`) and writes one PNG.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..results import BOUND_TEXT

# The four energy groups the report headlines; each LayerReport energy kind belongs to one.
ENERGY_GROUPS: dict[str, tuple[str, ...]] = {
    "multiply": ("mult",),
    "add": ("add",),
    "SRAM": ("sram_read", "sram_write"),
    "DRAM": ("dram_read", "dram_write"),
}
GROUP_COLOURS = {"multiply": "#4c72b0", "add": "#55a868", "SRAM": "#dd8452", "DRAM": "#c44e52"}


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: Path) -> Path:
    path = Path(path)
    fig.savefig(path, format="png")
    return path


def energy_groups(energy_pj: dict[str, float]) -> dict[str, float]:
    """Energy kinds (mult, add, sram_read, ...) summed into multiply / add / SRAM / DRAM."""
    grouped = {g: float(sum(energy_pj.get(k, 0.0) for k in kinds)) for g, kinds in ENERGY_GROUPS.items()}
    known = {k for kinds in ENERGY_GROUPS.values() for k in kinds}
    other = float(sum(v for k, v in energy_pj.items() if k not in known))
    if other:
        grouped["other"] = other
    return grouped


def roofline_points(layers: list[dict[str, Any]], roofs: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """(intensity, attained MACs/cycle, ceiling) for every accelerator layer that multiplies and touches DRAM.

    The ceiling is the layer's own roof: its DRAM traffic split over the read and write ports,
    each at its bandwidth, i.e. min(peak, MACs / max(reads / R, writes / W)).
    """
    pts = []
    for layer in layers:
        macs, cycles = layer.get("macs", 0), layer.get("cycles", 0)
        reads, writes = layer.get("dram_reads", 0), layer.get("dram_writes", 0)
        if not layer.get("on_accelerator", True) or macs <= 0 or cycles <= 0 or reads + writes <= 0:
            continue
        ceiling = None
        if roofs:
            peak = float(roofs["macs_per_cycle"])
            times = [n / float(roofs.get(k, 0.0)) if float(roofs.get(k, 0.0)) > 0 else (math.inf if n else 0.0)
                     for n, k in ((reads, "dram_read_words_per_cycle"), (writes, "dram_write_words_per_cycle"))]
            ceiling = min(peak, macs / max(times)) if max(times) > 0 else peak
        pts.append({"name": layer["name"], "intensity": macs / (reads + writes), "perf": macs / cycles,
                    "ceiling": ceiling, "bound": layer.get("bound", "")})
    return pts


def plot_roofline(layers: list[dict[str, Any]], roofs: dict[str, float], path: Path) -> Path:
    """Each layer at (MACs per DRAM word, MACs per cycle) under the compute and DRAM roofs.

    `roofs`: "macs_per_cycle" (the multiplier array's peak), "dram_read_words_per_cycle",
    "dram_write_words_per_cycle".  Reads and writes use separate ports, so there is one DRAM roof
    per port and a dashed one for both streaming at once; a tick above each layer marks the roof
    for its own mix of reads and writes.
    """
    pts = roofline_points(layers, roofs)
    peak = float(roofs["macs_per_cycle"])
    bw_r = float(roofs.get("dram_read_words_per_cycle", 0.0))
    bw_w = float(roofs.get("dram_write_words_per_cycle", 0.0))
    ridges = [peak / b for b in (bw_r, bw_w, bw_r + bw_w) if b > 0]    # where each DRAM roof meets compute
    xs = [p["intensity"] for p in pts] + ridges or [1.0]
    lo, hi = min(xs) / 4, max(xs) * 4
    grid = np.logspace(np.log10(lo), np.log10(hi), 200)
    fig = _new_figure(7.0, 4.6)
    ax = fig.add_subplot()
    ax.axhline(peak, color="black", lw=2, label=f"compute roof: {peak:g} MACs/cycle")
    for b, name, colour, style in ((bw_w, "write port", "#c44e52", "-"), (bw_r, "read port", "#dd8452", "-"),
                                   (bw_r + bw_w, "both ports at once", "grey", "--")):
        if b > 0 and not (style == "--" and min(bw_r, bw_w) <= 0):
            ax.plot(grid, np.minimum(peak, b * grid), color=colour, ls=style, lw=1.5,
                    label=f"DRAM {name}: {b:g} words/cycle")
    colours = {"compute": "#4c72b0", "bandwidth": "#c44e52", "balanced": "#8172b2", "memory-read": "#dd8452",
               "load-then-compute": "#937860"}
    for p in pts:
        ax.scatter(p["intensity"], p["perf"], s=40, zorder=3, color=colours.get(p["bound"], "#55a868"))
        if p["ceiling"] is not None:
            ax.plot([p["intensity"]] * 2, [p["perf"], p["ceiling"]], color="#999", lw=0.8, ls=":")
            ax.scatter(p["intensity"], p["ceiling"], marker="_", s=120, color="black", zorder=3)
        ax.annotate(p["name"], (p["intensity"], p["perf"]), textcoords="offset points", xytext=(4, -10),
                    fontsize=7)
    for bound, colour in colours.items():
        if any(p["bound"] == bound for p in pts):
            ax.scatter([], [], color=colour, label=f"layer bound by {BOUND_TEXT[bound]}")
    if any(p["ceiling"] is not None for p in pts):
        ax.scatter([], [], marker="_", s=120, color="black", label="roof for the layer's own read/write mix")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_xlabel("operational intensity (MACs per DRAM word read or written)")
    ax.set_ylabel("attained MACs per cycle")
    ax.set_title("Roofline: each layer against the machine's compute and DRAM limits")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path)


def plot_cycles(layers: list[dict[str, Any]], path: Path) -> Path:
    """Cycles per layer: compute (array issuing), stall (FIFO full, waiting on DRAM reads) and the
    rest (the write port draining the last outputs, pipeline latency)."""
    names = [layer["name"] for layer in layers]
    compute = np.array([layer.get("compute_cycles", 0) for layer in layers], dtype=float)
    stall = np.array([layer.get("stall_cycles", 0) for layer in layers], dtype=float)
    total = np.array([layer.get("cycles", 0) for layer in layers], dtype=float)
    other = np.maximum(total - compute - stall, 0.0)
    fig = _new_figure(7.0, 0.8 + 0.32 * max(len(names), 3))
    ax = fig.add_subplot()
    y = np.arange(len(names))
    ax.barh(y, compute, color="#4c72b0", label="compute")
    ax.barh(y, stall, left=compute, color="#c44e52", label="stall (FIFO full / DRAM)")
    if other.any():
        ax.barh(y, other, left=compute + stall, color="#bbbbbb", label="drain + pipeline latency")
    ax.set_yticks(y, names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("cycles per inference")
    ax.set_title("Cycles per layer: compute vs stall")
    ax.legend(fontsize=7)
    ax.grid(True, axis="x", alpha=0.3)
    return _save(fig, path)


def plot_energy(layers: list[dict[str, Any]], path: Path) -> Path:
    """Energy of one inference: total per group (left) and per layer, stacked by group (right)."""
    per_layer = [energy_groups(layer.get("energy_pj", {})) for layer in layers]
    groups = [g for g in list(ENERGY_GROUPS) + ["other"] if any(e.get(g, 0.0) for e in per_layer)]
    totals = {g: sum(e.get(g, 0.0) for e in per_layer) for g in groups}
    grand = sum(totals.values()) or 1.0
    fig = _new_figure(9.0, 0.8 + 0.32 * max(len(layers), 5))
    ax_tot, ax_layer = fig.subplots(1, 2, width_ratios=[1, 2])
    y = np.arange(len(groups))
    ax_tot.barh(y, [totals[g] / 1e3 for g in groups], color=[GROUP_COLOURS.get(g, "#999") for g in groups])
    for i, g in enumerate(groups):
        ax_tot.annotate(f"{100 * totals[g] / grand:.1f}%", (totals[g] / 1e3, i), xytext=(3, -3),
                        textcoords="offset points", fontsize=8)
    ax_tot.set_yticks(y, groups)
    ax_tot.invert_yaxis()
    ax_tot.set_xlabel("nJ per inference")
    ax_tot.set_title("Energy by action")
    ax_tot.margins(x=0.3)
    yl = np.arange(len(layers))
    left = np.zeros(len(layers))
    for g in groups:
        vals = np.array([e.get(g, 0.0) for e in per_layer]) / 1e3
        ax_layer.barh(yl, vals, left=left, color=GROUP_COLOURS.get(g, "#999"), label=g)
        left += vals
    ax_layer.set_yticks(yl, [layer["name"] for layer in layers], fontsize=7)
    ax_layer.invert_yaxis()
    ax_layer.set_xlabel("nJ per inference")
    ax_layer.set_title("Energy per layer")
    ax_layer.legend(fontsize=7)
    return _save(fig, path)


def plot_sqnr(rows: list[dict[str, Any]], path: Path) -> Path:
    """Per-layer SQNR (dB) of the fixed-point tensors against the float reference."""
    names = [r["name"] for r in rows]
    vals = np.array([r["sqnr_db"] if r.get("sqnr_db") is not None else np.nan for r in rows], dtype=float)
    finite = np.where(np.isfinite(vals), vals, np.nan)
    fig = _new_figure(7.0, 0.8 + 0.32 * max(len(names), 3))
    ax = fig.add_subplot()
    y = np.arange(len(names))
    ax.barh(y, np.nan_to_num(finite, nan=0.0), color="#4c72b0")
    for i, v in enumerate(vals):
        label = "exact" if np.isposinf(v) else ("n/a" if not np.isfinite(v) else f"{v:.1f} dB")
        ax.annotate(label, (0 if not np.isfinite(v) else v, i), xytext=(3, -3), textcoords="offset points",
                    fontsize=7)
    ax.set_yticks(y, names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("SQNR (dB): higher means closer to float")
    ax.set_title("Where precision is lost: per-layer SQNR, fixed point vs float")
    ax.grid(True, axis="x", alpha=0.3)
    ax.margins(x=0.15)
    return _save(fig, path)


def plot_widths(types: dict[str, dict[str, str]], default_types: dict[str, dict[str, str]], path: Path) -> Path:
    """`fpga-sim advise`: bits of every searched slot (input, weight, accum, result per layer),
    the uniform default beside the advised type."""
    from ..fixed import Fixed

    rows = [(f"{layer} {slot}", Fixed.parse(default_types[layer][slot]).width, Fixed.parse(t).width)
            for layer, slots in types.items() for slot, t in slots.items()]
    fig = _new_figure(7.5, 0.32 * len(rows) + 1.2)
    ax = fig.add_subplot()
    y = np.arange(len(rows))
    ax.barh(y + 0.2, [r[1] for r in rows], height=0.4, color="#bbbbbb", label="uniform default")
    ax.barh(y - 0.2, [r[2] for r in rows], height=0.4, color="#4c72b0", label="advised")
    ax.set_yticks(y, [r[0] for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("bits")
    ax.set_title("type widths: uniform default vs advised", fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _save(fig, path)
