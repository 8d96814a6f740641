"""The sweep file: axes (lists, ranges, powers of two), fixed fields, sampling; every bad key is one
sentence naming the key and what is accepted, before anything loads."""
from __future__ import annotations

import pytest

from fpga_sim.errors import ConfigError
from fpga_sim.sweep.spec import axis_values, load_spec
from tests.sweep_support import write_model, write_sweep


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("spec")
    write_model(d)
    return d


def test_axes_fixed_fields_and_paths(folder):
    s = load_spec(write_sweep(folder, extra='objectives = ["cycles", "dram_words"]'))
    assert s.mode == "cost" and s.objectives == ("cycles", "dram_words")
    assert s.fixed == {"part": "xc7a35t", "weights": "dram"}
    assert [(a.name, a.values) for a in s.axes] == [
        ("n_dsp", (4, 8, 16, 32, 64, 128)), ("sram_bytes", (4, 4096, 65536)),
        ("dram_read_words_per_cycle", (1.0, 2.0, 3.0, 4.0))]
    m = s.models[0]
    assert m.spec == str(folder / "tiny.onnx") and m.input == str(folder / "x.npy") and m.label == "tiny"
    assert [p.label for p in s.precisions] == ["ap_fixed<16,6>", "ap_fixed<8,3,AP_RND,AP_SAT>"]
    assert [p.bits for p in s.precisions] == [16, 8]
    # without a hardware file the defaults are shrunk to the fixed part, as --target does
    base = s.base_hardware()
    assert base.part == "xc7a35t" and base.n_dsp <= 90


def test_axis_forms():
    assert axis_values({"start": 10, "stop": 4, "step": -3}, "k") == (10, 7, 4)
    assert axis_values({"start": 8, "stop": 30, "step": 8}, "k") == (8, 16, 24)      # stop included when reached
    assert axis_values({"start": 0.5, "stop": 1.5, "step": 0.5}, "k") == (0.5, 1.0, 1.5)
    assert axis_values({"pow2": [3, 64]}, "k") == (4, 8, 16, 32, 64)
    assert axis_values(7, "k") == (7,)
    assert axis_values([True, False], "k") == (True, False)


@pytest.mark.parametrize("hardware, words", [
    ("[hardware]\nn_dsps = [1, 2]", ["unknown hardware key", "'hardware.n_dsps'", "accepted:", "n_dsp"]),
    ("[hardware]\nn_dsp = []", ["hardware.n_dsp is an empty axis"]),
    ("[hardware]\nn_dsp = { start = 4, stop = 16, step = 0 }", ["hardware.n_dsp: step is zero"]),
    ("[hardware]\nn_dsp = { start = 4, stop = 16, step = -2 }", ["hardware.n_dsp: step -2 has the wrong sign"]),
    ("[hardware]\nn_dsp = { pow2 = [5, 7] }", ["hardware.n_dsp.pow2 = [5, 7] holds no power of two"]),
    ("[hardware]\nn_dsp = { from = 1 }", ["hardware.n_dsp must be a list, {start, stop, step} or {pow2"]),
    ("[hardware]\nn_dsp = [8, 8]", ["lists a value twice"]),
    ("[hardware]\nn_dsp = [8, -1]", ["hardware.n_dsp value -1", "positive integer"]),
    ("[hardware]\npart = ['xc7z020', 'nope']", ["unknown FPGA part 'nope'", "known parts"]),
])
def test_bad_hardware_is_one_sentence_naming_the_key(folder, hardware, words):
    with pytest.raises(ConfigError) as e:
        load_spec(write_sweep(folder, hardware=hardware, name="bad.toml"))
    msg = str(e.value)
    assert msg.startswith(f"sweep file {str(folder / 'bad.toml')!r}: ")
    for w in words:
        assert w in msg
    assert "\n" not in msg


@pytest.mark.parametrize("extra, tail, words", [
    ('name = "x"\nmode = "fast"', "", ["mode 'fast' is not known; accepted: cost, simulate"]),
    ('objectives = ["accuracy_loss"]', "", ["objective 'accuracy_loss' is not a metric of mode 'cost'", "simulate"]),
    ('objectives = ["speed"]', "", ["objective 'speed'", "accepted: cycles"]),
    ("colour = 1", "", ["unknown top-level key 'colour'", "accepted: name, mode"]),
    ("", '[points]\nsample = "sobol"', ["points.sample 'sobol' is not known; accepted: grid, random, lhs"]),
    ("", '[points]\nsample = "lhs"', ["points.samples must be a positive integer"]),
    ("", '[points]\nsample = "grid"\nsamples = 3', ["points.samples goes with sample"]),
])
def test_bad_top_level_keys(folder, extra, tail, words):
    path = write_sweep(folder, extra=extra, tail=tail, name="bad.toml")
    if "fast" in extra:
        path.write_text(path.read_text().replace('mode = "cost"\n', "", 1))
    with pytest.raises(ConfigError) as e:
        load_spec(path)
    for w in words:
        assert w in str(e.value)


def test_bad_models_and_precisions(folder):
    path = folder / "bad.toml"
    path.write_text('models = ["missing.onnx"]\nprecisions = ["ap_fixed<8,3>"]\n')
    with pytest.raises(ConfigError, match=r"models\[0\].path file 'missing.onnx' does not exist"):
        load_spec(path)
    path.write_text('models = ["tiny.onnx"]\nprecisions = ["ap_fixed<8"]\n')
    with pytest.raises(ConfigError, match=r"precisions\[0\]"):
        load_spec(path)
    path.write_text('models = ["tiny.onnx"]\nprecisions = []\n')
    with pytest.raises(ConfigError, match="precisions must be a non-empty list"):
        load_spec(path)
    path.write_text('models = [{ path = "tiny.onnx", labels = "y.npy" }]\nprecisions = ["ap_fixed<8,3>"]\n')
    with pytest.raises(ConfigError, match="labels and calibration go with input"):
        load_spec(path)
    with pytest.raises(ConfigError, match="does not exist"):
        load_spec(folder / "nope.toml")


def test_the_readme_example_and_the_shipped_example_load(tmp_path):
    import re
    from pathlib import Path

    from fpga_sim.sweep.points import grid_size, planned_count

    root = Path(__file__).parent.parent
    (example,) = re.findall(r"<!-- sweep-example -->\n```\n(.*?)```", (root / "README.md").read_text(), flags=re.S)
    (tmp_path / "types.toml").write_text('[Model.Precision]\naccum = "ap_fixed<24,10>"\n')
    (tmp_path / "sweep.toml").write_text(example)
    s = load_spec(tmp_path / "sweep.toml")
    assert s.sample == "lhs" and planned_count(s) == 200 and grid_size(s) == 1 * 3 * 8 * 4 * 8
    assert s.precisions[2].config == str(tmp_path / "types.toml")
    shipped = load_spec(root / "fpga_sim" / "data" / "sweep_lenet.toml")
    assert shipped.mode == "simulate" and grid_size(shipped) == 672          # as its comment says
