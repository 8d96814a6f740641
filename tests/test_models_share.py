import numpy as np
import pytest
import torch

from fpga_sim.errors import FpgaSimError
from models.data import load_digits_split
from models.share import (centroid_gradients, cluster, default_bits, fine_tune, linear_init,
                          share_weights)
from models.train import TrainConfig
from models.zoo import build, weight_layers


def tiny_digits(n: int = 200):
    xtr, ytr, _, _ = load_digits_split()
    return xtr[:n], ytr[:n]


def test_linear_init_and_cluster():
    v = np.array([-1.0, -0.9, 0.0, 0.1, 2.0])
    np.testing.assert_allclose(linear_init(v, 4), [-1.0, 0.0, 1.0, 2.0])
    c, labels = cluster(np.array([0.1, 0.11, 0.5, 0.52, 0.9]), 3)
    np.testing.assert_allclose(np.sort(c), [0.105, 0.51, 0.9])
    assert len(set(labels[:2])) == 1 and labels[0] != labels[2]
    c, _ = cluster(np.array([0.3, 0.3, -0.2]), 15)      # fewer distinct values than clusters
    assert len(c) == 2


def test_shared_weights_take_only_codebook_values_and_zeros_stay():
    m = build("lenet", c1=4, c2=8, fc=16)
    with torch.no_grad():
        m.fc1.weight[:, :10] = 0                         # "pruned"
    bits = {"conv1": 3, "conv2": 4, "fc1": 2}
    shared = share_weights(m, bits)
    layers = weight_layers(m)
    for name, s in shared.items():
        w = layers[name].weight.detach()
        book = set(s.codebook().tolist())
        assert set(w.flatten().tolist()) <= book
        assert len(book) <= 2 ** bits[name]
    assert torch.all(layers["fc1"].weight[:, :10] == 0)
    assert "fc2" not in shared
    with pytest.raises(FpgaSimError, match=r"layer 'fc9', which is not in the model; layers: \['conv1'"):
        share_weights(m, {"fc9": 4})
    with pytest.raises(FpgaSimError, match="codebook bits for layer 'fc1' must be 1..16, got 0"):
        share_weights(m, {"fc1": 0})


def test_centroid_gradient_is_the_grouped_sum():
    m = build("student")
    shared = share_weights(m, default_bits(m, conv=3, dense=3))
    x, y = tiny_digits(16)
    torch.nn.functional.cross_entropy(m(torch.as_tensor(x)), torch.as_tensor(y)).backward()
    for name, layer in weight_layers(m).items():
        s = shared[name]
        g = layer.weight.grad.numpy().ravel()
        idx = s.index.numpy().ravel()
        expected = np.bincount(idx, weights=g.astype(np.float64), minlength=len(s.centroids) + 1)[1:]
        np.testing.assert_allclose(centroid_gradients(layer.weight.grad, s).numpy(), expected, rtol=1e-5, atol=1e-7)


def test_fine_tune_moves_centroids_and_keeps_weights_on_codebook():
    m = build("student")
    x, y = tiny_digits()
    with torch.no_grad():
        m.conv2.weight[0] = 0
    shared = share_weights(m, default_bits(m, conv=4, dense=3))
    before = {n: s.centroids.detach().clone() for n, s in shared.items()}
    index_before = {n: s.index.clone() for n, s in shared.items()}
    fine_tune(m, shared, x, y, TrainConfig(epochs=2, lr=1e-2), progress=False)
    layers = weight_layers(m)
    for name, s in shared.items():
        assert not torch.equal(before[name], s.centroids.detach())
        assert torch.equal(index_before[name], s.index)            # assignments are fixed
        torch.testing.assert_close(layers[name].weight.detach(), s.weight().detach(), rtol=0, atol=0)
    assert torch.all(m.conv2.weight[0] == 0)
