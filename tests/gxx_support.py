"""The cross-check drivers in tests/cpp, built and run: generated calls (cases.inc) compiled with
Xilinx's ap_fixed.h, raw 64-bit words in, the raw bits of every result out."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from fpga_sim.aptypes import find_ap_types
from fpga_sim.errors import FpgaSimError

CPP_DIR = Path(__file__).parent / "cpp"


def compile_driver(name: str, workdir: Path, lines: list[str]) -> Path:
    """tests/cpp/<name>.cpp with `lines` as its cases.inc, built in workdir (skips without g++)."""
    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed, so ap_fixed.h cannot be compiled for the cross-check")
    try:
        inc = find_ap_types()
    except FpgaSimError as e:
        pytest.fail(f"ap_types headers are a test dependency (pip install hls4ml): {e}")
    (workdir / "cases.inc").write_text("\n".join(lines) + "\n")
    exe = workdir / name
    cmd = ["g++", "-O1", "-std=c++14", "-w", "-DNDEBUG", f"-I{inc}", f"-I{workdir}", str(CPP_DIR / f"{name}.cpp"),
           "-o", str(exe)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return exe


def run_driver(exe: Path, workdir: Path, words: np.ndarray) -> np.ndarray:
    """The driver's output words (uint64) for these input words; its stdout and stderr (ap_fixed's
    "assign NaN to fixed point value" warnings) are dropped."""
    words.tofile(workdir / "in.bin")
    subprocess.run([str(exe), str(workdir / "in.bin"), str(workdir / "out.bin")],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return np.fromfile(workdir / "out.bin", dtype=np.uint64)
