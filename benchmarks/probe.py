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
    elif cmd == "sim-peak" and len(argv) == 2:
        out = sim_peak(argv[1])
    elif cmd == "ort-peak" and len(argv) == 2:
        out = ort_peak(argv[1])
    else:
        print("usage: python -m benchmarks.probe startup | sim-peak NET | ort-peak NET", file=sys.stderr)
        return 2
    print("PROBE " + json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
