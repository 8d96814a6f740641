"""Build the report: figures as PNGs, a self-contained report.html (images inlined), report.json.

The input is a plain, JSON-ready *record* of one flow run (see `write_report`), so the report can
be rebuilt from a saved `report.json` and tested without running the heavy steps.
"""
from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from ..results import BOUND_TEXT, to_jsonable
from . import plots
from .jsonsafe import json_safe
from .numbers import fmt

FIGURES = {
    "roofline": "roofline.png",
    "cycles": "cycles.png",
    "energy": "energy.png",
    "sqnr": "sqnr.png",
}


def summarise(record: dict[str, Any]) -> dict[str, Any]:
    """Headline numbers, computed from the per-layer reports so every total is their sum."""
    layers = to_jsonable(record["simulation"]["layers"])
    acc = [layer for layer in layers if layer.get("on_accelerator", True)]
    cycles = sum(layer.get("cycles", 0) for layer in acc)
    compute = sum(layer.get("compute_cycles", 0) for layer in acc)
    stall = sum(layer.get("stall_cycles", 0) for layer in acc)
    energy: dict[str, float] = {}
    for layer in layers:
        for kind, pj in layer.get("energy_pj", {}).items():
            energy[kind] = energy.get(kind, 0.0) + float(pj)
    groups = plots.energy_groups(energy)
    total_pj = sum(groups.values())
    memory_pj = groups.get("SRAM", 0.0) + groups.get("DRAM", 0.0)
    arith_pj = groups.get("multiply", 0.0) + groups.get("add", 0.0)
    clock = record.get("roofs", {}).get("clock_mhz")
    bounds: dict[str, int] = {}
    for layer in acc:
        bounds[layer.get("bound") or "?"] = bounds.get(layer.get("bound") or "?", 0) + 1
    return {
        "layers": len(layers),
        "host_layers": [layer["name"] for layer in layers if not layer.get("on_accelerator", True)],
        "cycles": cycles,
        "compute_cycles": compute,
        "stall_cycles": stall,
        "latency_us": cycles / clock if clock else None,
        "macs": sum(layer.get("macs", 0) for layer in layers),
        "dram_reads": sum(layer.get("dram_reads", 0) for layer in layers),
        "dram_writes": sum(layer.get("dram_writes", 0) for layer in layers),
        "sram_reads": sum(layer.get("sram_reads", 0) for layer in layers),
        "overflows": sum(layer.get("overflows", 0) for layer in layers),
        "energy_pj": energy,
        "energy_groups_pj": groups,
        "energy_total_pj": total_pj,
        "memory_energy_share": memory_pj / total_pj if total_pj else None,
        "dram_energy_share": groups.get("DRAM", 0.0) / total_pj if total_pj else None,
        "memory_to_arithmetic": memory_pj / arith_pj if arith_pj else None,
        "bounds": bounds,
    }


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("fpga_sim.report", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = lambda value, digits=3: fmt(value, digits)
    env.filters["pct"] = _pct
    env.filters["bound"] = lambda key: BOUND_TEXT.get(key, key)
    return env


def write_figures(record: dict[str, Any], out_dir: Path) -> dict[str, str]:
    """Draw every figure the record has data for; returns figure key -> file name."""
    layers = record["simulation"]["layers"]
    written = {}
    if record.get("roofs") and plots.roofline_points(layers, record["roofs"]):
        plots.plot_roofline(layers, record["roofs"], out_dir / FIGURES["roofline"])
        written["roofline"] = FIGURES["roofline"]
    plots.plot_cycles([layer for layer in layers if layer.get("on_accelerator", True)], out_dir / FIGURES["cycles"])
    written["cycles"] = FIGURES["cycles"]
    plots.plot_energy(layers, out_dir / FIGURES["energy"])
    written["energy"] = FIGURES["energy"]
    comparison = record.get("comparison")
    if comparison and comparison.get("layers"):
        plots.plot_sqnr(comparison["layers"], out_dir / FIGURES["sqnr"])
        written["sqnr"] = FIGURES["sqnr"]
    return written


def write_report(record: dict[str, Any], out_dir: str | Path) -> Path:
    """Write the PNGs, report.json and a self-contained report.html into `out_dir`; return the HTML path.

    `record` keys: "title", "model" (name, onnx, inputs, outputs, parameters), "precision",
    "hardware" (Hardware.to_dict()), "roofs" (macs_per_cycle, dram_read_words_per_cycle,
    dram_write_words_per_cycle, clock_mhz), "target", "simulation" (layers: LayerReport dicts,
    totals), optional "comparison" (accuracy_float, accuracy_fixed, agreement, samples, layers:
    [{name, tensor, sqnr_db, max_abs_error}]), optional "csim" (status pass/fail/skipped/unavailable,
    samples, values, mismatches, reason, seconds), "hls_project", "steps" ([{name, seconds}]),
    optional "overflow_warnings" (`OverflowWarning.to_dict()` rows: a card each and a note in the
    per-layer table).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    record = to_jsonable(record)
    summary = summarise(record)
    figures = write_figures(record, out)
    images = {key: base64.b64encode((out / name).read_bytes()).decode("ascii") for key, name in figures.items()}
    optional = {"comparison": None, "csim": None, "float32": None, "hls_project": None, "steps": [], "config": None,
                "overflow_warnings": []}
    full = {**optional, **record, "summary": summary, "figures": figures}
    overflow_by_layer = {w["layer"]: w for w in full["overflow_warnings"]}
    (out / "report.json").write_text(json.dumps(json_safe(full), indent=2, allow_nan=False) + "\n")
    html = _environment().get_template("report.html.j2").render(
        r=full, s=summary, images=images, layers=record["simulation"]["layers"],
        comparison=full["comparison"], csim=full["csim"], overflow_by_layer=overflow_by_layer)
    path = out / "report.html"
    path.write_text(html, encoding="utf-8")
    return path
