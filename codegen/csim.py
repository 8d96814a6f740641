"""`csim`: build a generated project with plain g++ and run its testbench on raw integers.

Inputs go to the testbench as raw integers (value * 2^frac of the port's type) and come back
the same way, so nothing is lost in decimal conversion.  Layers that run on the host (after the
accelerator) are applied with fpga-sim's own integer kernels when the QGraph is given.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from fpga_sim.errors import CheckFailed, FpgaSimError
from fpga_sim.fixed import Fixed

_GXX_ERROR = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+):(?:(?P<col>\d+):)?\s*(?:fatal )?error:\s*(?P<msg>.*)$", re.M)
CXXFLAGS = ("-O2", "-std=c++14", "-w")


def _ap_types(explicit: str | os.PathLike | None) -> Path:
    from fpga_sim.aptypes import find_ap_types

    return find_ap_types(explicit)


def load_project(out_dir: str | os.PathLike) -> dict[str, Any]:
    p = Path(out_dir) / "project.json"
    if not p.is_file():
        raise FpgaSimError(f"{str(out_dir)!r} is not a project written by codegen.write_hls (no project.json)")
    return json.loads(p.read_text())


def compile_csim(out_dir: str | os.PathLike, ap_types: str | os.PathLike | None = None, cxx: str = "g++",
                 flags: tuple[str, ...] = CXXFLAGS, timings: dict[str, float] | None = None,
                 suffix: str = "") -> Path:
    """Compile the testbench and top function into `<out_dir>/<project>_csim<suffix>`; return its path.

    A compile error raises CheckFailed naming the first failing file and line.
    """
    root = Path(out_dir).resolve()
    meta = load_project(root)
    project = meta["project"]
    exe = root / f"{project}_csim{suffix}"
    # one translation unit: ap_fixed.h is parsed once (the Makefile builds the two files apart)
    unity = root / "tb" / "csim_unity.cpp"
    text = f'#include "{project}_tb.cpp"\n#include "../firmware/{project}.cpp"\n'
    if not unity.is_file() or unity.read_text() != text:
        unity.write_text(text)
    cmd = [cxx, *flags, f"-I{_ap_types(ap_types)}", f"-I{root / 'firmware'}", "-o", str(exe), str(unity)]
    stamp = root / "tb" / f".csim_command{suffix}"
    if _up_to_date(exe, stamp, cmd, root):
        if timings is not None:
            timings["compile_s"] = 0.0
        return exe
    stamp.unlink(missing_ok=True)
    _compile(cmd, root, timings)
    stamp.write_text("\n".join(cmd))
    return exe


def _up_to_date(exe: Path, stamp: Path, cmd: list[str], root: Path) -> bool:
    """A binary built by the same command and newer than every source is reused, not rebuilt."""
    if not (exe.is_file() and stamp.is_file()) or stamp.read_text() != "\n".join(cmd):
        return False
    sources = [p for d in ("firmware", "tb") for p in (root / d).rglob("*") if p.suffix in (".h", ".cpp")]
    built = exe.stat().st_mtime
    return all(p.stat().st_mtime < built for p in sources)


def _compile(cmd: list[str], cwd: Path, timings: dict[str, float] | None) -> None:
    """Run g++; a failure raises CheckFailed naming the first failing file and line."""
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    except FileNotFoundError:
        raise FpgaSimError(f"C++ compiler {cmd[0]!r} not found; install g++ or pass cxx=") from None
    if timings is not None:
        timings["compile_s"] = time.perf_counter() - t0
    if proc.returncode != 0:
        m = _GXX_ERROR.search(proc.stderr)
        where = f"{m.group('file')}:{m.group('line')}: {m.group('msg')}" if m else proc.stderr.strip()[-2000:]
        raise CheckFailed(f"g++ failed to compile the C-simulation in {str(cwd)!r}: {where}")


def write_inputs(path: Path, meta: dict[str, Any], raw: Mapping[str, np.ndarray]) -> int:
    """The testbench's input file: the sample count, then each sample's raw port values."""
    n = None
    chunks = []
    for port in meta["inputs"]:
        a = np.asarray(raw[port["tensor"]], dtype=np.int64)
        a = a.reshape(a.shape[0], -1)
        if a.shape[1] != port["size"]:
            raise FpgaSimError(f"input {port['tensor']!r}: {a.shape[1]} values per sample given, "
                               f"{port['size']} expected (per-sample shape {tuple(port['shape'])})")
        if n is not None and a.shape[0] != n:
            raise FpgaSimError("all inputs must have the same batch size")
        n = a.shape[0]
        chunks.append(a)
    assert n is not None
    with open(path, "w") as f:
        f.write(f"{n}\n")
        for s in range(n):
            for a in chunks:
                f.write(" ".join(map(str, a[s].tolist())))
                f.write("\n")
    return n


def run_csim(out_dir: str | os.PathLike, raw_in: Mapping[str, np.ndarray], exe: Path | None = None,
             timings: dict[str, float] | None = None, select: str | None = None) -> dict[str, np.ndarray]:
    """Run the compiled testbench on raw inputs {tensor: (batch, ...)}; raw outputs {tensor: (batch, ...)}."""
    root = Path(out_dir).resolve()
    meta = load_project(root)
    exe = exe or root / f"{meta['project']}_csim"
    if not exe.is_file():
        exe = compile_csim(root)
    # the data stays in tb_data/, so `make csim` and Vitis's csim_design rerun the same batch
    data = root / "tb_data"
    data.mkdir(exist_ok=True)
    fin, fout = data / "input.dat", data / "output.dat"
    n = write_inputs(fin, meta, raw_in)
    t0 = time.perf_counter()
    argv = [str(exe)] + ([select] if select is not None else []) + [str(fin), str(fout)]
    proc = subprocess.run(argv, capture_output=True, text=True)
    if timings is not None:
        timings["run_s"] = time.perf_counter() - t0
    if proc.returncode != 0:
        raise CheckFailed(f"C-simulation of {str(root)!r} exited with {proc.returncode}: {proc.stderr.strip()[-500:]}")
    lines = fout.read_text().splitlines()
    outs = meta["outputs"]
    if len(lines) != n * len(outs):
        raise CheckFailed(f"C-simulation wrote {len(lines)} lines, expected {n * len(outs)}")
    result = {}
    for j, port in enumerate(outs):
        vals = np.array([np.array(lines[s * len(outs) + j].split(), dtype=np.int64) for s in range(n)])
        result[port["tensor"]] = vals.reshape((n, *port["shape"]))
    return result


def raw_inputs(meta: dict[str, Any], x: Any, raw: bool) -> dict[str, np.ndarray]:
    """x (an array or {tensor: array}) -> raw int64 per input port, quantised unless raw."""
    if not isinstance(x, Mapping):
        if len(meta["inputs"]) != 1:
            raise FpgaSimError(f"the project has {len(meta['inputs'])} inputs; pass x as {{tensor: array}}")
        x = {meta["inputs"][0]["tensor"]: x}
    raw_in = {}
    for port in meta["inputs"]:
        if port["tensor"] not in x:
            raise FpgaSimError(f"input {port['tensor']!r} missing from x; inputs: {[p['tensor'] for p in meta['inputs']]}")
        a = np.asarray(x[port["tensor"]])
        if a.shape == tuple(port["shape"]):   # one sample without its batch axis, as simulate takes it
            a = a[None]
        raw_in[port["tensor"]] = a.astype(np.int64) if raw else Fixed.parse(port["type"]).quantize(a)
    return raw_in


def _apply_host(meta: dict[str, Any], qg: Any, raw_in: dict[str, np.ndarray], out: dict[str, np.ndarray]) -> None:
    """Run the host layers after the accelerator with the ops' own integer kernels."""
    if qg is None or not meta["host_nodes"]:
        return
    from .layers import op_of

    env = {**raw_in, **out}
    for name in meta["host_nodes"]:
        node = qg.graph.node(name)
        ys, _ = op_of(node.op).run_fixed(node, [env[t] for t in node.inputs], qg)
        env.update(zip(node.outputs, ys))
    out.update({t: env[t] for t in meta["graph_outputs"] if t in env})


