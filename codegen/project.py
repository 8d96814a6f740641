"""Build the plain context the project templates render: names, types, buffers, layers.

Everything model-derived that reaches C++ goes through `Namer` (identifiers) or is a number;
original ONNX names appear only in `project.json` / `report.json`, JSON-escaped.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from fpga_sim.errors import UnsupportedModelError
from fpga_sim.fixed import Fixed
from fpga_sim.graph import QGraph
from .layers import op_of as get_op

from .layers import LayerSpec, get_builder, resolve_calls, size
from .names import Namer

# Identifiers the generated code defines itself (kept away from model-derived names).
RESERVED = {"in", "out", "i", "s", "raw", "fin", "fout", "argc", "argv", "n_samples", "in_path", "out_path"}
LITERALS_PER_LINE = 8


def ctype(t: Fixed) -> str:
    """The full C++ spelling, modes always written out (what defines.h declares)."""
    base = "ap_fixed" if t.signed else "ap_ufixed"
    return f"{base}<{t.width},{t.int_bits},{t.rounding},{t.overflow}>"


def storage(t: Fixed) -> str:
    """The narrowest C integer type that holds every raw value of t (parameters are stored raw)."""
    bits = t.width + (0 if t.signed else 1)
    for n, name in ((8, "int8_t"), (16, "int16_t"), (32, "int32_t")):
        if bits <= n:
            return name
    return "int64_t"


def literal(raw: int, store: str) -> str:
    """A C integer literal; the most negative int64 needs spelling as an expression."""
    v = int(raw)
    if store == "int64_t":
        return "(-9223372036854775807LL - 1)" if v == -(1 << 63) else f"{v}LL"
    return str(v)


def split_host(qg: QGraph) -> tuple[list, list]:
    """(accelerator nodes, host nodes); host nodes must only follow the accelerator part."""
    acc_nodes, host_nodes, host_tensors = [], [], set()
    for n in qg.nodes:
        on_acc = get_op(n.op).on_accelerator
        if on_acc:
            fed_by_host = [t for t in n.inputs if t in host_tensors]
            if fed_by_host:
                raise UnsupportedModelError(
                    f"node {n.name!r} ({n.op}) runs on the accelerator but reads {fed_by_host[0]!r}, "
                    "computed on the host; only host layers at the end of the graph are supported")
            acc_nodes.append(n)
        else:
            host_nodes.append(n)
            host_tensors.update(n.outputs)
    return acc_nodes, host_nodes


def build_context(qg: QGraph, project: str, n_mult: dict[str, int], cycles: dict[str, int | None],
                  part: str, clock_mhz: float, n_dsp: int, ap_types: str) -> dict[str, Any]:
    """The whole context: top ports, buffers, one entry per accelerator layer, parameters."""
    g = qg.graph
    namer = Namer(reserved=RESERVED | {project})
    acc_nodes, host_nodes = split_host(qg)

    acc_tensors: list[str] = []
    for t in g.inputs:
        if any(t in n.inputs for n in acc_nodes):
            acc_tensors.append(t)
    for n in acc_nodes:
        acc_tensors.extend(o for o in n.outputs if o not in acc_tensors)
    host_reads = {t for n in host_nodes for t in n.inputs}
    top_in = [t for t in g.inputs if t in acc_tensors]
    produced = {o for n in acc_nodes for o in n.outputs}
    top_out = [t for t in acc_tensors if t in produced and (t in g.outputs or t in host_reads)]
    if not acc_nodes:
        raise UnsupportedModelError(f"graph {g.name!r} has no layer that runs on the accelerator; nothing to generate")

    tensors: dict[str, dict[str, Any]] = {}
    for t in acc_tensors:
        ident = namer.name(t)
        ty = qg.tensor_types[t]
        tensors[t] = {
            "key": t, "id": ident, "type": namer.name(t, suffix="t"), "n": namer.name(t, prefix="n"),
            "buf": namer.name(t, prefix="buf"), "ctype": ctype(ty), "size": size(g.shapes[t]),
            "shape": list(g.shapes[t]), "signed": "true" if ty.signed else "false", "fixed": str(ty),
        }

    layers: list[dict[str, Any]] = []
    params: list[dict[str, Any]] = []
    for i, node in enumerate(acc_nodes, start=1):
        spec: LayerSpec = get_builder(node)(node, qg, n_mult.get(node.name, n_dsp))
        fn = namer.name(node.name, prefix=f"layer{i}")
        types = {kind: namer.name(node.name, prefix=f"layer{i}", suffix=kind + "_t") for kind in spec.types}
        p_names: dict[str, str] = {}
        for role, raw, t in spec.params:
            var = namer.name(node.name, prefix=f"{role}{i}")
            p_names[role] = var
            flat = np.asarray(raw, dtype=np.int64).reshape(-1)
            store = storage(t)
            lits = [literal(v, store) for v in flat]
            params.append({
                "var": var, "file": f"{var}.h", "guard": f"FSIM_{project}_{var}_H_".upper(), "count": max(1, flat.size),
                "type": types[role], "ctype": ctype(t), "frac": t.frac,
                "storage": store,
                "layer": fn,
                "lines": [", ".join(lits[j:j + LITERALS_PER_LINE]) + ","
                          for j in range(0, len(lits), LITERALS_PER_LINE)] or ["0"],
            })
        def port(t: str, arg: str) -> dict[str, Any]:
            return {**tensors[t], "arg": arg}
        ins = [port(t, f"in{j}" if len(node.inputs) > 1 else "in") for j, t in enumerate(node.inputs)]
        outs = [port(t, f"out{j}" if len(node.outputs) > 1 else "out") for j, t in enumerate(node.outputs)]
        layers.append({
            "index": i, "op": node.op, "fn": fn, "config": f"{fn}_config", "file": f"{fn}.h",
            "guard": f"FSIM_{project}_{fn}_H_".upper(), "template": _template(node),
            "kernel_header": spec.kernel_header, "summary": spec.summary,
            "consts": [{"name": n, "ctype": c, "value": _cvalue(v)} for n, c, v in spec.consts],
            "types": types, "typedefs": [(k, ctype(t)) for k, t in spec.types.items()],
            "p": p_names, "params": [p for p in params if p["layer"] == fn],
            "inputs": ins, "outputs": outs, "n_mult": next((v for n, _, v in spec.consts if n == "n_mult"), "-"),
            "cycles": cycles.get(node.name, "-") if cycles.get(node.name) is not None else "-",
            "extra": spec.extra, "key": node.name, "config_base": spec.config_base, "pragmas": spec.pragmas,
        })
        layers[-1]["calls"] = resolve_calls(spec, layers[-1])

    ports_in = [{**tensors[t], "port": namer.name(t, prefix="in"), "bundle": f"gmem_in{j}"} for j, t in enumerate(top_in)]
    ports_out = [{**tensors[t], "port": namer.name(t, prefix="out"), "bundle": f"gmem_out{j}"} for j, t in enumerate(top_out)]
    on_chip_bytes = 0
    buffers = []
    for t in acc_tensors:
        info = tensors[t]
        nbytes = info["size"] * ((qg.tensor_types[t].width + 7) // 8)
        on_chip_bytes += nbytes
        buffers.append({**info, "impl": "bram" if nbytes > 1024 else "lutram"})
    host_ids = [namer.name(n.name, prefix="host") for n in host_nodes]
    return {
        "project": project, "guard": f"FSIM_{project}_H_".upper(),
        "defines_guard": f"FSIM_{project}_DEFINES_H_".upper(), "tensors": list(tensors.values()),
        "layers": layers, "params": params, "buffers": buffers,
        "top_inputs": ports_in, "top_outputs": ports_out, "host_layers": host_ids,
        "part": part, "clock_mhz": _num(clock_mhz), "clock_period_ns": _num(round(1000.0 / clock_mhz, 4)),
        "n_dsp": n_dsp, "ap_types": ap_types, "graph_id": Namer().name(g.name or "graph"),
        "n_layers": len(layers), "host_nodes": host_nodes, "on_chip_bytes": on_chip_bytes,
    }


def _template(node: Any) -> str:
    op = get_op(node.op)
    name = op.template or type(op).__module__.rsplit(".", 1)[-1]
    return name if name.endswith(".j2") else f"{name}.h.j2"


def _cvalue(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    return str(int(v))


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))
