"""Models and data for a sweep: loaded and checked on the client before any point runs; the
digest (part of every key) follows the ONNX file and the data."""
from __future__ import annotations

import numpy as np
import pytest

from fpga_sim.errors import FpgaSimError
from fpga_sim.sweep.sources import check_quantise, load_models
from fpga_sim.sweep.spec import load_spec
from tests.sweep_support import write_sweep


def test_data_and_digest(tmp_path):
    s = load_spec(write_sweep(tmp_path, mode="simulate"))
    m = load_models(s)[0]
    assert m.x.shape == (24, 1, 6, 6) and m.y.shape == (24,) and np.array_equal(m.calibration, m.x)
    assert load_models(s)[0].digest == m.digest
    assert load_models(load_spec(write_sweep(tmp_path, mode="cost")))[0].x is None
    np.save(tmp_path / "x.npy", np.load(tmp_path / "x.npy")[::-1])        # other data, other points
    assert load_models(s)[0].digest != m.digest


def test_bad_data_and_configs_are_named(tmp_path):
    s = load_spec(write_sweep(tmp_path, mode="simulate"))
    np.save(tmp_path / "x.npy", np.zeros((4, 3, 6, 6)))
    with pytest.raises(FpgaSimError, match=r"models\[0\] \(.*tiny.onnx\): models\[0\].input array has shape \(4, 3, 6, 6\)"):
        load_models(s)
    write_sweep(tmp_path)                 # fresh data
    (tmp_path / "types.toml").write_text('[LayerName.nope.Precision]\nweight = "ap_fixed<4,2>"\n')
    s = load_spec(write_sweep(tmp_path, precisions='["ap_fixed<8,3>", { type = "ap_fixed<8,3>", config = "types.toml" }]'))
    np.save(tmp_path / "x.npy", np.random.default_rng(0).uniform(0, 1, (8, 1, 6, 6)))
    with pytest.raises(FpgaSimError, match=r"precisions\[1\] \(ap_fixed<8,3> \+ types.toml\) on model tiny: LayerName.nope"):
        check_quantise(load_models(s), s.precisions)
