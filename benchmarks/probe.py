"""What runs inside a fresh child process: start-up timings and peak memory (one JSON line out).

`python -m benchmarks.probe startup` times `import fpga_sim`, the first simulate() (which
compiles or loads the Numba kernels) and the second; `sim-peak NET` and `ort-peak NET` run one
image of a network through fpga-sim or onnxruntime and report the process's peak RSS
(VmHWM; ru_maxrss where /proc is missing), so the two peaks come from identical, otherwise empty processes.
"""
from __future__ import annotations

import json
import resource
import sys
import time

import numpy as np


def _peak_mib() -> float:
    """This process's peak RSS in MiB: VmHWM (reset at exec), else ru_maxrss.

    Linux carries ru_maxrss across fork+exec, so a child's ru_maxrss can be its parent's peak;
    VmHWM belongs to the child's own address space.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0   # Linux: KiB


def _model(net: str):
    from . import onnx_models

    if net == "small_cnn":
        return onnx_models.small_cnn()
    if net.startswith("conv"):
        return onnx_models.conv_model(1, 16, 16, 16)
    return onnx_models.light_model(net)


def startup() -> dict:
    t0 = time.perf_counter()
    import fpga_sim
    from fpga_sim import Hardware, load_onnx, quantize, simulate

    t_import = time.perf_counter() - t0
    from . import onnx_models

    model = onnx_models.small_cnn()
    x = np.random.default_rng(0).uniform(0, 1, (4, 1, 8, 8)).astype(np.float32)
    t0 = time.perf_counter()
    qg = quantize(load_onnx(model), calibration=x, precision="ap_fixed<16,6>")
    t_quant = time.perf_counter() - t0
    hw = Hardware(n_dsp=25)
    t0 = time.perf_counter()
    simulate(qg, x, hardware=hw)
    t_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    simulate(qg, x, hardware=hw)
    t_second = time.perf_counter() - t0
    return {"import_s": t_import, "load_quantize_s": t_quant, "first_simulate_s": t_first,
            "second_simulate_s": t_second, "fpga_sim": fpga_sim.__version__}


def first_run() -> dict:
    """The fpga-sim part of a first `fpga-sim flow` on the default digits CNN (LeNet 8x8):
    quantise, simulate with trace in chunks of 64 as the flow does, compare with onnxruntime;
    then the first simulate of one more LeNet batch.  Each phase's wall time and Numba compile
    events (`compile_events`), so a cold cache shows where compile time goes."""
    from .compile_events import compile_events

    t0 = time.perf_counter()
    with compile_events() as ev_i:
        import fpga_sim  # noqa: F401
        from fpga_sim import Hardware, compare, load_onnx, quantize, simulate
    t_import = time.perf_counter() - t0
    from .networks import digits_cnn_onnx

    model, x, _ = digits_cnn_onnx(360)
    out: dict = {"import_s": t_import}
    hw = Hardware()
    with compile_events() as ev_q:
        t0 = time.perf_counter()
        qg = quantize(load_onnx(model), calibration=x, precision="auto<16>")
        out["quantize_s"] = time.perf_counter() - t0
    with compile_events() as ev_s:
        t0 = time.perf_counter()
        sims = [simulate(qg, x[i:i + 64], hardware=hw, trace=True) for i in range(0, len(x), 64)]
        out["simulate_s"] = time.perf_counter() - t0
    with compile_events() as ev_c:
        t0 = time.perf_counter()
        compare(model, qg, x[:64], sim=sims[0])
        out["compare_s"] = time.perf_counter() - t0
    with compile_events() as ev_l:
        t0 = time.perf_counter()
        simulate(qg, x[:1], hardware=hw)
        out["one_sample_simulate_s"] = time.perf_counter() - t0
    for k, ev in (("import", ev_i), ("quantize", ev_q), ("simulate", ev_s), ("compare", ev_c), ("one_sample", ev_l)):
        out[f"{k}_compile_s"] = ev["compile_s"]
        out[f"{k}_compile_cpu_s"] = ev["compile_cpu_s"]
        out[f"{k}_compiles"] = ev["compiles"]
        out[f"{k}_cpu_s"] = ev["cpu_s"]
        out[f"{k}_top"] = [(f["name"], round(f["cpu_s"], 2), len(f["signatures"])) for f in ev["functions"][:12]]
    flow = (ev_i, ev_q, ev_s, ev_c)
    out["flow_compile_s"] = sum(ev["compile_s"] for ev in flow)
    out["flow_compile_cpu_s"] = sum(ev["compile_cpu_s"] for ev in flow)
    out["flow_cpu_s"] = sum(ev["cpu_s"] for ev in flow)
    return out


def sim_peak(net: str) -> dict:
    from fpga_sim import Hardware, load_onnx, quantize, simulate

    from . import onnx_models
    from .networks import strip_unsupported

    model, dropped = strip_unsupported(_model(net))
    _, shape = onnx_models.activation_input(model)
    x = np.random.default_rng(2).uniform(0, 1, shape).astype(np.float32)
    base = _peak_mib()
    t0 = time.perf_counter()
    qg = quantize(load_onnx(model), calibration=x, precision="ap_fixed<16,6>")
    del model
    t_q = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = simulate(qg, x, hardware=Hardware(n_dsp=25))
    t_s = time.perf_counter() - t0
    return {"peak_rss_mib": _peak_mib(), "baseline_rss_mib": base, "load_quantize_s": t_q,
            "simulate_s": t_s, "cycles": int(res.totals["cycles"]), "macs": int(res.totals["macs"]),
            "bypassed": dropped}


def ort_peak(net: str) -> dict:
    from . import onnx_models
    from .ort import session

    model = _model(net)
    name, shape = onnx_models.activation_input(model)
    x = np.random.default_rng(2).uniform(0, 1, shape).astype(np.float32)
    base = _peak_mib()
    sess = session(model)
    del model
    t0 = time.perf_counter()
    sess.run(None, {name: x})
    return {"peak_rss_mib": _peak_mib(), "baseline_rss_mib": base, "run_s": time.perf_counter() - t0}


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else ""
    if cmd == "startup":
        out = startup()
    elif cmd == "first-run":
        out = first_run()
    elif cmd == "sim-peak" and len(argv) == 2:
        out = sim_peak(argv[1])
    elif cmd == "ort-peak" and len(argv) == 2:
        out = ort_peak(argv[1])
    else:
        print("usage: python -m benchmarks.probe startup | first-run | sim-peak NET | ort-peak NET", file=sys.stderr)
        return 2
    print("PROBE " + json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
