"""`simulate`: run a quantised graph bit-accurately on a batch and cost it on the machine.

Every node's integer kernel (`op.run_fixed`) runs on the whole batch at once, in graph order;
every node's cost (`op.cost`) is computed per inference on the given `Hardware`, once per
(graph, hardware) pair: a sweep or a loop over batches reuses it (`cached_costs`).
`run_float` is the same walk with the ops' float kernels (calibration and tests).
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from threading import RLock
from typing import Any, Mapping

import numpy as np

from .errors import FpgaSimError
from .graph import Graph, QGraph
from .results import ENERGY_KINDS, LayerReport, dumps, to_jsonable


def _feeds(graph: Graph, x: Any) -> dict[str, np.ndarray]:
    """x (one array for a one-input graph, or a dict by input name) -> batched float64 arrays."""
    if isinstance(x, Mapping):
        missing = [t for t in graph.inputs if t not in x]
        if missing:
            raise FpgaSimError(f"input {missing[0]!r} of graph {graph.name!r} is not given; inputs: {', '.join(graph.inputs)}")
        feeds = {t: np.asarray(x[t], dtype=np.float64) for t in graph.inputs}
    else:
        if len(graph.inputs) != 1:
            raise FpgaSimError(f"graph {graph.name!r} has inputs {', '.join(graph.inputs)}; pass a dict of arrays by name")
        feeds = {graph.inputs[0]: np.asarray(x, dtype=np.float64)}
    for t, v in feeds.items():
        shape = tuple(graph.shapes[t])
        if v.shape == shape:
            v = v[None]
        if v.shape[1:] != shape:
            raise FpgaSimError(
                f"input {t!r} has shape {v.shape}; graph {graph.name!r} takes a batch of shape (N, {', '.join(map(str, shape))})"
            )
        feeds[t] = v
    return feeds


def _last_use(graph: Graph) -> dict[str, int]:
    last: dict[str, int] = {}
    for i, n in enumerate(graph.nodes):
        for t in n.inputs:
            last[t] = i
    return last


def run_float(graph: Graph, x: Any, keep_all: bool = False) -> dict[str, np.ndarray]:
    """Float64 run of the graph with each op's `run_float`: graph outputs (every tensor if keep_all)."""
    from .ops import get_op

    env = _feeds(graph, x)
    last = _last_use(graph)
    for i, n in enumerate(graph.nodes):
        outs = get_op(n.op).run_float(n, [env[t] for t in n.inputs])
        env.update(zip(n.outputs, outs))
        if not keep_all:
            for t in n.inputs:
                if last.get(t) == i and t not in graph.outputs:
                    env.pop(t, None)
    return env if keep_all else {t: env[t] for t in graph.outputs}


@dataclass
class SimResult:
    """What one simulation gives: outputs, per-layer reports, totals (counts are per inference)."""

    outputs: dict[str, np.ndarray]
    outputs_raw: dict[str, np.ndarray]
    layers: list[LayerReport]
    totals: dict[str, Any]
    tensors: dict[str, np.ndarray] = field(default_factory=dict)       # every tensor, when trace=True
    tensors_raw: dict[str, np.ndarray] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)                # tensor -> ap_fixed spelling

    def layer(self, name: str) -> LayerReport:
        for r in self.layers:
            if r.name == name:
                return r
        raise KeyError(f"no layer named {name!r}")

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable({
            "outputs": self.outputs,
            "layers": [r.to_dict() for r in self.layers],
            "totals": self.totals,
            "types": self.types,
        })

    def to_json(self) -> str:
        return dumps(self.to_dict())


def _param_stats(qg: QGraph) -> tuple[int, int]:
    count = bits = 0
    for n in qg.nodes:
        t = qg.layer_types[n.name]
        for pname, v in n.params.items():
            size = int(np.size(v))
            ty = t.bias if pname == "bias" and t.bias is not None else (t.weight or t.result)
            count += size
            bits += size * ty.width
    return count, bits


