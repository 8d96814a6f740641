"""The lecture's compression table, from real training runs on the digits test split.

`python -m benchmarks.compression [--cache-dir DIR] [--json FILE] [--no-sim]`

Rows: baseline (over-parameterised LeNet), pruned, pruned + shared, pruned + shared + Huffman,
the teacher and its student without / with distillation (KD, FitNets + KD), SqueezeNet-style
nets, and a LeNet quantised after training vs trained in fixed point.  Size is what Deep
Compression stores (models/storage.py): dense float32; sparse = 32-bit values + relative
indices; shared = codebook indices + relative indices + codebook; Huffman-coded streams.
Compression rate = baseline bytes / row bytes.  Each ONNX file then runs through fpga_sim
(bit-accurate, on the test split) with the hardware option its compression needs turned on,
giving simulated top-1, cycles, DRAM words and energy per inference.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fpga_sim.cli.inputs import DEFAULT_PRECISION

BASELINE = "lenet_wide"
FIXED_TYPE = "ap_fixed<8,3,AP_RND,AP_SAT>"
FIXED_OUT_TYPE = "ap_fixed<16,6,AP_RND,AP_SAT>"


@dataclass(frozen=True)
class Row:
    label: str
    recipe: str
    scheme: str = "dense"          # storage scheme (models.storage)
    value_bits: int = 32           # bits per stored value for dense/sparse
    hw: tuple[str, ...] = ()       # Hardware options turned on
    precision: str = DEFAULT_PRECISION    # simulator precision: the CLI's default
    note: str = ""


ROWS: tuple[Row, ...] = (
    Row("baseline (LeNet, wide)", BASELINE),
    Row("pruned", "lenet_wide_pruned", "sparse", hw=("skip_zero_weights",)),
    Row("pruned + shared", "lenet_wide_shared", "shared", hw=("skip_zero_weights", "weights_as_codebook")),
    Row("pruned + shared + Huffman", "lenet_wide_shared", "huffman", hw=("skip_zero_weights", "weights_as_codebook"),
        note="hardware reads codebook indices; Huffman is a storage format only"),
    Row("teacher", "teacher"),
    Row("student, no teacher", "student"),
    Row("student, distilled (KD)", "student_kd"),
    Row("student, FitNets hints + KD", "student_fitnets"),
    Row("SqueezeNet-style", "squeezenet"),
    Row("SqueezeNet-style + simple bypass", "squeezenet_bypass"),
    Row("LeNet float, quantised after training", "lenet", "dense", 8, precision=FIXED_TYPE),
    Row("LeNet fixed-point trained", "lenet_fixed", "dense", 8, precision=FIXED_TYPE),
)


def _simulate(onnx_path: Path, row: Row, calib: np.ndarray, x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    import fpga_sim
    from fpga_sim import Hardware

    g = fpga_sim.load_onnx(onnx_path)
    config = None
    if row.precision != DEFAULT_PRECISION:
        last = [n for n in g.nodes if g.outputs[0] in n.outputs][0].name
        config = {"LayerName": {last: {"Precision": {"result": FIXED_OUT_TYPE}}}}
    qg = fpga_sim.quantize(g, calibration=calib, precision=row.precision, config=config)
    # weights streamed from DRAM, so what compression stores shows in the traffic (on chip it would not)
    r = fpga_sim.simulate(qg, x, hardware=Hardware(weights="dram", **{opt: True for opt in row.hw}))
    t = r.totals
    return {"sim_top1": float((r.outputs[g.outputs[0]].argmax(1) == y).mean()), "cycles": t["cycles"],
            "macs": t["macs"], "dram_words": t["dram_reads"] + t["dram_writes"],
            "dram_bytes": t["dram_read_bytes"] + t["dram_write_bytes"],
            "energy_uj": t["energy_total_pj"] / 1e6, "sim_precision": row.precision}


def run(cache_dir: str | Path | None = None, progress: bool = True, simulate: bool = True) -> dict[str, Any]:
    """Train (or load) every row's model, size it, simulate it; return the table as plain data."""
    from models import get_trained
    from models.data import load_digits_split
    from models.storage import model_size, nonzero_params

    x_tr, _, x_te, y_te = load_digits_split()
    base = get_trained(BASELINE, cache_dir, progress)
    base_bytes = model_size(base.model, "dense")["bytes"]
    rows: list[dict[str, Any]] = []
    for row in ROWS:
        tm = get_trained(row.recipe, cache_dir, progress)
        size = model_size(tm.model, row.scheme, value_bits=row.value_bits, bias_bits=row.value_bits)
        acc = tm.accuracy
        if row.recipe == "lenet_fixed" or (row.recipe == "lenet" and row.precision != DEFAULT_PRECISION):
            key = "accuracy_fixed_forward" if row.recipe == "lenet_fixed" else None
            acc = tm.metadata[key] if key else _ptq(tm.model, x_te, y_te)
        entry = {"model": row.label, "recipe": row.recipe, "top1": acc, "float_top1": tm.accuracy,
                 "params": nonzero_params(tm.model), "size_bytes": size["bytes"], "scheme": row.scheme,
                 "compression": base_bytes / size["bytes"], "hardware": list(row.hw), "note": row.note,
                 "onnx": str(tm.onnx_path), "layers": size["layers"]}
        if simulate:
            entry.update(_simulate(tm.onnx_path, row, x_tr, x_te, y_te))   # calibrated as the CLI is
        rows.append(entry)
    by = {r["model"]: r for r in rows}
    b = by["baseline (LeNet, wide)"]
    checks = {
        "pruning >= 9x": by["pruned"]["compression"] >= 9.0,
        "pruning + sharing >= 30x": by["pruned + shared"]["compression"] >= 30.0,
        "pruned loses <= 0.5 pp": b["top1"] - by["pruned"]["top1"] <= 0.005,
        "pruned + shared loses <= 0.5 pp": b["top1"] - by["pruned + shared"]["top1"] <= 0.005,
    }
    return {"baseline": BASELINE, "baseline_bytes": base_bytes, "test_samples": int(len(y_te)),
            "rows": rows, "targets": checks}