def compile_batch(out_dirs: list[str | os.PathLike], build_dir: str | os.PathLike,
                  ap_types: str | os.PathLike | None = None, cxx: str = "g++",
                  flags: tuple[str, ...] = CXXFLAGS, timings: dict[str, float] | None = None) -> Path:
    """One C-simulation binary for several projects (distinct project names): ap_fixed.h is
    parsed once and shared instantiations compiled once.  Run project i as `exe i in out`."""
    roots = [Path(d).resolve() for d in out_dirs]
    metas = [load_project(r) for r in roots]
    names = [m["project"] for m in metas]
    if len(set(names)) != len(names):
        raise FpgaSimError(f"projects built together need distinct project names, got {names}")
    build = Path(build_dir).resolve()
    build.mkdir(parents=True, exist_ok=True)
    lines = ["#include <cstdio>", "#include <cstdlib>", "#include <cstring>", '#include "ap_fixed.h"']
    lines += [f'#include "{h}"' for h in sorted((roots[0] / "firmware" / "nnet").glob("*.h"))]
    lines.append("#define FSIM_NO_MAIN")
    for i, (r, p) in enumerate(zip(roots, names)):
        lines += [f"namespace fsim_batch_{i} {{", f'#include "{r / "firmware" / (p + ".cpp")}"',
                  f'#include "{r / "tb" / (p + "_tb.cpp")}"', "}"]
    lines.append("int main(int argc, char **argv) {")
    lines.append("    const int which = argc > 1 ? atoi(argv[1]) : -1;")
    for i in range(len(roots)):
        lines.append(f"    if (which == {i}) return fsim_batch_{i}::fsim_tb_main(argc - 1, argv + 1);")
    lines += ['    fprintf(stderr, "usage: %s PROJECT_INDEX input.dat output.dat\\n", argv[0]);', "    return 2;", "}"]
    src = build / "batch_csim.cpp"
    src.write_text("\n".join(lines) + "\n")
    exe = build / "batch_csim"
    _compile([cxx, *flags, f"-I{_ap_types(ap_types)}", "-o", str(exe), str(src)], build, timings)
    return exe


