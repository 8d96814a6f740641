"""`quantize`: a float `Graph` -> a `QGraph` with an ap_fixed type on every tensor.

Types come from, in rising priority: the default `precision`; `config["LayerType"][op]`;
`config["LayerName"][name]`, where name is a node, the ONNX tensor a node produces, or an input.  The config follows hls4ml's layout so its users
feel at home::

    [Model]
    Precision = "ap_fixed<16,6>"          # or "auto", "auto<W>", "auto<W,Q,O>"
    [LayerName.fc1.Precision]
    weight = "ap_fixed<8,3>"
    bias = "ap_fixed<16,6>"
    result = "auto<12>"
    accum = "ap_fixed<24,10>"             # narrower than safe: overflows are counted

A layer's Precision may also be one type string (weight, bias and result).  "auto<W>" picks the
integer bits of each tensor from its range (weights from their values, activations from a float
run of `calibration`) under a width budget of W bits, with AP_RND rounding and AP_SAT overflow
unless given (calibration ranges are not a bound on unseen data).  An op whose maths bounds its
output (`Op.result_bound`: a softmax's probabilities are at most 1) is sized from that bound
instead, and needs no calibration.  Accumulators default to the
narrowest type that cannot overflow (`op.safe_accum`).  Layout and max ops keep their input's
type, as they cannot leave its range.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .config_file import read_toml
from .errors import ConfigError
from .fixed import Fixed
from .graph import Graph, LayerTypes, QGraph

SLOTS = ("weight", "bias", "result", "accum")
_AUTO = re.compile(r"^\s*auto\s*(?:<\s*(\d+)\s*(?:,\s*(\w+)\s*,\s*(\w+)\s*)?>)?\s*$")
_HLS4ML_NOT_PRECISION = {
    "ReuseFactor": "parallelism comes from Hardware(n_dsp=...)",
    "Strategy": "the machine model is set by Hardware",
    "BramFactor": "on-chip memory is Hardware(sram_bytes=...)",
    "TraceOutput": "simulate(..., trace=True) keeps every tensor",
    "Trace": "simulate(..., trace=True) keeps every tensor",
}


@dataclass(frozen=True)
class Auto:
    """A type to be chosen from a range: `width` bits, integer bits from the data."""

    width: int = 16
    rounding: str = "AP_RND"
    overflow: str = "AP_SAT"

    def pick(self, max_abs: float) -> Fixed:
        return Fixed(self.width, int_bits_for(max_abs), True, self.rounding, self.overflow)


def int_bits_for(max_abs: float) -> int:
    """Integer bits (sign included) a signed type needs to hold values up to max_abs in magnitude."""
    if not np.isfinite(max_abs):
        raise ConfigError(f"cannot pick a fixed-point type for a tensor whose range is {max_abs}")
    if max_abs <= 0:
        return 1
    return int(math.floor(math.log2(max_abs))) + 2


def parse_type(spec: Any, where: str) -> Fixed | Auto:
    """A type spelling (ap_fixed<...>, fixed<...> as hls4ml writes it, auto, auto<W>) -> Fixed or Auto."""
    if isinstance(spec, (Fixed, Auto)):
        return spec
    if not isinstance(spec, str):
        raise ConfigError(f"{where}: precision {spec!r} must be a type string such as 'ap_fixed<16,6>' or 'auto<16>'")
    m = _AUTO.match(spec)
    if m:
        width = int(m.group(1)) if m.group(1) else 16
        try:
            Fixed(width, 1, True, m.group(2) or "AP_RND", m.group(3) or "AP_SAT")
        except ValueError as e:
            raise ConfigError(f"{where}: {spec!r}: {e}") from None
        return Auto(width, m.group(2) or "AP_RND", m.group(3) or "AP_SAT")
    text = spec.strip()
    if re.match(r"^u?fixed\s*<", text):
        text = "ap_" + text
    try:
        return Fixed.parse(text)
    except ValueError as e:
        raise ConfigError(f"{where}: {e}; 'auto' and 'auto<W>' are accepted too") from None


# --------------------------------------------------------------------------------- config
def load_config(config: Mapping[str, Any] | str | Path | None) -> dict[str, Any]:
    """A config dict, or a TOML file holding one; checks its top-level keys."""
    if config is None:
        return {}
    if isinstance(config, (str, Path)):
        config = read_toml(Path(config), "quantisation config file")
    if not isinstance(config, Mapping):
        raise ConfigError(f"quantisation config must be a dict or a TOML file path, got {type(config).__name__}")
    for key in config:
        if key not in ("Model", "LayerName", "LayerType"):
            raise ConfigError(f"quantisation config key {key!r} is not known; accepted: Model, LayerName, LayerType")
    return dict(config)


def _slots(entry: Any, where: str) -> dict[str, Fixed | Auto]:
    """One Model/LayerName/LayerType entry -> {slot: type} from its Precision."""
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where} must be a table with a Precision key, got {entry!r}")
    for key in entry:
        if key in _HLS4ML_NOT_PRECISION:
            raise ConfigError(f"{where}.{key} is an hls4ml setting with no meaning here: {_HLS4ML_NOT_PRECISION[key]}; only Precision is accepted")
        if key != "Precision":
            raise ConfigError(f"{where}.{key} is not known; accepted: Precision")
    p = entry.get("Precision")
    if p is None:
        return {}
    if isinstance(p, Mapping):
        out: dict[str, Fixed | Auto] = {}
        for slot, spec in p.items():
            if slot == "default":
                for s in ("weight", "bias", "result"):
                    out.setdefault(s, parse_type(spec, f"{where}.Precision.default"))
                continue
            if slot not in SLOTS:
                raise ConfigError(f"{where}.Precision.{slot} is not known; accepted: default, {', '.join(SLOTS)}")
            out[slot] = parse_type(spec, f"{where}.Precision.{slot}")
        return out
    t = parse_type(p, f"{where}.Precision")
    return {s: t for s in ("weight", "bias", "result")}


def _resolve_overrides(graph: Graph, cfg: dict[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    model = _slots(cfg["Model"], "Model") if "Model" in cfg else {}
    by_type = cfg.get("LayerType", {}) or {}
    by_name = cfg.get("LayerName", {}) or {}
    for section, table in (("LayerType", by_type), ("LayerName", by_name)):
        if not isinstance(table, Mapping):
            raise ConfigError(f"{section} must be a table of layers, got {table!r}")
    ops = {n.op for n in graph.nodes}
    for k in by_type:
        if k not in ops:
            raise ConfigError(f"LayerType.{k}: the graph has no layer of that type; its types: {', '.join(sorted(ops))}")
    # a layer is named by its node name or by the (ONNX) name of the tensor it produces
    alias = {n.outputs[0]: n.name for n in graph.nodes if n.outputs}
    alias.update({n.name: n.name for n in graph.nodes})
    alias.update({t: t for t in graph.inputs})
    for k in by_name:
        if k not in alias:
            names = [n.name for n in graph.nodes] + list(graph.inputs)
            raise ConfigError(f"LayerName.{k}: the graph has no layer, output tensor or input of that name; "
                              f"layers and inputs: {', '.join(names)}")
    named: dict[str, list[str]] = {}
    for k in by_name:
        named.setdefault(alias[k], []).append(k)
    per: dict[str, dict[str, Any]] = {}
    for n in graph.nodes:
        d: dict[str, Any] = {}
        if n.op in by_type:
            d.update(_slots(by_type[n.op], f"LayerType.{n.op}"))
        for k in named.get(n.name, []):
            d.update(_slots(by_name[k], f"LayerName.{k}"))
        per[n.name] = d
    for t in graph.inputs:
        per[t] = _slots(by_name[t], f"LayerName.{t}") if t in by_name else {}
    return model, per


# ---------------------------------------------------------------------------- calibration
def calibration_ranges(graph: Graph, calibration: Any) -> dict[str, float]:
    """Largest |value| of every tensor over a float run of the calibration batch."""
    from .simulation import run_float

    ranges: dict[str, float] = {}
    for t, v in run_float(graph, calibration, keep_all=True).items():
        ranges[t] = float(np.max(np.abs(v))) if v.size else 0.0
    return ranges


def _need_range(ranges: dict[str, float] | None, tensor: str, where: str) -> float:
    if ranges is None:
        raise ConfigError(f"{where}: 'auto' precision of activation {tensor!r} needs calibration data; pass calibration=x")
    return ranges[tensor]


# ------------------------------------------------------------------------------- quantize
def _model_types(graph: Graph, per: dict[str, dict[str, Any]], override: bool) -> dict[str, dict[str, Fixed]]:
    """The types the model carries (QONNX/QDQ quantisers, `Graph.model_types`), which win over
    the config; a config entry for a slot the model types is an error unless `override`."""
    if override:
        return {}
    model_types = getattr(graph, "model_types", None) or {}
    for name, slots in model_types.items():
        clash = sorted(set(slots) & set(per.get(name, {})))
        if clash:
            raise ConfigError(
                f"LayerName.{name}: the model already types its {', '.join(clash)} ({', '.join(str(slots[c]) for c in clash)}, "
                f"from its quantisers); leave them out of the config or pass override_model_types=True")
    return model_types


def _hls4ml(graph: Graph, config: Any) -> tuple[Graph, Any, list[str]]:
    """A config as hls4ml writes it (dict, JSON or YAML) -> fpga-sim's, on the graph (hls4ml_config.py)."""
    from .hls4ml_config import from_hls4ml, is_hls4ml, read_file

    if isinstance(config, (str, Path)):
        config = read_file(config) or config
    if isinstance(config, Mapping) and is_hls4ml(config):
        return from_hls4ml(graph, config)
    return graph, config, []


