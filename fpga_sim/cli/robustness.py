"""`fpga-sim robustness`: the lecture's backprop to the image, float vs fixed point.

Adversarial examples (FGSM, PGD, targeted PGD), fooling images, class models and DeepDream are
crafted on a bundled model's float torch weights (`models.robustness`) and classified by the float
model and by fixed-point models the engine runs: the model at each --precision and, when the
zoo has one (`<model>_fixed`), its fixed-point-trained twin.  Torch is imported inside the command.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import shlex
import time
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import FpgaSimError
from . import inputs
from .console import Output

DEFAULT_OUT = "fpga_sim_robustness"
DEFAULT_PRECISIONS = ("ap_fixed<16,6>", "ap_fixed<8,3,AP_RND,AP_SAT>")
CALIBRATION = 256


def _import_models() -> Any:
    try:
        import torch

        from models import robustness
    except ImportError as exc:
        raise FpgaSimError(f"fpga-sim robustness crafts images with torch, which needs the models extra ({exc}); "
                           "install it with pip install -e '.[models]'") from None
    torch.set_num_threads(1)           # the shared 2-core machine: see models.train.train
    return robustness


def eps_list(text: str) -> tuple[float, ...]:
    """argparse type: comma-separated epsilons >= 0."""
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of numbers") from None
    if not values or any(not 0 <= v <= 1 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: give epsilons between 0 and 1 (pixels lie in [0, 1]), e.g. 0,0.05,0.1")
    return values


def positive_float(text: str) -> float:
    """argparse type: a number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{value:g} is not a positive number")
    return value


def short_key(precision: str) -> str:
    """ap_fixed<8,3,AP_RND,AP_SAT> -> "8,3": the column name of a precision."""
    from ..fixed import Fixed

    t = Fixed.parse(precision)
    return f"{t.width},{t.int_bits}"


def build_evaluators(args: argparse.Namespace, rob: Any, out: Output, steps: list[dict[str, Any]],
                     ) -> tuple[Any, list, tuple]:
    """The trained model, its evaluators (float first, then the fixed-point models the engine
    runs) and the digits split at the model's image size (bundled models only)."""
    import models
    from models.data import load_digits_split

    name = args.model
    if inputs.is_onnx_path(name) or name not in models.RECIPES:
        raise FpgaSimError(f"--model {name!r}: robustness needs a bundled model, whose torch weights give the "
                           f"gradients; accepted: {', '.join(sorted(models.RECIPES))}")
    twin = f"{name}_fixed" if f"{name}_fixed" in models.RECIPES else None
    out.note(f"model {name}{f' and {twin}' if twin else ''}: training, or reusing the cached checkpoints")
    start = time.perf_counter()
    base = models.get_trained(name, cache_dir=args.cache_dir, progress=not out.quiet)
    fixed = models.get_trained(twin, cache_dir=args.cache_dir, progress=not out.quiet) if twin else None
    steps.append({"name": "train or load the models", "seconds": round(time.perf_counter() - start, 3)})
    from models.visualise import default_dream_layer, layer_module

    try:                                                     # fail before the slow work
        args.dream_layer = args.dream_layer or default_dream_layer(base.model)
        layer_module(base.model, args.dream_layer)
    except FpgaSimError as exc:
        raise FpgaSimError(f"--dream-layer: {exc}") from None
    out.done(f"model {name} (float test accuracy {100 * base.accuracy:.2f}%)", time.perf_counter() - start)
    split = load_digits_split(int(base.metadata.get("data", {}).get("size", 8)))
    x_tr = split[0][:CALIBRATION]
    evaluators = [rob.float_evaluator(base.model, name)]
    with out.step(f"quantise {name} to {', '.join(args.precision)}" + (f" and {twin}" if twin else ""), steps):
        keys = [short_key(p) for p in args.precision]
        if len(set(keys)) < len(keys):                      # e.g. <8,3> with two roundings: spell them out
            keys = list(args.precision)
        for key, p in zip(keys, args.precision):
            evaluators.append(rob.engine_evaluator(key, name, base.onnx_path, x_tr, p))
        if fixed is not None:
            p = fixed.metadata["weight_type"]
            evaluators.append(rob.engine_evaluator(f"{short_key(p)} trained", twin, fixed.onnx_path, x_tr, p,
                                                   own_model=fixed.model))
    return base, evaluators, split


def run(args: argparse.Namespace, out: Output) -> dict[str, Any]:
    """The study and its report; returns the record (images left in report.json)."""
    from ..outdir import atomic_dir, check_replaceable

    t0 = time.perf_counter()
    rob = _import_models()
    check_replaceable(args.out)
    steps: list[dict[str, Any]] = []
    base, evaluators, (_, _, x, y) = build_evaluators(args, rob, out, steps)
    if args.samples:
        x, y = x[:args.samples], y[:args.samples]
    cfg = rob.StudyConfig(**({"eps": args.eps} if args.eps else {}), pgd_steps=args.pgd_steps,
                          pgd_step_size=args.pgd_step_size, dream_layer=args.dream_layer, seed=args.seed)
    rec = rob.run_study(base.model, evaluators, x, y, cfg, step=lambda d: out.step(d, steps))
    rec.update({"title": f"fpga-sim robustness: {args.model}, float vs fixed point",
                "created_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
                "versions": {"fpga_sim": __version__},
                "command": "fpga-sim " + shlex.join(str(a) for a in getattr(args, "argv", ["robustness"])),
                "model": {"name": args.model, "onnx": str(Path(base.onnx_path).resolve()),
                          "accuracy_trained": base.accuracy},
                "data": "the digits test split", "steps": steps})
    final = Path(args.out).resolve()
    with atomic_dir(final) as tmp:
        rec["wall_seconds"] = round(time.perf_counter() - t0, 2)
        with out.step("write the report", steps):
            from ..report.robustness import write_robustness_report

            write_robustness_report(rec, tmp)
    rec["report"] = str(final / "robustness.html")
    return rec


