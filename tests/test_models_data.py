import numpy as np
import pytest

from fpga_sim.errors import FpgaSimError
from models.data import load_digits_split, upscale


def test_split_shapes_range_and_determinism():
    xtr, ytr, xte, yte = load_digits_split()
    assert xtr.shape == (1347, 1, 8, 8) and xte.shape == (450, 1, 8, 8)
    assert xtr.dtype == np.float32 and ytr.dtype == np.int64
    assert 0.0 <= xtr.min() and xtr.max() <= 1.0 and xtr.max() == 1.0
    assert sorted(set(yte.tolist())) == list(range(10))
    again = load_digits_split()
    assert all(np.array_equal(a, b) for a, b in zip((xtr, ytr, xte, yte), again))
    # train and test are disjoint samples of the 1797 digits
    from sklearn.datasets import load_digits
    assert len(xtr) + len(xte) == len(load_digits().images)


def test_upscaled_variant():
    xtr, ytr, xte, yte = load_digits_split(size=16)
    x8 = load_digits_split()[0]
    assert xtr.shape == (1347, 1, 16, 16) and 0.0 <= xtr.min() and xtr.max() <= 1.0
    # bilinear 2x upscaling keeps the mean brightness of each image (to interpolation error)
    np.testing.assert_allclose(xtr.mean(axis=(1, 2, 3)), x8.mean(axis=(1, 2, 3)), atol=0.03)
    assert upscale(x8, 8) is x8


@pytest.mark.parametrize("kw, says", [({"size": 12}, r"size 12 is not available; accepted sizes: \(8, 16, 32\)"),
                                      ({"test_fraction": 1.5}, "test_fraction 1.5 must lie strictly between 0 and 1")])
def test_bad_arguments(kw, says):
    with pytest.raises(FpgaSimError, match=says):
        load_digits_split(**kw)
