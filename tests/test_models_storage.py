import numpy as np
import pytest
import torch

from fpga_sim.errors import FpgaSimError
from models.storage import (codes_from_weights, layer_bits, model_size, relative_entries,
                            shared_storage_bits)
from models.zoo import build


def test_lecture_trained_quantisation_math():
    n = 128 * 128 * 5 * 5
    assert n == 409600
    assert n * 16 == 6553600
    assert shared_storage_bits(n, 8, 16) == 3280896


def test_relative_index_fillers_as_in_deep_compression():
    # Han et al. Fig. 2 style: 3-bit gaps, a gap of 11 > 8 needs one filler zero
    mask = np.zeros(20, bool)
    mask[[1, 4, 15]] = True
    gaps, fill = relative_entries(mask, 3)
    assert gaps.tolist() == [2, 3, 8, 3] and fill.tolist() == [False, False, True, False]
    # reconstruct positions from the gaps: the format is lossless
    pos = np.cumsum(gaps) - 1
    assert pos[~fill].tolist() == [1, 4, 15]


def _brute_entries(mask, bits):
    n, prev = 0, -1
    for p in np.flatnonzero(mask):
        n += -(-(p - prev) // (1 << bits))
        prev = p
    return n


def test_layer_bits_by_scheme():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(8, 50)) * (rng.random((8, 50)) < 0.1)
    nz = int((w != 0).sum())
    entries = _brute_entries(w.reshape(-1) != 0, 4)
    assert entries >= nz
    assert layer_bits(w, "dense", value_bits=32) == (400 * 32, 400)
    assert layer_bits(w, "sparse", value_bits=32, index_bits=4) == (entries * 36, entries)
    codes, cb = codes_from_weights(w)
    assert cb == int(np.ceil(np.log2(nz + 1)))
    assert layer_bits(w, "shared", index_bits=4, code_bits=cb, centroid_bits=32, codes=codes) == \
        (entries * (cb + 4) + (1 << cb) * 32, entries)
    huff, _ = layer_bits(w, "huffman", index_bits=4, code_bits=cb, centroid_bits=32, codes=codes)
    assert huff < entries * (cb + 4) + (1 << cb) * 32 + (1 << cb) * 8
    with pytest.raises(FpgaSimError, match="unknown storage scheme 'zip'; accepted: dense, sparse, shared, huffman"):
        layer_bits(w, "zip")
    with pytest.raises(FpgaSimError, match="scheme 'shared' needs the codebook indices"):
        layer_bits(w, "shared")


def test_codes_from_weights():
    w = np.array([[0.0, 0.5, -0.25], [0.5, 0.0, 0.75]])
    codes, bits = codes_from_weights(w)
    assert bits == 2                        # zero + 3 distinct values
    np.testing.assert_array_equal(codes, [[0, 2, 1], [2, 0, 3]])


def test_model_size_totals():
    m = build("student")
    n = sum(p.numel() for p in m.parameters())
    dense = model_size(m, "dense")
    assert dense["bits"] == n * 32 and dense["bytes"] == n * 4
    with torch.no_grad():
        m.conv2.weight[:, :2] = 0
    sparse = model_size(m, "sparse")
    assert sum(l["bits"] for l in sparse["layers"]) == sparse["bits"]
    assert [l["name"] for l in sparse["layers"]] == ["conv1", "conv2", "fc1"]
