"""The sweep's figures (PNG, matplotlib Agg, the flow report's colours): the Pareto front, cycles
vs n_dsp with each layer's bound, energy vs bit width.  Each takes stored rows (plain dicts)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..report.plots import _new_figure, _save
from ..results import BOUND_TEXT
from .pareto import COST_METRICS, SIMULATE_METRICS

BOUND_MARKERS = {"compute": ("o", "#4c72b0"), "bandwidth": ("^", "#c44e52"), "memory-read": ("s", "#dd8452"),
                 "balanced": ("D", "#8172b2")}
SERIES = ("#4c72b0", "#55a868", "#dd8452", "#8172b2", "#c44e52", "#937860", "#da8bc3", "#8c8c8c")


def _label(metric: str) -> str:
    return f"{metric} ({COST_METRICS.get(metric) or SIMULATE_METRICS.get(metric, '')})"


def _log_if_wide(ax: Any, values: list[float], axis: str) -> None:
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if len(v) and v.min() > 0 and v.max() / v.min() > 30:
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log")


def _ok(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r["status"] == "ok"]


def plot_pareto(rows: list[dict[str, Any]], front: list[dict[str, Any]], objectives: tuple[str, ...],
                path: Path) -> Path:
    """Every point on the first two objectives (grey; hollow when it does not fit its part), the
    front in colour (by the third objective when there is one)."""
    ok = _ok(rows)
    xo = objectives[0]
    yo = objectives[1] if len(objectives) > 1 else "energy_total_pj" if xo != "energy_total_pj" else "cycles"
    get = lambda rs, o: [float(r["metrics"].get(o, np.nan)) for r in rs]  # noqa: E731
    fig = _new_figure(7.0, 4.8)
    ax = fig.add_subplot()
    fits = [r for r in ok if r["fits"]]
    over = [r for r in ok if not r["fits"]]
    ax.scatter(get(fits, xo), get(fits, yo), s=12, color="#bbbbbb", label=f"{len(fits)} points that fit their part")
    if over:
        ax.scatter(get(over, xo), get(over, yo), s=14, facecolors="none", edgecolors="#999999",
                   label=f"{len(over)} points that do not fit their part")
    if front:
        fx, fy = get(front, xo), get(front, yo)
        if len(objectives) > 2:
            sc = ax.scatter(fx, fy, s=40, c=get(front, objectives[2]), cmap="viridis", zorder=3,
                            edgecolors="black", linewidths=0.5, label=f"Pareto front ({len(front)} points)")
            fig.colorbar(sc, ax=ax, label=objectives[2])
        else:
            ax.scatter(fx, fy, s=40, color="#c44e52", zorder=3, label=f"Pareto front ({len(front)} points)")
        if len(objectives) == 2:
            order = np.argsort(fx)
            ax.step(np.asarray(fx)[order], np.asarray(fy)[order], where="post", color="#c44e52", lw=1)
    _log_if_wide(ax, get(ok, xo), "x")
    _log_if_wide(ax, get(ok, yo), "y")
    for axis, scale in (("x", ax.get_xscale()), ("y", ax.get_yscale())):
        if scale == "linear":             # whole numbers, no "1e7" offset over the title
            ax.ticklabel_format(axis=axis, style="plain", useOffset=False)
    ax.set_xlabel(_label(xo))
    ax.set_ylabel(_label(yo))
    ax.set_title(f"Pareto front over {', '.join(objectives)}", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, path)


def dsp_slice(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The points that differ only in n_dsp (same model, precision and every other hardware value),
    the largest such group, sorted by n_dsp."""
    groups: dict[tuple[Any, ...], dict[int, dict[str, Any]]] = {}
    for r in _ok(rows):
        other = tuple(sorted((k, repr(v)) for k, v in r["hardware"].items() if k != "n_dsp"))
        groups.setdefault((r["model"], r["precision"], other), {}).setdefault(int(r["hardware"]["n_dsp"]), r)
    if not groups:
        return []
    best = max(groups.values(), key=len)      # max keeps the first of equals: the earliest in grid order
    return [best[n] for n in sorted(best)]


