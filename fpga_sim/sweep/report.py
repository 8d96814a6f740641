"""The sweep's results as files: the three PNGs and a self-contained sweep.html (images inlined,
in the flow report's style), from the same record `fpga-sim sweep --json` prints."""
from __future__ import annotations

import base64
import datetime as _dt
import os
from collections import Counter
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from .. import __version__
from ..report.numbers import fmt
from . import plots
from .pareto import COST_METRICS, SIMULATE_METRICS
from .runner import RunResult
from .spec import SweepSpec

FIGURES = {"pareto": "pareto.png", "cycles_vs_dsp": "cycles_vs_dsp.png", "energy_vs_bits": "energy_vs_bits.png"}
REPORT_NAME = "sweep.html"


def sweep_record(spec: SweepSpec, result: RunResult, front: list[dict[str, Any]], store_path: str | Path) -> dict[str, Any]:
    """One document: every point (model, precision, every hardware value, status, metrics) and how
    many this run computed and found in the store."""
    errors = Counter(r["error"] for r in result.rows if r["status"] == "error")
    return {
        "sweep": spec.path, "name": spec.name, "mode": spec.mode, "objectives": list(spec.objectives),
        "axes": {a.name: list(a.values) for a in spec.axes}, "sample": spec.sample,
        "store": str(store_path), "created_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "versions": {"fpga_sim": __version__},
        "total": len(result.points), "stored": len(result.rows), "computed": result.computed, "found": result.found,
        "missing": len(result.points) - len(result.rows), "failed_batches": result.failed,
        "errors": [{"error": e, "points": n} for e, n in errors.most_common()],
        "not_fitting": sum(1 for r in result.rows if not r["fits"]),
        "workers": result.workers, "batches": result.batches, "seconds": round(result.seconds, 3),
        "points_per_s": result.computed / result.seconds if result.seconds > 0 else None,
        "pareto": [r["key"] for r in front],
        "points": result.rows,
    }


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_figures(record: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """Draw the three figures into out_dir (each replaced whole); figure key -> path."""
    rows = record["points"]
    front_keys = set(record["pareto"])
    front = [r for r in rows if r["key"] in front_keys]
    draw = {"pareto": lambda p: plots.plot_pareto(rows, front, tuple(record["objectives"]), p),
            "cycles_vs_dsp": lambda p: plots.plot_cycles_vs_dsp(rows, p),
            "energy_vs_bits": lambda p: plots.plot_energy_vs_bits(rows, p)}
    written = {}
    for key, name in FIGURES.items():
        tmp = out_dir / f".{name}.tmp-{os.getpid()}.png"
        draw[key](tmp)
        os.replace(tmp, out_dir / name)
        written[key] = out_dir / name
    return written


def write_report(record: dict[str, Any], out_dir: str | Path) -> Path:
    """PNGs and sweep.html in out_dir; returns the HTML path and fills record["figures"], ["report"]."""
    out = Path(out_dir)
    figures = write_figures(record, out)
    images = {k: base64.b64encode(p.read_bytes()).decode("ascii") for k, p in figures.items()}
    rows = {r["key"]: r for r in record["points"]}
    front = [rows[k] for k in record["pareto"]]
    env = Environment(loader=PackageLoader("fpga_sim.sweep", "templates"), autoescape=select_autoescape(["html", "j2"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = lambda value, digits=4: fmt(value, digits)
    shown = list(dict.fromkeys(list(record["objectives"]) + ["cycles", "latency_us", "energy_total_pj"]))
    html = env.get_template("sweep.html.j2").render(
        r=record, front=front, images=images, axes=list(record["axes"]), metrics=shown,
        units={**COST_METRICS, **SIMULATE_METRICS})
    path = out / REPORT_NAME
    _write_atomic(path, html.encode("utf-8"))
    record["figures"] = {k: str(p) for k, p in figures.items()}
    record["report"] = str(path)
    return path