def csim_batch(jobs: list[tuple[str | os.PathLike, Any]], build_dir: str | os.PathLike, raw: bool = False,
               qgs: list[Any] | None = None, ap_types: str | os.PathLike | None = None,
               timings: dict[str, float] | None = None) -> list[dict[str, np.ndarray]]:
    """`csim` for several (project, x) pairs with a single g++ compile (see `compile_batch`)."""
    exe = compile_batch([d for d, _ in jobs], build_dir, ap_types, timings=timings)
    results = []
    for i, (d, x) in enumerate(jobs):
        meta = load_project(d)
        raw_in = raw_inputs(meta, x, raw)
        out = run_csim(d, raw_in, exe, select=str(i))
        _apply_host(meta, qgs[i] if qgs else None, raw_in, out)
        results.append(out)
    return results


def csim(out_dir: str | os.PathLike, x: Any, raw: bool = False, qg: Any = None,
         ap_types: str | os.PathLike | None = None, timings: dict[str, float] | None = None) -> dict[str, np.ndarray]:
    """C-simulate a generated project on a batch: returns raw int64 outputs {tensor: (batch, ...)}.

    x: an array (one input) or {tensor: array}, batch first; float values are quantised with
    the input port's type (as the engine quantises its input) unless raw=True.  When qg is given
    and the graph ends in host layers, their outputs are added, computed with the ops' run_fixed.
    """
    root = Path(out_dir).resolve()
    meta = load_project(root)
    raw_in = raw_inputs(meta, x, raw)
    exe = compile_csim(root, ap_types, timings=timings)
    out = run_csim(root, raw_in, exe, timings=timings)
    _apply_host(meta, qg, raw_in, out)
    return out


COUNT_SUFFIX = "_count"
COUNT_FLAGS = ("-DFPGA_SIM_COUNT",)
COUNT_KINDS = ("input_reads", "weight_reads", "writes", "cycles")


def read_counts(out_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """Per-layer counts the counting build wrote beside tb_data/output.dat (see `count_csim`)."""
    root = Path(out_dir).resolve()
    meta = load_project(root)
    path = root / "tb_data" / "output.dat.counts"
    if not path.is_file():
        raise CheckFailed(f"the counting C-simulation of {str(root)!r} wrote no {path.name}")
    rows = [line.split() for line in path.read_text().splitlines()[1:]]
    return [{"node": layer["node"], **{k: int(v) for k, v in zip(COUNT_KINDS, row[1:])}}
            for layer, row in zip(meta["layers"], rows)]


def count_csim(out_dir: str | os.PathLike, x: Any, raw: bool = False, ap_types: str | os.PathLike | None = None,
               timings: dict[str, float] | None = None) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
    """C-simulate the counting build (-DFPGA_SIM_COUNT): (raw outputs, per-layer counts of one
    inference).  Counts per accelerator layer, in project.json's order: words read through the
    input and weight m_axi ports, words written, and iterations of the pipelined compute loop
    (times its II: cycles of the array)."""
    root = Path(out_dir).resolve()
    meta = load_project(root)
    raw_in = raw_inputs(meta, x, raw)
    exe = compile_csim(root, ap_types, flags=CXXFLAGS + COUNT_FLAGS, timings=timings, suffix=COUNT_SUFFIX)
    (root / "tb_data" / "output.dat.counts").unlink(missing_ok=True)
    out = run_csim(root, raw_in, exe, timings=timings)
    return out, read_counts(root)


def count_batch(jobs: list[tuple[str | os.PathLike, Any]], build_dir: str | os.PathLike, raw: bool = False,
                ap_types: str | os.PathLike | None = None) -> list[tuple[dict[str, np.ndarray], list[dict[str, Any]]]]:
    """`count_csim` for several (project, x) pairs with one g++ compile (see `compile_batch`)."""
    exe = compile_batch([d for d, _ in jobs], build_dir, ap_types, flags=CXXFLAGS + COUNT_FLAGS)
    results = []
    for i, (d, x) in enumerate(jobs):
        root = Path(d).resolve()
        (root / "tb_data" / "output.dat.counts").unlink(missing_ok=True)
        out = run_csim(root, raw_inputs(load_project(root), x, raw), exe, select=str(i))
        results.append((out, read_counts(root)))
    return results