def summary(rec: dict[str, Any]) -> dict[str, Any]:
    """The record without its images (what --json prints)."""
    drop = {"images"}
    return {k: ({kk: vv for kk, vv in v.items() if kk not in drop} if isinstance(v, dict) else v)
            for k, v in rec.items()}


def print_tables(rec: dict[str, Any], out: Output) -> None:
    from rich.table import Table

    keys = [e["key"] for e in rec["evaluators"]]
    own = [e["key"] for e in rec["evaluators"] if e.get("own_attacks")]
    table = Table(title=f"accuracy under attack ({rec['samples']} test samples; targeted: success rate)",
                  title_justify="left")
    for col in ["attack", "eps"] + keys + [f"{k} (own weights)" for k in own]:
        table.add_column(col, justify="left" if col == "attack" else "right", no_wrap=True)
    last = None
    for row in rec["attacks"]:
        if last is not None and row["attack"] != last:
            table.add_section()
        name = "targeted_success" if row["attack"].endswith("targeted") else "accuracy"
        table.add_row(row["attack"] if row["attack"] != last else "", f"{row['eps']:g}",
                      *[f"{100 * row[name][k]:.1f}%" for k in keys], *[f"{100 * row['own_' + name][k]:.1f}%" for k in own])
        last = row["attack"]
    out.print(table)
    fool = Table(title=f"fooling images ({len(rec['fooling']['target'])}, > {100 * rec['fooling']['threshold']:g}% "
                       "float confidence)", title_justify="left")
    for col in ("model", "classified as the fooled digit", "mean confidence", "still above threshold"):
        fool.add_column(col, justify="left" if col == "model" else "right")
    for k in keys:
        s = rec["fooling"]["summary"][k]
        fool.add_row(k, f"{100 * s['transfer']:.1f}%", f"{100 * s['mean_confidence']:.2f}%",
                     f"{100 * s['above_threshold']:.1f}%")
    out.print(fool)


def cmd_robustness(args: argparse.Namespace, out: Output) -> int:
    args.precision = list(dict.fromkeys(args.precision or DEFAULT_PRECISIONS))     # each once, in order
    for p in args.precision:
        inputs.check_precision(p)
        if p.strip().startswith("auto"):
            raise FpgaSimError(f"--precision {p!r}: give an explicit ap_fixed<W,I,...> type (auto is not accepted here)")
    rec = run(args, out)
    if out.json_mode:
        out.json(summary(rec))
    else:
        print_tables(rec, out)
        out.result(f"report: {rec['report']}")
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("robustness", parents=[common], help="adversarial examples and visualisation, float vs fixed point",
                       description="Craft adversarial examples (FGSM, PGD, targeted PGD), fooling images, class "
                                   "models and DeepDream images on a bundled model's float weights, classify them "
                                   "with the float model and bit-accurately with fixed-point models (each "
                                   "--precision, and the fixed-point-trained twin when the zoo has one), and "
                                   "write OUT/robustness.html.")
    p.add_argument("--model", default=inputs.DEFAULT_MODEL, metavar="NAME",
                   help=f"bundled model (default {inputs.DEFAULT_MODEL!r}; see `fpga-sim train --list`)")
    p.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", help=f"output directory (default {DEFAULT_OUT})")
    p.add_argument("--precision", action="append", metavar="T",
                   help=f"fixed-point type to evaluate (repeatable; default {' and '.join(DEFAULT_PRECISIONS)})")
    p.add_argument("--eps", type=eps_list, metavar="E1,E2,...", help="attack epsilons (default 0,0.01,0.02,0.05,0.1,0.15,0.2,0.3)")
    p.add_argument("--pgd-steps", type=inputs.positive_int, default=10, metavar="N", help="PGD steps (default 10)")
    p.add_argument("--pgd-step-size", type=positive_float, metavar="S",
                   help="PGD step in pixel units (default 2.5 * eps / steps)")
    p.add_argument("--dream-layer", metavar="NAME",
                   help="layer whose activations DeepDream boosts (a torch module name; default relu2, else the "
                        "model's last ReLU)")
    p.add_argument("--samples", type=inputs.positive_int, metavar="N", help="attack the first N test samples (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed of PGD's random start and the fooling images' noise")
    p.add_argument("--cache-dir", metavar="DIR", help="where bundled models' checkpoints are cached")
    p.set_defaults(run=cmd_robustness)
