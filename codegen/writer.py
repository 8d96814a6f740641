"""`write_hls`: render the HLS project from the quantised graph, atomically.

The project is rendered into a temporary directory beside `out_dir` and renamed into place at
the end (`fpga_sim.outdir.atomic_dir`), so a failed generation leaves no half project; an
existing `out_dir` is replaced only when it is an earlier fpga-sim output or empty.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import jinja2

from fpga_sim.errors import ConfigError, FpgaSimError
from fpga_sim.graph import QGraph
from fpga_sim.outdir import atomic_dir
from .layers import op_of as get_op
from fpga_sim.results import to_jsonable

from .names import CPP_KEYWORDS
from .memory import check_implementable, resources
from .project import build_context, split_host
from .targets import vitis_part

TEMPLATES = Path(__file__).resolve().parent.parent / "hls_templates"
NNET = TEMPLATES / "nnet"


def environment() -> jinja2.Environment:
    """Jinja with StrictUndefined: a missing context value is an error, never an empty string."""
    if not (NNET / "fsim_common.h").is_file():
        raise FpgaSimError(f"the HLS templates are not at {str(TEMPLATES)!r}; codegen needs the repository's "
                           "hls_templates/ beside codegen/ (install from a checkout: pip install -e .)")
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def _layer_reports(qg: QGraph, hardware: Any, sim: Any) -> dict[str, Any]:
    """Per-layer LayerReport: from a SimResult when given, else each op's cost on `hardware`."""
    if sim is not None:
        return {r.name: r for r in sim.layers}
    reports = {}
    for node in qg.nodes:
        try:
            reports[node.name] = get_op(node.op).cost(node, qg, hardware)
        except NotImplementedError:
            continue
    return reports


def write_hls(qg: QGraph, out_dir: str | os.PathLike, hardware: Any = None, target: str | None = None,
              project_name: str | None = None, sim: Any = None, x: Any = None) -> Path:
    """Write a Vitis HLS project computing exactly what the engine computes for `qg`.

    hardware: `fpga_sim.Hardware` (default: `Hardware()`): sizes each layer's multipliers and
    gives the clock; target: the FPGA part for Vitis (default: hardware.part); sim: a
    `SimResult` whose per-layer cycles go to report.json (default: each op's cost on hardware);
    x: a float input batch written to tb_data/input.dat for `make csim` and Vitis's csim
    (default: an empty batch).  Returns the project directory.
    """
    from fpga_sim.aptypes import find_ap_types
    from fpga_sim.hardware import Hardware

    hw = hardware if hardware is not None else Hardware()
    part = vitis_part(target or hw.part)
    project = project_name or "fpga_sim_top"
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,62}", project) or "__" in project or project in CPP_KEYWORDS:
        raise ConfigError(f"project_name {project!r} is not accepted; a C++ identifier of letters, digits and "
                          "single underscores, starting with a letter and not a keyword, is")
    check_implementable(hw)
    reports = _layer_reports(qg, hw, sim)
    try:
        ap_types = str(find_ap_types())
    except FpgaSimError:
        ap_types = "/path/to/ap_types"
    ctx = build_context(qg, project, reports, hw, part, ap_types)
    ctx["resources"] = resources(ctx, hw, reports)

    out = Path(out_dir)
    with atomic_dir(out) as tmp:
        _render_all(ctx, tmp)
        _write_json(tmp, qg, ctx, hw, reports)
        _write_tb_input(tmp, x)
    return out


def _render_all(ctx: dict[str, Any], root: Path) -> None:
    env = environment()
    fw = root / "firmware"
    for sub in ("layers", "weights", "nnet"):
        (fw / sub).mkdir(parents=True)
    (root / "tb").mkdir()
    (root / "tb_data").mkdir()
    project = ctx["project"]

    def render(template: str, dest: Path, **extra: Any) -> None:
        dest.write_text(env.get_template(template).render({**ctx, **extra}))

    render("project/defines.h.j2", fw / "defines.h", guard=ctx["defines_guard"])
    render("project/top.h.j2", fw / f"{project}.h")
    render("project/top.cpp.j2", fw / f"{project}.cpp")
    for layer in ctx["layers"]:
        render(layer["template"], fw / "layers" / layer["file"], layer=layer)
    for p in ctx["params"]:
        render("project/weights.h.j2", fw / "weights" / p["file"], p=p)
    for h in NNET.glob("*.h"):
        shutil.copy2(h, fw / "nnet" / h.name)
    render("project/tb.cpp.j2", root / "tb" / f"{project}_tb.cpp")
    render("project/Makefile.j2", root / "Makefile")
    render("project/build_prj.tcl.j2", root / "build_prj.tcl")
    render("project/README.md.j2", root / "README.md")


