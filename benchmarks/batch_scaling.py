"""Where a network's host time goes at a given batch, in process CPU time (robust on a loaded
machine, where wall time waits for the other engineers' processes): a warm simulate(), then
one pass of every node's kernel with tensors dropped after their last use (as simulate does).

    python -m benchmarks.batch_scaling resnet50 16 'auto<16>'

prints one JSON line: simulate's wall and CPU seconds and the per-op-kind wall and CPU ms.
Run it at batch 1 and 16 to see how each op kind scales (issue 18).
"""
from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from typing import Any

import numpy as np

from . import onnx_models
from .user_speed import _network


def profile(name: str, batch: int, precision: str) -> dict[str, Any]:
    from fpga_sim import Hardware, load_onnx, quantize, simulate
    from fpga_sim.ops import get_op
    from fpga_sim.simulation import _last_use

    model = _network(name, batch)
    _, shape = onnx_models.activation_input(model)
    x = np.random.default_rng(2).uniform(0, 1, shape).astype(np.float32)
    qg = quantize(load_onnx(model), calibration=x[:4], precision=precision)
    hw = Hardware(n_dsp=25)
    for _ in range(2):                                 # warm: sessions, weight copies (2nd call), costs
        simulate(qg, x, hardware=hw)
    g = qg.graph
    last = _last_use(g)
    wall: dict[str, float] = defaultdict(float)
    cpu: dict[str, float] = defaultdict(float)
    env = {g.inputs[0]: qg.tensor_types[g.inputs[0]].quantize(x)}
    for i, n in enumerate(g.nodes):
        ins = [env[t] for t in n.inputs]
        t0, c0 = time.perf_counter(), time.process_time()
        outs, _ = get_op(n.op).run_fixed(n, ins, qg)
        wall[n.op] += time.perf_counter() - t0
        cpu[n.op] += time.process_time() - c0
        env.update(zip(n.outputs, outs))
        del ins
        for t in n.inputs:
            if last.get(t) == i and t not in g.outputs:
                env.pop(t, None)
    t0, c0 = time.perf_counter(), time.process_time()
    simulate(qg, x, hardware=hw)
    sim_wall, sim_cpu = time.perf_counter() - t0, time.process_time() - c0

    def ms(d: dict[str, float]) -> dict[str, int]:
        return {k: round(v * 1e3) for k, v in sorted(d.items(), key=lambda kv: -kv[1])}

    return {"network": name, "batch": batch, "precision": precision, "simulate_wall_s": round(sim_wall, 2),
            "simulate_cpu_s": round(sim_cpu, 2), "op_wall_ms": ms(wall), "op_cpu_ms": ms(cpu)}


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: python -m benchmarks.batch_scaling NETWORK BATCH PRECISION "
                 "(NETWORK: squeezenet, bvlc_alexnet, resnet50, mobilenet_v2, small_cnn)")
    print(json.dumps(profile(sys.argv[1], int(sys.argv[2]), sys.argv[3])))
