"""hls4ml configurations as hls4ml writes them -> fpga-sim's config, on fpga-sim's graph.

`hls4ml.utils.config_from_pytorch_model(model, ..., granularity='name')` (or its YAML/JSON)
names layers by torch module (`fc1`, `block_conv1`, `_0` for a Sequential's first child) and
carries keys that do not change numerics.  `from_hls4ml(graph, config)` returns the graph and
a plain fpga-sim config (ARCHITECTURE.md, "hls4ml configurations"):

- a layer name is the torch module path of the ONNX nodes the exporter wrote for it
  (`/fc1/Gemm` -> `fc1`, `/2/2.0/Gemm` -> `_2_0`); the input layer is the graph input;
- a layer fpga-sim's importer fused away (a ReLU into the Dense/Conv before it, a BatchNorm
  folded into a Conv, a Flatten) maps onto the node that absorbed it (`Graph.origin`).  A fused
  ReLU whose result type differs from its host's is split off again as its own node, so the
  host casts to its type and the ReLU to its own, as hls4ml computes; a folded BatchNorm's result
  type becomes the host's (the host writes the BatchNorm's tensor);
- hls4ml's `auto` means "infer it": an auto accumulator is fpga-sim's exact one, any other auto
  slot takes the model default;
- `table` (activation tables) and `scale` (BatchNorm) are the layer's constant type (`weight`);
- keys that do not change numerics (ReuseFactor, Strategy, TableSize, Trace, ...) are accepted
  and listed in the returned notes as not applicable.
"""
from __future__ import annotations

import copy
from typing import Any, Mapping

from .errors import ConfigError
from .graph import Graph, Node

TOP_KEYS = ("PytorchModel", "KerasModel", "OnnxModel", "InputShape", "Backend", "OutputDir", "ProjectName",
            "Part", "ClockPeriod", "IOType", "HLSConfig", "InputData", "OutputPredictions", "KerasJson",
            "KerasH5", "Stamp", "Version", "WriterConfig", "Flows")
NOT_NUMERIC = ("ReuseFactor", "Strategy", "BramFactor", "TraceOutput", "Trace", "ParallelizationFactor",
               "ConvImplementation", "TableSize", "ChannelsLastConversion", "TransposeOutputs", "Implementation",
               "FifoDepth", "Latency", "MergeMode")
SLOT_ALIASES = {"table": "weight", "scale": "weight"}


def is_hls4ml(config: Mapping[str, Any]) -> bool:
    """A config written by hls4ml (its top-level keys, or its non-numeric layer keys)."""
    if any(k in config for k in TOP_KEYS):
        return True
    entries = [config.get("Model", {})] + list((config.get("LayerName") or {}).values())
    return any(isinstance(e, Mapping) and any(k in e for k in NOT_NUMERIC) for e in entries)


def hls4ml_name(onnx_node_name: str) -> str | None:
    """The hls4ml layer name of a node torch's exporter named `/path/module.path/Op`."""
    parts = [p for p in onnx_node_name.split("/") if p]
    if len(parts) < 2:
        return None
    name = parts[-2].replace(".", "_")
    return f"_{name}" if name[0].isdigit() else name


def _precision(entry: Any, where: str, notes: list[str]) -> dict[str, Any]:
    """One hls4ml layer entry -> {slot: spelling} (auto slots left out; accum auto = exact)."""
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where} must be a table with a Precision key, got {entry!r}")
    for key in entry:
        if key in NOT_NUMERIC:
            from .quantization import _HLS4ML_NOT_PRECISION as why

            notes.append(f"{where}.{key}: not applicable ({why.get(key, 'no effect on the arithmetic')})")
        elif key != "Precision":
            raise ConfigError(f"{where}.{key} is not known; accepted: Precision, {', '.join(NOT_NUMERIC)}")
    p = entry.get("Precision")
    if p is None:
        return {}
    if not isinstance(p, Mapping):
        p = {"default": p}
    out: dict[str, Any] = {}
    for slot, spec in p.items():
        if isinstance(spec, str) and spec.strip().lower() == "auto":
            continue
        out[SLOT_ALIASES.get(slot, slot)] = spec
    return out


def _host_result(cfg_layer: dict, model: dict) -> Any:
    return cfg_layer.get("result", cfg_layer.get("default", model.get("result", model.get("default"))))


def _split_relu(g: Graph, host: Node, relu_name: str) -> str:
    """Undo a ReLU fusion: host writes a new tensor, a Relu node named relu_name writes the old one."""
    from .ops.relu import ClipAttrs

    old = host.outputs[0]
    mid = f"{host.name}__pre_relu"
    host.outputs, host.activation = [mid], None
    g.shapes[mid] = g.shapes[old]
    i = next(k for k, n in enumerate(g.nodes) if n is host)
    g.nodes.insert(i + 1, Node(relu_name, "Relu", [mid], [old], ClipAttrs(lo=0.0, hi=None)))
    return relu_name


def origins(original: list[tuple[str, str, list[str], list[str]]], g: Graph) -> dict[str, tuple[str, str]]:
    """ONNX node name -> (graph node that computes its result, ONNX op type): a node's own
    graph node, or, for a node fused or folded away, the first graph node its output reaches."""
    producer = {t: n.name for n in g.nodes for t in n.outputs}
    readers: dict[str, list[list[str]]] = {}
    for _, _, ins, outs in original:
        for t in ins:
            readers.setdefault(t, []).append(outs)
    out: dict[str, tuple[str, str]] = {}
    for name, op_type, _, outs in original:
        frontier, seen = list(outs), set()
        while frontier:
            t = frontier.pop(0)
            if t in seen:
                continue
            seen.add(t)
            if t in producer:
                out[name] = (producer[t], op_type)
                break
            for o in readers.get(t, []):
                frontier.extend(o)
    return out


