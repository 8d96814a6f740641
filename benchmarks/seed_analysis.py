"""`python -m benchmarks.seed_analysis [--out DIR] [--quick]`: the lecture's table and the engine's speed.

Prints the lecture's 25-DSP table (rich), writes `seed_analysis.json` and `seed_sweep.png`, then
times the engine on a 56x56x64 -> 64 3x3 convolution (115.6 M MACs) at ap_fixed<16,6> and
ap_fixed<8,3>: the bit-accurate values (`Conv.run_fixed`) and the cycle model (`Conv.cost` on
25 DSPs), as simulated MACs per host second, beside onnxruntime float32 on the same layer.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from fpga_sim.fixed import Fixed
from fpga_sim.graph import LayerTypes, Node
from fpga_sim.hardware import Hardware
from fpga_sim.machine import single_layer_qgraph
from fpga_sim.ops.base import REGISTRY
from fpga_sim.ops.conv import ConvAttrs
from fpga_sim.results import dumps
from fpga_sim.seed_analysis import plot_seed_sweep, run_seed_analysis

from .timing import measure


def print_table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console(width=170)
    s = result["setup"]
    t = Table(title=f"Bandwidth vs compute: {s['image']} image, {s['kernels']} kernels, {s['n_dsp']} DSPs, "
                    f"{s['dram_write_words_per_cycle']:g} DRAM write/cycle, data in SRAM ({s['dtype']})")
    for c in ("kernel", "outputs", "MACs/out", "cycles", "compute alone", "bound", "DSP util", "write util",
              "energy fixed (nJ)", "energy float32 (nJ)", "memory share"):
        t.add_column(c, justify="right")
    for r in result["rows"]:
        t.add_row(r["kernel"], str(r["outputs"]), str(r["macs_per_output"]), str(r["cycles"]),
                  str(r["compute_only_cycles"]), r["bound_text"], f"{r['mult_utilisation']:.0%}",
                  f"{r['write_utilisation']:.0%}", f"{r['energy_pj'] / 1e3:.1f}", f"{r['energy_float32_pj'] / 1e3:.1f}",
                  f"{r['memory_energy_share']:.0%}")
    con.print(t)
    b = Table(title="Energy breakdown (nJ), fixed point / float32")
    b.add_column("kernel")
    kinds = list(result["rows"][0]["energy_breakdown_pj"])
    for k in kinds:
        b.add_column(k, justify="right")
    for r in result["rows"]:
        b.add_row(r["kernel"], *[f"{r['energy_breakdown_pj'][k] / 1e3:.2f} / {r['energy_float32_breakdown_pj'][k] / 1e3:.2f}"
                                 for k in kinds])
    con.print(b)
    e = Table(title=f"Energy table ({result['energy_table']['name']}, pJ)")
    e.add_column("operation")
    e.add_column("pJ", justify="right")
    for row in result["energy_table"]["rows"]:
        e.add_row(row["operation"], f"{row['pj']:g}")
    con.print(e)
    sw = Table(title=f"Kernel-size sweep (turns at k={result['turn_kernel']})")
    for c in ("k", "outputs", "cycles", "bound", "DSP util", "write util"):
        sw.add_column(c, justify="right")
    for r in result["sweep"]:
        sw.add_row(str(r["k"]), str(r["outputs"]), str(r["cycles"]), r["bound_text"],
                   f"{r['mult_utilisation']:.0%}", f"{r['write_utilisation']:.0%}")
    con.print(sw)


def conv_layer(dtype: str, c: int = 64, hw: int = 56, cout: int = 64, k: int = 3, seed: int = 0):
    """The benchmark conv (same padding) as a one-layer QGraph with a raw input batch of one."""
    rng = np.random.default_rng(seed)
    t = Fixed.parse(dtype)
    node = Node("conv56", "Conv", ["x"], ["y"], ConvAttrs((k, k), pads=(1, 1, 1, 1)),
                {"weight": rng.normal(0, 0.05, (cout, c, k, k)), "bias": rng.normal(0, 0.1, cout)}, "relu")
    conv = REGISTRY["Conv"]
    qg = single_layer_qgraph(node, (c, hw, hw), t,
                             LayerTypes(result=t, weight=t, bias=t, accum=conv.safe_accum(node, [t], t)))
    x = t.quantize(rng.normal(0, 1, (1, c, hw, hw)))
    return node, qg, x


def ort_conv(node: Node, x: np.ndarray):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from .ort import session

    w = node.params["weight"].astype(np.float32)
    b = node.params["bias"].astype(np.float32)
    g = helper.make_graph([helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=list(node.attrs.pads)),
                           helper.make_node("Relu", ["c"], ["y"])], "conv",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    sess = session(helper.make_model(g, opset_imports=[onnx.helper.make_opsetid("", 17)]))
    feeds = {"x": x.astype(np.float32)}
    return lambda: sess.run(None, feeds)


def per_term_reference(node: Node, qg: Any, x: np.ndarray) -> np.ndarray:
    """The same layer through the Numba loop that casts every product and sum (no fast path)."""
    from fpga_sim.ops.mac_per_term import conv_direct

    lt = qg.layer_types[node.name]
    tin, acc, res = qg.tensor_types[node.inputs[0]], lt.accum, lt.result
    w = qg.qparams[node.name]["weight"]
    bias = acc.cast(qg.qparams[node.name]["bias"], lt.bias)
    (sh, sw), (pt, pl, _, _), (dh, dw) = node.attrs.strides, node.attrs.pads, node.attrs.dilations
    n, _, h, wd = x.shape
    (cout, ho, wo), = REGISTRY["Conv"].infer_shapes(node, [x.shape[1:]])
    out = np.empty((n, cout, ho, wo), np.int64)
    conv_direct(x, w, bias, sh, sw, pt, pl, dh, dw, node.attrs.groups, ho, wo, tin.frac + lt.weight.frac - acc.frac,
                *acc.codes, acc.frac - res.frac, *res.codes, node.activation == "relu", out)
    return out


def engine_speed(quick: bool = False) -> list[dict[str, Any]]:
    """Simulated MACs per host second: values, cycle model, and both, against onnxruntime float32."""
    size = 28 if quick else 56
    hw = Hardware(n_dsp=25)
    conv = REGISTRY["Conv"]
    out = []
    for dtype in ("ap_fixed<16,6>", "ap_fixed<8,3>"):
        node, qg, x = conv_layer(dtype, hw=size)
        t = qg.tensor_types["x"]
        macs = conv.work(node, qg).outputs * conv.work(node, qg).macs_per_output
        values, (_ys, n_ovf) = measure(lambda: conv.run_fixed(node, [x], qg), budget_s=1.0)
        cycles, rep = measure(lambda: conv.cost(node, qg, hw), budget_s=1.0)
        ort_t, _ = measure(ort_conv(node, t.to_float(x)), budget_s=1.0)
        both = values.best_s + cycles.best_s
        exact = bool(np.array_equal(_ys[0], per_term_reference(node, qg, x)))
        out.append({
            "layer": f"{size}x{size}x64->64 3x3", "dtype": dtype, "macs": macs,
            "values_s": values.best_s, "cycle_model_s": cycles.best_s, "simulated_cycles": rep.cycles,
            "engine_mac_per_s": macs / both, "values_mac_per_s": macs / values.best_s,
            "cycles_per_s": rep.cycles / cycles.best_s, "ort_f32_s": ort_t.best_s,
            "ort_f32_mac_per_s": macs / ort_t.best_s, "values_vs_ort": ort_t.best_s / values.best_s,
            "engine_vs_ort": ort_t.best_s / both, "overflows": int(n_ovf), "first_call_s": values.first_s,
            "bit_exact_vs_per_term_kernel": exact,
        })
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.seed_analysis", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="benchmark-out", help="folder for seed_analysis.json and seed_sweep.png")
    ap.add_argument("--quick", action="store_true", help="a 28x28 conv instead of 56x56 for the speed figure")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = run_seed_analysis()
    print_table(result)
    plot_seed_sweep(result, out / "seed_sweep.png")
    result["engine_speed"] = engine_speed(args.quick)
    from rich.console import Console
    from rich.table import Table

    t = Table(title="Engine speed (best of runs; simulated MACs per host second)")
    for c in ("layer", "dtype", "values s", "cycle model s", "engine MAC/s", "ort f32 s", "values / ort", "engine / ort",
              "bit-exact"):
        t.add_column(c, justify="right")
    for r in result["engine_speed"]:
        t.add_row(r["layer"], r["dtype"], f"{r['values_s'] * 1e3:.1f} ms", f"{r['cycle_model_s'] * 1e3:.1f} ms",
                  f"{r['engine_mac_per_s']:.3g}", f"{r['ort_f32_s'] * 1e3:.1f} ms", f"{r['values_vs_ort']:.2f}x",
                  f"{r['engine_vs_ort']:.2f}x", str(r["bit_exact_vs_per_term_kernel"]))
    Console(width=170).print(t)
    (out / "seed_analysis.json").write_text(dumps(result))
    print(f"wrote {out / 'seed_analysis.json'} and {out / 'seed_sweep.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
