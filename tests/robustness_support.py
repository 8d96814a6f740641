"""Test support for the robustness study: a LeNet trained briefly on digits (once per session)
and its data; eight epochs give ~93% accuracy, enough for attacks to have something to break."""
from __future__ import annotations

import functools

import numpy as np
import torch
from torch import nn

from models.data import load_digits_split
from models.train import TrainConfig, train
from models.zoo import build


@functools.lru_cache(maxsize=None)
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return load_digits_split()


@functools.lru_cache(maxsize=None)
def small_lenet() -> nn.Module:
    torch.set_num_threads(1)
    x, y, _, _ = digits()
    model = build("lenet", seed=0)
    train(model, x, y, TrainConfig(epochs=8, lr=3e-3, batch_size=64), progress=False)
    return model.eval()


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    with torch.no_grad():
        return float((model(torch.as_tensor(x)).argmax(1).numpy() == y).mean())
