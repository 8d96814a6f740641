"""Peak memory (RSS) of one image through a full simulation, against onnxruntime's float run.

Each side runs in its own fresh child process (`probe.py`), which reports its own peak RSS (VmHWM), so
neither is charged for the other's allocations or for this runner's.
"""
from __future__ import annotations

from typing import Any

from .startup import child

VGG19_TARGET_MIB = 4096.0


def run(quick: bool) -> dict[str, Any]:
    net = "small_cnn" if quick else "vgg19"
    label = "small CNN 8x8" if quick else "VGG-19 224x224"
    sim = child(["sim-peak", net], timeout=1800)
    ort = child(["ort-peak", net], timeout=900)
    out: dict[str, Any] = {"network": label, "fpga_sim": sim, "onnxruntime": ort}
    if "error" not in sim and "error" not in ort:
        out["sim_peak_mib"] = sim["peak_rss_mib"]
        out["ort_peak_mib"] = ort["peak_rss_mib"]
        out["sim_vs_ort"] = sim["peak_rss_mib"] / ort["peak_rss_mib"]
        if not quick:
            out["target_mib"] = VGG19_TARGET_MIB
            out["target_met"] = bool(sim["peak_rss_mib"] < VGG19_TARGET_MIB)
    return out
