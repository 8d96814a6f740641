"""Design-space sweeps: points per second of `fpga-sim sweep` (cost mode) against what a user would
script without it, measured side by side in one run.

Peers, all on the same points: a loop of `fpga-sim simulate --json` processes (one per point, a
hardware TOML each: the shell loop the command replaces), a serial in-process loop
(`quantize` once, then `cost_report` per point), and the Dask runner with 1 and 2 local worker
processes.  Each Dask figure is given cold (fresh workers: import, quantise, first kernels) and
warm (the best of two more sweeps of new points on the same workers); the serial loop is the best
of three.  The store's cycles and energy are
checked against the serial loop's, point for point.

`python -m benchmarks.sweep [--quick]` prints the table; `python -m benchmarks --only sweep` runs
it with the other sections' machinery.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx

TARGETS = {"lenet": 500.0, "alexnet": 50.0}        # points/s on 2 workers, cost mode (issue 13)

LENET_HW = """[hardware]
part = "xcu250"
fifo_depth = {fifo}
pipeline_latency = [10, 20]
n_dsp = {{ pow2 = [8, {max_dsp}] }}
dram_read_words_per_cycle = [1.0, 2.0, 4.0, 8.0]
dram_write_words_per_cycle = [1.0, 2.0, 4.0, 8.0]
sram_bytes = [32768, 131072, 524288, 2097152]
"""
ALEXNET_HW = """[hardware]
part = "xcu250"
fifo_depth = {fifo}
n_dsp = {{ pow2 = [64, {max_dsp}] }}
dram_read_words_per_cycle = [2.0, 4.0, 8.0, 16.0]
dram_write_words_per_cycle = [2.0, 4.0, 8.0, 16.0]
sram_bytes = [4194304, 16777216]
"""


def _write_lenet(folder: Path) -> tuple[Path, Path]:
    from .networks import digits_cnn_onnx

    model, x, _ = digits_cnn_onnx(16)
    onnx.save(model, folder / "lenet.onnx")
    np.save(folder / "x.npy", x)
    return folder / "lenet.onnx", folder / "x.npy"


def _write_alexnet(folder: Path) -> tuple[Path, Path]:
    from . import onnx_models
    from .networks import _image, strip_unsupported

    model, _ = strip_unsupported(onnx_models.light_model("bvlc_alexnet", batch=1))
    onnx.save(model, folder / "alexnet.onnx")
    np.save(folder / "x.npy", _image(model))
    return folder / "alexnet.onnx", folder / "x.npy"


def _sweep_file(folder: Path, model: Path, x: Path, hardware: str, name: str) -> Path:
    path = folder / name
    path.write_text(f'mode = "cost"\nmodels = [{{ path = "{model.name}", input = "{x.name}" }}]\n'
                    'precisions = ["ap_fixed<16,6>", "ap_fixed<8,3,AP_RND,AP_SAT>"]\n' + hardware)
    return path


def _serial_loop(spec: Any, models: list[Any], points: list[Any]) -> tuple[float, dict[str, tuple[int, float]]]:
    """What a Python user would write: quantise each precision once, cost_report per point."""
    from fpga_sim import Hardware, load_onnx, quantize
    from fpga_sim.simulation import cost_report

    m = models[0]
    g = load_onnx(m.onnx_path)
    qgs = [quantize(g, calibration=m.calibration, precision=p.type) for p in spec.precisions]
    cost_report(qgs[0], Hardware(part="xcu250"))       # kernels loaded before the clock starts
    out = {}
    t0 = time.perf_counter()
    for pt in points:
        if pt.costed_on is None:
            continue
        try:
            rep = cost_report(qgs[pt.precision], Hardware.from_dict(pt.costed_on))
            out[pt.key] = (rep.totals["cycles"], rep.totals["energy_total_pj"])
        except ValueError:
            out[pt.key] = None
    return time.perf_counter() - t0, out


def _cli_loop(folder: Path, model: Path, x: Path, spec: Any, points: list[Any], n: int) -> dict[str, Any]:
    """n points as separate `fpga-sim simulate --json` processes, one hardware TOML each."""
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    np.save(folder / "x1.npy", np.load(x)[:1])
    cmd = [sys.executable, "-m", "fpga_sim.cli", "simulate", str(model), "--input", str(folder / "x1.npy"), "--json"]
    chosen = [pt for pt in points if pt.costed_on is not None][:: max(1, len(points) // n)][:n]
    t0 = time.perf_counter()
    cycles = []
    for i, pt in enumerate(chosen):
        hw = folder / f"hw{i}.toml"
        hw.write_text("\n".join(f"{k} = {json.dumps(v)}" for k, v in pt.costed_on.items()) + "\n")
        proc = subprocess.run(cmd + ["--hw", str(hw), "--precision", spec.precisions[pt.precision].type],
                              capture_output=True, text=True, env=env, timeout=900)
        if proc.returncode != 0:
            return {"error": f"fpga-sim simulate exited {proc.returncode}: {proc.stderr.strip()[-300:]}"}
        cycles.append((pt.key, json.loads(proc.stdout)["simulation"]["totals"]["cycles"]))
    wall = time.perf_counter() - t0
    return {"points": len(chosen), "seconds": wall, "points_per_s": len(chosen) / wall, "cycles": cycles}


def _dask(spec_files: list[Path], workers: int, store_dir: Path) -> list[dict[str, Any]]:
    """Each sweep file in turn on one fresh local cluster: the first cold, the rest warm."""
    from fpga_sim.sweep import runner
    from fpga_sim.sweep.sources import load_models
    from fpga_sim.sweep.spec import load_spec
    from fpga_sim.sweep.store import Store

    cluster, client = runner.local_cluster(workers)
    rows = []
    try:
        for i, path in enumerate(spec_files):
            spec = load_spec(path)
            models = load_models(spec, progress=False)
            with Store(store_dir / f"w{workers}-{i}") as st:
                res = runner.run(spec, models, st, client)
            overhead = 1.0 - res.busy_seconds / (res.seconds * workers) if res.seconds else None
            rows.append({"run": "cold" if i == 0 else "warm", "workers": workers, "points": res.computed,
                         "seconds": res.seconds, "points_per_s": res.computed / res.seconds, "batches": res.batches,
                         "idle_share": overhead, "failed": len(res.failed),
                         "store": {r["key"]: (r["metrics"].get("cycles"), r["metrics"].get("energy_total_pj"))
                                   for r in res.rows}})
    finally:
        client.close()
        cluster.close()
    return rows


def _case(name: str, folder: Path, quick: bool, cli_points: int) -> dict[str, Any]:
    from fpga_sim.sweep import runner
    from fpga_sim.sweep.sources import load_models
    from fpga_sim.sweep.spec import load_spec

    model, x = (_write_lenet if name == "lenet" else _write_alexnet)(folder)
    template = LENET_HW if name == "lenet" else ALEXNET_HW
    max_dsp = (1024 if quick else 4096) if name == "lenet" else (256 if quick else 4096)
    files = [_sweep_file(folder, model, x, template.format(fifo=64 + i, max_dsp=max_dsp), f"sweep{i}.toml")
             for i in range(6)]                     # same grid, another fifo_depth: new keys, same work
    spec = load_spec(files[0])
    models = load_models(spec, progress=False)
    t0 = time.perf_counter()
    points = runner.plan(spec, models)
    plan_s = time.perf_counter() - t0
    runs = [_serial_loop(spec, models, points) for _ in range(3)]       # best of 3, as for the warm runs
    serial_s, serial = min(runs, key=lambda r: r[0])
    row: dict[str, Any] = {"case": name, "points": len(points), "serial_points_per_s": len(serial) / serial_s,
                           "plan_points_per_s": len(points) / plan_s}     # expanding and keying, on the client
    cli = _cli_loop(folder, model, x, spec, points, cli_points)
    row["cli"] = {k: v for k, v in cli.items() if k != "cycles"}
    one = _dask(files[:3], 1, folder)          # cold, then two warm runs (the best is quoted)
    two = _dask(files[3:], 2, folder)
    row["dask"] = [{k: v for k, v in r.items() if k != "store"} for r in one + two]
    # the store against the serial loop, point for point (keys differ by fifo_depth: match by grid index)
    ref = [serial.get(pt.key) for pt in points if pt.costed_on is not None]
    mismatches = 0
    for r, path in zip(one + two, files):
        pts = runner.plan(load_spec(path), models)
        got = [r["store"].get(pt.key) for pt in pts if pt.costed_on is not None]
        mismatches += sum(1 for a, b in zip(got, ref) if b is not None and tuple(a) != tuple(b))
    cli_ok = all(serial.get(k, (None,))[0] == c for k, c in cli.get("cycles", []))
    warm1, warm2 = (max(r["points_per_s"] for r in rs[1:]) for rs in (one, two))
    row.update({"store_equals_serial": mismatches == 0, "mismatches": mismatches, "cli_cycles_equal": cli_ok,
                "dask2_warm_points_per_s": warm2, "dask2_cold_points_per_s": two[0]["points_per_s"],
                "scaling_2_vs_1": warm2 / warm1, "vs_serial": warm2 / row["serial_points_per_s"],
                "vs_cli_loop": warm2 / cli["points_per_s"] if "points_per_s" in cli else None,
                "target_points_per_s": TARGETS[name], "target_met": bool(warm2 >= TARGETS[name])})
    return row


def run(quick: bool) -> dict[str, Any]:
    """Both cases (the digits LeNet, and AlexNet 224 unless quick), each in its own scratch folder."""
    rows = []
    for name in ("lenet",) if quick else ("lenet", "alexnet"):
        folder = Path(tempfile.mkdtemp(prefix=f"fpga-sim-sweep-bench-{name}-"))
        try:
            rows.append(_case(name, folder, quick, cli_points=2 if quick or name == "alexnet" else 4))
        except Exception as e:  # noqa: BLE001 - reported, the other case still runs
            rows.append({"case": name, "error": f"{type(e).__name__}: {e}"})
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return {"rows": rows, "load_average": [round(v, 2) for v in os.getloadavg()]}


def render(sec: dict[str, Any], con: Any = None) -> None:
    from rich.console import Console
    from rich.table import Table

    con = con or Console(width=170)
    t = Table(title="fpga-sim sweep, cost mode: points per second (Dask warm = best of two more sweeps on the same workers)",
              title_justify="left")
    for col in ("case", "points", "CLI loop", "serial loop", "1 worker cold/warm", "2 workers cold/warm",
                "2w idle share", "2 vs 1", "vs serial", "vs CLI loop", "target", "store == serial"):
        t.add_column(col, justify="left" if col == "case" else "right")
    for r in sec["rows"]:
        if "error" in r:
            t.add_row(r["case"], f"[red]{r['error']}[/]")
            continue
        d = {(x["workers"], x["run"]): x for x in sorted(r["dask"], key=lambda x: x["points_per_s"])}
        t.add_row(r["case"], str(r["points"]), f"{r['cli'].get('points_per_s', float('nan')):.3f}",
                  f"{r['serial_points_per_s']:.0f}",
                  f"{d[1, 'cold']['points_per_s']:.0f} / {d[1, 'warm']['points_per_s']:.0f}",
                  f"{d[2, 'cold']['points_per_s']:.0f} / {d[2, 'warm']['points_per_s']:.0f}",
                  f"{100 * d[2, 'warm']['idle_share']:.0f}%", f"{r['scaling_2_vs_1']:.2f}x", f"{r['vs_serial']:.2f}x",
                  f"{r['vs_cli_loop']:.0f}x" if r["vs_cli_loop"] else "–",
                  f">= {r['target_points_per_s']:.0f}: {'met' if r['target_met'] else 'NOT met'}",
                  "yes" if r["store_equals_serial"] and r["cli_cycles_equal"] else "[red]NO[/]")
    con.print(t)
    for r in sec["rows"]:
        if "plan_points_per_s" in r:
            con.print(f"{r['case']}: the client plans (expands, resolves, keys) {r['plan_points_per_s']:,.0f} points/s")
    con.print(f"load average after: {sec['load_average']}")


if __name__ == "__main__":
    result = run("--quick" in sys.argv)
    render(result)
    if "--json" in sys.argv:
        print(json.dumps(result, indent=2))