def _write_tb_input(root: Path, x: Any) -> None:
    """tb_data/input.dat: the batch x quantised to the input ports' types (or zero samples)."""
    from .csim import raw_inputs, write_inputs, load_project

    path = root / "tb_data" / "input.dat"
    if x is None:
        path.write_text("0\n")
        return
    meta = load_project(root)
    write_inputs(path, meta, raw_inputs(meta, x, raw=False))


def _write_json(root: Path, qg: QGraph, ctx: dict[str, Any], hw: Any, reports: dict[str, Any]) -> None:
    """project.json (ports and names, read by csim) and report.json (predicted cycles)."""
    def port(p: dict[str, Any]) -> dict[str, Any]:
        return {"tensor": p["key"], "port": p["port"], "type": p["fixed"], "shape": p["shape"], "size": p["size"]}

    project = {
        "project": ctx["project"], "graph": qg.graph.name,
        "inputs": [port(p) for p in ctx["top_inputs"]], "outputs": [port(p) for p in ctx["top_outputs"]],
        "layers": [{"node": l["key"], "function": l["fn"], "op": l["op"]} for l in ctx["layers"]],
        "host_nodes": [n.name for n in ctx["host_nodes"]],
        "graph_outputs": list(qg.graph.outputs),
    }
    (root / "project.json").write_text(json.dumps(project, indent=2))
    fn_of = {l["key"]: l["fn"] for l in ctx["layers"]}
    layers = []
    for node in qg.nodes:
        r = reports.get(node.name)
        layers.append({
            "node": node.name, "function": fn_of.get(node.name), "op": node.op,
            "on_accelerator": node.name in fn_of,
            "predicted_cycles": None if r is None or not r.on_accelerator else int(r.cycles),
            "multipliers": None if r is None else int(r.multipliers),
            "bound": None if r is None else r.bound,
            "predicted": None if r is None or not r.on_accelerator else {
                "dram_input_reads": int(r.memory.get("input_reads", 0)),
                "dram_weight_reads": int(r.memory.get("weight_reads", 0)),
                "dram_reads": int(r.dram_reads), "dram_writes": int(r.dram_writes),
                "compute_cycles": int(r.compute_cycles)},
            "memory": None if r is None else to_jsonable(r.memory),
            "counted": None,
        })
    acc = [l["predicted_cycles"] for l in layers if l["predicted_cycles"] is not None]
    report = {
        "project": ctx["project"], "part": ctx["part"], "clock_mhz": float(hw.clock_mhz),
        "hardware": to_jsonable(hw.to_dict()), "layers": layers,
        "total_predicted_cycles": int(sum(acc)),
        "predicted_latency_us": float(sum(acc) / float(hw.clock_mhz)),
        "on_chip_buffer_bytes": ctx["on_chip_bytes"],
        "memory_policy": ctx["policy"], "resources": ctx["resources"],
        "note": ("cycles predicted by fpga-sim's machine model; compare with Vitis HLS csynth latency. 'counted': "
                 "words through the m_axi ports and pipelined compute-loop iterations of a C-simulation built with "
                 "-DFPGA_SIM_COUNT (codegen.count_csim), per inference"),
    }
    (root / "report.json").write_text(json.dumps(report, indent=2))


def record_counts(out_dir: str | os.PathLike, counts: list[dict[str, Any]]) -> dict[str, Any]:
    """Put a counting C-simulation's per-layer counts (`csim.count_csim`) into report.json beside
    the predicted numbers; returns {"equal": every layer matches, "layers": rows, "mismatches": names}."""
    path = Path(out_dir) / "report.json"
    report = json.loads(path.read_text())
    by_node = {c["node"]: c for c in counts}
    rows, bad = [], []
    for layer in report["layers"]:
        c = by_node.get(layer["node"])
        if c is None or layer.get("predicted") is None:
            continue
        counted = {"dram_input_reads": c["input_reads"], "dram_weight_reads": c["weight_reads"],
                   "dram_reads": c["input_reads"] + c["weight_reads"], "dram_writes": c["writes"],
                   "compute_cycles": c["cycles"]}
        layer["counted"] = counted
        same = all(layer["predicted"][k] == v for k, v in counted.items())
        if not same:
            bad.append(layer["node"])
        rows.append({"node": layer["node"], "predicted": layer["predicted"], "counted": counted, "equal": same})
    report["counts_equal"] = not bad
    path.write_text(json.dumps(report, indent=2))
    return {"equal": not bad, "layers": rows, "mismatches": bad}
