import numpy as np
import pytest
import torch

from fpga_sim.errors import FpgaSimError
from models.data import load_digits_split
from models.prune import (apply_masks, magnitude_masks, mask_gradients, prune, quantile_threshold,
                          schedule_sparsities, std_threshold)
from models.train import TrainConfig, train
from models.zoo import build, weight_layers


def tiny_digits(n_train: int = 200, n_test: int = 100):
    xtr, ytr, xte, yte = load_digits_split()
    return xtr[:n_train], ytr[:n_train], xte[:n_test], yte[:n_test]


def test_thresholds_against_numpy():
    w = torch.randn(40, 25, generator=torch.Generator().manual_seed(0))
    t = quantile_threshold(w, 0.8)
    assert (w.abs() <= t).sum().item() == 800          # exactly 80% at or below (no ties)
    assert t == pytest.approx(np.sort(np.abs(w.numpy()).ravel())[799])
    assert std_threshold(w, 1.5) == pytest.approx(1.5 * np.std(w.numpy(), ddof=1), rel=1e-6)
    with pytest.raises(FpgaSimError, match=r"sparsity 1.0 must lie in \[0, 1\)"):
        quantile_threshold(w, 1.0)


def test_schedule_is_geometric_and_ends_at_target():
    steps = schedule_sparsities({"a": 0.96}, 2)
    assert steps[0]["a"] == pytest.approx(0.8) and steps[1]["a"] == pytest.approx(0.96)
    with pytest.raises(FpgaSimError, match="needs at least 1 step, got 0"):
        schedule_sparsities({"a": 0.5}, 0)


def test_masks_stay_zero_through_retraining():
    x, y, _, _ = tiny_digits()
    m = build("lenet", c1=4, c2=8, fc=16)
    masks, _ = magnitude_masks(m, {"conv2": 0.9, "fc1": 0.8})
    apply_masks(m, masks)
    # weight decay and Adam would move zero weights; masked gradients + re-masking must not let them
    train(m, x, y, TrainConfig(epochs=2, lr=1e-2, weight_decay=1e-3), progress=False,
          before_step=lambda mod: mask_gradients(mod, masks), after_step=lambda mod: apply_masks(mod, masks))
    layers = weight_layers(m)
    for name in ("conv2", "fc1"):
        w = layers[name].weight.detach()
        assert torch.all(w[~masks[name]] == 0)
        assert torch.count_nonzero(w[masks[name]]) == masks[name].sum()   # survivors did train
    assert masks["conv2"].float().mean().item() == pytest.approx(0.1, abs=1e-3)
    with pytest.raises(FpgaSimError, match=r"layers \['conv9'\] that are not in the model; layers: \['conv1'"):
        magnitude_masks(m, {"conv9": 0.5})


def test_iterative_prune_report():
    x, y, xt, yt = tiny_digits()
    m = build("mlp", hidden=(32,))
    train(m, x, y, TrainConfig(epochs=2), progress=False)
    target = {"fc1": 0.75, "fc2": 0.5}
    masks, rep = prune(m, x, y, target, steps=2, retrain=TrainConfig(epochs=1), x_test=xt, y_test=yt,
                       progress=False)
    by_name = {l.name: l for l in rep.layers}
    assert by_name["fc1"].sparsity == pytest.approx(0.75, abs=1e-3)
    assert by_name["fc2"].sparsity == pytest.approx(0.5, abs=1e-2)
    total = sum(p.numel() for p in m.parameters())
    nonzero = sum(int((p != 0).sum()) for p in m.parameters())
    assert rep.params == total and rep.nonzero_params == nonzero
    assert rep.compression_rate == pytest.approx(total / nonzero)
    assert len(rep.history) == 2 and rep.history[0]["sparsity"] < rep.history[1]["sparsity"]
    assert rep.accuracy_before is not None and rep.accuracy_after == rep.history[-1]["accuracy_after_retrain"]
    d = rep.to_dict()
    assert d["compression_rate"] == rep.compression_rate and len(d["layers"]) == 2