def _static_totals(layers: list[LayerReport], qg: QGraph, hw: Any) -> dict[str, Any]:
    """The totals of one inference that no data changes (every key of `totals_of` but batch
    and overflows)."""
    acc = [r for r in layers if r.on_accelerator]
    energy = {k: float(sum(r.energy_pj.get(k, 0.0) for r in layers)) for k in ENERGY_KINDS}
    latency_us = float(sum(r.latency_us for r in acc))
    params, param_bits = _param_stats(qg)
    return {
        "layers": len(layers),
        "cycles": int(sum(r.cycles for r in acc)),
        "compute_cycles": int(sum(r.compute_cycles for r in acc)),
        "stall_cycles": int(sum(r.stall_cycles for r in acc)),
        "latency_us": latency_us,
        "throughput_per_s": (1e6 / latency_us) if latency_us > 0 else float("inf"),
        "clock_mhz": float(hw.clock_mhz),
        "n_dsp": int(hw.n_dsp),
        "macs": int(sum(r.macs for r in layers)),
        "adds": int(sum(r.adds for r in layers)),
        "energy_pj": energy,
        "energy_total_pj": float(sum(energy.values())),
        "sram_reads": int(sum(r.sram_reads for r in layers)),
        "sram_writes": int(sum(r.sram_writes for r in layers)),
        "dram_reads": int(sum(r.dram_reads for r in layers)),
        "dram_writes": int(sum(r.dram_writes for r in layers)),
        "dram_read_bytes": int(sum(r.dram_read_bytes for r in layers)),
        "dram_write_bytes": int(sum(r.dram_write_bytes for r in layers)),
        "params": params,
        "param_bits": param_bits,
    }


def _with_counts(static: dict[str, Any], layers: list[LayerReport], batch: int) -> dict[str, Any]:
    """The static totals with this call's batch and overflow counts, in `totals_of`'s key order."""
    out: dict[str, Any] = {"batch": batch}
    out.update(static)
    out["energy_pj"] = dict(static["energy_pj"])
    out["overflows"] = int(sum(r.overflows for r in layers))
    out["host_layers"] = [r.name for r in layers if not r.on_accelerator]
    return out


def totals_of(layers: list[LayerReport], qg: QGraph, hw: Any, batch: int) -> dict[str, Any]:
    """Whole-network totals for one inference (layers run one after another on the array)."""
    return _with_counts(_static_totals(layers, qg, hw), layers, batch)


@dataclass(frozen=True)
class CostPlan:
    """What every simulate of one (graph, hardware) pair reuses: the per-layer reports, the
    totals no data changes, the tensor type spellings and each tensor's last reader."""

    layers: tuple[LayerReport, ...]
    static_totals: dict[str, Any]
    types: dict[str, str]
    last_use: dict[str, int]

    def layer_copies(self, overflows: Mapping[str, int] | None = None) -> list[LayerReport]:
        """Fresh reports (the plan's are shared) with this call's overflow counts."""
        counts = overflows or {}
        return [r.fresh(overflows=int(counts.get(r.name, 0))) for r in self.layers]


def layer_reports(qg: QGraph, hw: Any, overflows: Mapping[str, int] | None = None,
                  costs: list[LayerReport] | None = None) -> list[LayerReport]:
    """Every layer's cost for one inference on hw (computed once per layer, whatever the batch,
    and once per (graph, hardware): later calls copy the cached reports, see `cost_plan`)."""
    if costs is None:
        return cost_plan(qg, hw).layer_copies(overflows)
    return CostPlan(tuple(costs), {}, {}, {}).layer_copies(overflows)


def _compute_costs(qg: QGraph, hw: Any) -> list[LayerReport]:
    from .memory_policy import forget
    from .ops import get_op

    forget(qg)                 # the graph may have changed in place since a policy was resolved
    layers: list[LayerReport] = []
    for n in qg.nodes:
        r = get_op(n.op).cost(n, qg, hw)
        if qg.quant_overflows.get(n.name):
            msg = f"{qg.quant_overflows[n.name]} parameter values saturated or wrapped when quantised"
            r.notes = f"{r.notes}; {msg}" if r.notes else msg
        layers.append(r)
    return layers


def _hashable(v: Any) -> Any:
    try:
        hash(v)
        return v
    except TypeError:
        return repr(v)


def _arrays(params: Mapping[str, Any]) -> tuple:
    return tuple((k, id(v), v.shape if isinstance(v, np.ndarray) else np.shape(v)) for k, v in params.items())


def cost_fingerprint(qg: QGraph) -> tuple:
    """Everything a layer's cost reads, by value or by identity (parameter arrays by id: the
    cache freezes them, so an in-place edit raises instead of meeting a stale cost)."""
    g = qg.graph
    qparams = qg.qparams
    nodes = tuple((id(n), n.name, n.op, n.activation, _hashable(n.attrs), tuple(n.inputs), tuple(n.outputs),
                   qg.layer_types.get(n.name), _arrays(qparams.get(n.name, {})), _arrays(n.params))
                  for n in g.nodes)
    return (nodes, tuple(g.inputs), tuple(g.outputs), tuple(qg.tensor_types.items()),
            tuple(g.shapes.items()), tuple(qg.quant_overflows.items()))


_COSTS: dict[int, tuple[weakref.ref, dict[Any, tuple[tuple, CostPlan]]]] = {}
_COSTS_LOCK = RLock()
MAX_HARDWARE_PER_GRAPH = 64     # a sweep over more hardware points recomputes the oldest


