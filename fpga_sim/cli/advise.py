"""`fpga-sim advise`: the narrowest per-layer types that keep agreement with float, as a --config TOML.

The search is `fpga_sim.advise` (bisection per slot on the training split, then a joint check on
the test split); this command picks the data, shows progress, prints what it found against the
uniform default and writes the config that `simulate --config` and `flow --config` take.
"""
from __future__ import annotations

import argparse
import shlex
import time
from collections import Counter
from pathlib import Path
from typing import Any

from . import inputs
from .console import Output, fmt, kv_table


def _pct(v: float) -> str:
    return f"{100 * v:.2f}%"


def cmd_advise(args: argparse.Namespace, out: Output) -> int:
    from ..advise import advise

    precision = inputs.check_precision(args.precision)
    hw = inputs.load_hardware(args.hw, args.target)
    model, graph = inputs.load_model(args, out)
    shape = tuple(graph.shapes[graph.inputs[0]])
    if args.input:          # the user's data: calibrate and search on --calibration, check on --input
        x = inputs.as_batch(inputs.load_array(args.input), shape)[:args.samples]
        cal = inputs.as_batch(inputs.load_array(args.calibration, "--calibration"), shape, "--calibration") \
            if args.calibration else x
        data = inputs.Dataset(f"inputs from {args.input}", cal, x, None)
    else:
        with out.step("load data"):
            data = inputs.default_data(shape, samples=args.samples)
    start = time.perf_counter()
    with out.progress() as prog:
        task = prog.add_task("searching types", total=None)

        def tick(slot: str, i: int, n: int) -> None:
            prog.update(task, total=n, completed=i, description=f"searching {slot}")

        adv = advise(graph, data.calibration, data.calibration, data.x, target_agreement=args.target_agreement,
                     target_sqnr_db=args.target_sqnr, budget_bits=args.budget_bits, default=precision,
                     hardware=hw, progress=tick)
    out.done(f"searched {len(adv.trials)} trials on {len(data.calibration)} samples, checked on {data.name}",
             time.perf_counter() - start)
    path = Path(args.out or f"advised_{model.name}.toml")
    sv = adv.savings()
    header = (f"fpga-sim advise: narrowest types keeping top-1 agreement >= {args.target_agreement}"
              + (f" and output SQNR >= {args.target_sqnr} dB" if args.target_sqnr is not None else "")
              + f"\nmade by: fpga-sim {shlex.join(str(a) for a in getattr(args, 'argv', ['advise']))}"
              + f"\nagreement with float on {len(data.x)} samples of {data.name}: {_pct(adv.agreement)} "
                f"(uniform {precision}: {_pct(adv.agreement_default)})"
              + f"\nsaves against uniform {precision}: energy {_pct(sv['energy_pj'])}, BRAM {_pct(sv['bram36'])}, "
                f"cycles {_pct(sv['cycles'])}, DSPs {_pct(sv['dsp'])}")
    path.write_text(adv.toml(header))
    from ..report.plots import plot_widths

    figure = plot_widths(adv.types, adv.default_types, path.with_suffix(".png"))
    record: dict[str, Any] = {"model": model.name, "onnx": str(model.onnx_path), "precision": precision,
                              "data": data.name, "samples": len(data.x), "config_file": str(path),
                              "figure": str(figure), **adv.to_dict()}
    if out.json_mode:
        out.json(record)
        return 0
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"{model.name}: narrowest types (target agreement {args.target_agreement})", title_justify="left")
    for col in ("layer", "slot", f"uniform {precision}", "advised"):
        table.add_column(col, no_wrap=True)
    for layer, slots in adv.types.items():
        for slot, t in slots.items():
            table.add_row(escape(layer), slot, escape(adv.default_types[layer].get(slot, "")), escape(t))
    out.print(table)
    d, a = adv.costs["default"], adv.costs["advised"]
    rows = {"top-1 agreement (check set)": f"{_pct(adv.agreement_default)} -> {_pct(adv.agreement)}",
            "output SQNR (dB)": fmt(adv.sqnr_db),
            "bits added by the joint check": ", ".join(f"{k} +{n}" for k, n in Counter(adv.widened).items()) or "none"}
    for key, label in (("cycles", "cycles per inference"), ("energy_pj", "energy per inference (nJ)"),
                       ("dsp", "DSPs of the array"), ("bram36", "BRAM36 blocks for parameters"),
                       ("param_bits", "parameter bits")):
        scale = 1e-3 if key == "energy_pj" else 1
        rows[label] = f"{fmt(d[key] * scale)} -> {fmt(a[key] * scale)} ({_pct(sv[key])} saved)"
    out.print(kv_table(rows, title="advised vs uniform default"))
    out.result(f"agreement {_pct(adv.agreement)} (target {args.target_agreement}), energy {_pct(sv['energy_pj'])} "
               f"and BRAM {_pct(sv['bram36'])} saved; config: {path}")
    out.result(f"figure: {figure}")
    return 0


def _fraction(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 < v <= 1.0:
        raise argparse.ArgumentTypeError(f"{v} is not in (0, 1]; e.g. 0.99 for 99%")
    return v


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("advise", parents=[common], help="narrowest per-layer types that keep agreement with float",
                       description="Search, with the bit-accurate engine, the narrowest weight, accumulator and "
                                   "result type of every layer (and the input's) that keep top-1 agreement with the "
                                   "float model at or above a target: bisection per slot on the training split (or "
                                   "--calibration), then a joint check on the test split (or --input). Writes a config TOML for simulate/flow --config "
                                   "and prints the cycles, DSPs, BRAM and energy it saves against the uniform default.")
    p.add_argument("model", metavar="MODEL", nargs="?", default=inputs.DEFAULT_MODEL,
                   help=f"an .onnx file or a bundled model name (default {inputs.DEFAULT_MODEL})")
    p.add_argument("--target-agreement", type=_fraction, default=0.99, metavar="F",
                   help="top-1 agreement with float to keep, in (0, 1] (default 0.99)")
    p.add_argument("--target-sqnr", type=float, metavar="DB", help="also keep the output's SQNR at or above DB")
    p.add_argument("--budget-bits", type=inputs.positive_int, default=16, metavar="N",
                   help="widest weight, input or result type the search may give (default 16)")
    p.add_argument("--precision", default=inputs.DEFAULT_PRECISION, metavar="T",
                   help=f"the uniform default to start from and compare with (default {inputs.DEFAULT_PRECISION!r})")
    p.add_argument("--samples", type=inputs.positive_int, metavar="N", help="check on the first N test samples (default: all)")
    p.add_argument("--input", metavar="X.npy", help="check on these inputs instead of the default data (the digits "
                                                    "test split, or seeded random inputs)")
    p.add_argument("--calibration", metavar="C.npy", help="with --input: calibrate and search on these (default: --input)")
    p.add_argument("--out", metavar="FILE.toml", help="where to write the config (default advised_MODEL.toml; the "
                                                      "widths are plotted beside it, FILE.png)")
    p.add_argument("--hw", metavar="FILE", help="hardware TOML the costs are computed on (default: Hardware())")
    p.add_argument("--target", metavar="PART", help="target FPGA part (see `fpga-sim parts`)")
    p.add_argument("--cache-dir", metavar="DIR", help="where bundled models' checkpoints are cached")
    p.set_defaults(run=cmd_advise)
