"""What the numbers were measured on: CPU, cores, memory, BLAS kernel, library versions.

A ratio means little without the machine beside it; the BLAS entry says which OpenBLAS kernel
actually runs (OPENBLAS_CORETYPE can force an older, slower one on this kind of machine).
"""
from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
from typing import Any

from fpga_sim.host import cpu_model

_PACKAGES = ("fpga-sim", "numpy", "numba", "onnx", "onnxruntime", "torch", "hls4ml",
             "threadpoolctl", "llvmlite", "rich")




def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def blas_info() -> list[dict[str, Any]]:
    """The BLAS/OpenMP libraries numpy (and torch, if imported) run, with kernel and threads."""
    import numpy  # noqa: F401  (load numpy's BLAS so threadpoolctl sees it)

    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"note": "threadpoolctl not installed; BLAS kernel unknown"}]
    keep = ("user_api", "internal_api", "prefix", "version", "num_threads", "architecture",
            "threading_layer", "filepath")
    return [{k: lib.get(k) for k in keep if lib.get(k) is not None} for lib in threadpool_info()]


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    gxx = shutil.which("g++")
    if gxx:
        try:
            first = subprocess.run([gxx, "--version"], capture_output=True, text=True,
                                   timeout=10).stdout.splitlines()
            out["g++"] = first[0] if first else None
        except (OSError, subprocess.SubprocessError):
            out["g++"] = None
    else:
        out["g++"] = None
    return out


def machine() -> dict[str, Any]:
    """CPU, usable cores, memory, OS, BLAS kernels and the env vars that steer them."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    env_keys = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                "MKL_NUM_THREADS", "NUMBA_NUM_THREADS", "NUMBA_CACHE_DIR")
    import numba

    return {
        "load_average": list(os.getloadavg()),
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable,
        "memory_gib": _memory_gib(),
        "os": platform.platform(),
        "python_executable": sys.executable,
        "blas": blas_info(),
        "numba_threads": numba.get_num_threads(),
        "numba_max_threads": numba.config.NUMBA_NUM_THREADS,
        "numba_threading_layer": _numba_layer(),
        "env": {k: os.environ[k] for k in env_keys if k in os.environ},
    }


def _numba_layer() -> str | None:
    import numba

    try:
        return numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet
        return None


def blas_line(info: dict[str, Any]) -> str:
    """One line naming numpy's BLAS: library, version, kernel, threads."""
    libs = [lib for lib in info.get("blas", []) if lib.get("user_api") == "blas"]
    libs.sort(key=lambda lib: "numpy" not in str(lib.get("filepath", "")))   # numpy's own first
    for lib in libs:
        if True:
            return (f"{lib.get('internal_api')} {lib.get('version')} kernel={lib.get('architecture')} "
                    f"threads={lib.get('num_threads')}")
    return "unknown"
