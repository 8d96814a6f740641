"""`fpga-sim codegen` (HLS C++ project) and `fpga-sim csim` (build it with g++, run, check)."""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckFailed, FpgaSimError
from ..outdir import check_replaceable
from . import flow, inputs
from .console import Output, fmt, kv_table

# Written beside the generated project by `fpga-sim codegen`: inputs and the engine's raw outputs,
# so `fpga-sim csim DIR` can check the C++ bit for bit without the model.
CHECK_FILE = "engine_check.npz"
CHECK_SAMPLES = 8


def _save_check(project: Path, x: np.ndarray, sim: Any, n: int = CHECK_SAMPLES) -> Path:
    """Store the first n inputs and the engine's raw values of the project's output ports."""
    from codegen.csim import load_project

    ports = [p["tensor"] for p in load_project(project)["outputs"]]
    raw = {}
    for t in ports:
        src = sim.tensors_raw.get(t) if sim.tensors_raw else None
        raw[t] = np.asarray(src if src is not None else sim.outputs_raw[t])[:n]
    dest = project / CHECK_FILE
    tmp = dest.with_name(f".{CHECK_FILE}.{os.getpid()}.tmp.npz")     # an ordinary file (umask), renamed whole
    np.savez(tmp, x=x[:n], **{f"raw:{t}": v for t, v in raw.items()})
    os.replace(tmp, dest)
    return dest


def _load_check(project: Path) -> tuple[np.ndarray, dict[str, np.ndarray]] | None:
    path = project / CHECK_FILE
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as f:
        return f["x"], {k[4:]: f[k] for k in f.files if k.startswith("raw:")}


def cmd_codegen(args: argparse.Namespace, out: Output) -> int:
    precision, hw = inputs.checked_options(args)
    check_replaceable(args.out)
    _, graph = inputs.load_model(args, out)
    shape = tuple(graph.shapes[graph.inputs[0]])
    if args.calibration:
        cal = inputs.as_batch(inputs.load_array(args.calibration, "--calibration"), shape, "--calibration")
        x = cal[:CHECK_SAMPLES]
    else:
        data = inputs.default_data(shape, samples=CHECK_SAMPLES)
        cal, x = data.calibration, data.x
    with out.step(f"quantise to {precision}"):
        qg = flow.quantise(graph, cal, precision, args.config, args)
    sim = flow.simulate_batch(qg, x, hw, out, label="simulating the check samples", trace=True)
    overflows = flow.overflow_check(qg, sim, x, out)
    import codegen

    with out.step(f"write the HLS project for {hw.part}"):
        project = Path(codegen.write_hls(qg, args.out, hardware=hw, target=hw.part, sim=sim, x=x))
        _save_check(project, x, sim)
    if out.json_mode:
        out.json({"project": str(project.resolve()), "part": hw.part, "precision": precision,
                  "overflow_warnings": overflows,
                  "files": sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file())})
    else:
        out.print(kv_table({"part": hw.part, "clock MHz": hw.clock_mhz, "DSPs": hw.n_dsp, "precision": precision,
                            "predicted cycles": sim.totals.get("cycles")}, title="HLS project"))
        out.result(f"project: {project.resolve()}")
    return 0


