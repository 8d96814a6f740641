import pytest

from fpga_sim.errors import FpgaSimError
from fpga_sim.parts import BRAM36_BYTES, PARTS, get_part


def test_required_parts_present_with_datasheet_budgets():
    for name in ("xc7z020", "xczu3eg", "xczu9eg", "xcu250", "xcvu9p"):
        assert name in PARTS
    z = get_part("xc7z020")
    assert (z.dsp_slices, z.bram36, z.dsp_a_bits) == (220, 140, 25)
    assert z.bram_bytes == 140 * 36 * 1024 // 8
    assert get_part("xczu9eg").dsp_slices == 2520
    assert get_part("xcu250").onchip_bytes == 2688 * BRAM36_BYTES + 1280 * 36864


def test_lookup_ignores_case_and_package_suffix():
    assert get_part("XCZU9EG-ffvb1156-2-e").name == "xczu9eg"


def test_unknown_part_lists_known_ones():
    with pytest.raises(FpgaSimError, match="unknown FPGA part 'xc9999'.*xc7z020.*xcu250"):
        get_part("xc9999")
