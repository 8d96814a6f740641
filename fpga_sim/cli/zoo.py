"""`fpga-sim train` and `fpga-sim compress`: the bundled models (torch, imported only here)."""
from __future__ import annotations

import argparse

from . import inputs
from .console import Output, kv_table


def cmd_train(args: argparse.Namespace, out: Output) -> int:
    import models

    trained = models.get_trained(name=args.model, cache_dir=args.cache_dir, progress=not out.quiet)
    info = {"model": args.model, "onnx": str(trained.onnx_path), "accuracy": getattr(trained, "accuracy", None)}
    if out.json_mode:
        out.json(info)
    else:
        out.print(kv_table(info, title="trained model"))
        out.result(f"onnx: {trained.onnx_path}")
    return 0


def cmd_compress(args: argparse.Namespace, out: Output) -> int:
    raise inputs.FpgaSimError("compress is not wired yet")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("train", parents=[common], help="train (or reuse the cached) bundled model and export ONNX",
                       description="Train one of the bundled digits models (or reuse its cached checkpoint) and "
                                   "export it to ONNX.")
    p.add_argument("--model", default=inputs.DEFAULT_MODEL, metavar="NAME",
                   help=f"architecture (default {inputs.DEFAULT_MODEL})")
    p.add_argument("--cache-dir", metavar="DIR", help="checkpoint cache directory")
    p.set_defaults(run=cmd_train)
    p = sub.add_parser("compress", parents=[common], help="prune / share / distil a bundled model",
                       description="Apply the lecture's compression methods to a bundled model and export ONNX.")
    p.set_defaults(run=cmd_compress)
