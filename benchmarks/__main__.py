"""`python -m benchmarks [--quick] [--json FILE] [--only SECTION,...]`: every figure side by side.

Sections: layers, simulate, elementwise, cost_model, whole_networks, networks, vs_hls4ml, vs_gxx,
startup, first_run, memory (simulate .. whole_networks and first_run: issue 18's user-facing speed,
benchmarks/user_speed.py).  Each figure is a ratio against
a peer measured in this run on the same inputs, with absolute numbers beside it.  Bit-exactness
checks run inside the benchmark; the exit code is 1 when one fails or a section errs (timings
never change the exit code).  --quick uses small sizes for CI.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
import traceback
from typing import Any, Callable

SECTIONS = ("layers", "simulate", "elementwise", "cost_model", "whole_networks", "networks", "vs_hls4ml", "vs_gxx",
            "startup", "first_run", "memory")
EXTRA_SECTIONS = ("sweep",)        # run only when asked for with --only (it starts Dask clusters)
SCHEMA = 1


def _section_runner(name: str, quick: bool) -> Callable[[], Any]:
    if name == "layers":
        from fpga_sim import Hardware

        from . import layers
        return lambda: layers.run(quick, hardware=Hardware(n_dsp=25))
    if name in ("simulate", "elementwise", "cost_model", "whole_networks", "first_run"):
        from . import user_speed
        return lambda: user_speed.PARTS[name](quick)
    if name in ("networks", "vs_hls4ml", "vs_gxx", "startup", "memory", "sweep"):
        section = importlib.import_module(f".{name}", __package__)    # the module of that name: run(quick)
        return lambda: section.run(quick)
    raise ValueError(name)


def checks_of(sections: dict[str, Any]) -> list[dict[str, Any]]:
    """Every bit-exactness comparison the sections made, as pass/fail entries."""
    out = []
    for r in sections.get("layers") or []:
        if isinstance(r, dict) and "bit_exact" in r:
            out.append({"name": f"layer {r['case']} {r['precision']}: engine == NumPy int64 reference",
                        "passed": bool(r["bit_exact"]), "detail": f"{r['mismatches']} of {r['outputs']} differ"})
    for r in (sections.get("sweep") or {}).get("rows", []) if isinstance(sections.get("sweep"), dict) else []:
        if "store_equals_serial" in r:
            out.append({"name": f"sweep {r['case']}: Dask store == serial cost_report loop (and the CLI loop's cycles)",
                        "passed": bool(r["store_equals_serial"] and r["cli_cycles_equal"]),
                        "detail": f"{r['mismatches']} of {4 * r['points']} points differ"})
    for sec, peer in (("vs_gxx", "generated HLS C++ (g++)"), ("vs_hls4ml", "hls4ml C-simulation")):
        s = sections.get(sec)
        for r in (s or {}).get("rows", []) if isinstance(s, dict) else []:
            if "bit_exact" in r:
                out.append({"name": f"{r['model']} {r['precision']}: engine == {peer}",
                            "passed": bool(r["bit_exact"]),
                            "detail": f"{r['mismatches']} of {r['outputs']} differ"})
    return out


def targets_of(sections: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets with what this run measured."""
    out = []
    for r in sections.get("layers") or []:
        if isinstance(r, dict) and "target_vs_ort" in r:
            out.append({"target": f"{r['case']} at {r['precision']} >= {r['target_vs_ort']}x onnxruntime float32",
                        "measured": r["vs_ort"], "unit": "x", "met": r["target_met"]})
    for r in sections.get("networks") or []:
        if isinstance(r, dict) and "target_s_per_image" in r:
            out.append({"target": f"{r['network']} with {r['n_dsp']} DSPs < {r['target_s_per_image']} s per image",
                        "measured": r["sim_s_per_image"], "unit": "s", "met": r["target_met"]})
    s = sections.get("vs_hls4ml")
    for r in (s or {}).get("rows", []) if isinstance(s, dict) else []:
        if "target_speedup" in r:
            out.append({"target": f"{r['model']}: >= {r['target_speedup']:.0f}x hls4ml C-simulation samples/s",
                        "measured": r["speedup"], "unit": "x", "met": r["target_met"]})
    s = sections.get("sweep")
    for r in (s or {}).get("rows", []) if isinstance(s, dict) else []:
        if "target_points_per_s" in r:
            out.append({"target": f"sweep {r['case']} cost mode >= {r['target_points_per_s']:.0f} points/s on 2 workers",
                        "measured": r["dask2_warm_points_per_s"], "unit": "points/s", "met": r["target_met"]})
        if "target_first_result_ratio" in r:
            out.append({"target": f"{r['model']}: first result >= {r['target_first_result_ratio']:.0f}x sooner than "
                                  f"hls4ml's compile (our first call, cache as found)",
                        "measured": r["first_result_ratio"], "unit": "x", "met": r["first_result_met"]})
    from .user_speed import targets as user_targets

    out += user_targets(sections)
    m = sections.get("memory")
    if isinstance(m, dict) and "target_mib" in m:
        out.append({"target": f"{m['network']} peak RSS < {m['target_mib']:.0f} MiB",
                    "measured": m["sim_peak_mib"], "unit": "MiB", "met": m["target_met"]})
    return out


