import pytest

from fpga_sim.errors import ConfigError, FpgaSimError
from fpga_sim.hardware import Hardware


def test_default_is_a_small_accelerator_on_a_real_part():
    h = Hardware()
    part = h.part_info
    assert 0 < h.n_dsp <= part.dsp_slices and h.sram_bytes <= part.onchip_bytes
    assert h.clock_mhz == part.default_clock_mhz and h.dsp_a_bits == 27


def test_lecture_setup():
    h = Hardware.lecture()
    assert (h.n_dsp, h.dram_write_words_per_cycle, h.data_in_sram, h.pipeline_latency) == (25, 1.0, True, 0)
    assert h.multipliers_per_cycle(16, 16) == 25


def test_dsp_width_rules():
    h = Hardware(n_dsp=20)                      # DSP48E2: 27x18
    assert h.dsps_per_multiply(27, 18) == 1
    assert h.dsps_per_multiply(18, 27) == 1     # orientation is free
    assert h.dsps_per_multiply(24, 24) == 2     # 24 > 18 on the B port
    assert h.dsps_per_multiply(32, 32) == 4
    assert h.multipliers_per_cycle(24, 24) == 10
    assert h.multipliers_per_cycle(8, 8) == 20
    assert h.replace(pack_int8=True).multipliers_per_cycle(8, 8) == 40
    assert h.replace(pack_int8=True).multipliers_per_cycle(9, 8) == 20
    z = Hardware(part="xc7z020", n_dsp=3)       # DSP48E1: 25x18
    assert z.dsps_per_multiply(26, 16) == 2
    with pytest.raises(ConfigError, match="cannot build one 32x32-bit multiplier"):
        z.multipliers_per_cycle(32, 32)


@pytest.mark.parametrize("kw,msg", [
    ({"n_dsp": 0}, "n_dsp must be a positive integer"),
    ({"dram_write_words_per_cycle": -1.0}, "dram_write_words_per_cycle must be a positive number"),
    ({"dram_read_words_per_cycle": 0}, "dram_read_words_per_cycle must be a positive number"),
    ({"part": "xc9z999"}, "unknown FPGA part 'xc9z999'; known parts: .*xczu9eg"),
    ({"part": "xc7z020", "n_dsp": 221}, "n_dsp=221 does not fit part xc7z020, which has 220 DSP slices; set n_dsp <= 220"),
    ({"part": "xc7z020", "sram_bytes": 10 ** 7}, "sram_bytes=10000000 does not fit part xc7z020, which has 645120 bytes of BRAM/URAM; set sram_bytes <= 645120"),
    ({"fifo_depth": -1}, "fifo_depth must be a non-negative integer"),
    ({"weights": "sram"}, "weights must be one of 'on_chip', 'dram', 'auto', got 'sram'"),
    ({"activations": None}, "activations must be one of 'on_chip', 'dram', 'auto', got None"),
    ({"network_input": "auto"}, "network_input must be one of 'on_chip', 'dram', None, got 'auto'"),
    ({"data_in_sram": True, "weights": "dram"}, "data_in_sram=true puts weights and the network input on chip; "
                                                "it contradicts weights='dram'"),
    ({"energy_table": "nope.toml"}, r"energy_table 'nope.toml' is neither a built-in table \(45nm\) nor an existing TOML"),
])
def test_impossible_settings(kw, msg):
    with pytest.raises(FpgaSimError, match=msg):
        Hardware(**kw)


def test_toml_roundtrip_and_unknown_keys(tmp_path):
    p = tmp_path / "hw.toml"
    p.write_text('part = "xczu9eg"\nn_dsp = 900\ndram_write_words_per_cycle = 0.5\n')
    h = Hardware.from_toml(p)
    assert (h.part, h.n_dsp, h.dram_write_words_per_cycle) == ("xczu9eg", 900, 0.5)
    assert Hardware.from_dict(h.to_dict()) == h
    p.write_text('n_dsps = 9\n')
    with pytest.raises(ConfigError, match="unknown hardware key 'n_dsps'; accepted: part, n_dsp"):
        Hardware.from_toml(p)


def test_example_files_load():
    from pathlib import Path
    import fpga_sim
    data = Path(fpga_sim.__file__).parent / "data"
    assert Hardware.from_toml(data / "hardware_lecture.toml") == Hardware.lecture()
    assert Hardware.from_toml(data / "hardware_zcu104.toml").n_dsp == 512


def test_replace_revalidates_and_follows_the_part():
    h = Hardware(part="xc7z020", n_dsp=25)
    assert h.dsp_a_bits == 25
    assert h.replace(part="xczu9eg").dsp_a_bits == 27
    with pytest.raises(ConfigError, match="n_dsp must be a positive integer, got 0"):
        h.replace(n_dsp=0)
