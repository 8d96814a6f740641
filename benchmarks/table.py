"""Print a benchmark result (the dict the runner writes as JSON) as rich tables."""
from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from .machine_info import blas_line


def _si(v: Any, unit: str = "") -> str:
    if v is None:
        return "-"
    v = float(v)
    for div, p in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.2f} {p}{unit}"
    return f"{v:.3g} {unit}".strip()


def _s(v: Any) -> str:
    if v is None:
        return "-"
    v = float(v)
    if v < 1e-3:
        return f"{v * 1e6:.0f} us"
    if v < 1:
        return f"{v * 1e3:.1f} ms"
    return f"{v:.2f} s"


def _x(v: Any) -> str:
    return "-" if v is None else f"{float(v):.3g}x"


def _ok(v: Any) -> str:
    if v is None:
        return "-"
    return "[green]yes[/]" if v else "[red]NO[/]"


def _met(row: dict[str, Any]) -> str:
    if "target_met" not in row:
        return ""
    if row["target_met"] is None:
        return "[dim]not judged (quick)[/]"
    return "[green]met[/]" if row["target_met"] else "[red]not met[/]"


def _unjudged(obj: Any) -> Any:
    """A copy with every target verdict withdrawn: quick sizes are too small to judge a target."""
    if isinstance(obj, dict):
        return {k: (None if k in ("target_met", "met") else _unjudged(v)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_unjudged(v) for v in obj]
    return obj


def render(result: dict[str, Any], console: Console | None = None) -> None:
    con = console or Console(width=160)
    if result.get("mode") == "quick":
        result = _unjudged(result)
    m = result.get("machine", {})
    v = result.get("versions", {})
    con.print(f"[bold]fpga-sim benchmarks[/] ({result.get('mode')}) on {m.get('cpu')}, "
              f"{m.get('usable_cpus')} cores, {m.get('memory_gib')} GiB; BLAS {blas_line(m)}; "
              f"numba threads {m.get('numba_threads')}; runner --threads {result.get('threads') or 'default'}; "
              f"load average {', '.join(f'{v:.1f}' for v in m.get('load_average', []))}")
    con.print("versions: " + ", ".join(f"{k} {val}" for k, val in v.items() if val))
    if m.get("env"):
        con.print(f"env: {m['env']}")
    s = result.get("sections", {})
    _layers(con, s.get("layers"))
    _simulate(con, s.get("simulate"))
    _elementwise(con, s.get("elementwise"))
    _cost_model(con, s.get("cost_model"))
    _whole_networks(con, s.get("whole_networks"))
    _networks(con, s.get("networks"))
    _peers(con, "vs hls4ml C-simulation (same torch models, ap_fixed<16,6> everywhere)", s.get("vs_hls4ml"),
           "hls4ml")
    _peers(con, "vs our generated HLS C++ (g++ -O2)", s.get("vs_gxx"), "gxx")
    _startup(con, s.get("startup"))
    _first_run(con, s.get("first_run"))
    _memory(con, s.get("memory"))
    _targets(con, result.get("targets", []))
    checks = result.get("checks", [])
    n_ok = sum(1 for c in checks if c["passed"])
    con.print(f"bit-exactness checks: {n_ok}/{len(checks)} passed")
    for c in checks:
        if not c["passed"]:
            con.print(f"  [red]FAILED[/] {c['name']}: {c.get('detail', '')}")
    if result.get("errors"):
        for e in result["errors"]:
            con.print(f"  [red]error[/] {e}")


def _table(title: str, columns: tuple[str, ...], left: tuple[str, ...]) -> Table:
    """A titled table whose `left` columns (names) align left and the rest (figures) right."""
    t = Table(title=title, title_justify="left")
    for c in columns:
        t.add_column(c, justify="left" if c in left else "right")
    return t


def _error_row(t: Table, cells: tuple[str, ...], error: str, width: int) -> None:
    """The row of a case that failed: what names it, its error (in red, cut to `width`), blanks after."""
    t.add_row(*cells, f"[red]{error[:width]}[/]", *[""] * (len(t.columns) - len(cells) - 1))


def _err(con: Console, title: str, sec: Any) -> bool:
    if sec is None:
        return True
    if isinstance(sec, dict) and ("skipped" in sec or "error" in sec):
        con.print(f"[bold]{title}[/]: " + (f"skipped: {sec['skipped']}" if "skipped" in sec else f"[red]{sec['error']}[/]"))
        return True
    return False


def _layers(con: Console, rows: Any) -> None:
    title = "Layers: engine bit-accurate kernel vs onnxruntime float32 and NumPy int64 (batch 1)"
    if _err(con, title, rows):
        return
    t = _table(title, ("layer", "precision", "MACs", "ort f32", "numpy int64", "engine", "vs ort", "vs numpy",
                       "target", "exact", "cycles", "cycles/host s"), left=("layer", "precision"))
    for r in rows:
        if "error" in r:
            _error_row(t, (r["case"], r["precision"], _si(r["macs"]), _si(r["ort_macs_per_s"], "MAC/s")), r["error"], 60)
            continue
        tgt = f"{r['target_vs_ort']}x {_met(r)}" if "target_vs_ort" in r else ""
        t.add_row(r["case"], r["precision"], _si(r["macs"]),
                  f"{_si(r['ort_macs_per_s'], 'MAC/s')}\n{_s(r['ort_s'])}",
                  f"{_si(r['numpy_int64_macs_per_s'], 'MAC/s')}\n{_s(r['numpy_int64_s'])}",
                  f"{_si(r['engine_macs_per_s'], 'MAC/s')}\n{_s(r['engine_s'])}",
                  _x(r["vs_ort"]), _x(r["vs_numpy_int64"]), tgt, _ok(r["bit_exact"]),
                  _si(r.get("cycles")), _si(r.get("cycles_per_host_s")))
    con.print(t)


def _simulate(con: Console, rows: Any) -> None:
    title = "simulate() end to end (warm, best of interleaved runs) vs onnxruntime float32, batch 1"
    if _err(con, title, rows):
        return
    t = _table(title, ("case", "precision", "ort", "simulate", "kernel", "quantise in", "to_float", "cost (cached)",
                       "bookkeeping", "vs ort", "target"), left=("case", "precision"))
    for r in rows:
        t.add_row(r["case"], r["precision"], _s(r["ort_s"]), _s(r["simulate_s"]), _s(r["kernel_s"]),
                  _s(r["quantize_input_s"]), _s(r["to_float_s"]), _s(r["cost_cached_s"]), _s(r["bookkeeping_s"]),
                  _x(r["measured"]), _met(r))
    con.print(t)


def _elementwise(con: Console, rows: Any) -> None:
    title = "Element-wise layers: bit-accurate kernel vs a NumPy pass over the same raw data"
    if _err(con, title, rows):
        return
    t = _table(title, ("op", "shape", "numpy", "engine", "speed vs numpy", "target"), left=("op", "shape"))
    for r in rows:
        t.add_row(r["op"], r["shape"], _s(r["numpy_s"]), _s(r["engine_s"]), _x(r["measured"]),
                  f">= 0.5x {_met(r)}")
    con.print(t)


def _cost_model(con: Console, r: Any) -> None:
    title = "Cost model"
    if _err(con, title, r):
        return
    cpu = f" (process CPU {_s(r['computed_cpu_s'])})" if "computed_cpu_s" in r else ""
    con.print(f"[bold]{title}[/] ({r['network']}, {r['layers']} layers): computed cold {_s(r['computed_s'])}{cpu}, "
              f"reused by a later simulate/cost_report of the same graph and hardware {_s(r['reused_s'])}; "
              f"target < 20 ms: {_met(r)}")


def _whole_networks(con: Console, rows: Any) -> None:
    title = "Whole networks warm: simulate() (integer run + cycle model, 25 DSPs) vs onnxruntime float32"
    if _err(con, title, rows):
        return
    t = _table(title, ("network", "batch", "precision", "ort", "simulate", "sim/ort speed", "target", "host ms by op",
                       "MAC routes"), left=("network", "precision", "host ms by op", "MAC routes"))
    for r in rows:
        if "error" in r:
            _error_row(t, (r["network"], str(r["batch"]), r["precision"], _s(r.get("ort_s"))), r["error"], 70)
            continue
        ops = ", ".join(f"{k} {v:g}" for k, v in list(r["host_ms_by_op"].items())[:5])
        if "outside_kernels_ms" in r:
            ops += (f"; outside kernels {r['outside_kernels_ms']:g} per call; cost computed "
                    f"{r['cost_computations']}x in {r['simulate_calls']} calls")
        routes = ", ".join(f"{k} {v}" for k, v in r["routes"].items())
        t.add_row(r["network"], str(r["batch"]), r["precision"], _s(r["ort_s"]), _s(r["sim_s"]), _x(r["measured"]),
                  _met(r), ops, routes)
    con.print(t)


def _first_run(con: Console, sec: Any) -> None:
    title = "First run (LeNet 8x8, the flow's fpga-sim steps, fresh process)"
    if _err(con, title, sec):
        return
    con.print(f"[bold]{title}[/], Numba cache {sec.get('cache')}: import {_s(sec['import_s'])}, quantise "
              f"{_s(sec['quantize_s'])}, simulate (trace, chunks of 64) {_s(sec['simulate_s'])}, compare "
              f"{_s(sec['compare_s'])}, one more simulate {_s(sec['one_sample_simulate_s'])}; compiling "
              f"{_s(sec.get('flow_compile_cpu_s', sec['flow_compile_s']))} CPU in total (wall {_s(sec['flow_compile_s'])}; "
              f"the phases' process CPU {_s(sec['flow_cpu_s'])})")
    for k in ("import", "quantize", "simulate", "one_sample"):
        top = ", ".join(f"{n.rsplit('.', 1)[-1]} {s:.2f} s x{c}" for n, s, c in sec.get(f"{k}_top", [])[:8])
        if top:
            con.print(f"  compiled during {k}: {top}")
    for r in sec.get("rows", []):
        con.print(f"  {r['target']}: {r['measured']:.3g} {r['unit']} {_met(r)}")


def _networks(con: Console, rows: Any) -> None:
    title = "Networks: full simulation (integer run + cycle-stepped machine, 25 DSPs) vs onnxruntime float32"
    if _err(con, title, rows):
        return
    t = _table(title, ("network", "batch", "MACs/img", "ort s/img", "sim s/img", "sim/ort speed", "sim MAC/s",
                       "cycles/img", "cycles/host s", "top-1 = float", "target"), left=("network",))
    for r in rows:
        if "error" in r:
            _error_row(t, (r["network"], str(r.get("batch", ""))), r["error"], 80)
            continue
        tgt = f"< {r['target_s_per_image']} s {_met(r)}" if "target_s_per_image" in r else ""
        t.add_row(r["network"], str(r["batch"]), _si(r["macs_per_image"]), _s(r["ort_s_per_image"]),
                  _s(r["sim_s_per_image"]), _x(r["sim_vs_ort"]), _si(r["sim_macs_per_s"], "MAC/s"),
                  _si(r["cycles_per_image"]), _si(r["cycles_per_host_s"]),
                  "-" if r["top1_agreement_vs_float"] is None else f"{r['top1_agreement_vs_float']:.0%}", tgt)
    con.print(t)
    for r in rows:
        if r.get("note"):
            con.print(f"  {r['network']}: {r['note']}")


def _peers(con: Console, title: str, sec: Any, peer: str) -> None:
    if _err(con, title, sec):
        return
    t = _table(title, ("model", "batch", f"{peer} compile", "fpga-sim 1st call", f"{peer} samples/s",
                       "fpga-sim samples/s", "speedup", "target", "bit exact"), left=("model",))
    for r in sec["rows"]:
        if "error" in r:
            _error_row(t, (r["model"], str(r["batch"])), r["error"], 90)
            continue
        tgt = f">= {r['target_speedup']:.0f}x {_met(r)}" if "target_speedup" in r else ""
        t.add_row(r["model"], str(r["batch"]), _s(r.get(f"{peer}_compile_s")), _s(r.get("fpga_sim_first_call_s")),
                  _si(r[f"{peer}_samples_per_s"]),
                  _si(r["fpga_sim_samples_per_s"]), _x(r["speedup"]), tgt,
                  f"{_ok(r['bit_exact'])} ({r['mismatches']} of {r['outputs']} differ)")
    con.print(t)


def _startup(con: Console, sec: Any) -> None:
    title = "Start-up"
    if _err(con, title, sec):
        return
    if "first_call_cold_s" not in sec:
        con.print(f"[bold]{title}[/]: [red]{sec.get('cold', {}).get('error') or sec.get('warm', {}).get('error')}[/]")
        return
    c, w = sec["cold"], sec["warm"]
    con.print(f"[bold]{title}[/] ({sec['model']}): import fpga_sim {_s(c['import_s'])} cold / {_s(w['import_s'])} warm; "
              f"first simulate() {_s(c['first_simulate_s'])} first process (Numba cache {sec.get('first_process_cache')}) / {_s(w['first_simulate_s'])} "
              f"second process{' (' + _x(sec['warm_vs_cold']) + ' faster)' if sec['warm_vs_cold'] >= 1 else ''}; steady call {_s(sec['steady_call_s'])}; "
              f"whole process {_s(c['process_wall_s'])} / {_s(w['process_wall_s'])}")


def _memory(con: Console, sec: Any) -> None:
    title = "Peak memory"
    if _err(con, title, sec):
        return
    if "sim_peak_mib" not in sec:
        con.print(f"[bold]{title}[/]: [red]{sec['fpga_sim'].get('error') or sec['onnxruntime'].get('error')}[/]")
        return
    tgt = f"; target < {sec['target_mib']:.0f} MiB: {_met(sec)}" if "target_mib" in sec else ""
    con.print(f"[bold]{title}[/] ({sec['network']}, one image, each in a fresh process): fpga-sim "
              f"{sec['sim_peak_mib']:.0f} MiB (simulate {_s(sec['fpga_sim'].get('simulate_s'))}), onnxruntime "
              f"{sec['ort_peak_mib']:.0f} MiB ({_x(sec['sim_vs_ort'])}){tgt}")


def _targets(con: Console, targets: list[dict[str, Any]]) -> None:
    if not targets:
        return
    t = Table(title="Issue targets", title_justify="left")
    t.add_column("target")
    t.add_column("measured", justify="right")
    t.add_column("status", justify="right")
    for g in targets:
        v = g["measured"]
        unit = g.get("unit", "")
        shown = "-" if v is None else (f"{v:.3g}x" if unit == "x" else f"{v:.4g} {unit}")
        t.add_row(g["target"], shown, _met({"target_met": g["met"]}))
    con.print(t)