def read_file(path: Any) -> dict[str, Any] | None:
    """An hls4ml config written to JSON or YAML (None for other suffixes)."""
    from pathlib import Path

    p = Path(path)
    if p.suffix.lower() not in (".json", ".yml", ".yaml"):
        return None
    try:
        text = p.read_text()
    except OSError as e:
        raise ConfigError(f"config file {str(p)!r} cannot be read: {e}") from None
    try:
        if p.suffix.lower() == ".json":
            import json

            return json.loads(text)
        import yaml

        return yaml.safe_load(text)
    except ImportError:
        raise ConfigError(f"config file {str(p)!r} is YAML; install PyYAML (hls4ml depends on it) or use JSON") from None
    except Exception as e:  # noqa: BLE001 - json/yaml parse errors
        raise ConfigError(f"config file {str(p)!r} is not valid {p.suffix[1:].upper()}: {e}") from None


def from_hls4ml(graph: Graph, config: Mapping[str, Any]) -> tuple[Graph, dict[str, Any], list[str]]:
    """(graph, fpga-sim config, notes) for an hls4ml config dict (see the module docstring).  The
    graph is a copy when a fused ReLU has to be split off; the given one is never changed."""
    cfg = config.get("HLSConfig", config)
    notes: list[str] = [f"{k}: not applicable (hls4ml project setting)" for k in config if k in TOP_KEYS and k != "HLSConfig"]
    model_entry = cfg.get("Model", {}) or {}
    model = _precision(model_entry, "Model", notes)
    out: dict[str, Any] = {"Model": {"Precision": model}} if model else {}
    layers = cfg.get("LayerName", {}) or {}
    if not isinstance(layers, Mapping):
        raise ConfigError(f"LayerName must be a table of layers, got {layers!r}")
    g = graph
    by_node = {n.name: n for n in graph.nodes}
    origin = getattr(graph, "origin", {}) or {}
    # hls4ml name -> graph nodes it maps to, and whether the layer is a fused activation
    names: dict[str, list[tuple[str, str]]] = {}
    for onnx_name, (host, op_type) in origin.items():
        h = hls4ml_name(onnx_name)
        if h is not None:
            names.setdefault(h, []).append((host, op_type))
    mapped: dict[str, dict[str, Any]] = {}
    pending_relu: list[tuple[str, str, dict]] = []
    for k, (key, entry) in enumerate(layers.items()):
        slots = _precision(entry, f"LayerName.{key}", notes)
        if key in by_node or key in graph.inputs or any(n.outputs and n.outputs[0] == key for n in graph.nodes):
            target = [(key, "")]
        elif key in names:
            target = names[key]
        elif k == 0 and len(graph.inputs) == 1:
            target = [(graph.inputs[0], "")]                 # hls4ml's input layer (x, input_1)
            notes.append(f"LayerName.{key}: the input layer, mapped to graph input {graph.inputs[0]!r}")
        else:
            known = sorted(names) + [n.name for n in graph.nodes] + list(graph.inputs)
            raise ConfigError(f"LayerName.{key}: no layer of the model has that hls4ml name, node name or tensor "
                              f"name; hls4ml names here: {', '.join(sorted(names)) or '(none)'}; all: {', '.join(known)}")
        for host in sorted({h for h, _ in target}):
            ops = {op for h, op in target if h == host}
            host_node = by_node.get(host)
            itself = host == key or (host_node is not None and hls4ml_name(host_node.name) == key)
            if itself or host_node is None:
                mapped.setdefault(host, {}).update(slots)
            elif host_node.activation == "relu" and "Relu" in ops:
                pending_relu.append((key, host, slots))
            elif "BatchNormalization" in ops:
                mapped.setdefault(host, {}).update({s: v for s, v in slots.items() if s == "result"})
                notes.append(f"LayerName.{key}: BatchNorm folded into {host!r}; its result type is that layer's")
            else:
                notes.append(f"LayerName.{key}: fpga-sim removed this layer ({', '.join(sorted(ops))}) into "
                             f"{host!r}; its types do not apply")
    for key, host, slots in pending_relu:
        host_result = _host_result(mapped.get(host, {}), model)
        relu_result = slots.get("result", slots.get("default"))
        if relu_result is None or relu_result == host_result:
            notes.append(f"LayerName.{key}: a ReLU fused into {host!r} (same result type)")
            continue
        if g is graph:
            g = copy.deepcopy(graph)
            by_node = {n.name: n for n in g.nodes}
        _split_relu(g, by_node[host], key)
        mapped[key] = slots
        notes.append(f"LayerName.{key}: a ReLU fused into {host!r} split off again: its result type differs")
    if mapped:
        out["LayerName"] = {name: {"Precision": slots} for name, slots in mapped.items() if slots}
    for section in ("LayerType",):
        if section in cfg:
            out[section] = {op: {"Precision": _precision(e, f"{section}.{op}", notes)} for op, e in cfg[section].items()}
    return g, out, notes
