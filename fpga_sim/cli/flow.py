"""`fpga-sim flow`: model -> ONNX -> quantise -> simulate -> compare -> HLS -> C-sim -> report.

Each step is a function the single-purpose commands reuse; `run_flow` chains them, times them,
and writes OUT (report.html, report.json, PNGs, hls/) atomically.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import shlex
import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..errors import CheckFailed, ConfigError, FpgaSimError
from . import inputs
from .console import Output, fmt, kv_table, layer_table

DEFAULT_OUT = "fpga_sim_out"
CSIM_SAMPLES = 20          # test samples the generated C++ is checked on, bit for bit
SIM_CHUNK = 64             # samples per simulate() call, so long runs show progress


# ------------------------------------------------------------------------------ steps
def quantise(graph: Any, calibration: np.ndarray, precision: str, config: str | None,
             args: argparse.Namespace | None = None) -> Any:
    """The integer graph: per-tensor types from the precision (and calibration ranges), overrides
    from config.  A model that carries its own types (QONNX, QDQ) keeps them: an explicit
    --precision is then an error unless --override-model-types."""
    from ..errors import ConfigError
    from ..quantization import quantize

    override = bool(getattr(args, "override_model_types", False))
    if getattr(graph, "model_types", None) and not override and args is not None and inputs.precision_given(args):
        layers = sorted(graph.model_types)
        raise ConfigError(
            f"--precision {precision}: the model carries its own types (from its quantisers, on {len(layers)} "
            f"layers and inputs: {', '.join(layers[:4])}{', ...' if len(layers) > 4 else ''}); leave --precision "
            f"out to use them, or pass --override-model-types to replace them")
    try:
        return quantize(graph, calibration=calibration, precision=precision, config=config,
                        override_model_types=override)
    except ConfigError as exc:
        if config and str(exc).startswith(("Model", "LayerName", "LayerType")):   # a key path inside the file
            raise ConfigError(f"--config {config}: {exc}") from None
        raise


def simulate_batch(qg: Any, x: np.ndarray, hw: Any, out: Output, label: str = "simulating",
                   trace: bool = False) -> Any:
    """`simulate` over a batch in chunks (for the progress bar); per-inference costs come from the
    first chunk, outputs (and traced tensors) are concatenated and overflow counts summed."""
    from ..simulation import simulate

    chunks = [x[i:i + SIM_CHUNK] for i in range(0, len(x), SIM_CHUNK)] or [x]
    results = []
    start = time.perf_counter()
    with out.progress() as prog:
        task = prog.add_task(label, total=len(x))
        for chunk in chunks:
            results.append(simulate(qg, chunk, hardware=hw, trace=trace))
            prog.advance(task, len(chunk))
    out.done(label, time.perf_counter() - start)
    first = results[0]
    if len(results) > 1:
        for name in ("outputs", "outputs_raw", "tensors", "tensors_raw"):
            merged = getattr(first, name)
            for key in merged:
                merged[key] = np.concatenate([getattr(r, name)[key] for r in results])
        for i, layer in enumerate(first.layers):
            layer.overflows = int(sum(r.layers[i].overflows for r in results))
        for key in ("overflows", "input_overflows"):
            if key in first.totals:
                first.totals[key] = int(sum(r.totals.get(key, 0) for r in results))
        first.totals["batch"] = int(len(x))
    return first


def overflow_check(qg: Any, sim: Any, x: np.ndarray, out: Output, model: str = "") -> list[dict[str, Any]]:
    """Print one warning line per layer that wrapped or saturated (type, float range, a type that
    holds it: `fpga_sim.overflow_report`); return the same as plain rows for JSON and the report."""
    from ..overflow_report import overflow_warnings

    found = overflow_warnings(qg, sim, x)
    for w in found:
        out.warn((f"{model}: " if model else "") + w.line())
    return [w.to_dict() for w in found]


def machine_roofs(hw: Any, layers: list[dict[str, Any]]) -> dict[str, float]:
    """The roofs the report draws: the array's multiplies per cycle and the DRAM ports' words per cycle."""
    peak = max((int(layer.get("multipliers", 0)) for layer in layers), default=0) or hw.n_dsp
    return {"macs_per_cycle": peak, "dram_read_words_per_cycle": float(hw.dram_read_words_per_cycle),
            "dram_write_words_per_cycle": float(hw.dram_write_words_per_cycle), "clock_mhz": float(hw.clock_mhz)}


def float32_record(qg: Any, hw: Any, layers: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The MAC layers costed again on the same machine with float32 operands (32-bit words, float
    multiplies and adds): what fixed point saves.  Layers whose op has no float32 cost are left out."""
    from ..ops import get_op

    fixed = {layer["name"]: layer for layer in layers}
    rows = []
    for node in qg.nodes:
        f = fixed.get(node.name)
        if f is None or not f.get("on_accelerator", True) or not f.get("macs"):
            continue
        try:
            rep = get_op(node.op).cost_float32(node, qg, hw)
        except ConfigError:          # float32 tiles do not fit the tile SRAM the fixed-point policy sized
            continue
        if rep is None:              # this op has no float32 variant
            continue
        rows.append({"name": node.name, "op": node.op, "cycles_fixed": int(f["cycles"]), "cycles_float32": int(rep.cycles),
                     "energy_fixed_pj": float(sum(f["energy_pj"].values())),
                     "energy_float32_pj": float(rep.energy_total_pj),
                     "dram_bytes_fixed": int(f["dram_read_bytes"] + f["dram_write_bytes"]),
                     "dram_bytes_float32": int(rep.dram_read_bytes + rep.dram_write_bytes)})
    if not rows:
        return None
    tot = {k: sum(r[k] for r in rows) for k in rows[0] if k not in ("name", "op")}
    return {"layers": rows, "totals": tot,
            "energy_ratio": tot["energy_float32_pj"] / tot["energy_fixed_pj"] if tot["energy_fixed_pj"] else None,
            "cycles_ratio": tot["cycles_float32"] / tot["cycles_fixed"] if tot["cycles_fixed"] else None}