def _drop_costs(key: int) -> None:
    with _COSTS_LOCK:
        _COSTS.pop(key, None)


def cost_plan(qg: QGraph, hw: Any) -> CostPlan:
    """The `CostPlan` of qg on hw, computed once per (graph, hardware) pair: the entry lives
    while qg lives and is recomputed when anything the costs read has changed (nodes, types,
    shapes, graph inputs/outputs, parameter arrays replaced).  Do not modify what it holds."""
    fp = cost_fingerprint(qg)
    hkey = _hashable(hw)
    with _COSTS_LOCK:
        ent = _COSTS.get(id(qg))
        if ent is not None and ent[0]() is qg:
            hit = ent[1].get(hkey)
            if hit is not None and hit[0] == fp:
                return hit[1]
    layers = _compute_costs(qg, hw)
    for params in qg.qparams.values():
        for v in params.values():
            if isinstance(v, np.ndarray):
                v.flags.writeable = False
    plan = CostPlan(tuple(layers), _static_totals(layers, qg, hw),
                    {t: str(ty) for t, ty in qg.tensor_types.items()}, _last_use(qg.graph))
    with _COSTS_LOCK:
        ent = _COSTS.get(id(qg))
        if ent is None or ent[0]() is not qg:
            ent = (weakref.ref(qg, lambda _, k=id(qg): _drop_costs(k)), {})
            _COSTS[id(qg)] = ent
        ent[1].pop(hkey, None)
        ent[1][hkey] = (fp, plan)
        while len(ent[1]) > MAX_HARDWARE_PER_GRAPH:
            ent[1].pop(next(iter(ent[1])))
    return plan


def cached_costs(qg: QGraph, hw: Any) -> list[LayerReport]:
    """The per-layer reports of qg on hw from its `cost_plan` (shared: do not modify them)."""
    return list(cost_plan(qg, hw).layers)


def cost_report(qg: QGraph, hardware: Any = None) -> SimResult:
    """The per-layer reports and totals of one inference without running any data (no outputs,
    no overflow counts): what a design-space sweep needs."""
    from .hardware import Hardware

    hw = Hardware() if hardware is None else hardware
    plan = cost_plan(qg, hw)
    layers = plan.layer_copies()
    return SimResult({}, {}, layers, _with_counts(plan.static_totals, layers, 0), types=dict(plan.types))


def simulate(qg: QGraph, x: Any, hardware: Any = None, trace: bool = False) -> SimResult:
    """Quantise x to the input types, run every node's integer kernel, cost every layer on `hardware`.

    x is a float batch (N, C, H, W) or (N, features), or a dict of them by input name.  Overflow
    counts are over the whole batch; every other count is per inference.  With
    trace=True every intermediate tensor is kept (raw and dequantised) in `tensors`.
    """
    from .hardware import Hardware
    from .ops import get_op

    hw = Hardware() if hardware is None else hardware
    g = qg.graph
    feeds = _feeds(g, x)
    # costs first: caching them freezes the parameter arrays, so the kernels see them read-only
    # from the first call on (one Numba specialisation, not one per call's array flags)
    plan = cost_plan(qg, hw)
    batch = next(iter(feeds.values())).shape[0]
    env: dict[str, np.ndarray] = {}
    input_overflows = 0
    for t, v in feeds.items():
        env[t], n_over = qg.tensor_types[t].quantize_counted(v)
        input_overflows += n_over
    keep = dict(env) if trace else {}
    last = plan.last_use
    overflows: dict[str, int] = {}
    for i, n in enumerate(g.nodes):
        outs, n_over = get_op(n.op).run_fixed(n, [env[t] for t in n.inputs], qg)
        overflows[n.name] = int(n_over)
        env.update(zip(n.outputs, outs))
        if trace:
            keep.update(zip(n.outputs, outs))
        for t in n.inputs:
            if last.get(t) == i and t not in g.outputs:
                env.pop(t, None)
    layers = plan.layer_copies(overflows)
    totals = _with_counts(plan.static_totals, layers, batch)
    totals["input_overflows"] = input_overflows
    totals["overflows"] += input_overflows
    totals["param_overflows"] = int(sum(qg.quant_overflows.values()))
    deq = lambda t, raw: qg.tensor_types[t].to_float(raw)  # noqa: E731
    return SimResult(
        outputs={t: deq(t, env[t]) for t in g.outputs},
        outputs_raw={t: np.asarray(env[t]) for t in g.outputs},
        layers=layers,
        totals=totals,
        tensors={t: deq(t, v) for t, v in keep.items()},
        tensors_raw=keep,
        types=dict(plan.types),
    )
