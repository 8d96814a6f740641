"""Start-up cost: a first process (Numba compiles the kernels) against a second with the cache warm.

In the full run both processes share a fresh NUMBA_CACHE_DIR, so the first is cold whatever
caches already exist (on 2 busy cores a full compile takes minutes of CPU); the quick run
uses fpga-sim's own cache (`fpga_sim/_numba_cache.py`) as it finds it, so CI does not compile
everything twice.
The second process shows what every later run of a user pays.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any


def child(args: list[str], env: dict[str, str] | None = None, timeout: float = 900) -> dict[str, Any]:
    """Run `python -m benchmarks.probe ARGS` in a fresh process; its JSON plus the wall time."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = root + os.pathsep + full_env.get("PYTHONPATH", "")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "benchmarks.probe", *args], capture_output=True, text=True,
                          env=full_env, cwd=root, timeout=timeout)
    wall = time.perf_counter() - t0
    for line in proc.stdout.splitlines():
        if line.startswith("PROBE "):
            out = json.loads(line[len("PROBE "):])
            out["process_wall_s"] = wall
            return out
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {"error": f"probe {' '.join(args)} exited with {proc.returncode}: {' | '.join(tail)}"}


def run(quick: bool) -> dict[str, Any]:
    if quick:
        cold = child(["startup"])
        warm = child(["startup"])
    else:
        with tempfile.TemporaryDirectory(prefix="bench_numba_cache_") as cache:
            env = {"NUMBA_CACHE_DIR": cache}
            cold = child(["startup"], env)
            warm = child(["startup"], env)
    out: dict[str, Any] = {"model": "small CNN (2 conv, max-pool, global pool, 1x1 conv) on 8x8, batch 4",
                           "first_process_cache": "as found (fpga-sim's cache)" if quick else "fresh (cold)",
                           "cold": cold, "warm": warm}
    if "error" not in cold and "error" not in warm:
        out["first_call_cold_s"] = cold["first_simulate_s"]
        out["first_call_warm_s"] = warm["first_simulate_s"]
        out["warm_vs_cold"] = cold["first_simulate_s"] / warm["first_simulate_s"]
        out["steady_call_s"] = warm["second_simulate_s"]
    return out
