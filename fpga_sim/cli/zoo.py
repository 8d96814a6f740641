"""`fpga-sim train` and `fpga-sim compress`: the bundled models (torch, imported only here).

`compress` runs the lecture's compression methods (each a cached training recipe in
`models.recipes`) and puts every compressed model beside its baseline: accuracy, parameters,
storage, and what the simulated machine says of it (fixed-point accuracy, cycles, DRAM words,
energy), with the hardware option that exploits the compression turned on.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import FpgaSimError
from . import flow, inputs
from .console import Output, fmt


@dataclass(frozen=True)
class Method:
    """A compression method: the recipe that applies it, its baseline, and how to store and run it."""

    baseline: str
    compressed: str
    scheme: str                                            # models.storage scheme of the compressed model
    hardware: dict[str, Any] = field(default_factory=dict)  # Hardware options that exploit it
    precision: str | None = None                           # None: the --precision flag
    doc: str = ""


METHODS: dict[str, Method] = {
    "prune": Method("lenet_wide", "lenet_wide_pruned", "sparse", {"skip_zero_weights": True},
                    doc="magnitude pruning with retraining (sparse storage, skip-zero hardware)"),
    "share": Method("lenet_wide", "lenet_wide_shared", "shared",
                    {"skip_zero_weights": True, "weights_as_codebook": True},
                    doc="pruning + k-means weight sharing (codebook indices on chip)"),
    "huffman": Method("lenet_wide", "lenet_wide_shared", "huffman",
                      {"skip_zero_weights": True, "weights_as_codebook": True},
                      doc="pruning + sharing + Huffman-coded storage"),
    "distill": Method("teacher", "student_kd", "dense", doc="knowledge distillation into a small student"),
    "fitnets": Method("teacher", "student_fitnets", "dense", doc="FitNets hints, then distillation"),
    "fixed": Method("lenet", "lenet_fixed", "dense", precision="ap_fixed<8,3,AP_RND,AP_SAT>",
                    doc="fixed-point training at ap_fixed<8,3> (compared at that precision)"),
}


def _models() -> Any:
    """The models package with torch loaded, or an FpgaSimError saying which extra installs it."""
    try:
        import models
        import models.recipes  # noqa: F401  (imports torch and scikit-learn)
    except ImportError as exc:
        raise FpgaSimError(f"training and compression need the models extra ({exc}); install it with "
                           "pip install -e '.[models]' (see the README for the CPU-only torch)") from None
    return models


def cmd_train(args: argparse.Namespace, out: Output) -> int:
    models = _models()

    if args.list:
        rows = [{"name": n, "doc": r.doc, "depends_on": list(r.deps)} for n, r in sorted(models.RECIPES.items())]
        if out.json_mode:
            out.json(rows)
        else:
            from rich.table import Table

            table = Table(title="bundled models (fpga-sim train NAME)", title_justify="left")
            for col in ("name", "what", "starts from"):
                table.add_column(col)
            for r in rows:
                table.add_row(r["name"], r["doc"], ", ".join(r["depends_on"]))
            out.print(table)
            out.result(f"models: {', '.join(r['name'] for r in rows)}")
        return 0
    if args.bundle is not None:
        return _bundle(args, out)
    results = []
    for name in args.names or [inputs.DEFAULT_MODEL]:
        trained = models.get_trained(name=name, cache_dir=args.cache_dir, progress=not out.quiet)
        results.append({"name": name, "accuracy": trained.accuracy, "params": trained.metadata.get("params"),
                        "nonzero_params": trained.metadata.get("nonzero_params"),
                        "onnx": str(trained.onnx_path), "checkpoint": str(trained.checkpoint)})
    if out.json_mode:
        out.json(results)
        return 0
    from rich.table import Table

    table = Table(title="trained models (digits test split)", title_justify="left")
    for col in ("model", "accuracy", "params", "non-zero", "ONNX"):
        table.add_column(col, justify="right" if col in ("accuracy", "params", "non-zero") else "left")
    for r in results:
        table.add_row(r["name"], f"{100 * r['accuracy']:.2f}%", fmt(r["params"]), fmt(r["nonzero_params"]), r["onnx"])
    out.print(table)
    for r in results:
        out.result(f"onnx: {r['onnx']}")
    return 0


def _bundle(args: argparse.Namespace, out: Output) -> int:
    """`train --bundle`: ship the trained models (and the digits split) inside the package."""
    from models.bundle import write_bundle

    from ..bundled import BUNDLED_DIR

    records = write_bundle(args.names or [inputs.DEFAULT_MODEL], dest=Path(args.bundle or BUNDLED_DIR),
                           cache_dir=args.cache_dir, progress=not out.quiet)
    if out.json_mode:
        out.json(records)
        return 0
    for r in records:
        out.result(f"shipped {r['name']} (test accuracy {100 * r['accuracy']:.2f}%, onnxruntime "
                   f"{100 * r['accuracy_onnxruntime']:.2f}%): {r['onnx']}")
    return 0


def _measure(trained: Any, scheme: str, precision: str, hw: Any, data: inputs.Dataset, out: Output,
             config: str | None) -> dict[str, Any]:
    """Storage of the torch model and the simulator's verdict on its ONNX export."""
    from models import storage

    graph = inputs.load_graph(trained.onnx_path)
    qg = flow.quantise(graph, data.calibration, precision, config)
    sim = flow.simulate_batch(qg, data.x, hw, out, label=f"simulating {trained.name}")
    overflows = flow.overflow_check(qg, sim, data.x, out, model=trained.name)
    logits = next(iter(sim.outputs.values())).reshape(len(data.x), -1)
    t = sim.totals
    return {"model": trained.name, "accuracy_float": float(trained.accuracy),
            "accuracy_fixed": float((logits.argmax(axis=1) == data.y).mean()),
            "params": int(sum(p.numel() for p in trained.model.parameters())),
            "nonzero_params": int(storage.nonzero_params(trained.model)),
            "storage_scheme": scheme, "bytes": int(storage.model_size(trained.model, scheme)["bytes"]),
            "cycles": int(t["cycles"]), "dram_words": int(t["dram_reads"] + t["dram_writes"]),
            "energy_nj": float(t["energy_total_pj"]) / 1e3, "precision": precision,
            "overflows": int(t.get("overflows", 0)), "overflow_warnings": overflows,
            "hardware": {k: v for k, v in hw.to_dict().items() if k in ("skip_zero_weights", "weights_as_codebook")}}


