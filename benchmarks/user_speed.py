"""Speed where users feel it (issue 18): whole `simulate` calls, whole networks, element-wise
layers, the cost model, and the first run on an empty Numba cache.

Every ratio is measured side by side in this run: onnxruntime float32 (or a NumPy pass over
the same data) beside `fpga_sim.simulate` as a user calls it (warm, best of several), with the
cycle model and every telemetry count computed.  Where a network is slow, `host_ms_by_op` says
where its time goes (each node's kernel timed alone, the cost model apart).
"""
from __future__ import annotations

import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from . import onnx_models
from .networks import _batch_model, strip_unsupported
from .ort import ort_runner
from .startup import child
from .timing import measure

SIMULATE_TARGET = 0.8        # simulate() >= 0.8x onnxruntime on the 56x56x64 conv
NETWORK_TARGET = 0.5         # whole networks >= 0.5x onnxruntime
ELEMENTWISE_TARGET = 0.5     # element-wise layers within 2x of a NumPy pass (speed ratio >= 0.5)
DEPTHWISE_TARGET = 0.5
COST_TARGET_S = 0.020        # ResNet-50's full cost report
FLOW_COMPILE_TARGET_S = 10.0
LENET_FIRST_TARGET_S = 5.0


def _target(row: dict[str, Any], text: str, measured: float | None, unit: str, met: bool | None) -> dict[str, Any]:
    row.update({"target": text, "measured": measured, "unit": unit, "target_met": met})
    return row


# ----------------------------------------------------------------------------- simulate() end to end
def simulate_rows(quick: bool) -> list[dict[str, Any]]:
    """The 56x56x64->64 3x3 conv through simulate(), beside onnxruntime and the bare kernel, with
    the host time split into input quantise, kernel, dequantise and the (cached) cost."""
    from fpga_sim import Hardware, simulate
    from fpga_sim.simulation import cost_report

    from . import engine

    c, hw_ = (16, 16) if quick else (64, 56)
    model = onnx_models.conv_model(1, c, hw_, c)
    x = np.random.default_rng(1).uniform(-1, 1, (1, c, hw_, hw_)).astype(np.float32)
    ort = ort_runner(model, {"x": x})
    rows = []
    for prec in ("ap_fixed<16,6>", "ap_fixed<8,3>"):
        qg = engine.quantized(model, x, prec)
        hw = Hardware()
        node = engine.mac_node(qg)
        x_raw, kernel = engine.layer_runner(qg, node, x)
        t_in, t_out = qg.tensor_types["x"], qg.tensor_types[qg.graph.outputs[0]]
        y = kernel()
        parts: dict[str, Callable[[], Any]] = {
            "ort": ort, "simulate": lambda: simulate(qg, x, hw), "kernel": kernel,
            "quantize_input": lambda: t_in.quantize_counted(x), "to_float": lambda: t_out.to_float(y),
            "cost_cached": lambda: cost_report(qg, hw)}      # the reused plan: copies and totals
        best = _interleaved(parts, 0.3 if quick else 3.0)
        row = {"case": f"conv3x3 {hw_}x{hw_}x{c}->{c}", "precision": prec, **{f"{k}_s": v for k, v in best.items()}}
        row["bookkeeping_s"] = best["simulate"] - best["kernel"] - best["quantize_input"] - best["to_float"] - \
            best["cost_cached"]
        ratio = best["ort"] / best["simulate"]
        rows.append(_target(row, f"simulate() conv3x3 at {prec} >= {SIMULATE_TARGET}x onnxruntime", ratio, "x",
                            ratio >= SIMULATE_TARGET))
    return rows


def _interleaved(fns: dict[str, Callable[[], Any]], budget_s: float) -> dict[str, float]:
    """Best time of each function, the calls interleaved round by round (a load spike on the
    shared machine then hits every peer alike)."""
    for fn in fns.values():
        fn()
    best = {k: float("inf") for k in fns}
    t_end = time.perf_counter() + budget_s
    rounds = 0
    while rounds < 3 or (time.perf_counter() < t_end and rounds < 200):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t0)
        rounds += 1
    return best


