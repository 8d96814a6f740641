"""`fpga-sim simulate` and `fpga-sim compare`: one model on the simulated machine, and against float."""
from __future__ import annotations

import argparse
from typing import Any

from ..errors import FpgaSimError
from . import flow, inputs
from .console import Output, fmt, kv_table, layer_table


def _prepare(args: argparse.Namespace, out: Output, *, labels: bool) -> tuple[Any, ...]:
    """Model, graph, data (from --input/--labels or the default data), hardware and integer graph."""
    precision, hw = inputs.checked_options(args)
    model, graph = inputs.load_model(args, out)
    shape = tuple(graph.shapes[graph.inputs[0]])
    if args.input:
        x = inputs.as_batch(inputs.load_array(args.input), shape)
        if args.samples:
            x = x[:args.samples]
        y = None
        if labels and args.labels:
            y = inputs.load_array(args.labels, "--labels").astype(int).ravel()[:len(x)]
            if len(y) != len(x):
                raise FpgaSimError(f"--labels has {len(y)} labels for {len(x)} inputs")
        cal = inputs.as_batch(inputs.load_array(args.calibration, "--calibration"), shape) if args.calibration else x
        data = inputs.Dataset(f"inputs from {args.input}", cal, x, y)
    else:
        with out.step("load data"):
            data = inputs.default_data(shape, samples=args.samples if args.samples else (None if labels else 1))
    with out.step(f"quantise to {precision}"):
        qg = flow.quantise(graph, data.calibration, precision, args.config, args)
    return model, graph, data, hw, qg


def cmd_simulate(args: argparse.Namespace, out: Output) -> int:
    model, graph, data, hw, qg = _prepare(args, out, labels=False)
    sim = flow.simulate_batch(qg, data.x, hw, out, label=f"simulating {len(data.x)} samples")
    overflows = flow.overflow_check(qg, sim, data.x, out)
    layers = [layer.to_dict() for layer in sim.layers]
    if out.json_mode:
        out.json({"model": str(model.onnx_path), "precision": args.precision, "hardware": hw.to_dict(),
                  "samples": len(data.x), "simulation": sim.to_dict(), "overflow_warnings": overflows})
        return 0
    out.print(layer_table(layers, len(data.x), title=f"{model.name} at {args.precision} on {hw.part}, {hw.n_dsp} DSPs, "
                                        f"{fmt(hw.clock_mhz)} MHz (per inference)"))
    out.print(kv_table({k: v for k, v in (sim.totals or {}).items() if not isinstance(v, (dict, list))},
                       title="totals"))
    t = sim.totals
    out.result(f"{fmt(t['cycles'])} cycles, {fmt(t['latency_us'])} µs, {fmt(t['energy_total_pj'] / 1e3)} nJ per "
               f"inference; {fmt(t['overflows'])} overflows over {len(data.x)} samples")
    return 0


def cmd_compare(args: argparse.Namespace, out: Output) -> int:
    model, graph, data, hw, qg = _prepare(args, out, labels=True)
    sim = flow.simulate_batch(qg, data.x, hw, out, label=f"simulating {len(data.x)} samples", trace=True)
    overflows = flow.overflow_check(qg, sim, data.x, out)
    with out.step("float reference (onnxruntime) and comparison"):
        cmp = flow.compare_model(model.onnx_path, graph, qg, data, sim)
    rec = flow.comparison_record(cmp, data.name, len(data.x))
    if out.json_mode:
        out.json({"model": str(model.onnx_path), "precision": args.precision, **rec, "overflow_warnings": overflows})
        return 0
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"{model.name}: fixed point ({args.precision}) vs float, {rec['samples']} samples of "
                        f"{rec['data']}", title_justify="left")
    for col, just in (("layer", "left"), ("tensor", "left"), ("type", "left"), ("SQNR dB", "right"),
                      ("max abs error", "right"), ("max abs value", "right"), ("overflows", "right")):
        table.add_column(col, justify=just)
    for row in rec["layers"]:
        table.add_row(escape(row["name"]), escape(row["tensor"]), escape(row["type"]),
                      "exact" if row["exact"] else fmt(row["sqnr_db"]), fmt(row["max_abs_error"]),
                      fmt(row["max_abs_ref"]), fmt(row["overflows"]))
    out.print(table)
    summary = {"top-1 agreement": _pct(rec["agreement"])}
    if rec["accuracy_float"] is not None:
        summary["accuracy float"] = _pct(rec["accuracy_float"])
        summary["accuracy fixed"] = _pct(rec["accuracy_fixed"])
    out.print(kv_table(summary))
    out.result(", ".join(f"{k} {v}" for k, v in summary.items()))
    return 0


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.2f}%"


def _add_common(p: argparse.ArgumentParser) -> None:
    inputs.add_model_options(p)
    p.add_argument("--input", metavar="X.npy", help="inputs: one sample or a batch (N, ...) of the model's input shape "
                                                    "(default: the digits test split, or seeded random inputs)")
    p.add_argument("--calibration", metavar="C.npy", help="calibration inputs for the quantiser (default: --input)")
    p.add_argument("--samples", type=inputs.positive_int, metavar="N", help="use only the first N inputs")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("simulate", parents=[common], help="cycles, stalls, DRAM words and energy of each layer",
                       description="Quantise a model and run it on the simulated accelerator, bit-accurately and "
                                   "cycle by cycle; print per-layer cycles, bound, utilisation, DRAM words, energy "
                                   "and overflow counts.")
    p.add_argument("model", metavar="MODEL", help="an .onnx file or a bundled model name (e.g. lenet)")
    _add_common(p)
    p.set_defaults(run=cmd_simulate)

    p = sub.add_parser("compare", parents=[common], help="fixed point vs float: accuracy, agreement, per-layer SQNR",
                       description="Run the fixed-point model on the simulator and the float model on onnxruntime; "
                                   "print per-layer SQNR and max abs error, top-1 agreement and accuracy.")
    p.add_argument("model", metavar="MODEL", nargs="?", default=inputs.DEFAULT_MODEL,
                   help=f"an .onnx file or a bundled model name (default {inputs.DEFAULT_MODEL})")
    _add_common(p)
    p.add_argument("--labels", metavar="Y.npy", help="integer class labels of --input, for accuracy")
    p.set_defaults(run=cmd_compare)
