"""`fpga-sim flow`: model -> ONNX -> quantise -> simulate -> compare -> HLS -> C-sim -> report.

Each step is a function the single-purpose commands reuse; `run_flow` chains them, times them,
and writes OUT (report.html, report.json, PNGs, hls/) atomically.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..errors import CheckFailed
from . import inputs
from .console import Output, fmt, kv_table, layer_table

DEFAULT_OUT = "fpga_sim_out"
CSIM_SAMPLES = 20          # test samples the generated C++ is checked on, bit for bit
SIM_CHUNK = 64             # samples per simulate() call, so long runs show progress


# ------------------------------------------------------------------------------ steps
def quantise(graph: Any, calibration: np.ndarray, precision: str, config: str | None) -> Any:
    """The integer graph: per-tensor types from the precision (and calibration ranges), overrides from config."""
    from .. import quantize

    return quantize(graph, calibration=calibration, precision=precision, config=config)


def simulate_batch(qg: Any, x: np.ndarray, hw: Any, out: Output, label: str = "simulating") -> Any:
    """`simulate` over a batch in chunks (for the progress bar); per-inference costs come from the
    first chunk, outputs are concatenated and overflow counts summed over all chunks."""
    from .. import simulate

    chunks = [x[i:i + SIM_CHUNK] for i in range(0, len(x), SIM_CHUNK)] or [x]
    results = []
    with out.progress() as prog:
        task = prog.add_task(label, total=len(x))
        for chunk in chunks:
            results.append(simulate(qg, chunk, hardware=hw))
            prog.advance(task, len(chunk))
    first = results[0]
    if len(results) > 1:
        for key in first.outputs:
            first.outputs[key] = np.concatenate([r.outputs[key] for r in results])
        for key in first.outputs_raw:
            first.outputs_raw[key] = np.concatenate([r.outputs_raw[key] for r in results])
        for i, layer in enumerate(first.layers):
            layer.overflows = int(sum(r.layers[i].overflows for r in results))
        for key in ("overflows", "input_overflows"):
            if key in first.totals:
                first.totals[key] = int(sum(r.totals.get(key, 0) for r in results))
        first.totals["batch"] = int(len(x))
    return first


def machine_roofs(hw: Any, layers: list[dict[str, Any]]) -> dict[str, float]:
    """The roofs the report draws: the array's multiplies per cycle and the DRAM ports' words per cycle."""
    peak = max((int(layer.get("multipliers", 0)) for layer in layers), default=0) or hw.n_dsp
    return {"macs_per_cycle": peak, "dram_read_words_per_cycle": float(hw.dram_read_words_per_cycle),
            "dram_write_words_per_cycle": float(hw.dram_write_words_per_cycle), "clock_mhz": float(hw.clock_mhz)}


def comparison_record(cmp: Any, data_name: str, samples: int) -> dict[str, Any]:
    """compare()'s result as the report's plain dict (accuracy, agreement, per-layer SQNR rows)."""
    d = cmp.to_dict() if hasattr(cmp, "to_dict") else dict(cmp)
    rows = []
    for row in d.get("layers", []):
        sqnr = row.get("sqnr_db")
        rows.append({"name": row.get("name", row.get("node", "")), "tensor": row.get("tensor", ""),
                     "sqnr_db": None if sqnr is None else float(sqnr),
                     "max_abs_error": row.get("max_abs_error"),
                     "exact": row.get("max_abs_error") == 0 or (sqnr is not None and float(sqnr) == float("inf"))})
    return {"data": data_name, "samples": samples, "accuracy_float": d.get("accuracy_float"),
            "accuracy_fixed": d.get("accuracy_fixed"), "agreement": d.get("agreement"), "layers": rows}


def run_csim(hls_dir: Path, x: np.ndarray, expected: dict[str, np.ndarray], out: Output) -> dict[str, Any]:
    """Build and run the generated C++ with g++ on `x`; compare every raw output with the engine's."""
    import codegen

    start = time.perf_counter()
    got = codegen.csim(hls_dir, x)
    seconds = time.perf_counter() - start
    if not isinstance(got, dict):
        got = {next(iter(expected)): got}
    values = mismatches = 0
    first = ""
    for tensor, want in expected.items():
        have = np.asarray(got[tensor]).reshape(want.shape)
        bad = np.flatnonzero(have.ravel() != want.ravel())
        values += want.size
        mismatches += bad.size
        if bad.size and not first:
            i = int(bad[0])
            first = (f"first difference in {tensor!r} at flat index {i}: C-sim {int(have.ravel()[i])}, "
                     f"engine {int(want.ravel()[i])}")
    status = "pass" if mismatches == 0 else "fail"
    return {"status": status, "samples": int(len(x)), "values": int(values), "mismatches": int(mismatches),
            "reason": first, "seconds": round(seconds, 2)}