def cmd_csim(args: argparse.Namespace, out: Output) -> int:
    import codegen
    from codegen.csim import load_project

    project = Path(args.project)
    if not project.is_dir():
        raise FpgaSimError(f"HLS project directory {args.project!r} does not exist (make one with `fpga-sim codegen`)")
    meta = load_project(project)
    expected = None
    if args.input:
        x = inputs.load_array(args.input)
        if args.expect:
            if len(meta["outputs"]) != 1:
                raise FpgaSimError(f"--expect takes one array but {args.project!r} has {len(meta['outputs'])} outputs")
            expected = {meta["outputs"][0]["tensor"]: inputs.load_array(args.expect, "--expect")}
    else:
        check = _load_check(project)
        if check is None:
            raise FpgaSimError(f"no inputs for {args.project!r}: give --input X.npy (the project has no {CHECK_FILE})")
        x, expected = check
    timings: dict[str, float] = {}
    with out.step(f"build with g++ and run {len(x)} samples"):
        got = codegen.csim(project, x, timings=timings)
    result: dict = {"project": str(project.resolve()), "samples": int(len(x)), "timings": timings,
                    "outputs": {t: np.asarray(v).tolist() for t, v in got.items()}}
    check = flow.check_outputs(got, expected) if expected is not None else None
    if check is not None:
        result.update(check)
    if out.json_mode:
        out.json(result)
    else:
        rows: dict = {"samples": len(x)}
        for t, v in got.items():
            rows[f"output {t}"] = "x".join(map(str, np.shape(v)))
        rows.update({f"{k.removesuffix('_s').replace('_', ' ')} (s)": v for k, v in timings.items()})
        if check is not None:
            rows["values checked against the engine"] = check["values"]
            rows["mismatches"] = check["mismatches"]
        out.print(kv_table(rows, title="C-simulation"))
        if check is not None:
            out.result(f"C-sim vs engine: {check['status'].upper()} ({fmt(check['values'])} values)")
        else:
            out.result(f"ran {len(x)} samples; raw outputs in {project / 'tb_data' / 'output.dat'} (tb_data/input.dat "
                       "now holds these inputs, so `make csim` reruns them)")
    if args.count:
        with out.step("counting build (-DFPGA_SIM_COUNT): DRAM words and compute cycles per layer"):
            counted, counts = codegen.count_csim(project, x[:1])
            same_bits = all(np.array_equal(counted[t], np.asarray(got[t])[:1]) for t in counted)
            summary = codegen.record_counts(project, counts)
        if not out.json_mode:
            out.print(count_table(summary["layers"]))
            out.result(f"counted vs simulated: {'EQUAL' if summary['equal'] else 'DIFFERENT'} on every layer; "
                       f"output bits {'unchanged' if same_bits else 'CHANGED'} by counting (report.json updated)")
        if not (summary["equal"] and same_bits):
            raise CheckFailed(f"the counting C-simulation of {args.project} does not match the simulator on "
                              f"{', '.join(summary['mismatches']) or 'the output bits'}")
    if check is not None and check["mismatches"]:
        raise CheckFailed(f"the g++ C-simulation of {args.project} differs from the engine on {check['mismatches']} "
                          f"of {check['values']} output values; {check['reason']}")
    return 0


def count_table(rows: list[dict]) -> "Any":
    """Per layer: the simulator's DRAM words and compute cycles beside the counting C-sim's."""
    from rich.table import Table

    table = Table(title="simulator / counting C-sim, one inference", title_justify="left")
    for col in ("layer", "DRAM reads", "DRAM writes", "compute cycles", "equal"):
        table.add_column(col, justify="left" if col == "layer" else "right")
    for r in rows:
        p, c = r["predicted"], r["counted"]
        table.add_row(r["node"], f"{fmt(p['dram_reads'])} / {fmt(c['dram_reads'])}",
                      f"{fmt(p['dram_writes'])} / {fmt(c['dram_writes'])}",
                      f"{fmt(p['compute_cycles'])} / {fmt(c['compute_cycles'])}", "yes" if r["equal"] else "NO")
    return table


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("codegen", parents=[common], help="write a Vitis HLS C++ project for a target part",
                       description="Quantise a model and write a Vitis-HLS project (ap_fixed typedefs, one function "
                                   "per layer, weights, testbench, build_prj.tcl, g++ Makefile) that computes exactly "
                                   "what the simulator computes.")
    p.add_argument("model", metavar="MODEL", help="an .onnx file or a bundled model name")
    inputs.add_model_options(p)
    p.add_argument("--out", required=True, metavar="DIR", help="project directory to write (replaced atomically)")
    p.add_argument("--calibration", metavar="C.npy", help="calibration inputs (default: digits training images or "
                                                          "seeded random inputs)")
    p.set_defaults(run=cmd_codegen)

    p = sub.add_parser("csim", parents=[common], help="build a generated project with g++, run it, check it",
                       description=f"Build the project's C-simulation with g++ against Xilinx's ap_types headers "
                                   f"and run its testbench.  Without --input it runs the samples `fpga-sim codegen` "
                                   f"saved in {CHECK_FILE} and checks every output bit for bit against the engine "
                                   f"(exit 1 on a mismatch).")
    p.add_argument("project", metavar="DIR", help="a project written by `fpga-sim codegen` or `fpga-sim flow`")
    p.add_argument("--input", metavar="X.npy", help="inputs to run instead of the saved check samples")
    p.add_argument("--expect", metavar="RAW.npy", help="expected raw integer outputs of --input (checked exactly)")
    p.add_argument("--count", action="store_true",
                   help="also build with -DFPGA_SIM_COUNT and check each layer's m_axi words and compute cycles "
                        "against the simulator's (written into the project's report.json)")
    p.set_defaults(run=cmd_csim)