def cmd_compress(args: argparse.Namespace, out: Output) -> int:
    models = _models()

    names = args.method or list(METHODS)
    precision_flag, base_hw = inputs.checked_options(args)
    if not getattr(args, "hw", None) and base_hw.weights == "auto":
        # weights streamed from DRAM (as benchmarks/compression.py): on chip, compression could not
        # change the DRAM words and energy this command compares
        base_hw = base_hw.replace(weights="dram")
    data = inputs.default_data((1, 8, 8), samples=args.samples)
    rows: list[dict[str, Any]] = []
    for name in names:
        m = METHODS[name]
        precision = m.precision or precision_flag
        base = models.get_trained(name=m.baseline, cache_dir=args.cache_dir, progress=not out.quiet)
        comp = models.get_trained(name=m.compressed, cache_dir=args.cache_dir, progress=not out.quiet)
        b = _measure(base, "dense", precision, base_hw, data, out, args.config)
        c = _measure(comp, m.scheme, precision, base_hw.replace(**m.hardware) if m.hardware else base_hw, data,
                     out, args.config)
        for r, role in ((b, "baseline"), (c, "compressed")):
            r.update({"method": name, "role": role, "compression_rate": b["bytes"] / r["bytes"],
                      "energy_ratio": r["energy_nj"] / b["energy_nj"], "dram_ratio": r["dram_words"] / b["dram_words"]})
        rows += [b, c]
    if out.json_mode:
        out.json(rows)
        return 0
    from rich.table import Table

    precisions = sorted({r["precision"] for r in rows})
    table = Table(title=f"compression on the digits test split ({len(data.x)} samples), "
                        f"{' / '.join(precisions)}; size as stored, machine costs per inference", title_justify="left")
    cols = ["method", "model", "stored", "float acc", "fixed acc", "overflows"] + (
        ["precision"] if len(precisions) > 1 else []) + ["params", "non-zero", "bytes", "rate", "cycles",
                                                          "DRAM words", "energy nJ", "energy ×"]
    for col in cols:
        table.add_column(col, justify="left" if col in ("method", "model", "stored", "precision") else "right",
                         no_wrap=True)
    for r in rows:
        cells = [r["method"] if r["role"] == "baseline" else "", r["model"], r["storage_scheme"],
                 f"{100 * r['accuracy_float']:.2f}%", f"{100 * r['accuracy_fixed']:.2f}%", fmt(r["overflows"])]
        cells += [r["precision"]] if len(precisions) > 1 else []
        cells += [fmt(r["params"]), fmt(r["nonzero_params"]), fmt(r["bytes"]), f"{r['compression_rate']:.1f}x",
                  fmt(r["cycles"]), fmt(r["dram_words"]), fmt(r["energy_nj"]), f"{r['energy_ratio']:.2f}"]
        table.add_row(*cells)
        if r["role"] == "compressed":
            table.add_section()
    out.print(table)
    for r in rows:
        if r["role"] == "compressed":
            out.result(f"{r['method']}: {r['compression_rate']:.1f}x smaller, fixed-point accuracy "
                       f"{100 * r['accuracy_fixed']:.2f}%, energy x{r['energy_ratio']:.2f}")
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("train", parents=[common], help="train (or reuse the cached) bundled models and export ONNX",
                       description="Train bundled digits models (or reuse their cached checkpoints) and export them "
                                   "to ONNX; --list shows every recipe, including the compressed ones.")
    p.add_argument("names", nargs="*", metavar="NAME", help=f"model recipes (default {inputs.DEFAULT_MODEL})")
    p.add_argument("--list", action="store_true", help="list the bundled models and exit")
    p.add_argument("--bundle", nargs="?", const="", metavar="DIR",
                   help="also ship the trained models (ONNX, test accuracy, provenance, and the digits split) into "
                        "DIR, by default inside the package (fpga_sim/data/models/), so that flow needs no torch")
    p.add_argument("--cache-dir", metavar="DIR", help="checkpoint cache (default: models/ under $FPGA_SIM_CACHE, else $XDG_CACHE_HOME/fpga-sim or ~/.cache/fpga-sim)")
    p.set_defaults(run=cmd_train)

    p = sub.add_parser("compress", parents=[common], help="the lecture's compression methods, measured and simulated",
                       description="Apply pruning, weight sharing, Huffman coding, distillation and fixed-point "
                                   "training (cached recipes) and compare each compressed model with its baseline: "
                                   "accuracy, storage, and simulated cycles, DRAM words and energy with the "
                                   "hardware option that exploits the compression. Methods: "
                                   + "; ".join(f"{k}: {m.doc}" for k, m in METHODS.items()) + ".")
    p.add_argument("--method", action="append", choices=sorted(METHODS), metavar="M",
                   help=f"one of {', '.join(METHODS)} (repeatable; default: all)")
    inputs.add_model_options(p)
    p.add_argument("--samples", type=inputs.positive_int, metavar="N", help="test samples to simulate (default: all)")
    p.set_defaults(run=cmd_compress)
