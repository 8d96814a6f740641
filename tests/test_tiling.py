"""tiling.plan_tiles: output-channel tiles of a layer's DRAM tensors, against hand counts."""
import pytest

from fpga_sim.errors import ConfigError
from fpga_sim.machine import LayerWork
from fpga_sim.tiling import output_channels, plan_tiles


def dense(n_in=100, n_out=10, rows=1, bias=True, bits=8):
    return LayerWork("fc", "Dense", rows * n_out, n_in, rows * n_in, n_out * n_in + (n_out if bias else 0),
                     bits, bits, bits, 24, bias_words=n_out if bias else 0)


def plan(work, capacity, *, db=False, w_dram=True, out_dram=False, in_dram=0, bits=8):
    return plan_tiles(work, dram_input_words=in_dram, input_bits=bits, weights_in_dram=w_dram,
                      weight_words=work.weight_words, weight_bytes=work.weight_words * ((bits + 7) // 8),
                      output_in_dram=out_dram, output_bits=bits, capacity=capacity, double_buffer=db)


def test_output_channels_from_the_weights():
    assert output_channels(dense()) == 10
    assert output_channels(dense(bias=False, rows=3)) == 10
    assert output_channels(LayerWork("c", "Conv", 4 * 9, 18, 50, 4 * 18 + 4, 8, 8, 8, bias_words=4)) == 4


def test_channel_tiles_carry_their_biases():
    # 10 channels of 100 weights + 1 bias = 101 B each; 350 B hold 3 channels -> tiles 3, 3, 3, 1
    p = plan(dense(), 350)
    assert (p.tiles, p.channels_per_tile) == (4, 3)
    assert p.tile_outputs == (3, 3, 3, 1) and p.tile_reads == (303, 303, 303, 101)
    assert p.weight_reads == 1010 and p.input_reads == 0 and p.sram_bytes_used == 303


def test_input_loads_first_and_double_buffering_halves_a_tile():
    p = plan(dense(), 100 + 2 * 202, db=True, in_dram=100)
    assert (p.tiles, p.buffers, p.channels_per_tile) == (5, 2, 2)
    assert p.tile_reads[0] == 100 + 202 and sum(p.tile_reads) == 100 + 1010
    assert p.sram_bytes_used == 100 + 2 * 202


def test_rows_share_a_channel_tile_and_outputs_are_staged():
    p = plan(dense(rows=4), 2 * (101 + 4), out_dram=True)      # a channel: 101 B weights + 4 B outputs
    assert p.channels_per_tile == 2 and p.tile_outputs == (8,) * 5 and p.output_tile_bytes == 8


def test_nothing_in_dram_is_one_tile_and_too_small_is_an_error():
    p = plan(dense(), 1, w_dram=False)
    assert p.tiles == 1 and p.tile_reads == (0,) and p.sram_bytes_used == 0
    # the input (100 B) does not fit beside a channel (101 B): it is read again for every tile
    again = plan(dense(), 200, in_dram=100)
    assert again.input_restreamed and again.input_buffer_bytes == 0
    assert again.input_reads == 100 * again.tiles and all(r >= 100 for r in again.tile_reads)
    assert "read from DRAM again for each tile" in again.describe()
    with pytest.raises(ConfigError, match=r"layer 'fc': SRAM too small: .* need 101 B of tile SRAM but sram_bytes=100"):
        plan(dense(), 100, in_dram=100)
