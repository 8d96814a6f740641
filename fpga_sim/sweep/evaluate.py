"""What a worker does with a batch of points: cost (or simulate) each, return one row per point.

A model is imported and quantised once per (model, precision) in each worker process (the
cache below outlives tasks), and in simulate mode its accuracy, top-1 agreement and overflow
counts are computed once too: the integer kernels do not see the hardware, so every point of a
(model, precision) shares them; only the cost model runs per point.  Numba kernels compile once
per process (and are cached on disk), never per point.
"""
from __future__ import annotations

import os
import platform
import sys
import time
from dataclasses import dataclass
from typing import Any

from ..errors import FpgaSimError
from .points import Point
from .sources import ModelInput
from .spec import PrecisionEntry

CRASH_ENV = "FPGA_SIM_SWEEP_TEST_CRASH"   # tests: "KEY_PREFIX@MARKER" makes the worker die once on that point


@dataclass
class Prepared:
    qg: Any
    data_metrics: dict[str, Any]
    seconds: float


_GRAPHS: dict[str, Any] = {}
_PREPARED: dict[tuple[str, str, str | None, str], Prepared] = {}
_VERSIONS: dict[str, str] = {}


def versions() -> dict[str, str]:
    """fpga-sim's and its main packages' versions in this process (stored with every point)."""
    if not _VERSIONS:
        import numba
        import numpy
        import onnx

        from .. import __version__

        _VERSIONS.update({"fpga_sim": __version__, "python": platform.python_version(), "numpy": numpy.__version__,
                          "numba": numba.__version__, "onnx": onnx.__version__})
    return dict(_VERSIONS)


def prepare(model: ModelInput, precision: PrecisionEntry, mode: str) -> Prepared:
    """The quantised graph (and, in simulate mode, the data metrics) of one (model, precision), cached."""
    key = (model.digest, precision.type, precision.config, mode)
    if key in _PREPARED:
        return _PREPARED[key]
    from ..onnx_import import load_onnx
    from ..quantization import quantize

    start = time.perf_counter()
    if model.digest not in _GRAPHS:
        _GRAPHS[model.digest] = load_onnx(model.onnx_path)
    qg = quantize(_GRAPHS[model.digest], calibration=model.calibration, precision=precision.type,
                  config=precision.config)
    data = _data_metrics(model, qg) if mode == "simulate" else {}
    _PREPARED[key] = Prepared(qg, data, time.perf_counter() - start)
    return _PREPARED[key]


def _data_metrics(model: ModelInput, qg: Any) -> dict[str, Any]:
    """Accuracy, agreement with float (onnxruntime) and overflow counts over the model's data."""
    from ..comparison import compare

    cmp = compare(model.onnx_path, qg, model.x, labels=model.y)
    metrics = {"accuracy_fixed": cmp.accuracy_fixed, "accuracy_float": cmp.accuracy_float,
               "agreement": cmp.top1_agreement, "overflows": int(cmp.sim.totals.get("overflows", 0)),
               "data_samples": int(len(model.x))}
    if cmp.accuracy_float is not None:
        metrics["accuracy_loss"] = cmp.accuracy_float - cmp.accuracy_fixed
    elif cmp.top1_agreement is not None:
        metrics["accuracy_loss"] = 1.0 - cmp.top1_agreement
    versions()
    import onnxruntime

    _VERSIONS["onnxruntime"] = onnxruntime.__version__
    return metrics


def cost_metrics(totals: dict[str, Any], layers: list[Any], hardware: dict[str, Any]) -> dict[str, Any]:
    """A point's metrics from cost_report: totals per inference and each accelerator layer's
    cycles and bound (for the cycles-vs-n_dsp plot)."""
    keys = ("cycles", "compute_cycles", "stall_cycles", "latency_us", "throughput_per_s", "energy_total_pj",
            "energy_pj", "dram_reads", "dram_writes", "sram_reads", "sram_writes", "macs", "params", "param_bits")
    m = {k: totals[k] for k in keys if k in totals}
    m["dram_words"] = int(totals["dram_reads"]) + int(totals["dram_writes"])
    acc = [r for r in layers if r.on_accelerator]
    m["multipliers"] = max((int(r.multipliers) for r in acc), default=0)
    m["n_dsp"] = int(hardware["n_dsp"])
    m["sram_bytes"] = int(hardware["sram_bytes"])
    m["layers"] = [[r.name, int(r.cycles), r.bound] for r in acc]
    return m


def _worker_name() -> str:
    distributed = sys.modules.get("distributed")
    if distributed is not None:
        try:
            return str(distributed.get_worker().address)
        except ValueError:        # not inside a Dask task
            pass
    return f"serial pid {os.getpid()}"


def _maybe_crash(key: str) -> None:
    """Test hook: kill this process (as a failing machine would) on the chosen point, once."""
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return
    prefix, _, marker = spec.partition("@")
    if key.startswith(prefix) and marker and not os.path.exists(marker):
        with open(marker, "w") as f:
            f.write(f"killed pid {os.getpid()} at point {key}\n")
        os._exit(17)


def evaluate_batch(model: ModelInput, precision: PrecisionEntry, mode: str, points: list[Point]) -> list[dict[str, Any]]:
    """One row per point: configuration, status ("ok" or "error" with its sentence), metrics, timing."""
    from ..hardware import Hardware
    from ..simulation import cost_report

    prep = prepare(model, precision, mode)
    worker, vers, bits = _worker_name(), versions(), precision.bits
    rows = []
    for pt in points:
        _maybe_crash(pt.key)
        start = time.perf_counter()
        metrics: dict[str, Any] = {}
        error = pt.note if pt.costed_on is None else None
        if error is None:
            try:
                rep = cost_report(prep.qg, Hardware.from_dict(pt.costed_on))
                metrics = {**cost_metrics(rep.totals, rep.layers, pt.hardware), **prep.data_metrics}
            except FpgaSimError as e:          # an impossible configuration: stored with its sentence
                error = str(e)
        rows.append({"key": pt.key, "index": pt.index, "model": model.label, "precision": precision.label,
                     "bits": bits, "hardware": pt.hardware, "fits": pt.fits,
                     "note": pt.note if pt.costed_on is not None else None, "status": "ok" if error is None else "error",
                     "error": error, "metrics": metrics, "seconds": time.perf_counter() - start,
                     "worker": worker, "versions": vers})
    return rows
