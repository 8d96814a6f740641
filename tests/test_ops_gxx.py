"""The C++ each op module's docstring states, compiled with Xilinx's ap_fixed.h, against the
op's run_fixed, bit for bit (tests/cpp/ops_check.cpp holds the C++; this file the cases).

This pins the contract codegen implements: if the engine and these few lines of ap_fixed C++
agree on random types (every rounding and overflow mode), a template that follows the
docstring computes what the simulator computed."""
from __future__ import annotations

import numpy as np
import pytest

from fpga_sim.fixed import Fixed
from fpga_sim.ops.avgpool import reciprocal_type
from fpga_sim.ops.lut import LutAttrs
from fpga_sim.ops.relu import bounds_raw

from .gxx_support import compile_driver, run_driver
from .ops_support import lower, one_node_model, qgraph_for, random_raw, random_type

pytestmark = [pytest.mark.gxx, pytest.mark.slow]
N = 96          # values per case
CASES = 6       # type combinations per op (one template instantiation each)


def c(t: Fixed) -> str:
    base = "ap_fixed" if t.signed else "ap_ufixed"
    return f"{base}<{t.width},{t.int_bits},{t.rounding},{t.overflow}>"


def sign_extend(bits: np.ndarray, t: Fixed) -> np.ndarray:
    v = (bits.astype(np.uint64) & np.uint64((1 << t.width) - 1)).astype(np.int64)
    if t.signed:
        v = np.where(v >= (1 << (t.width - 1)), v - (1 << t.width), v)
    return v