def _ptq(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    from models.fixed_train import fixed_accuracy

    return fixed_accuracy(model, x, y, FIXED_TYPE, FIXED_TYPE, FIXED_OUT_TYPE)


def print_table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    sim = "cycles" in result["rows"][0]
    t = Table(title=f"Compression on sklearn digits ({result['test_samples']} test images), "
                    f"baseline {result['baseline']} = {result['baseline_bytes']:,} bytes")
    cols = ["model", "top-1", "params", "size (B)", "compression"]
    if sim:
        cols += ["sim top-1", "cycles", "MACs", "DRAM words", "DRAM bytes", "energy (uJ)", "hardware"]
    for c in cols:
        t.add_column(c, justify="left" if c in ("model", "hardware") else "right")
    for r in result["rows"]:
        cells = [r["model"], f"{100 * r['top1']:.2f}%", f"{r['params']:,}", f"{r['size_bytes']:,}",
                 f"{r['compression']:.1f}x"]
        if sim:
            cells += [f"{100 * r['sim_top1']:.2f}%", f"{r['cycles']:,}", f"{r['macs']:,}", f"{r['dram_words']:,}",
                      f"{r['dram_bytes']:,}",
                      f"{r['energy_uj']:.2f}", ", ".join(o.replace("_weights", "").replace("weights_as_", "")
                                                        for o in r["hardware"]) or "-"]
        t.add_row(*cells)
    con = Console(width=max(Console().width, 170))
    con.print(t)
    for name, ok in result["targets"].items():
        con.print(f"  {'[green]met' if ok else '[red]missed'}[/]: {name}")


def pareto(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both axes (larger x and larger y are better)."""
    return [i for i, (x, y) in enumerate(points)
            if not any(x2 >= x and y2 >= y and (x2, y2) != (x, y) for x2, y2 in points)]


def plot_tradeoff(result: dict[str, Any], path: str | Path) -> Path:
    """Accuracy against compression rate and against simulated energy per inference, with the
    Pareto front of each (the rows no other row beats on both)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = result["rows"]
    panels = [("compression", "compression rate (x, log)", lambda r: r["compression"])]
    if "energy_uj" in rows[0]:
        panels.append(("energy", "simulated energy per inference (uJ, log; less is better)",
                       lambda r: r["energy_uj"]))
    fig = Figure(figsize=(6.5 * len(panels), 4.8), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    for k, (name, label, value) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1)
        xs = [value(r) for r in rows]
        ys = [100 * r["top1"] for r in rows]
        better = [x if name == "compression" else 1.0 / x for x in xs]
        front = sorted(pareto(list(zip(better, ys))), key=lambda i: xs[i])
        ax.scatter(xs, ys, color="#4c72b0", zorder=3)
        ax.plot([xs[i] for i in front], [ys[i] for i in front], color="#c44e52", lw=1.2, zorder=2,
                label="Pareto front")
        labels: dict[tuple[float, float], list[str]] = {}
        for r, x, y in zip(rows, xs, ys):       # rows on the same point share one label
            labels.setdefault((round(x, 6), round(y, 6)), []).append(r["model"])
        for i, ((x, y), names) in enumerate(sorted(labels.items())):     # alternate above/below
            ax.annotate("\n".join(names), (x, y), textcoords="offset points", xytext=(4, 4 if i % 2 else -4),
                        fontsize=7, va="bottom" if i % 2 else "top")
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("top-1 accuracy on the digits test split (%)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="lower left", fontsize=8)
    fig.suptitle(f"Compression against accuracy (baseline {result['baseline']}, {result['baseline_bytes']:,} bytes)")
    fig.savefig(path)
    return Path(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache-dir", default=None, help="model cache (default ~/.cache/fpga-sim/models)")
    ap.add_argument("--json", default="compression.json", help="where to write the table as JSON")
    ap.add_argument("--no-sim", action="store_true", help="skip the fpga_sim columns")
    ap.add_argument("--plot", default="compression.png", help="where to draw accuracy against compression and energy")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    a = ap.parse_args(argv)
    result = run(a.cache_dir, progress=not a.quiet, simulate=not a.no_sim)
    Path(a.json).write_text(json.dumps(result, indent=2))
    print_table(result)
    print(f"plot: {plot_tradeoff(result, a.plot)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
