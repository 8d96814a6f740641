"""`compare`: the simulated fixed-point graph against onnxruntime's float run of the same model.

onnxruntime runs the original ONNX model with every tensor our graph names added as a graph
output, so each layer's fixed-point output is compared with the float value of the same
tensor: SQNR (dB) and max abs error per layer, top-1 agreement of the outputs, and accuracy
when labels are given.  The per-layer table shows where precision is lost.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import ModelProto, helper

from .errors import FpgaSimError, UnsupportedModelError
from .graph import QGraph
from .ops.quant import is_qonnx, qonnx_as_onnx
from .results import dumps, to_jsonable


def sqnr_db(ref: np.ndarray, got: np.ndarray) -> float:
    """10 log10(sum ref^2 / sum (ref - got)^2); inf when they are equal."""
    ref = np.asarray(ref, dtype=np.float64)
    err = float(np.sum((ref - np.asarray(got, dtype=np.float64)) ** 2))
    sig = float(np.sum(ref ** 2))
    if err == 0.0:
        return math.inf
    if sig == 0.0:
        return -math.inf
    return 10.0 * math.log10(sig / err)


@dataclass
class LayerError:
    """How far one layer's fixed-point output is from the float reference."""

    name: str
    op: str
    tensor: str
    type: str
    sqnr_db: float
    max_abs_error: float
    max_abs_ref: float
    overflows: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Comparison:
    """Per-layer errors, output agreement and (with labels) accuracy of fixed point vs float."""

    layers: list[LayerError]
    outputs: dict[str, LayerError]
    top1_agreement: float | None
    accuracy_fixed: float | None = None
    accuracy_float: float | None = None
    reference: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    sim: Any = field(default=None, repr=False)

    def layer(self, name: str) -> LayerError:
        for e in self.layers:
            if e.name == name:
                return e
        raise KeyError(f"no layer named {name!r}")

    def worst(self) -> LayerError | None:
        """The layer with the lowest SQNR: where precision is lost."""
        finite = [e for e in self.layers if not math.isnan(e.sqnr_db)]
        return min(finite, key=lambda e: e.sqnr_db) if finite else None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: an infinite SQNR (bit-exact layer) is null with "exact": true."""
        def row(e: LayerError) -> dict[str, Any]:
            d = e.to_dict()
            d["exact"] = d["sqnr_db"] == math.inf
            d["sqnr_db"] = d["sqnr_db"] if math.isfinite(d["sqnr_db"]) else None
            return d

        return to_jsonable({
            "layers": [row(e) for e in self.layers],
            "outputs": {k: row(v) for k, v in self.outputs.items()},
            "top1_agreement": self.top1_agreement,
            "accuracy_fixed": self.accuracy_fixed,
            "accuracy_float": self.accuracy_float,
        })

    def to_json(self) -> str:
        return dumps(self.to_dict())


def _model(model: str | os.PathLike | ModelProto) -> ModelProto:
    if isinstance(model, ModelProto):
        return model
    try:
        return onnx.load(str(model))
    except Exception as e:  # noqa: BLE001
        raise UnsupportedModelError(f"{model} could not be read as an ONNX model: {type(e).__name__}: {e}") from None


def reference_run(model: str | os.PathLike | ModelProto, feeds: dict[str, np.ndarray], tensors: list[str]) -> dict[str, np.ndarray]:
    """onnxruntime float run, with `tensors` exposed as extra outputs (those the model has)."""
    import onnxruntime as ort

    proto = _model(model)
    if any(is_qonnx(n) for n in proto.graph.node):
        proto = qonnx_as_onnx(proto)       # QONNX quantisers as standard ops onnxruntime runs
    produced = {o for n in proto.graph.node for o in n.output} | {i.name for i in proto.graph.input}
    have = {o.name for o in proto.graph.output}
    n_out = len(proto.graph.output)
    for t in tensors:
        if t in produced and t not in have:
            proto.graph.output.append(helper.make_empty_tensor_value_info(t))
            have.add(t)
    try:  # the extra outputs are added in place (no copy of the weights) and removed again
        data = proto.SerializeToString()
    finally:
        del proto.graph.output[n_out:]
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep every tensor as named
    try:
        sess = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - onnxruntime's errors are long; keep the first line
        raise FpgaSimError(f"onnxruntime cannot run the reference model: {str(e).strip().splitlines()[0]}") from None
    del data
    in_types = {i.name: i.type for i in sess.get_inputs()}
    run_feeds = {k: v.astype(np.float64 if in_types.get(k) == "tensor(double)" else np.float32) for k, v in feeds.items()}
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, run_feeds)))


def compare(
    model: str | os.PathLike | ModelProto,
    qg: QGraph,
    x: Any,
    labels: Any = None,
    hardware: Any = None,
    sim: Any = None,
    reference: dict[str, np.ndarray] | None = None,
) -> Comparison:
    """Simulate qg on x (unless `sim`, a SimResult made with trace=True, is given) and compare it
    with onnxruntime running `model` on the same x, tensor by tensor (`reference`: the tensors of
    an earlier compare on the same model and x, to skip running onnxruntime again)."""
    from .simulation import _feeds, simulate

    g = qg.graph
    feeds = _feeds(g, x)
    if sim is None or not sim.tensors:
        sim = simulate(qg, feeds, hardware=hardware, trace=True)
    wanted = [t for n in g.nodes for t in n.outputs]
    ref = reference if reference is not None else reference_run(model, feeds, wanted)
    overflows = {r.name: r.overflows for r in sim.layers}
    layers: list[LayerError] = []
    by_tensor: dict[str, LayerError] = {}
    for n in g.nodes:
        for t in n.outputs:
            if t not in ref:
                continue
            if not np.issubdtype(np.asarray(ref[t]).dtype, np.floating):
                continue                   # a QDQ model's integer codes (q, not q - zp): no float to compare
            r = np.asarray(ref[t], dtype=np.float64)
            got = sim.tensors[t]
            if t in g.real_scales:         # a QDQ integer tensor: its real value
                s = np.asarray(g.real_scales[t], np.float64)
                got = got * (s.reshape((1, -1) + (1,) * (got.ndim - 2)) if s.size > 1 else s.reshape(()))
            if r.shape != got.shape:
                if r.size != got.size:
                    raise FpgaSimError(f"tensor {t!r} has shape {got.shape} in the simulation but {r.shape} in onnxruntime")
                r = r.reshape(got.shape)
            e = LayerError(n.name, n.op, t, str(qg.tensor_types[t]), sqnr_db(r, got),
                           float(np.max(np.abs(r - got))) if r.size else 0.0,
                           float(np.max(np.abs(r))) if r.size else 0.0, overflows.get(n.name, 0))
            layers.append(e)
            by_tensor[t] = e
    outputs = {t: by_tensor[t] for t in g.outputs if t in by_tensor}
    agree = acc_fixed = acc_float = None
    first = g.outputs[0]
    if first in ref and first in sim.outputs:
        r = np.asarray(ref[first]).reshape(len(sim.outputs[first]), -1)
        s = np.asarray(sim.outputs[first]).reshape(r.shape)
        top_ref, top_sim = r.argmax(axis=1), s.argmax(axis=1)
        agree = float(np.mean(top_ref == top_sim))
        if labels is not None:
            y = np.asarray(labels).reshape(-1)
            if y.shape[0] != r.shape[0]:
                raise FpgaSimError(f"labels has {y.shape[0]} entries for a batch of {r.shape[0]}")
            acc_fixed, acc_float = float(np.mean(top_sim == y)), float(np.mean(top_ref == y))
    return Comparison(layers, outputs, agree, acc_fixed, acc_float, reference=ref, sim=sim)