def plot_cycles_vs_dsp(rows: list[dict[str, Any]], path: Path) -> Path:
    """Cycles per inference against n_dsp (total, and each layer with its bound as the marker)."""
    pts = dsp_slice(rows)
    fig = _new_figure(7.0, 4.8)
    ax = fig.add_subplot()
    if pts:
        n = [r["hardware"]["n_dsp"] for r in pts]
        ax.plot(n, [r["metrics"]["cycles"] for r in pts], color="black", lw=2, marker="o", label="whole network")
        names = [name for name, _, _ in pts[0]["metrics"].get("layers", [])]
        for i, name in enumerate(names):
            series = [dict((lname, (c, b)) for lname, c, b in r["metrics"]["layers"]).get(name) for r in pts]
            cyc = [s[0] if s else np.nan for s in series]
            if not np.nansum(cyc):
                continue
            colour = SERIES[i % len(SERIES)]
            ax.plot(n, cyc, color=colour, lw=1, label=name)
            for x, s in zip(n, series):
                if s and s[0] > 0:
                    marker, edge = BOUND_MARKERS.get(s[1], ("x", "#333333"))
                    ax.scatter([x], [s[0]], marker=marker, s=30, color=colour, edgecolors=edge, linewidths=1.2, zorder=3)
        for bound, (marker, edge) in BOUND_MARKERS.items():
            if any(b == bound for r in pts for _, _, b in r["metrics"].get("layers", [])):
                ax.scatter([], [], marker=marker, color="white", edgecolors=edge, label=f"bound: {BOUND_TEXT[bound]}")
        ax.set_xscale("log", base=2)
        ax.set_xticks(n, [str(v) for v in n])
        ax.set_yscale("log")
        r0 = pts[0]
        ax.set_title(f"Cycles vs n_dsp: {r0['model']} at {r0['precision']}, other hardware fixed", fontsize=10)
    else:
        ax.text(0.5, 0.5, "no point finished", ha="center", transform=ax.transAxes)
    ax.set_xlabel("n_dsp (DSP slices)")
    ax.set_ylabel("cycles per inference")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, path)


def plot_energy_vs_bits(rows: list[dict[str, Any]], path: Path) -> Path:
    """Energy per inference against the precision's bit width: every point, and each model's minimum."""
    ok = [r for r in _ok(rows) if r.get("bits")]
    fig = _new_figure(7.0, 4.8)
    ax = fig.add_subplot()
    models = list(dict.fromkeys(r["model"] for r in ok))
    rng = np.random.default_rng(0)          # a little horizontal jitter so stacked points show
    for i, model in enumerate(models):
        mine = [r for r in ok if r["model"] == model]
        bits = np.array([r["bits"] for r in mine], dtype=float)
        energy = np.array([r["metrics"]["energy_total_pj"] for r in mine], dtype=float) / 1e3
        colour = SERIES[i % len(SERIES)]
        ax.scatter(bits + rng.uniform(-0.15, 0.15, len(bits)), energy, s=10, alpha=0.5, color=colour)
        widths = sorted(set(bits))
        ax.plot(widths, [energy[bits == w].min() for w in widths], color=colour, lw=2, marker="o",
                label=f"{model}: lowest energy")
    if not ok:
        ax.text(0.5, 0.5, "no point finished", ha="center", transform=ax.transAxes)
    _log_if_wide(ax, [r["metrics"]["energy_total_pj"] / 1e3 for r in ok], "y")
    ax.set_xlabel("bit width of the precision's default type")
    ax.set_ylabel("energy per inference, nJ")
    ax.set_title("Energy vs bit width (every hardware point)")
    ax.grid(True, which="both", alpha=0.3)
    if models:
        ax.legend(fontsize=7)
    return _save(fig, path)