# ------------------------------------------------------------------------------ the flow
def run_flow(args: argparse.Namespace, out: Output) -> dict[str, Any]:
    """Every step of the flow; returns the report record (the report is written by the caller's dir)."""
    from .files import atomic_dir

    steps: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    precision = inputs.check_precision(args.precision)
    hw = inputs.load_hardware(args.hw, args.target)
    if args.config and not Path(args.config).is_file():
        raise inputs.FpgaSimError(f"--config file {args.config!r} does not exist")

    spec = args.model or inputs.DEFAULT_MODEL
    if inputs.is_onnx_path(spec):
        with out.step(f"model {spec}", steps):
            model = inputs.resolve_model(spec)
    else:  # training prints its own progress bar, so no spinner around it
        out.print(f"[bold]model[/bold] {spec}: training or reusing the cached checkpoint")
        start = time.perf_counter()
        model = inputs.resolve_model(spec, cache_dir=args.cache_dir, progress=not out.quiet)
        steps.append({"name": f"train or load {spec} and export ONNX", "seconds": round(time.perf_counter() - start, 3)})
    with out.step("import ONNX", steps):
        graph = inputs.load_graph(model.onnx_path)
    in_name = graph.inputs[0]
    shape = tuple(graph.shapes[in_name])
    with out.step("load data", steps):
        data = inputs.default_data(shape, samples=args.samples)
    with out.step(f"quantise to {precision}", steps):
        qg = quantise(graph, data.calibration, precision, args.config)
    start = time.perf_counter()
    sim = simulate_batch(qg, data.x, hw, out, label=f"simulating {len(data.x)} samples")
    steps.append({"name": f"simulate {len(data.x)} samples (cycles, energy, outputs)",
                  "seconds": round(time.perf_counter() - start, 3)})
    with out.step("compare with the float model (onnxruntime)", steps):
        cmp = compare_model(model.onnx_path, graph, qg, data, sim)
    layers = [layer.to_dict() for layer in sim.layers]
    record: dict[str, Any] = {
        "title": f"fpga-sim: {model.name} at {precision} on {hw.part}",
        "created_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "versions": {"fpga_sim": __version__},
        "model": {"name": model.name, "onnx": str(Path(model.onnx_path).resolve()),
                  "inputs": {t: list(graph.shapes[t]) for t in graph.inputs},
                  "outputs": {t: list(graph.shapes[t]) for t in graph.outputs},
                  "parameters": int(sum(np.asarray(v).size for n in graph.nodes for v in n.params.values())),
                  "accuracy_trained": model.accuracy},
        "precision": precision, "config": args.config,
        "hardware": hw.to_dict(), "roofs": machine_roofs(hw, layers), "target": hw.part_info.to_dict(),
        "simulation": {"samples": int(len(data.x)), "layers": layers, "totals": getattr(sim, "totals", {})},
        "comparison": comparison_record(cmp, data.name, len(data.x)),
        "csim": None, "hls_project": None, "steps": steps,
    }
    final_out = Path(args.out).resolve()
    with atomic_dir(final_out) as tmp:
        hls_tmp = tmp / "hls"
        with out.step(f"generate HLS C++ for {hw.part}", steps):
            import codegen

            codegen.write_hls(qg, hls_tmp, hardware=hw, target=hw.part, sim=sim)
            from .hls import CHECK_SAMPLES, _save_check

            _save_check(hls_tmp, data.x[:CHECK_SAMPLES], {t: v[:CHECK_SAMPLES] for t, v in sim.outputs_raw.items()})
        record["hls_project"] = str(final_out / "hls")
        if args.no_csim:
            record["csim"] = {"status": "skipped", "samples": 0, "values": 0, "mismatches": 0,
                              "reason": "C-simulation skipped (--no-csim).", "seconds": None}
        else:
            n = min(args.csim_samples, len(data.x))
            expected = {t: v[:n] for t, v in sim.outputs_raw.items()}
            with out.step(f"C-simulate the HLS project with g++ on {n} samples", steps):
                record["csim"] = run_csim(hls_tmp, data.x[:n], expected, out)
        record["wall_seconds"] = round(time.perf_counter() - t0, 2)
        with out.step("write the report", steps):
            from ..report import write_report

            write_report(record, tmp)
    record["report"] = str(final_out / "report.html")
    return record