def errors_of(sections: dict[str, Any]) -> list[str]:
    errs = []
    for name, sec in sections.items():
        if isinstance(sec, dict) and "error" in sec:
            errs.append(f"{name}: {sec['error']}")
        rows = sec if isinstance(sec, list) else (sec.get("rows", []) if isinstance(sec, dict) else [])
        for r in rows:
            if isinstance(r, dict) and "error" in r:
                label = r.get("case") or r.get("network") or r.get("model")
                errs.append(f"{name} {label} {r.get('precision', '')}: {r['error']}")
        if isinstance(sec, dict):
            for sub in ("cold", "warm", "fpga_sim", "onnxruntime"):
                if isinstance(sec.get(sub), dict) and "error" in sec[sub]:
                    errs.append(f"{name} {sub}: {sec[sub]['error']}")
    return errs


def run(quick: bool, only: tuple[str, ...] = SECTIONS, progress: bool = True) -> dict[str, Any]:
    from . import machine_info

    sections: dict[str, Any] = {}
    timings: dict[str, float] = {}
    load: dict[str, list[float]] = {}
    for name in only:
        if progress:
            print(f"benchmarks: {name} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            sections[name] = _section_runner(name, quick)()
        except Exception as e:  # noqa: BLE001 - a broken section is reported, the others still run
            sections[name] = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
        timings[name] = time.perf_counter() - t0
        load[name] = [round(v, 2) for v in os.getloadavg()]
    return {
        "schema": SCHEMA,
        "mode": "quick" if quick else "full",
        "machine": machine_info.machine(),    # after the sections: Numba's threading layer is known
        "versions": machine_info.versions(),
        "sections": sections,
        "section_seconds": timings,
        "load_average_after_section": load,     # other processes on a shared machine skew threads
        "checks": checks_of(sections),
        "targets": targets_of(sections),
        "errors": errors_of(sections),
    }


def _limit_threads(n: int) -> None:
    """Give BLAS, Numba and onnxruntime the same n threads for the whole run."""
    import numba
    from threadpoolctl import threadpool_limits

    from . import ort

    global _LIMITS
    _LIMITS = threadpool_limits(n)          # kept for the life of the process
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    ort.THREADS = n


_LIMITS = None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes for CI (well under a minute)")
    ap.add_argument("--json", metavar="FILE", help="write the full result as JSON here")
    ap.add_argument("--text", metavar="FILE", help="also write the printed tables as plain text here")
    ap.add_argument("--only", metavar="SECTIONS", help=f"comma-separated subset of {','.join(SECTIONS)}")
    ap.add_argument("--threads", type=int, metavar="N",
                    help="threads for every peer alike (BLAS, Numba, onnxruntime); default: each library's own")
    args = ap.parse_args(argv)
    if args.threads is not None:
        if args.threads < 1:
            print("python -m benchmarks: --threads must be a positive integer", file=sys.stderr)
            return 2
        _limit_threads(args.threads)
    only = SECTIONS
    if args.only:
        only = tuple(s.strip() for s in args.only.split(",") if s.strip())
        bad = [s for s in only if s not in SECTIONS + EXTRA_SECTIONS]
        if bad:
            print(f"python -m benchmarks: unknown section {bad[0]!r}; accepted: {', '.join(SECTIONS + EXTRA_SECTIONS)}",
                  file=sys.stderr)
            return 2
    result = run(args.quick, only)
    result["threads"] = args.threads
    from rich.console import Console

    from .table import render

    console = Console(width=170, record=bool(args.text))
    render(result, console)
    if isinstance(result["sections"].get("sweep"), dict) and "rows" in result["sections"]["sweep"]:
        from . import sweep

        sweep.render(result["sections"]["sweep"], console)
    if args.text:
        with open(args.text, "w", encoding="utf-8") as f:
            f.write(console.export_text())
    if args.json:
        from fpga_sim.results import to_jsonable

        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(to_jsonable(result), f, indent=2)
    failed = [c for c in result["checks"] if not c["passed"]]
    return 1 if failed or result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
