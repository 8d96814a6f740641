"""Whole networks: seconds per image of a full cycle-level, bit-accurate simulation vs onnxruntime.

The digits CNN is the model zoo's LeNet (8x8 digits, real images); SqueezeNet and AlexNet are the
onnx package's light models at 224x224 with generated weights.  Both sides get the same images.
The engine's figure is one `simulate(qg, x, hardware=...)` call: integer execution of every layer
plus the cycle-stepped machine; "cycles per host second" is simulated accelerator cycles over the
wall time of that call.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np
import onnx

from . import onnx_models
from .ort import ort_runner
from .timing import measure

ALEXNET_TARGET_S = 5.0
N_DSP = 25


def digits_cnn_onnx(batch: int) -> tuple[onnx.ModelProto, np.ndarray, str]:
    """The zoo's LeNet on 8x8 digits exported to ONNX, with `batch` real test images."""
    from . import torch_models

    model = torch_models.zoo_model("lenet")
    x = torch_models.digits_images(batch)
    return torch_models.to_onnx(model, x[:1]), x, "zoo lenet (seeded weights), sklearn digits 8x8"


def strip_unsupported(model: onnx.ModelProto) -> tuple[onnx.ModelProto, list[str]]:
    """Bypass single-input ops that fpga-sim does not lower (e.g. AlexNet's LRN); say which."""
    from fpga_sim.ops import ONNX_LOWERING, load_all

    load_all()
    passes = {"Dropout", "Identity", "Constant"}   # removed or folded by the importer itself
    drop = [n for n in model.graph.node if n.op_type not in ONNX_LOWERING and n.op_type not in passes
            and len(n.input) == 1 and n.op_type not in ("Reshape", "Flatten")]
    if not drop:
        return model, []
    m = onnx.ModelProto()
    m.CopyFrom(model)
    rename = {}
    keep = []
    for n in m.graph.node:
        if any(n is d or (n.name == d.name and list(n.output) == list(d.output)) for d in drop):
            rename[n.output[0]] = rename.get(n.input[0], n.input[0])
            continue
        for i, t in enumerate(n.input):
            if t in rename:
                n.input[i] = rename[t]
        keep.append(n)
    for o in m.graph.output:
        if o.name in rename:
            raise ValueError(f"cannot bypass {o.name}: it is a graph output")
    del m.graph.node[:]
    m.graph.node.extend(keep)
    return m, sorted({d.op_type for d in drop})


def cases(quick: bool) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = [("digits CNN (LeNet 8x8)", lambda: digits_cnn_onnx(64 if quick else 1000))]
    if not quick:
        for name, label in (("squeezenet", "SqueezeNet 224x224"), ("bvlc_alexnet", "AlexNet 224x224")):
            out.append((label, lambda n=name: (onnx_models.light_model(n, batch=1),
                                               _image(onnx_models.light_model(n, batch=1)),
                                               "onnx light model, generated weights")))
    return out


def _image(model: onnx.ModelProto) -> np.ndarray:
    _, shape = onnx_models.activation_input(model)
    return np.random.default_rng(2).uniform(0, 1, shape).astype(np.float32)


def run(quick: bool, precision: str = "ap_fixed<16,6>") -> list[dict[str, Any]]:
    from fpga_sim import Hardware, load_onnx, quantize, simulate

    hw = Hardware(n_dsp=N_DSP)
    rows = []
    for label, build in cases(quick):
        row: dict[str, Any] = {"network": label, "precision": precision, "n_dsp": N_DSP}
        try:
            model, x, source = build()
            row["source"] = source
            model, dropped = strip_unsupported(model)
            if dropped:
                row["note"] = f"bypassed ops fpga-sim does not lower: {', '.join(dropped)} (same in both peers)"
            batch = int(x.shape[0])
            row["batch"] = batch
            name, _ = onnx_models.activation_input(model)
            feeds = {name: x}
            t_ort, y_ort = measure(ort_runner(_batch_model(model, batch), feeds), 0.5 if quick else 2.0,
                                   min_runs=2, max_runs=20)
            qg = quantize(load_onnx(model), calibration=x[: min(batch, 16)], precision=precision)
            t0 = time.perf_counter()
            res = simulate(qg, x, hardware=hw)
            first = time.perf_counter() - t0
            t_sim, res = measure(lambda: simulate(qg, x, hardware=hw), 0.0 if not quick else 0.2,
                                 min_runs=1 if not quick else 2, max_runs=3)
        except Exception as e:  # noqa: BLE001 - reported in the table, never hidden
            row["error"] = f"{type(e).__name__}: {e}"
            rows.append(row)
            continue
        cycles = int(sum(int(lr.cycles) for lr in res.layers))
        macs = int(sum(int(lr.macs) for lr in res.layers))
        per_img_sim = t_sim.best_s / batch
        per_img_ort = t_ort.best_s / batch
        y_sim = next(iter(res.outputs.values()))
        out_t = qg.tensor_types[qg.graph.outputs[0]]
        agree = _top1_agreement(y_ort[0], y_sim, out_t.resolution)
        row.update({
            "macs_per_image": macs, "cycles_per_image": cycles,
            "ort_s_per_image": per_img_ort, "sim_s_per_image": per_img_sim,
            "sim_first_call_s": first,
            "sim_vs_ort": per_img_ort / per_img_sim,
            "sim_macs_per_s": macs / per_img_sim if per_img_sim else None,
            "cycles_per_host_s": cycles / per_img_sim if per_img_sim else None,
            "top1_agreement_vs_float": agree,
        })
        if label.startswith("AlexNet"):
            row["target_s_per_image"] = ALEXNET_TARGET_S
            row["target_met"] = bool(per_img_sim < ALEXNET_TARGET_S)
        rows.append(row)
    return rows


def _batch_model(model: onnx.ModelProto, batch: int) -> onnx.ModelProto:
    """The same model with its batch dimension set to `batch` (for onnxruntime)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    consts = {t.name for t in m.graph.initializer}
    for vi in list(m.graph.input) + list(m.graph.output):
        if vi.name in consts:
            continue
        dims = vi.type.tensor_type.shape.dim
        if dims:
            dims[0].ClearField("dim_value")
            dims[0].dim_param = "N"
    del m.graph.value_info[:]
    return m


def _top1_agreement(y_float: np.ndarray, y_sim: np.ndarray, resolution: float) -> float | None:
    """Share of images whose top-1 class is the float model's, over the images where the float
    top-1 leads the runner-up by more than two output LSBs (None when no image does: generated
    weights give near-uniform softmax outputs, whose order no fixed-point type can keep)."""
    a = np.asarray(y_float, dtype=np.float64).reshape(y_float.shape[0], -1)
    if np.asarray(y_sim).size != a.size or a.shape[1] < 2:
        return None
    b = np.asarray(y_sim).reshape(a.shape)
    top2 = np.sort(a, axis=1)[:, -2:]
    decided = (top2[:, 1] - top2[:, 0]) > 2 * resolution
    if not decided.any():
        return None
    return float(np.mean(a.argmax(1)[decided] == b.argmax(1)[decided]))
