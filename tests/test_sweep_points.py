"""Points: grid order and size, seeded random and Latin-hypercube samples, the size limit, keys,
and points that do not fit their part (kept, marked, costed on the same machine)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from fpga_sim import Hardware
from fpga_sim.errors import ConfigError
from fpga_sim.sweep.points import check_size, config_key, grid_size, latin_hypercube, make_points, resolve_hardware, sample_indices
from fpga_sim.sweep.spec import load_spec
from tests.sweep_support import write_sweep

IDS = [{"digest": "m0"}]
PIDS = [{"type": "a"}, {"type": "b"}]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("points")


def test_grid_is_the_full_product_in_file_order(folder):
    s = load_spec(write_sweep(folder))
    pts = make_points(s, IDS, PIDS)
    assert grid_size(s) == len(pts) == 1 * 2 * 6 * 3 * 4
    axes = [a.values for a in s.axes]
    expected = [(p, *hw) for p in range(2) for hw in itertools.product(*axes)]
    assert [(pt.precision, pt.hardware["n_dsp"], pt.hardware["sram_bytes"], pt.hardware["dram_read_words_per_cycle"])
            for pt in pts] == expected
    assert len({pt.key for pt in pts}) == len(pts)
    assert all(pt.hardware["part"] == "xc7a35t" for pt in pts)


def test_random_and_lhs_samples_are_seeded_subsets(folder):
    r1 = load_spec(write_sweep(folder, tail='[points]\nsample = "random"\nsamples = 20\nseed = 3', name="r.toml"))
    a, b = sample_indices(r1), sample_indices(r1)
    assert np.array_equal(a, b) and len(a) == 20 and len(set(a.tolist())) == 20 and a.max() < grid_size(r1)
    r2 = load_spec(write_sweep(folder, tail='[points]\nsample = "random"\nsamples = 20\nseed = 4', name="r.toml"))
    assert not np.array_equal(a, sample_indices(r2))
    # LHS, 12 draws: an axis of 6 values gets each value exactly twice, of 3 values 4 times, of 4 three times
    for seed in range(5):
        coords = latin_hypercube((6, 3, 4), 12, np.random.default_rng(seed))
        assert [np.bincount(c).tolist() for c in coords] == [[2] * 6, [4] * 3, [3] * 4]
    lhs = load_spec(write_sweep(folder, tail='[points]\nsample = "lhs"\nsamples = 12', name="l.toml"))
    idx = sample_indices(lhs)             # repeats of a grid point are merged
    assert 1 <= len(idx) <= 12 and np.array_equal(idx, np.unique(idx)) and np.array_equal(idx, sample_indices(lhs))


def test_too_many_points_names_the_size(folder):
    s = load_spec(write_sweep(folder))
    check_size(s, 144)
    with pytest.raises(ConfigError, match=r"asks for 144 points \(grid 1 x 2 x 6 x 3 x 4 = 144\), more than "
                                          r"--max-points 100; raise --max-points"):
        check_size(s, 100)
    sampled = load_spec(write_sweep(folder, tail='[points]\nsample = "random"\nsamples = 50', name="r.toml"))
    check_size(sampled, 100)       # the sample, not the grid, is what runs


def test_keys_follow_every_part_of_the_configuration():
    base = {"mode": "cost", "model": {"digest": "m"}, "precision": {"type": "a"}, "hardware": {"n_dsp": 4}}
    k = config_key(base)
    assert k == config_key(dict(reversed(list(base.items()))))          # order of keys does not matter
    for change in ({"mode": "simulate"}, {"model": {"digest": "n"}}, {"precision": {"type": "b"}},
                   {"hardware": {"n_dsp": 8}}):
        assert config_key({**base, **change}) != k


def test_a_point_too_big_for_its_part_is_marked_and_costed_on_the_same_machine():
    base = Hardware(part="xc7z020", n_dsp=25, sram_bytes=65536)
    asked, costed, fits, note = resolve_hardware(base, {"n_dsp": 512})
    assert not fits and "n_dsp=512 exceeds the 220 DSP slices of xc7z020" in note
    assert asked["part"] == "xc7z020" and asked["n_dsp"] == 512
    host = Hardware.from_dict(costed)
    assert host.part != "xc7z020" and host.part_info.dsp_slices >= 512
    # same ports and clock as the target part (DSP48E1, 25x18, 100 MHz), not the host's
    assert (host.dsp_a_bits, host.dsp_b_bits, host.clock_mhz) == (25, 18, 100.0)
    assert {k: v for k, v in costed.items() if k != "part"} == {k: v for k, v in asked.items() if k != "part"}
    # a point that fits is costed on exactly what was asked for
    asked, costed, fits, note = resolve_hardware(base, {"n_dsp": 200})
    assert fits and note is None and asked == costed == base.replace(n_dsp=200).to_dict()
    # one no Hardware accepts is kept with its sentence, to be stored as an error
    asked, costed, fits, note = resolve_hardware(base, {"sram_read_ports": 1})
    assert costed is None and "sram_read_ports=1 cannot feed a multiply" in note