# ----------------------------------------------------------------------------- whole networks
def _network(name: str, batch: int) -> onnx.ModelProto:
    if name == "small_cnn":
        return onnx_models.small_cnn(batch)
    if name == "mobilenet_v2":
        return onnx_models.mobilenet_v2(batch)
    model, _ = strip_unsupported(onnx_models.light_model(name, batch=batch))
    # a Reshape to a fixed batch of 1 (AlexNet's flatten, [1, 9216]) keeps the batch instead
    shapes = {n.input[1] for n in model.graph.node if n.op_type == "Reshape" and len(n.input) > 1}
    for i, t in enumerate(model.graph.initializer):
        if t.name in shapes:
            v = numpy_helper.to_array(t).copy()
            if v.ndim == 1 and v.size >= 2 and v[0] == 1:
                v[0] = -1
                model.graph.initializer[i].CopyFrom(numpy_helper.from_array(v, t.name))
    return model


NETWORKS = (("squeezenet", "SqueezeNet 224"), ("bvlc_alexnet", "AlexNet 224"), ("resnet50", "ResNet-50 224"),
            ("mobilenet_v2", "MobileNetV2 224"))


def network_rows(quick: bool) -> list[dict[str, Any]]:
    """Each network warm at batch 1 and 16, at auto<16> and ap_fixed<16,6>, beside onnxruntime."""
    from fpga_sim import Hardware, load_onnx, quantize, simulate

    nets = (("small_cnn", "small CNN 8x8"),) if quick else NETWORKS
    batches = (1,) if quick else (1, 16)
    rows = []
    for name, label in nets:
        for batch in batches:
            try:
                model = _network(name, batch)
                _, shape = onnx_models.activation_input(model)
                x = np.random.default_rng(2).uniform(0, 1, shape).astype(np.float32)
                t_ort, _ = measure(ort_runner(_batch_model(model, batch), {onnx_models.activation_input(model)[0]: x}),
                                   0.3 if quick else 2.0, min_runs=2, max_runs=20)
            except Exception as e:  # noqa: BLE001 - reported in the table, never hidden
                rows.append({"network": label, "batch": batch, "precision": "-", "error": f"{type(e).__name__}: {e}"})
                continue
            for prec in ("auto<16>", "ap_fixed<16,6>"):
                row: dict[str, Any] = {"network": label, "batch": batch, "precision": prec, "ort_s": t_ort.best_s}
                try:
                    qg = quantize(load_onnx(model), calibration=x[:4], precision=prec)
                    hw = Hardware(n_dsp=25)
                    with _counting_costs() as computed:
                        t_sim, _ = measure(lambda: simulate(qg, x, hardware=hw), 0.0 if batch > 1 else 1.0,
                                           min_runs=1 if batch > 1 else 2, max_runs=3)
                    row.update({"sim_s": t_sim.best_s, "sim_first_s": t_sim.first_s,
                                "cost_computations": computed[0], "simulate_calls": t_sim.runs + 1,
                                "outside_kernels_ms": _outside_kernels(qg, x, hw, 1 if batch > 1 else 3),
                                "host_ms_by_op": _by_op(qg, x), "routes": _routes(qg, x)})
                except Exception as e:  # noqa: BLE001 - reported in the table, never hidden
                    row["error"] = f"{type(e).__name__}: {e}"
                    rows.append(row)
                    continue
                ratio = t_ort.best_s / t_sim.best_s
                rows.append(_target(row, f"{label} batch {batch} {prec} >= {NETWORK_TARGET}x onnxruntime", ratio, "x",
                                    ratio >= NETWORK_TARGET))
    return rows


