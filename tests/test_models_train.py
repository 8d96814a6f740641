import numpy as np
import pytest
import torch

from fpga_sim.errors import FpgaSimError
from models.train import TrainConfig, accuracy, load_checkpoint, predict, save_checkpoint, train
from models.zoo import build

from models.data import load_digits_split


def tiny_digits(n_train: int = 300, n_test: int = 150):
    xtr, ytr, xte, yte = load_digits_split()
    return xtr[:n_train], ytr[:n_train], xte[:n_test], yte[:n_test]


def test_training_is_deterministic_and_learns():
    x, y, xt, yt = tiny_digits()
    a, b = build("mlp"), build("mlp")
    ha = train(a, x, y, TrainConfig(epochs=4, seed=3), progress=False)
    hb = train(b, x, y, TrainConfig(epochs=4, seed=3), progress=False)
    assert ha == hb
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert ha[-1] < ha[0]
    assert accuracy(a, xt, yt) > 0.3          # chance is 0.1


def test_accuracy_matches_argmax():
    x, y, _, _ = tiny_digits()
    m = build("mlp")
    logits = m(torch.as_tensor(x)).detach().numpy()
    assert accuracy(m, x, y) == pytest.approx(float((logits.argmax(1) == y).mean()))
    np.testing.assert_allclose(predict(m, x, batch_size=7), logits, rtol=1e-5, atol=1e-6)


def test_checkpoint_round_trip(tmp_path):
    x, _, _, _ = tiny_digits()
    m = build("student", seed=5)
    meta = {"arch": "student", "accuracy": 0.5, "seed": 5}
    path = save_checkpoint(tmp_path / "s.pt", m, meta)
    c = load_checkpoint(path)
    assert c.metadata == meta
    assert (tmp_path / "s.json").is_file() and not list(tmp_path.glob("*.tmp"))
    np.testing.assert_array_equal(predict(c.model, x), predict(m, x))


def test_bad_inputs(tmp_path):
    m = build("student")
    with pytest.raises(FpgaSimError, match="4 inputs and 3 labels; need equal, non-zero counts"):
        train(m, np.zeros((4, 1, 8, 8), np.float32), np.zeros(3, np.int64), progress=False)
    with pytest.raises(FpgaSimError, match="x.pt: metadata needs an 'arch' entry naming a models.zoo architecture"):
        save_checkpoint(tmp_path / "x.pt", m, {"accuracy": 1.0})
    with pytest.raises(FpgaSimError, match="missing.pt does not exist"):
        load_checkpoint(tmp_path / "missing.pt")
