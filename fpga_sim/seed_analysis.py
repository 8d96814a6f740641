"""The lecture's "Bandwidth vs Compute Limitations" analysis, run through the general engine.

A 13x13 single-channel image, 5 kernels of 5x5, 9x9 or 1x1, 25 DSP multipliers, one DRAM
write per cycle, image and weights already in SRAM (`Hardware.lecture()`).  Each case is an
ordinary Conv node in a one-layer quantised graph, executed bit-accurately and costed by the
op's `cost()` like any layer: no number here is written by hand.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .fixed import Fixed
from .graph import LayerTypes, Node, QGraph
from .hardware import Hardware
from .machine import single_layer_qgraph
from .ops.base import REGISTRY
from .ops.conv import ConvAttrs
from .results import BOUND_TEXT

LECTURE_KERNELS = (5, 9, 1)
IMAGE = 13
N_KERNELS = 5
DTYPE = "ap_fixed<16,6>"


def lecture_layer(kernel: int, image: int = IMAGE, n_kernels: int = N_KERNELS, dtype: str = DTYPE,
                  seed: int = 0) -> tuple[Node, QGraph]:
    """One Conv layer of the lecture: image x image x 1 input, n_kernels kernels of kernel x kernel."""
    from .ops import conv  # noqa: F401  (registers Conv)

    rng = np.random.default_rng(seed + kernel)
    t = Fixed.parse(dtype)
    w = rng.normal(0.0, 1.0 / kernel, (n_kernels, 1, kernel, kernel))
    node = Node(name=f"conv{kernel}x{kernel}", op="Conv", inputs=["image"], outputs=[f"fmap{kernel}"],
                attrs=ConvAttrs((kernel, kernel)), params={"weight": w})
    types = LayerTypes(result=t, weight=t, accum=REGISTRY["Conv"].safe_accum(node, [t], t))
    return node, single_layer_qgraph(node, (1, image, image), t, types)


def _row(kernel: int, hw: Hardware, with_energy: bool, seed: int) -> dict[str, Any]:
    node, qg = lecture_layer(kernel, seed=seed)
    conv = REGISTRY["Conv"]
    rep = conv.cost(node, qg, hw)
    compute_alone = conv.cost(node, qg, hw.replace(dram_write_words_per_cycle=float(rep.outputs), fifo_depth=rep.outputs))
    row: dict[str, Any] = {
        "kernel": f"{kernel}x{kernel}", "k": kernel, "outputs": rep.outputs, "macs_per_output": rep.macs_per_output,
        "macs": rep.macs, "multipliers": rep.multipliers, "cycles": rep.cycles,
        "compute_only_cycles": compute_alone.cycles, "write_only_cycles": int(np.ceil(rep.outputs / hw.dram_write_words_per_cycle)),
        "compute_cycles": rep.compute_cycles, "stall_cycles": rep.stall_cycles, "bound": rep.bound,
        "bound_text": BOUND_TEXT[rep.bound], "mult_utilisation": rep.mult_utilisation,
        "write_utilisation": rep.write_utilisation, "latency_us": rep.latency_us,
    }
    if with_energy:
        f32 = conv.cost(node, qg, hw, float32=True)
        row.update(energy_pj=rep.energy_total_pj, energy_breakdown_pj=dict(rep.energy_pj),
                   energy_float32_pj=f32.energy_total_pj, energy_float32_breakdown_pj=dict(f32.energy_pj),
                   float32_multipliers=f32.multipliers, float32_cycles=f32.cycles,
                   memory_energy_share=_memory_share(rep.energy_pj))
        # the same layer executed bit-accurately on a random image, against the float reference
        t = qg.tensor_types["image"]
        x = t.quantize(np.random.default_rng(seed).uniform(-1, 1, (1, 1, IMAGE, IMAGE)))
        (y,), overflows = conv.run_fixed(node, [x], qg)
        ref = conv.run_float(node, [t.to_float(x)])[0]
        res = qg.layer_types[node.name].result
        row.update(overflows=overflows, max_abs_error=float(np.abs(res.to_float(y) - ref).max()),
                   result_resolution=res.resolution)
    return row


def _memory_share(energy: dict[str, float]) -> float:
    total = sum(energy.values())
    mem = sum(v for k, v in energy.items() if k.startswith(("sram", "dram")))
    return mem / total if total else 0.0


def run_seed_analysis(hw: Hardware | None = None, sweep: range | tuple[int, ...] = range(1, IMAGE + 1),
                      seed: int = 0) -> dict[str, Any]:
    """The lecture's three cases, the energy table, and a kernel-size sweep, as plain data."""
    hw = hw or Hardware.lecture()
    rows = [_row(k, hw, True, seed) for k in LECTURE_KERNELS]
    sweep_rows = [_row(k, hw, False, seed) for k in sweep]
    turn = next((r["k"] for r in sweep_rows if r["bound"] in ("compute", "balanced")), None)
    compute_from = next((r["k"] for r in sweep_rows if r["bound"] == "compute"), None)
    et = hw.energy
    return {
        "setup": {"image": f"{IMAGE}x{IMAGE}x1", "kernels": N_KERNELS, "dtype": DTYPE,
                  "n_dsp": hw.n_dsp, "dram_write_words_per_cycle": hw.dram_write_words_per_cycle,
                  "data_in_sram": hw.data_in_sram, "pipeline_latency": hw.pipeline_latency},
        "hardware": hw.to_dict(),
        "rows": rows,
        "sweep": sweep_rows,
        "turn_kernel": turn,               # first kernel size no longer DRAM-write-bound
        "compute_bound_from": compute_from,
        "energy_table": {"name": et.name, "reference_bits": et.reference_bits, "source": et.source,
                         "rows": [{"operation": op, "pj": pj} for op, pj in et.rows()],
                         "scaling": dict(et.scaling)},
    }


def plot_seed_sweep(result: dict[str, Any], path: str | Path) -> Path:
    """PNG of cycles against kernel size, with the bandwidth-bound / compute-bound turn marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["sweep"]
    ks = [r["k"] for r in rows]
    colours = {"bandwidth": "tab:red", "balanced": "tab:purple", "compute": "tab:blue", "memory-read": "tab:orange"}
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    ax.plot(ks, [r["cycles"] for r in rows], "-", color="0.6", zorder=1)
    ax.plot(ks, [r["compute_only_cycles"] for r in rows], "--", color="tab:blue", lw=1, label="compute alone")
    ax.plot(ks, [r["write_only_cycles"] for r in rows], ":", color="tab:red", lw=1.2, label="DRAM writes alone")
    for bound, col in colours.items():
        pts = [(r["k"], r["cycles"]) for r in rows if r["bound"] == bound]
        if pts:
            ax.scatter(*zip(*pts), color=col, zorder=2, label=f"simulated: {BOUND_TEXT[bound]}")
    if result.get("turn_kernel"):
        x0, y0 = result["turn_kernel"] - 0.5, ax.get_ylim()[1] * 0.95
        ax.axvline(x0, color="k", lw=0.8, ls="-.")
        ax.annotate("bandwidth-bound \u2190 ", (x0, y0), ha="right", fontsize=8)
        ax.annotate(" \u2192 compute-bound", (x0, y0), ha="left", fontsize=8)
    s = result["setup"]
    ax.set_xlabel("kernel size k (k x k)")
    ax.set_ylabel("cycles")
    ax.set_title(f"{s['image']} image, {s['kernels']} kernels, {s['n_dsp']} DSPs, "
                 f"{s['dram_write_words_per_cycle']:g} DRAM write/cycle")
    ax.set_xticks(ks)
    ax.legend(fontsize=7)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