@contextmanager
def _counting_costs() -> Iterator[list[int]]:
    """How many times the cost model is computed inside the block (once per graph and hardware)."""
    from fpga_sim import simulation

    real, count = simulation._compute_costs, [0]

    def counted(qg: Any, hw: Any) -> Any:
        count[0] += 1
        return real(qg, hw)
    simulation._compute_costs = counted
    try:
        yield count
    finally:
        simulation._compute_costs = real


def _outside_kernels(qg: Any, x: np.ndarray, hw: Any, runs: int) -> float:
    """Milliseconds of a warm simulate() spent outside the ops' run_fixed (input quantise, cost
    reuse, totals, dequantise, freeing tensors): best of `runs`."""
    from fpga_sim import simulate
    from fpga_sim.ops import get_op

    inside = [0.0]
    classes = {type(get_op(n.op)) for n in qg.nodes}
    real = {c: c.run_fixed for c in classes}

    def timed(fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(self: Any, *a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(self, *a, **k)
            finally:
                inside[0] += time.perf_counter() - t0
        return run
    best = float("inf")
    try:
        for c in classes:
            c.run_fixed = timed(real[c])
        for _ in range(runs):
            inside[0] = 0.0
            t0 = time.perf_counter()
            simulate(qg, x, hardware=hw)
            best = min(best, time.perf_counter() - t0 - inside[0])
    finally:
        for c in classes:
            c.run_fixed = real[c]
    return round(best * 1e3, 2)


def _by_op(qg: Any, x: np.ndarray) -> dict[str, float]:
    """Milliseconds of each op kind's kernels over one pass (warm), and of the uncached cost model.
    Tensors are dropped after their last use, as simulate does (keeping every one held 3-4 GB
    at batch 16 on ResNet-50 and MobileNetV2, which a loaded machine paid for in the timings)."""
    from fpga_sim import Hardware
    from fpga_sim.ops import get_op
    from fpga_sim.simulation import _last_use

    g = qg.graph
    env = {g.inputs[0]: qg.tensor_types[g.inputs[0]].quantize(x)}
    last = _last_use(g)
    per: dict[str, float] = defaultdict(float)
    for i, n in enumerate(g.nodes):
        t0 = time.perf_counter()
        outs, _ = get_op(n.op).run_fixed(n, [env[t] for t in n.inputs], qg)
        per[n.op] += time.perf_counter() - t0
        env.update(zip(n.outputs, outs))
        for t in n.inputs:
            if last.get(t) == i and t not in g.outputs:
                env.pop(t, None)
    cold = _cold_costs(qg, Hardware(n_dsp=25))
    t0 = time.perf_counter()
    cold()
    per["cost model (uncached)"] = time.perf_counter() - t0
    return {k: round(v * 1e3, 1) for k, v in sorted(per.items(), key=lambda kv: -kv[1])}


def _routes(qg: Any, x: np.ndarray) -> dict[str, int]:
    """How many MAC layers took each route of the table (one more simulate, recorded)."""
    from fpga_sim import simulate
    from fpga_sim.ops.mac_kernels import recording_routes

    with recording_routes() as taken:
        simulate(qg, x)
    out: dict[str, int] = defaultdict(int)
    for r in taken:
        out[r] += 1
    return dict(out)


# ----------------------------------------------------------------------------- element-wise layers
def _elementwise_model(c: int, hw: int, batch: int = 1) -> onnx.ModelProto:
    rng = np.random.default_rng(3)
    scale = rng.uniform(0.5, 1.5, (c, 1, 1)).astype(np.float32)
    nodes = [helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("Clip", ["x", "lo", "hi"], ["clip"]),
             helper.make_node("Add", ["x", "r"], ["add"]),
             helper.make_node("Mul", ["x", "scale"], ["mul"]),
             helper.make_node("Concat", ["x", "r"], ["cat"], axis=1),
             helper.make_node("MaxPool", ["x"], ["mp"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
             helper.make_node("GlobalAveragePool", ["x"], ["gap"])]
    ho = (hw - 1) // 2 + 1
    shapes = {"clip": [batch, c, hw, hw], "add": [batch, c, hw, hw], "mul": [batch, c, hw, hw],
              "cat": [batch, 2 * c, hw, hw], "mp": [batch, c, ho, ho], "gap": [batch, c, 1, 1]}
    outs = [helper.make_tensor_value_info(t, TensorProto.FLOAT, s) for t, s in shapes.items()]
    consts = [numpy_helper.from_array(scale, "scale"), numpy_helper.from_array(np.float32(0.0), "lo"),
              numpy_helper.from_array(np.float32(1.5), "hi")]
    graph = helper.make_graph(nodes, "elementwise", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                                     [batch, c, hw, hw])],
                              outs, consts)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", onnx_models.OPSET)])
    m.ir_version = 8
    return m


def elementwise_rows(quick: bool) -> list[dict[str, Any]]:
    """Each element-wise op's bit-accurate kernel against a NumPy pass over the same raw data,
    at batch 1 and 16 (a large batch leaves the caches: both sides pay it alike)."""
    from fpga_sim import load_onnx, quantize, simulate
    from fpga_sim.ops import get_op
    from fpga_sim.ops.relu import bounds_raw

    c, hw = (16, 16) if quick else (256, 56)
    rows = []
    for batch in (1,) if quick else (1, 16):
        model = _elementwise_model(c, hw, batch)
        x = np.random.default_rng(4).normal(0, 1, (batch, c, hw, hw)).astype(np.float32)
        qg = quantize(load_onnx(model), calibration=x[:1], precision="ap_fixed<16,6>")
        raw = simulate(qg, x, trace=True).tensors_raw
        s = np.asarray(qg.qparams[next(n.name for n in qg.nodes if n.op == "Mul")]["scale"])
        a, b = raw["x"], raw["r"]
        clip = next(n for n in qg.nodes if n.outputs == ["clip"])
        lo, hi = bounds_raw(clip.attrs, qg.tensor_types["x"])

        def pool(v: np.ndarray) -> np.ndarray:
            vp = np.pad(v, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=np.iinfo(np.int64).min)
            ho = (hw - 1) // 2 + 1
            return np.maximum.reduce([vp[:, :, i:i + 2 * ho - 1:2, j:j + 2 * ho - 1:2] for i in range(3)
                                      for j in range(3)])

        numpy_peer = {"Relu": lambda: np.maximum(a, 0), "Clip": lambda: np.clip(a, lo, hi),
                      "Add": lambda: np.add(a, b), "Mul": lambda: a * s,
                      "Concat": lambda: np.concatenate([a, b], axis=1), "MaxPool": lambda: pool(a),
                      "AveragePool": lambda: a.sum(axis=(2, 3))}
        for n in qg.nodes:
            kind = "Clip" if n is clip else n.op
            if kind not in numpy_peer:
                continue
            ins = [raw[t] for t in n.inputs]
            op = get_op(n.op)
            best = _interleaved({"numpy": numpy_peer[kind], "engine": lambda: op.run_fixed(n, ins, qg)},
                                0.2 if quick else 2.0)
            ratio = best["numpy"] / best["engine"]
            shape = f"{batch}x{c}x{hw}x{hw}"
            row = {"op": kind, "shape": shape, "numpy_s": best["numpy"], "engine_s": best["engine"]}
            rows.append(_target(row, f"{kind} {shape} within 2x of a NumPy pass", ratio, "x",
                                ratio >= ELEMENTWISE_TARGET))
    return rows


# ----------------------------------------------------------------------------- cost model
def _cold_costs(qg: Any, hw: Any) -> Callable[[], Any]:
    """A cost model computed as for a (graph, hardware) pair never seen: every cache emptied."""
    from fpga_sim.machine import forget_layer_costs
    from fpga_sim.simulation import _compute_costs

    def run() -> Any:
        forget_layer_costs()
        return _compute_costs(qg, hw)          # forgets the graph's memory policy itself
    return run


def cost_model_row(quick: bool) -> dict[str, Any]:
    """ResNet-50's full cost report: computed cold (the first time for a graph and hardware, in a
    warm process; best process CPU time, robust to load, and wall time) and reused."""
    from fpga_sim import Hardware, load_onnx, quantize
    from fpga_sim.simulation import cost_report

    name = "small_cnn" if quick else "resnet50"
    model = _network(name, 1)
    _, shape = onnx_models.activation_input(model)
    x = np.random.default_rng(2).uniform(0, 1, shape).astype(np.float32)
    qg = quantize(load_onnx(model), calibration=x, precision="auto<16>")
    hw = Hardware(n_dsp=25)
    cold = _cold_costs(qg, hw)
    t_full, _ = measure(cold, 0.5, min_runs=3, max_runs=10)
    cpu = []
    for _ in range(5):
        t0 = time.process_time()
        cold()
        cpu.append(time.process_time() - t0)
    cost_report(qg, hw)
    t_cached, _ = measure(lambda: cost_report(qg, hw), 0.2)
    best = min(min(cpu), t_full.best_s)
    row = {"network": name, "computed_s": t_full.best_s, "computed_cpu_s": min(cpu), "reused_s": t_cached.best_s,
           "layers": len(qg.nodes)}
    return _target(row, f"{name} full cost report < {COST_TARGET_S * 1e3:.0f} ms cold (computed once per graph and "
                        f"hardware; reused {t_cached.best_s * 1e3:.2f} ms)", best * 1e3, "ms",
                   best < COST_TARGET_S)


# ----------------------------------------------------------------------------- first run
def first_run(quick: bool) -> dict[str, Any]:
    """The fpga-sim part of a first flow on LeNet in a fresh process with an empty Numba cache
    (compile events recorded in the child: probe.first_run); the quick run uses the cache as found."""
    if quick:
        res = child(["first-run"], timeout=1800)
    else:
        with tempfile.TemporaryDirectory(prefix="bench_first_run_") as cache:
            res = child(["first-run"], {"NUMBA_CACHE_DIR": cache}, timeout=1800)
    if "error" in res:
        return res
    res["cache"] = "as found" if quick else "empty"
    res["rows"] = [
        _target({"what": "flow compile"}, f"first flow on LeNet: <= {FLOW_COMPILE_TARGET_S:.0f} s compiling (process "
                f"CPU in numba's compile events; wall {res['flow_compile_s']:.1f} s; the quantise+simulate+compare "
                f"phases took {res['flow_cpu_s']:.1f} s CPU)", res["flow_compile_cpu_s"], "s",
                res["flow_compile_cpu_s"] <= FLOW_COMPILE_TARGET_S),
        _target({"what": "LeNet first simulate"}, f"first simulate of LeNet < {LENET_FIRST_TARGET_S:.0f} s (cold "
                f"cache: the flow's chunked simulate, which compiles the kernels; CPU {res['simulate_cpu_s']:.1f} s)",
                res["simulate_s"], "s",
                res["simulate_s"] < LENET_FIRST_TARGET_S),
    ]
    return res


PARTS: dict[str, Callable[[bool], Any]] = {"simulate": simulate_rows, "elementwise": elementwise_rows,
                                          "cost_model": cost_model_row, "whole_networks": network_rows,
                                          "first_run": first_run}


def targets(sec: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of these sections that carry a target, as the runner's target list."""
    rows: list[dict[str, Any]] = []
    for key in ("simulate", "elementwise", "whole_networks"):
        v = sec.get(key)
        rows += [r for r in v if "target" in r] if isinstance(v, list) else []
    if isinstance(sec.get("cost_model"), dict) and "target" in sec["cost_model"]:
        rows.append(sec["cost_model"])
    fr = sec.get("first_run")
    if isinstance(fr, dict):
        rows += fr.get("rows", [])
    return [{"target": r["target"], "measured": r["measured"], "unit": r["unit"], "met": r["target_met"]}
            for r in rows]
