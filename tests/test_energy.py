import pytest

from fpga_sim.energy import EnergyTable, load_energy_table
from fpga_sim.errors import ConfigError


def test_lecture_table_at_32_bits():
    t = load_energy_table("45nm")
    assert t.int_add(32) == pytest.approx(0.1)
    assert t.float_add() == pytest.approx(0.9)
    assert t.int_mult(32, 32) == pytest.approx(3.1)
    assert t.float_mult() == pytest.approx(3.7)
    assert t.memory("sram_read", 32) == pytest.approx(5.0)
    assert t.memory("dram_read", 32) == pytest.approx(640.0)
    assert t.memory("dram_write", 32) == pytest.approx(640.0)


def test_narrow_widths_scale_as_documented():
    t = load_energy_table()
    assert t.int_add(8) == pytest.approx(0.1 / 4)             # linear
    assert t.int_mult(16, 16) == pytest.approx(3.1 / 4)       # quadratic
    assert t.int_mult(8, 16) == pytest.approx(3.1 * 128 / 1024)
    assert t.memory("sram_read", 16) == pytest.approx(2.5)    # linear in bits moved


def test_user_table_file(tmp_path):
    p = tmp_path / "my.toml"
    p.write_text('[meta]\nname="mine"\nreference_bits=16\n[pj]\nint_add=1\nfloat_add=2\nint_mult=3\n'
                 'float_mult=4\nsram_read=5\nsram_write=6\ndram_read=7\ndram_write=8\n[scaling]\nmult=1.0\n')
    t = load_energy_table(p)
    assert t.name == "mine"
    assert t.int_mult(32, 32) == pytest.approx(3 * 2)    # exponent 1 on bits: (32*32/16^2)**0.5 = 2
    assert t.memory("sram_write", 8) == pytest.approx(3.0)


def test_bad_tables_are_clear(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("[pj]\nint_add=0.1\nbogus=3\n")
    with pytest.raises(ConfigError, match="unknown \\[pj\\] key.*bogus; accepted: int_add, float_add"):
        load_energy_table(p)
    with pytest.raises(ConfigError, match="lacks \\[pj\\] keys float_add, .*; required: int_add, float_add"):
        EnergyTable("x", {"int_add": 0.1})
    with pytest.raises(ConfigError, match="'.*nope.toml' does not exist; give a TOML path or one of: 45nm"):
        load_energy_table(tmp_path / "nope.toml")
