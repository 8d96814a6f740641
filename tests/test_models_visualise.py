"""Fooling images reach the confidence they report (checked with onnxruntime on the exported model,
not with the torch that made them), class models are classified as their digit, a dream boosts
its layer's activations by the gain it reports, and the blur is a normalised 3x3 Gaussian."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from fpga_sim.errors import FpgaSimError
from models import visualise as vis
from models.export import export_onnx, onnx_predict
from tests.robustness_support import digits, small_lenet

SHAPE = (1, 8, 8)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory):
    return export_onnx(small_lenet(), tmp_path_factory.mktemp("vis") / "lenet.onnx")


def test_fooling_images_reach_the_confidence_they_report(onnx_model):
    model = small_lenet()
    fool = vis.fooling_images(model, SHAPE, classes=range(10), per_class=1, confidence=0.99, seed=1)
    assert fool.images.shape == (10, *SHAPE) and fool.images.dtype == np.float32
    assert fool.images.min() >= 0.0 and fool.images.max() <= 1.0
    probs = _softmax(onnx_predict(onnx_model, fool.images).astype(np.float64))
    independent = probs[np.arange(10), fool.target]
    np.testing.assert_allclose(independent, fool.confidence, atol=1e-5)
    assert np.all(independent > 0.99) and np.all(probs.argmax(axis=1) == np.arange(10))
    assert np.all(fool.steps >= 1)
    # they start from noise, not from digits: no test image is close to any of them
    _, _, xt, _ = digits()
    dist = np.abs(fool.images.reshape(10, 1, -1) - xt.reshape(1, len(xt), -1)).mean(axis=2)
    assert dist.min() > 0.2


def test_fooling_images_are_seeded():
    model = small_lenet()
    a = vis.fooling_images(model, SHAPE, classes=[3], per_class=2, seed=5)
    b = vis.fooling_images(model, SHAPE, classes=[3], per_class=2, seed=5)
    np.testing.assert_array_equal(a.images, b.images)
    assert not np.array_equal(a.images[0], a.images[1])
    with pytest.raises(FpgaSimError, match="confidence"):
        vis.fooling_images(model, SHAPE, confidence=1.0)


def test_class_models_are_their_digit():
    model = small_lenet()
    cm = vis.class_models(model, SHAPE, steps=60)
    with torch.no_grad():
        pred = model(torch.as_tensor(cm.images)).argmax(1).numpy()
    np.testing.assert_array_equal(pred, np.arange(10))
    assert np.all(cm.confidence > 0.5)
    # the L2 penalty keeps them from saturating to all-white images
    assert cm.images.mean() < 0.6


def test_dream_boosts_its_layer_by_the_reported_gain():
    model = small_lenet()
    _, _, xt, _ = digits()
    x = xt[:6]
    dreams, gain = vis.deep_dream(model, x, "relu2", steps=10, step_size=0.02)
    assert dreams.shape == x.shape and dreams.min() >= 0.0 and dreams.max() <= 1.0
    upto = list(dict(model.named_children())).index("relu2") + 1    # the layer's output, without the hook
    with torch.no_grad():
        energy = lambda im: (model[:upto](torch.as_tensor(im)) ** 2).flatten(1).sum(1).detach().numpy()  # noqa: E731
    np.testing.assert_allclose(gain, energy(dreams) / energy(x), rtol=1e-5)
    assert np.all(gain > 1.0)
    assert not model._forward_hooks and not model.relu2._forward_hooks          # the hook is removed
    with pytest.raises(FpgaSimError, match="relu2"):
        vis.deep_dream(model, x, "no_such_layer")


def test_default_dream_layer():
    from models.zoo import build

    assert vis.default_dream_layer(small_lenet()) == "relu2"
    assert vis.default_dream_layer(build("squeezenet")) == "fire5.relu"
    assert vis.default_dream_layer(build("mlp")) == "relu2"
    with pytest.raises(FpgaSimError, match="no ReLU"):
        vis.default_dream_layer(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10)))


def test_blur_is_a_normalised_gaussian():
    impulse = torch.zeros(1, 1, 5, 5)
    impulse[0, 0, 2, 2] = 1.0
    out = vis.blur(impulse, 0.6)[0, 0].numpy()
    assert out.sum() == pytest.approx(1.0)
    k1 = np.exp(-np.array([1.0, 0.0, 1.0]) / (2 * 0.6 ** 2))
    np.testing.assert_allclose(out[1:4, 1:4], np.outer(k1, k1) / k1.sum() ** 2, rtol=1e-6)
    assert out[0].sum() == 0 and out[:, 0].sum() == 0
    np.testing.assert_allclose(vis.blur(torch.full((1, 1, 4, 4), 0.3), 0.6).numpy(), 0.3, rtol=1e-6)
