"""The attacks do what they claim: FGSM at epsilon 0 is the identity, every attack stays inside the
L-inf ball and the pixel range, FGSM raises the loss, PGD accuracy falls with epsilon (and PGD is at
least as strong as FGSM), the targeted variant reaches its targets, and runs are seeded."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fpga_sim.errors import FpgaSimError
from models import adversarial as adv
from tests.robustness_support import accuracy, digits, small_lenet

N = 120


@pytest.fixture(scope="module")
def data():
    _, _, xt, yt = digits()
    return small_lenet(), xt[:N], yt[:N]


def _loss(model, x, y) -> float:
    with torch.no_grad():
        return float(F.cross_entropy(model(torch.as_tensor(x)), torch.as_tensor(y)))


def test_fgsm_at_epsilon_zero_changes_nothing(data):
    model, x, y = data
    for target in (None, adv.next_class_targets(y)):
        out = adv.fgsm(model, x, y, 0.0, target=target)
        np.testing.assert_array_equal(out, x)
        assert out is not x
    np.testing.assert_array_equal(adv.pgd(model, x, y, 0.0, steps=3), x)
    assert accuracy(model, adv.fgsm(model, x, y, 0.0), y) == accuracy(model, x, y)


def test_fgsm_moves_every_pixel_by_epsilon_and_raises_the_loss(data):
    model, x, y = data
    eps = 0.05
    out = adv.fgsm(model, x, y, eps)
    step = out - x
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert np.abs(step).max() <= eps + 1e-7
    # Unclipped pixels moved by exactly eps in the direction of the loss gradient.
    g = adv.loss_gradient(model, torch.as_tensor(x), torch.as_tensor(y)).numpy()
    free = (x + eps * np.sign(g) >= 0) & (x + eps * np.sign(g) <= 1) & (g != 0)
    np.testing.assert_allclose(step[free], eps * np.sign(g[free]), atol=1e-7)
    assert _loss(model, out, y) > _loss(model, x, y)


def test_pgd_accuracy_falls_with_epsilon(data):
    model, x, y = data
    eps = (0.0, 0.05, 0.1, 0.2, 0.3)
    accs = [accuracy(model, adv.pgd(model, x, y, e, steps=5), y) for e in eps]
    assert accs[0] == accuracy(model, x, y) > 0.8
    assert all(b <= a for a, b in zip(accs, accs[1:])), accs
    assert accs[-1] < 0.1
    # PGD (5 steps) is at least as strong as one FGSM step of the same radius.
    assert accs[2] <= accuracy(model, adv.fgsm(model, x, y, 0.1), y) + 0.02


def test_pgd_stays_in_the_ball_and_is_seeded(data):
    model, x, y = data
    eps = 0.1
    a = adv.pgd(model, x, y, eps, steps=4, seed=3)
    assert np.abs(a - x).max() <= eps + 1e-6
    assert a.min() >= 0.0 and a.max() <= 1.0
    np.testing.assert_array_equal(a, adv.pgd(model, x, y, eps, steps=4, seed=3))
    assert not np.array_equal(a, adv.pgd(model, x, y, eps, steps=4, seed=4))
    # without the random start and with step_size = eps, one step is FGSM
    np.testing.assert_allclose(adv.pgd(model, x, y, eps, steps=1, step_size=eps, random_start=False),
                               adv.fgsm(model, x, y, eps), atol=1e-7)


def test_targeted_pgd_reaches_its_targets(data):
    model, x, y = data
    target = adv.next_class_targets(y)
    assert np.all(target == (y + 1) % 10)
    out = adv.pgd(model, x, y, 0.3, steps=10, target=target)
    pred = adv.probabilities(model, out).argmax(axis=1)
    assert (pred == target).mean() > 0.8
    assert (adv.probabilities(model, x).argmax(axis=1) == target).mean() < 0.05


@pytest.mark.parametrize("eps,steps", [(-0.1, 1), (float("nan"), 1), (0.1, 0)])
def test_bad_attack_parameters_are_refused(data, eps, steps):
    model, x, y = data
    with pytest.raises(FpgaSimError, match="epsilon|steps"):
        adv.pgd(model, x[:2], y[:2], eps, steps=steps)