def comparison_record(cmp: Any, data_name: str, samples: int) -> dict[str, Any]:
    """compare()'s `Comparison` as the report's plain dict (accuracy, agreement, per-layer SQNR rows)."""
    rows = []
    for e in cmp.layers:
        sqnr = float(e.sqnr_db)
        rows.append({"name": e.name, "op": e.op, "tensor": e.tensor, "type": e.type, "sqnr_db": sqnr,
                     "max_abs_error": float(e.max_abs_error), "max_abs_ref": float(e.max_abs_ref),
                     "overflows": int(e.overflows), "exact": sqnr == float("inf")})
    worst = cmp.worst() if hasattr(cmp, "worst") else None
    return {"data": data_name, "samples": samples, "accuracy_float": cmp.accuracy_float,
            "accuracy_fixed": cmp.accuracy_fixed, "agreement": cmp.top1_agreement,
            "worst_layer": worst.name if worst is not None else None, "layers": rows}


def check_outputs(got: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> dict[str, Any]:
    """Every raw output value of the C-simulation against the engine's; tensors in both are checked."""
    common = [t for t in expected if t in got]
    if not common:
        raise CheckFailed(f"the C-simulation produced tensors {sorted(got)}, none of the engine's {sorted(expected)}")
    values = mismatches = 0
    first = ""
    for tensor in common:
        want = np.asarray(expected[tensor])
        have = np.asarray(got[tensor])
        if have.size != want.size:
            raise CheckFailed(f"the C-simulation gave {have.size} values of {tensor!r}, the engine {want.size}")
        have, want = have.reshape(-1), want.reshape(-1)
        bad = np.flatnonzero(have != want)
        values += want.size
        mismatches += bad.size
        if bad.size and not first:
            i = int(bad[0])
            first = f"first difference in {tensor!r} at flat index {i}: C-sim {int(have[i])}, engine {int(want[i])}"
    return {"status": "pass" if mismatches == 0 else "fail", "tensors": common, "values": int(values),
            "mismatches": int(mismatches), "reason": first}


def run_csim(hls_dir: Path, x: np.ndarray, expected: dict[str, np.ndarray], qg: Any = None) -> dict[str, Any]:
    """Build and run the generated C++ with g++ on `x`; compare every raw output with the engine's."""
    import codegen

    timings: dict[str, float] = {}
    start = time.perf_counter()
    got = codegen.csim(hls_dir, x, qg=qg, timings=timings)
    result = check_outputs(got, expected)
    result.update({"samples": int(len(x)), "seconds": round(time.perf_counter() - start, 2),
                   "timings": {k: round(float(v), 3) for k, v in timings.items()}})
    return result


def memory_policy_record(qg: Any, hw: Any) -> dict[str, Any]:
    """The memory policy in force and why (`memory_policy.resolve`)."""
    from ..memory_policy import resolve

    return resolve(qg, hw).to_dict()


def count_layers(hls_dir: Path, x: np.ndarray, expected: dict[str, np.ndarray], qg: Any) -> dict[str, Any]:
    """The counting build (-DFPGA_SIM_COUNT) on one sample: its outputs must equal the engine's
    (counting changes no bit) and its per-layer DRAM words and compute cycles the simulator's;
    both go to the project's report.json."""
    import codegen
    from codegen.csim import _apply_host, load_project, raw_inputs

    got, counts = codegen.count_csim(hls_dir, x)
    _apply_host(load_project(hls_dir), qg, raw_inputs(load_project(hls_dir), x, False), got)
    bits = check_outputs(got, {t: v[:len(x)] for t, v in expected.items()})
    result = codegen.record_counts(hls_dir, counts)
    result["outputs"] = bits["status"]
    return result


# ------------------------------------------------------------------------------ the flow
def run_flow(args: argparse.Namespace, out: Output) -> dict[str, Any]:
    """Every step of the flow; returns the report record (the report is written by the caller's dir)."""
    from ..outdir import atomic_dir, check_replaceable

    steps: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    precision, hw = inputs.checked_options(args)
    check_replaceable(args.out)

    spec = args.model or inputs.DEFAULT_MODEL
    from ..bundled import bundled_names

    if inputs.is_onnx_path(spec) or spec in bundled_names():    # a file, or one that ships: nothing to train
        with out.step(f"model {spec}", steps):
            model = inputs.resolve_model(spec)
    else:  # training prints its own progress bar, so no spinner around it
        out.note(f"model {spec}: training it, or reusing its cached checkpoint")
        start = time.perf_counter()
        model = inputs.resolve_model(spec, cache_dir=args.cache_dir, progress=not out.quiet)
        seconds = time.perf_counter() - start
        steps.append({"name": f"train or load {spec} and export ONNX", "seconds": round(seconds, 3)})
        out.done(f"model {spec} (test accuracy {100 * model.accuracy:.2f}%): {model.onnx_path}", seconds)
    with out.step("import ONNX", steps):
        graph = inputs.load_graph(model.onnx_path)
    in_name = graph.inputs[0]
    shape = tuple(graph.shapes[in_name])
    with out.step("load data", steps):
        data = inputs.default_data(shape, samples=args.samples)
    with out.step(f"quantise to {precision}", steps):
        qg = quantise(graph, data.calibration, precision, args.config, args)
    if qg.from_model:
        out.note(f"types from the model on {len(qg.from_model)} layers and inputs; {precision} types the rest")
    start = time.perf_counter()
    sim = simulate_batch(qg, data.x, hw, out, label=f"simulating {len(data.x)} samples", trace=True)
    steps.append({"name": f"simulate {len(data.x)} samples (cycles, energy, outputs)",
                  "seconds": round(time.perf_counter() - start, 3)})
    overflows = overflow_check(qg, sim, data.x, out)
    with out.step("compare with the float model (onnxruntime)", steps):
        cmp = compare_model(model.onnx_path, graph, qg, data, sim)
    layers = [layer.to_dict() for layer in sim.layers]
    record: dict[str, Any] = {
        "title": f"fpga-sim: {model.name} at {precision} on {hw.part}",
        "created_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "versions": {"fpga_sim": __version__},
        "command": "fpga-sim " + shlex.join(str(a) for a in getattr(args, "argv", ["flow"])),
        "model": {"name": model.name, "onnx": str(Path(model.onnx_path).resolve()),
                  "inputs": {t: list(graph.shapes[t]) for t in graph.inputs},
                  "outputs": {t: list(graph.shapes[t]) for t in graph.outputs},
                  "parameters": int(sum(np.asarray(v).size for n in graph.nodes for v in n.params.values())),
                  "accuracy_trained": model.accuracy},
        "precision": precision, "config": args.config,
        "model_types": model_types_record(qg),
        "hardware": hw.to_dict(), "roofs": machine_roofs(hw, layers), "target": hw.part_info.to_dict(),
        "memory_policy": memory_policy_record(qg, hw), "resources": None,
        "simulation": {"samples": int(len(data.x)), "layers": layers, "totals": getattr(sim, "totals", {})},
        "comparison": comparison_record(cmp, data.name, len(data.x)),
        "float32": float32_record(qg, hw, layers), "overflow_warnings": overflows,
        "csim": None, "hls_project": None, "steps": steps,
    }
    final_out = Path(args.out).resolve()
    with atomic_dir(final_out) as tmp:
        hls_tmp = tmp / "hls"
        try:
            with out.step(f"generate HLS C++ for {hw.part}", steps):
                import codegen

                from .hls import CHECK_SAMPLES, _save_check

                codegen.write_hls(qg, hls_tmp, hardware=hw, target=hw.part, sim=sim, x=data.x[:CHECK_SAMPLES])

                _save_check(hls_tmp, data.x, sim, CHECK_SAMPLES)
                record["resources"] = json.loads((hls_tmp / "report.json").read_text()).get("resources")
        except FpgaSimError as exc:   # e.g. an op without an HLS template: the simulation is still worth a report
            record["hls_error"] = str(exc)
        else:
            record["hls_project"] = str(final_out / "hls")
        if args.no_csim or record.get("hls_error"):
            reason = ("C-simulation skipped (--no-csim)." if args.no_csim
                      else f"No HLS project: {record['hls_error']}")
            record["csim"] = {"status": "skipped", "samples": 0, "values": 0, "mismatches": 0,
                              "reason": reason, "seconds": None}
        else:
            n = min(args.csim_samples, len(data.x))
            expected = {t: v[:n] for t, v in sim.outputs_raw.items()}
            try:
                with out.step(f"C-simulate the HLS project with g++ on {n} samples", steps):
                    record["csim"] = run_csim(hls_tmp, data.x[:n], expected, qg)
                with out.step("count DRAM words and compute cycles in a counting C-simulation", steps):
                    record["csim"]["counts"] = count_layers(hls_tmp, data.x[:1], expected, qg)
            except CheckFailed as exc:    # g++ or the testbench failed: keep the project and report it
                record["csim"] = {"status": "fail", "samples": int(n), "values": 0, "mismatches": 0,
                                  "reason": str(exc).replace(str(tmp), str(final_out)), "seconds": None}
            except FpgaSimError as exc:   # no g++ or no ap_types headers here: the rest is still worth a report
                record["csim"] = {"status": "unavailable", "samples": 0, "values": 0, "mismatches": 0,
                                  "reason": str(exc), "seconds": None}
        record["wall_seconds"] = round(time.perf_counter() - t0, 2)
        with out.step("write the report", steps):
            from ..report import write_report

            write_report(record, tmp)
    record["report"] = str(final_out / "report.html")
    return record


def model_types_record(qg: Any) -> dict[str, dict[str, str]]:
    """Which types came from the model itself (QONNX/QDQ quantisers): layer or input -> slot -> type."""
    out: dict[str, dict[str, str]] = {}
    for name, slots in sorted(qg.from_model.items()):
        lt = qg.layer_types.get(name)
        for slot in slots:
            t = getattr(lt, slot, None) if lt is not None else qg.tensor_types.get(name)
            if t is not None:
                out.setdefault(name, {})[slot] = str(t)
    return out


def compare_model(onnx_path: Path, graph: Any, qg: Any, data: inputs.Dataset, sim: Any) -> Any:
    """Float reference (onnxruntime) against the fixed-point run: accuracy, agreement, per-layer SQNR."""
    from ..comparison import compare

    return compare(str(onnx_path), qg, data.x, labels=data.y, sim=sim)


def print_summary(record: dict[str, Any], out: Output) -> None:
    from ..report import summarise

    s = summarise(record)
    out.print(layer_table(record["simulation"]["layers"], record["simulation"]["samples"]))
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
    counts = csim.get("counts") if csim else None
    if counts:
        from .hls import count_table

        out.print(count_table(counts["layers"]))
        rows["counted DRAM words, cycles"] = "equal to the simulator's" if counts["equal"] else "DIFFERENT"
    mp = record.get("memory_policy")
    if mp:
        rows["memory policy"] = f"weights {mp['weights']}, activations {mp['activations']}, input {mp['network_input']}"
    rows["HLS project"] = record.get("hls_project")
    rows["flow wall time (s)"] = record.get("wall_seconds")
    out.print(kv_table(rows, title="summary"))


def cmd_flow(args: argparse.Namespace, out: Output) -> int:
    start = time.perf_counter()
    record = run_flow(args, out)
    record["wall_seconds"] = round(time.perf_counter() - start, 2)      # now including the report
    if out.json_mode:
        out.json(record)
    else:
        print_summary(record, out)
        out.result(f"report: {record['report']}")
    if record.get("hls_error"):
        raise FpgaSimError(f"{record['hls_error'].rstrip('.')}; the report without the HLS project is {record['report']}")
    csim = record.get("csim") or {}
    if csim.get("status") == "unavailable":
        raise FpgaSimError(f"{csim['reason'].rstrip('.')}; or skip the check with --no-csim. The report without "
                           f"the C-simulation is {record['report']}")
    if csim.get("status") == "fail" and not csim.get("values"):
        raise CheckFailed(f"{csim['reason'].rstrip('.')}; the report is {record['report']}")
    counts = csim.get("counts") or {}
    if counts and counts.get("outputs") != "pass":
        raise CheckFailed(f"the counting C-simulation (-DFPGA_SIM_COUNT) changed output bits; the report is {record['report']}")
    if counts and not counts.get("equal"):     # the HLS would be another machine than the one costed
        raise CheckFailed(f"the counting C-simulation (-DFPGA_SIM_COUNT) differs from the simulator on "
                          f"{', '.join(counts['mismatches'])}; the report is {record['report']}")
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
    p.add_argument("--samples", type=inputs.positive_int, metavar="N",
                   help="evaluate on the first N test samples (default: all)")
    p.add_argument("--csim-samples", type=inputs.positive_int, default=CSIM_SAMPLES, metavar="N",
                   help=f"samples the C-simulation is checked on (default {CSIM_SAMPLES})")
    p.add_argument("--no-csim", action="store_true", help="generate the HLS project but do not build it with g++")
    p.set_defaults(run=cmd_flow)
