import math

import numpy as np
import pytest
import torch

from fpga_sim.errors import FpgaSimError
from models.data import load_digits_split
from models.distill import distill, hint_train, kd_loss, make_regressor
from models.train import TrainConfig
from models.zoo import build


def _softmax(z):
    e = [math.exp(v) for v in z]
    return [v / sum(e) for v in e]


def _hand_kd(zs, zt, y, tau, lam, tau_squared):
    """Plain-Python H(y, P_S) + lam [tau^2] H(P_T^tau, P_S^tau), averaged over the batch."""
    total = 0.0
    for s, t, label in zip(zs, zt, y):
        hard = -math.log(_softmax(s)[label])
        pt, ps = _softmax([v / tau for v in t]), _softmax([v / tau for v in s])
        soft = -sum(p * math.log(q) for p, q in zip(pt, ps))
        total += hard + lam * (tau ** 2 if tau_squared else 1.0) * soft
    return total / len(y)


@pytest.mark.parametrize("tau,lam,sq", [(1.0, 0.0, True), (4.0, 0.5, True), (4.0, 0.5, False), (2.5, 2.0, True)])
def test_kd_loss_equals_hand_computation(tau, lam, sq):
    rng = np.random.default_rng(1)
    zs, zt = rng.normal(size=(5, 10)) * 3, rng.normal(size=(5, 10)) * 3
    y = rng.integers(0, 10, 5)
    got = kd_loss(torch.tensor(zs), torch.tensor(zt), torch.tensor(y), tau, lam, sq).item()
    assert got == pytest.approx(_hand_kd(zs.tolist(), zt.tolist(), y.tolist(), tau, lam, sq), rel=1e-10)
    with pytest.raises(FpgaSimError, match="tau must be positive, got 0.0"):
        kd_loss(torch.tensor(zs), torch.tensor(zt), torch.tensor(y), 0.0)


def test_kd_gradient_reaches_student_only():
    zs = torch.randn(3, 10, requires_grad=True)
    zt = torch.randn(3, 10, requires_grad=True)
    kd_loss(zs, zt, torch.tensor([0, 1, 2])).backward()
    assert zs.grad is not None and zs.grad.abs().sum() > 0
    assert zt.grad is None


def test_distill_and_hints_train_the_student():
    xtr, ytr, _, _ = load_digits_split()
    x, y = xtr[:200], ytr[:200]
    teacher, student = build("lenet", c1=8, c2=8, fc=16), build("student")
    t_before = [p.detach().clone() for p in teacher.parameters()]
    s_before = [p.detach().clone() for p in student.parameters()]
    hist = distill(student, teacher, x, y, TrainConfig(epochs=2), progress=False)
    assert hist[-1] < hist[0]
    assert all(torch.equal(a, b) for a, b in zip(t_before, teacher.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(s_before, student.parameters()))

    # FitNets: the regressor maps the student's pool1 (4 ch) to the teacher's pool1 (8 ch); MSE falls
    student = build("student")
    reg = hint_train(student, teacher, x, y, "pool1", "pool1", TrainConfig(epochs=1), progress=False)
    assert isinstance(reg, torch.nn.Conv2d) and (reg.in_channels, reg.out_channels) == (4, 8)
    with torch.no_grad():
        xb = torch.as_tensor(x[:64])
        t_feat = teacher.pool1(teacher.relu1(teacher.conv1(xb)))
        s_feat = student.pool1(student.relu1(student.conv1(xb)))
        after = torch.nn.functional.mse_loss(reg(s_feat), t_feat).item()
    student2 = build("student")
    with torch.no_grad():
        s2 = student2.pool1(student2.relu1(student2.conv1(xb)))
    fresh = make_regressor(s2, t_feat)
    with torch.no_grad():
        untrained = torch.nn.functional.mse_loss(fresh(s2), t_feat).item()
    assert after < untrained
    assert len(list(student.children())) == len(list(build("student").children()))
    with pytest.raises(FpgaSimError, match=r"hint layer 'nope' is not a module of the model; modules: \["):
        hint_train(student, teacher, x, y, "nope", "pool1", TrainConfig(epochs=1), progress=False)