def compare_model(onnx_path: Path, graph: Any, qg: Any, data: inputs.Dataset, sim: Any) -> Any:
    """Float reference (onnxruntime) against the fixed-point run: accuracy, agreement, per-layer SQNR."""
    from .. import compare

    return compare(onnx_path, qg, data.x, labels=data.y, sim=sim)


def print_summary(record: dict[str, Any], out: Output) -> None:
    from ..report import summarise

    s = summarise(record)
    out.print(layer_table(record["simulation"]["layers"]))
    rows = {"cycles per inference": s["cycles"], "latency (µs)": s["latency_us"],
            "energy per inference (nJ)": s["energy_total_pj"] / 1e3,
            "memory share of energy": f"{100 * s['memory_energy_share']:.1f}%" if s["memory_energy_share"] else None}
    cmp = record.get("comparison") or {}
    if cmp.get("accuracy_float") is not None:
        rows["accuracy float / fixed"] = f"{100 * cmp['accuracy_float']:.2f}% / {100 * cmp['accuracy_fixed']:.2f}%"
    if cmp.get("agreement") is not None:
        rows["top-1 agreement"] = f"{100 * cmp['agreement']:.2f}%"
    csim = record.get("csim") or {}
    if csim:
        rows["C-sim vs engine"] = f"{csim['status']} ({fmt(csim['values'])} values)"
    rows["HLS project"] = record.get("hls_project")
    rows["flow wall time (s)"] = record.get("wall_seconds")
    out.print(kv_table(rows, title="summary"))


def cmd_flow(args: argparse.Namespace, out: Output) -> int:
    record = run_flow(args, out)
    if out.json_mode:
        from ..report.build import json_safe

        out.json(json_safe(record))
    else:
        print_summary(record, out)
        out.result(f"report: {record['report']}")
    csim = record.get("csim") or {}
    if csim.get("status") == "fail":
        raise CheckFailed(f"the g++ C-simulation differs from the engine on {csim['mismatches']} of "
                          f"{csim['values']} output values; {csim['reason']}; the report is {record['report']}")
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("flow", parents=[common], help="the whole flow, ending in OUT/report.html",
                       description="Train (or reuse) the default digits CNN or take an ONNX file, quantise it, "
                                   "simulate cycles and energy, compare with float, generate HLS C++, check its "
                                   "g++ C-simulation against the simulator bit for bit, and write a report.")
    p.add_argument("--model", metavar="NAME|PATH.onnx",
                   help=f"bundled model name (default {inputs.DEFAULT_MODEL!r}) or an ONNX file")
    inputs.add_model_options(p)
    p.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", help=f"output directory (default {DEFAULT_OUT})")
    p.add_argument("--samples", type=int, metavar="N", help="evaluate on the first N test samples (default: all)")
    p.add_argument("--csim-samples", type=int, default=CSIM_SAMPLES, metavar="N",
                   help=f"samples the C-simulation is checked on (default {CSIM_SAMPLES})")
    p.add_argument("--no-csim", action="store_true", help="generate the HLS project but do not build it with g++")
    p.set_defaults(run=cmd_flow)
