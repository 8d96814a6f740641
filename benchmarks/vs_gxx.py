"""Against our own generated HLS C++ built with g++ -O2 (`codegen.write_hls` + `codegen.csim`).

The same quantised graph goes both ways: `simulate` in the engine, and the generated project's
testbench on the same raw inputs.  g++'s compile time is reported beside the run (a user of
fpga-sim waits for Numba's first call instead), and the outputs must agree bit for bit.
"""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import onnx_models, torch_models
from .timing import measure

PRECISION = "ap_fixed<16,6>"


def available() -> str | None:
    if shutil.which("g++") is None:
        return "g++ is not on PATH"
    try:
        from fpga_sim.aptypes import find_ap_types

        find_ap_types()
    except Exception as e:  # noqa: BLE001
        return f"Xilinx ap_types headers not found ({e})"
    try:
        import codegen  # noqa: F401
        from codegen import csim, write_hls  # noqa: F401
    except Exception as e:  # noqa: BLE001
        return f"codegen is not importable ({type(e).__name__}: {e})"
    return None


def run(quick: bool) -> dict[str, Any]:
    reason = available()
    if reason is None and quick:
        reason = "quick mode: the g++ -O2 build of even a small generated project takes ~15 s here"
    if reason is not None:
        return {"skipped": reason}
    if quick:   # no torch: a generated MLP on flattened digits keeps the g++ build small
        n = 64
        return {"rows": [_compare("MLP 64-32-10 (generated weights)", "mlp_small", n,
                                  lambda: (onnx_models.mlp_model((64, 32, 10)),
                                           torch_models.digits_images(n).reshape(n, 64)))]}
    n = 1000
    rows = []
    for label, name in (("MLP 64-256-256-10", "mlp"), ("LeNet CNN 8x8", "lenet")):
        def build(name=name):
            model, x = torch_models.zoo_model(name), torch_models.digits_images(n)
            return torch_models.to_onnx(model, x[:1]), x
        rows.append(_compare(label, name, n, build))
    return {"rows": rows}


def _compare(label: str, name: str, n: int, build) -> dict[str, Any]:
    from codegen.csim import compile_csim, run_csim
    from codegen import write_hls
    from fpga_sim import Hardware, load_onnx, quantize, simulate

    row: dict[str, Any] = {"model": label, "precision": PRECISION, "batch": n}
    td = Path(tempfile.mkdtemp(prefix=f"bench_gxx_{name}_"))
    try:
        model, x = build()
        qg = quantize(load_onnx(model), calibration=x[:16], precision=PRECISION)
        hw = Hardware(n_dsp=25)
        t0 = time.perf_counter()
        simulate(qg, x[:1], hardware=hw)
        row["fpga_sim_first_call_s"] = time.perf_counter() - t0
        t_s, res = measure(lambda: simulate(qg, x, hardware=hw), 1.0, min_runs=3)
        prj = write_hls(qg, td / "prj", hardware=hw)
        t0 = time.perf_counter()
        exe = compile_csim(prj)
        row["gxx_compile_s"] = time.perf_counter() - t0
        in_t = qg.graph.inputs[0]
        raw_in = {in_t: qg.tensor_types[in_t].quantize(x)}
        timings: dict[str, float] = {}
        best = None
        for _ in range(3):
            out = run_csim(prj, raw_in, exe, timings=timings)
            best = timings["run_s"] if best is None else min(best, timings["run_s"])
        t0 = time.perf_counter()
        run_csim(prj, raw_in, exe)
        row["gxx_call_s"] = time.perf_counter() - t0     # with writing/reading the text files
    except Exception as e:  # noqa: BLE001
        row["error"] = f"{type(e).__name__}: {e}"
        return row
    finally:
        shutil.rmtree(td, ignore_errors=True)
    mism = 0
    compared = 0
    for t, theirs in out.items():
        if t not in res.outputs_raw:
            continue
        ours = np.asarray(res.outputs_raw[t]).reshape(theirs.shape)
        mism += int(np.count_nonzero(ours != theirs))
        compared += int(theirs.size)
    row.update({
        "gxx_run_s": best, "gxx_samples_per_s": n / best,
        "fpga_sim_s": t_s.best_s, "fpga_sim_samples_per_s": n / t_s.best_s,
        "speedup": best / t_s.best_s,
        "bit_exact": bool(compared > 0 and mism == 0), "mismatches": mism, "outputs": compared,
    })
    return row