class Jobs:
    """Calls for cases.inc, their raw inputs in program order, and the expected raw outputs."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.inputs: list[np.ndarray] = []
        self.expect: list[tuple[str, np.ndarray, Fixed | None]] = []

    def add(self, call: str, columns: list[np.ndarray], expect: np.ndarray, out: Fixed | None) -> None:
        self.lines.append(call + ";")
        rows = len(np.asarray(expect).reshape(-1))   # one output per row of interleaved inputs
        self.inputs.append(np.concatenate([np.asarray(col, np.int64).reshape(rows, -1) for col in columns], 1)
                           .reshape(-1))
        self.expect.append((call, np.asarray(expect, np.int64).reshape(-1), out))


def _types(rng, k):
    return [random_type(rng) for _ in range(k)]


def _with_constant(jobs: Jobs, rng: np.random.Generator, op_type: str, const: np.ndarray, param: str,
                   call: str) -> None:
    """op_type of x and a per-element constant (quantised as qparams[param]), random types for the
    input, the constant and the result: the C++ call<in, constant, result>(N)."""
    op, node, _ = lower(one_node_model(op_type, [("x", (1, N))], consts={"s": const.astype(np.float32)}))
    t_in, t_s, t_out = _types(rng, 3)
    qg = qgraph_for(op, node, [(N,)], [t_in], t_out, weight=t_s)
    x = random_raw(rng, t_in, (1, N))
    (y,), _ = op.run_fixed(node, [x], qg)
    jobs.add(f"{call}<{c(t_in)}, {c(t_s)}, {c(t_out)}>({N})", [x.reshape(-1), qg.qparams["n0"][param]], y, t_out)


def build(rng: np.random.Generator) -> Jobs:
    jobs = Jobs()
    for i in range(CASES):
        # Clip / Relu
        lo, hi = [(0.0, None), (-1.0, 1.5), (None, 0.25), (0.0, 6.0), (-0.3, 0.7), (-2.0, None)][i]
        m = one_node_model("Clip", [("x", (1, N))], attrs={k: v for k, v in (("min", lo), ("max", hi)) if v is not None}, opset=9)
        op, node, _ = lower(m)
        t_in, t_out = _types(rng, 2)
        qg = qgraph_for(op, node, [(N,)], [t_in], t_out)
        x = random_raw(rng, t_in, (1, N))
        (y,), _ = op.run_fixed(node, [x], qg)
        rl, rh = bounds_raw(node.attrs, t_in)
        jobs.add(f"clip<{c(t_in)}, {c(t_out)}>({N}, {int(rl is not None)}, {rl or 0}LL, {int(rh is not None)}, {rh or 0}LL)",
                 [x.reshape(-1)], y, t_out)
        # LeakyRelu / PRelu (per-element slope)
        _with_constant(jobs, rng, "PRelu", rng.uniform(-0.6, 0.6, N), "alpha", "leaky")
        # Mul by a per-element constant
        _with_constant(jobs, rng, "Mul", rng.normal(0, 2, N), "scale", "mul")
        # BatchNormalization over N channels (per-element scale and shift)
        consts = {"g": rng.uniform(0.2, 3, N), "b": rng.normal(0, 2, N), "m": rng.normal(size=N), "v": rng.uniform(0.1, 2, N)}
        m = one_node_model("BatchNormalization", [("x", (1, N))], consts={k: v.astype(np.float32) for k, v in consts.items()})
        op, node, _ = lower(m)
        t_in, t_s, t_b, t_out = _types(rng, 4)
        t_acc = random_type(rng, width=(6, 24)) if i % 2 else op.safe_accum(node, [t_in], t_s)
        qg = qgraph_for(op, node, [(N,)], [t_in], t_out, weight=t_s, bias=t_b, accum=t_acc)
        x = random_raw(rng, t_in, (1, N))
        (y,), _ = op.run_fixed(node, [x], qg)
        q = qg.qparams["n0"]
        jobs.add(f"bn<{c(t_in)}, {c(t_s)}, {c(t_b)}, {c(t_acc)}, {c(t_out)}>({N})",
                 [x.reshape(-1), q["scale"].reshape(-1), q["bias"].reshape(-1)], y, t_out)
        # Sum of three activations and a constant
        m = one_node_model("Sum", [("a", (1, N)), ("b", (1, N)), ("d", (1, N))],
                           consts={"k": rng.normal(0, 3, N).astype(np.float32)})
        op, node, _ = lower(m)
        types = _types(rng, 3)
        t_b, t_out = _types(rng, 2)
        t_acc = random_type(rng, width=(4, 14)) if i % 2 else op.safe_accum(node, types, None)
        qg = qgraph_for(op, node, [(N,)] * 3, types, t_out, bias=t_b, accum=t_acc)
        xs = [random_raw(rng, t, (1, N)) for t in types]
        (y,), _ = op.run_fixed(node, xs, qg)
        jobs.add(f"add3<{c(t_b)}, {c(types[0])}, {c(types[1])}, {c(types[2])}, {c(t_acc)}, {c(t_out)}>({N})",
                 [qg.qparams["n0"]["bias"]] + [x.reshape(-1) for x in xs], y, t_out)
        # GlobalAveragePool over 3x3 windows (count 9)
        op, node, _ = lower(one_node_model("GlobalAveragePool", [("x", (1, N // 8, 3, 3))]))
        t_in, t_out = _types(rng, 2)
        t_w = random_type(rng, width=(6, 18))
        t_acc = random_type(rng, width=(6, 20)) if i % 2 else op.safe_accum(node, [t_in], t_w)
        qg = qgraph_for(op, node, [(N // 8, 3, 3)], [t_in], t_out, weight=t_w, accum=t_acc)
        x = random_raw(rng, t_in, (8, N // 8, 3, 3))
        (y,), _ = op.run_fixed(node, [x], qg)
        rc = reciprocal_type(node, qg.layer_types["n0"])
        recip = np.full(y.size, qg.qparams["n0"]["recip"][9])
        jobs.add(f"avg<{c(t_in)}, {c(t_acc)}, {c(rc)}, {c(t_out)}>({y.size}, 9)",
                 [x.reshape(y.size, 9), recip], y, t_out)
        # LUT index (table = identity so the output is the index)
        bits, r = [(10, 3), (10, 2), (6, 1), (8, 4), (5, 0), (12, 3)][i]
        op, node, _ = lower(one_node_model("Sigmoid", [("x", (1, N))]))
        node.attrs = LutAttrs(bits, r)
        t_in = random_type(rng, width=(3, 20), int_bits=(-3, 10))
        qg = qgraph_for(op, node, [(N,)], [t_in], Fixed(24, 4))
        qg.qparams["n0"]["table"] = np.arange(node.attrs.entries, dtype=np.int64)
        x = random_raw(rng, t_in, (1, N))
        (y,), _ = op.run_fixed(node, [x], qg)
        jobs.add(f"lutidx<{c(t_in)}, {bits}, {r + 1}>({N})", [x.reshape(-1)], y, None)
    return jobs


def test_op_docstrings_in_ap_fixed_cpp_match_run_fixed(tmp_path):
    jobs = build(np.random.default_rng(20261125))
    exe = compile_driver("ops_check", tmp_path, jobs.lines)
    out = run_driver(exe, tmp_path, np.concatenate(jobs.inputs).astype(np.int64))
    assert out.size == sum(e.size for _, e, _ in jobs.expect)
    pos = 0
    for call, expect, t in jobs.expect:
        got = out[pos:pos + expect.size]
        pos += expect.size
        got = sign_extend(got, t) if t is not None else got.astype(np.int64)
        bad = np.flatnonzero(got != expect)
        assert bad.size == 0, f"{call}: ap_fixed.h gives {got[bad[:5]]}, run_fixed {expect[bad[:5]]} at {bad[:5]}"