def _widen_for_bias(accum: Fixed, bias: Fixed | None) -> Fixed:
    """An accumulator that also holds a model-typed bias exactly (its fraction bits and range)."""
    if bias is None or (bias.frac <= accum.frac and bias.int_bits <= accum.int_bits):
        return accum
    frac, int_bits = max(accum.frac, bias.frac), max(accum.int_bits, bias.int_bits + 1)
    return Fixed(frac + int_bits, int_bits, accum.signed or bias.signed, accum.rounding, accum.overflow)


def quantize(
    graph: Graph,
    calibration: Any = None,
    precision: str | Fixed = "ap_fixed<16,6>",
    config: Mapping[str, Any] | str | Path | None = None,
    override_model_types: bool = False,
) -> QGraph:
    """Give every tensor a type and quantise every parameter (see the module docstring).

    Types the model carries (`graph.model_types`: QONNX quantisers, QDQ) are used as they are;
    no default, config or calibration changes them unless `override_model_types`.  A MAC layer
    with model-typed weights and no model result type keeps its exact accumulator as result."""
    from .ops import get_op

    graph, config, notes = _hls4ml(graph, config)
    cfg = load_config(config)
    default = parse_type(precision, "precision")
    model, per = _resolve_overrides(graph, cfg)
    fixed = _model_types(graph, per, override_model_types)
    for name, slots in fixed.items():
        per[name] = {**per.get(name, {}), **slots}
    base = {s: model.get(s, default) for s in ("weight", "bias", "result")}
    base["accum"] = model.get("accum")
    uses_auto = any(isinstance(v, Auto) for v in base.values()) or any(
        isinstance(v, Auto) for d in per.values() for v in d.values())
    ranges = calibration_ranges(graph, calibration) if calibration is not None and uses_auto else None

    tensor_types: dict[str, Fixed] = {}
    for t in graph.inputs:
        spec = per[t].get("result", base["result"])
        tensor_types[t] = spec.pick(_need_range(ranges, t, f"input {t}")) if isinstance(spec, Auto) else spec

    layer_types: dict[str, LayerTypes] = {}
    qparams: dict[str, dict[str, np.ndarray]] = {}
    overflows: dict[str, int] = {}
    for n in graph.nodes:
        op = get_op(n.op)
        slot = {s: per[n.name].get(s, base[s]) for s in SLOTS}
        in_types = [tensor_types[t] for t in n.inputs]
        weight = bias = None
        if any(p != "bias" for p in n.params):
            w_vals = [v for k, v in n.params.items() if k != "bias"]
            spec = slot["weight"]
            weight = spec.pick(max(float(np.max(np.abs(v))) if v.size else 0.0 for v in w_vals)) if isinstance(spec, Auto) else spec
        if "bias" in n.params:
            spec = slot["bias"]
            b = n.params["bias"]
            bias = spec.pick(float(np.max(np.abs(b))) if b.size else 0.0) if isinstance(spec, Auto) else spec
        model_mac = "weight" in fixed.get(n.name, {}) and "result" not in per[n.name]
        if model_mac or "accum" in fixed.get(n.name, {}):
            slot["result"] = None  # decided below, from the accumulator
        if slot["result"] is None:
            result = None
        elif "result" not in per[n.name] and op.keeps_input_type and in_types and all(t == in_types[0] for t in in_types):
            result = in_types[0]
        elif isinstance(slot["result"], Auto):
            bound = op.result_bound(n, in_types, [graph.shapes[t] for t in n.inputs])
            result = slot["result"].pick(_need_range(ranges, n.outputs[0], f"layer {n.name}") if bound is None else bound)
        else:
            result = slot["result"]
        accum = slot["accum"]
        if isinstance(accum, Auto):
            raise ConfigError(f"layer {n.name}: accum cannot be 'auto'; leave it out for a type that cannot overflow")
        if accum is None:
            try:
                accum = op.safe_accum(n, in_types, weight)
            except ValueError as e:  # FpgaSimError included: no type that wide exists
                raise ConfigError(
                    f"layer {n.name} ({n.op}): no accumulator that cannot overflow exists for inputs "
                    f"{', '.join(map(str, in_types))} and weights {weight} ({e}); narrow those types or "
                    f"give the layer an accum type"
                ) from None
        if n.name in fixed and accum is not None:
            accum = _widen_for_bias(accum, bias)
        result = accum if result is None else result
        types = LayerTypes(result=result, weight=weight, bias=bias, accum=accum)
        layer_types[n.name] = types
        for t in n.outputs:
            tensor_types[t] = result
        if n.params:
            raw, n_over = op.quantize_params(n, types)
            qparams[n.name] = raw
            if n_over:
                overflows[n.name] = int(n_over)
        else:
            qparams[n.name] = {}
    typed = {name: tuple(sorted(slots)) for name, slots in fixed.items()}
    return QGraph(graph, tensor_types, layer_types, qparams, overflows, from_model=typed, config_notes=notes)

