"""The stepped machine against hand-computed and closed-form counts."""
import math
import random

import numpy as np
import pytest

from fpga_sim.errors import ConfigError
from fpga_sim.hardware import Hardware
from fpga_sim.machine import LayerWork, cost_layer

LECTURE = Hardware.lecture()


def work(outputs, k, *, name="l", i_words=169, w_words=None, bits=16, **kw):
    return LayerWork(name, "Conv", outputs, k, i_words, k if w_words is None else w_words, bits, bits, bits, 32, **kw)


@pytest.mark.parametrize("k,outputs,cycles,compute,bound", [
    (5, 405, 405, 405, "balanced"),
    (9, 125, 500, 500, "compute"),
    (1, 845, 845, 34, "bandwidth"),
])
def test_lecture_cases(k, outputs, cycles, compute, bound):
    r = cost_layer(work(outputs, k * k), LECTURE)
    assert (r.cycles, r.compute_cycles, r.bound, r.multipliers) == (cycles, compute, bound, 25)
    assert r.macs == outputs * k * k and r.dram_writes == outputs and r.dram_reads == 0
    assert r.mult_utilisation == pytest.approx(outputs * k * k / (25 * cycles))


def test_k_just_below_and_above_m():
    assert cost_layer(work(100, 24), LECTURE).cycles == 100          # 1 output/cycle, 1 of 25 DSPs idle
    assert cost_layer(work(100, 26), LECTURE).cycles == 200          # 2 cycles per output
    assert cost_layer(work(100, 12), LECTURE).compute_cycles == 50   # 2 outputs per cycle, write-bound
    assert cost_layer(work(100, 12), LECTURE).cycles == 100


def test_several_input_channels_3x3():
    # Cin=3, 3x3 kernel: K=27 > 25 -> 2 cycles per output
    r = cost_layer(work(11 * 11 * 4, 27), LECTURE)
    assert r.cycles == 2 * 484 and r.bound == "compute"


@pytest.mark.parametrize("bw,k,outputs,expected", [
    (2.0, 1, 845, 423),     # 25 outputs/cycle, 2 written per cycle
    (2.0, 25, 405, 405),    # now compute-bound: the port is half idle
    (0.5, 25, 405, 810),    # one write every other cycle
    (0.5, 81, 125, 500),    # 4 cycles per output beat 2 cycles per write
])
def test_write_bandwidth(bw, k, outputs, expected):
    hw = LECTURE.replace(dram_write_words_per_cycle=bw, fifo_depth=10_000)
    assert cost_layer(work(outputs, k), hw).cycles == expected


@pytest.mark.parametrize("depth,stalls", [(0, 6), (1, 5), (1000, 0)])
def test_fifo_depth_hand_stepped(depth, stalls):
    # M=4 lanes (n_dsp=4), K=1: groups of 4 outputs, 1 write per cycle, 10 outputs.
    hw = LECTURE.replace(n_dsp=4, fifo_depth=depth)
    r = cost_layer(work(10, 1), hw, trace=True)
    assert (r.cycles, r.compute_cycles, r.stall_cycles) == (10, 3, stalls)
    assert int(r.trace["words_written"].sum()) == 10
    assert r.trace["fifo_occupancy"].max() <= depth


def test_two_dsps_per_multiply():
    hw = LECTURE.replace(part="xczu3eg")
    w = LayerWork("l", "Conv", 50, 25, 100, 25, 24, 24, 24, 48)
    r = cost_layer(w, hw)
    assert r.multipliers == 12 and r.cycles == 50 * 3


def test_sram_read_ports_limit_the_array():
    r = cost_layer(work(100, 25), LECTURE.replace(sram_read_ports=10))
    assert r.multipliers == 5 and r.cycles == 500


def test_pipeline_latency_and_clock():
    r = cost_layer(work(405, 25), LECTURE.replace(pipeline_latency=7))
    assert r.cycles == 412 and r.latency_us == pytest.approx(412 / LECTURE.clock_mhz)


def test_dram_load_without_double_buffering_is_serial():
    # 1 tile: load (169 + 25) words at 2 words/cycle = 97 cycles, then 405 compute cycles.
    hw = LECTURE.replace(data_in_sram=False, weights="dram", dram_read_words_per_cycle=2.0, fifo_depth=8)
    r = cost_layer(work(405, 25, w_words=125), hw)
    assert r.dram_reads == 169 + 125
    assert r.cycles == math.ceil((169 + 125) / 2) + 405
    assert r.stall_cycles == 147 and r.sram_writes == 294


def test_tiling_policy_output_channel_tiles():
    # 200 output channels of K=100 16-bit weights (200 B each) and 5 outputs (10 B) each; the
    # 20,000 B input is loaded once: 20,000 + 19 x 210 <= 24,000 < 20,000 + 20 x 210 -> 11 tiles
    hw = Hardware(n_dsp=64, sram_bytes=24_000, double_buffer=False, weights="dram", dram_read_words_per_cycle=8.0)
    r = cost_layer(work(1000, 100, i_words=10_000, w_words=20_000), hw)
    assert r.dram_reads == 30_000 and r.sram_writes == 30_000 and "11 tiles of 19 of 200 output channels" in r.notes
    assert r.memory["tile_outputs"] == [95] * 10 + [50]
    assert r.memory["tile_reads"] == [10_000 + 1900] + [1900] * 9 + [1000]
    # double buffered: two buffers per tile, 20,000 + 2 x 9 x 210 <= 24,000 -> 23 tiles of 9 channels
    db = cost_layer(work(1000, 100, i_words=10_000, w_words=20_000), hw.replace(double_buffer=True))
    assert db.dram_reads == 30_000 and db.memory["tiles"] == 23 and db.memory["sram_bytes_used"] <= 24_000
    # weights on chip: only the input is read, one tile
    on = cost_layer(work(1000, 100, i_words=10_000, w_words=20_000), hw.replace(weights="on_chip"))
    assert on.dram_reads == 10_000 and on.memory["tiles"] == 1 and on.memory["weights"] == "on_chip"
    # the input alone (40,000 B) exceeds the tile SRAM: it is read again for every tile
    big = cost_layer(work(1000, 100, i_words=20_000, w_words=20_000), hw)
    assert big.memory["input_restreamed"] and big.dram_reads == 20_000 * big.memory["tiles"] + 20_000


def test_sram_too_small_is_an_error():
    hw = Hardware(sram_bytes=100, weights="dram")
    with pytest.raises(ConfigError, match="layer 'l': SRAM too small"):
        cost_layer(work(10, 576, i_words=5000, w_words=5000), hw)


def test_memory_read_bound_layer():
    hw = Hardware(n_dsp=64, weights="dram", dram_read_words_per_cycle=0.25, dram_write_words_per_cycle=4.0)
    r = cost_layer(LayerWork("fc", "Dense", 100, 1000, 1000, 100_000, 8, 8, 8, 24), hw)
    # one tile (101 kB fit the default 512 kB): 101,000 words at 1/4 word per cycle, then
    # 100 outputs x ceil(1000 / 64) cycles, then the default pipeline latency of 10 cycles:
    # the single tile loads, then computes
    assert r.bound == "load-then-compute" and r.dram_reads == 101_000
    assert r.cycles == 101_000 * 4 + 100 * 16 + 10 and r.stall_cycles == 101_000 * 4


def test_non_mac_layer_uses_element_lanes():
    # 2x2 max pool: 4 ops per output on 25 lanes -> 6 outputs per cycle, write-bound at 1/cycle
    w = LayerWork("pool", "MaxPool", 300, 0, 1200, 0, 16, 0, 16, ops_per_output=4)
    r = cost_layer(w, LECTURE)
    assert (r.cycles, r.compute_cycles, r.macs, r.adds, r.bound) == (300, 50, 0, 1200, "bandwidth")
    assert r.energy_pj["mult"] == 0.0


def test_host_layer():
    r = cost_layer(LayerWork("sm", "Softmax", 10, 0, 10, 0, 16, 0, 16, on_accelerator=False), LECTURE)
    assert (r.bound, r.cycles, r.on_accelerator) == ("host", 0, False)


def test_energy_breakdown_counts():
    r = cost_layer(work(405, 25), LECTURE)
    e = LECTURE.energy
    assert r.energy_pj["mult"] == pytest.approx(405 * 25 * e.int_mult(16, 16))
    assert r.energy_pj["add"] == pytest.approx(405 * 25 * e.int_add(32))
    assert r.energy_pj["sram_read"] == pytest.approx(2 * 405 * 25 * e.memory("sram_read", 16))
    assert r.energy_pj["dram_write"] == pytest.approx(405 * e.memory("dram_write", 16))
    f = cost_layer(work(405, 25), LECTURE, float32=True)
    assert f.energy_pj["mult"] == pytest.approx(405 * 25 * 3.7)
    assert f.energy_pj["dram_write"] == pytest.approx(405 * 640)
    assert f.multipliers == 12     # 24x24 mantissas take two 25x18 DSPs


def test_sparse_and_codebook_weights_shrink_traffic():
    hw = Hardware(n_dsp=64, weights="dram")
    base = LayerWork("fc", "Dense", 100, 400, 400, 40_100, 8, 8, 8, 24, bias_words=100,
                     nonzero_weight_words=4000, codebook_bits=4)
    plain = cost_layer(base, hw)
    sparse = cost_layer(base, hw.replace(skip_zero_weights=True))
    shared = cost_layer(base, hw.replace(weights_as_codebook=True))
    assert plain.macs == 40_000 and sparse.macs == 100 * 40
    assert plain.dram_reads == 400 + 40_100
    assert sparse.dram_reads == 400 + 4000 + 100
    assert shared.dram_reads == 400 + 40_000 + 100 + 16
    assert shared.energy_pj["dram_read"] < plain.energy_pj["dram_read"]
    assert sparse.energy_total_pj < plain.energy_total_pj and sparse.cycles < plain.cycles


def _closed_form(outputs, k, m, w):
    """Write-port queue with an unbounded FIFO and integer write bandwidth w."""
    c = -(-k // m)
    p = 1 if k >= m else m // k
    times = [(j // p) + 1 if c == 1 else (j + 1) * c for j in range(outputs)]
    return max(t - 1 + -(-(outputs - j) // w) for j, t in enumerate(times))


def test_random_cases_against_the_queue_closed_form():
    rng = random.Random(4)
    for _ in range(40):
        outputs, k, n_dsp, w = rng.randint(1, 300), rng.randint(1, 60), rng.randint(1, 40), rng.randint(1, 4)
        hw = LECTURE.replace(n_dsp=n_dsp, dram_write_words_per_cycle=float(w), fifo_depth=100_000)
        assert cost_layer(work(outputs, k), hw).cycles == _closed_form(outputs, k, n_dsp, w)


def test_fractional_bandwidth_long_run_rate():
    hw = LECTURE.replace(dram_write_words_per_cycle=1 / 3, fifo_depth=100_000)
    assert cost_layer(work(300, 1), hw).cycles == 900
    hw = LECTURE.replace(dram_write_words_per_cycle=1.5, fifo_depth=100_000)
    assert cost_layer(work(300, 1), hw).cycles == 200


def test_trace_is_capped_and_consistent():
    r = cost_layer(work(405, 25), LECTURE, trace=True)
    assert len(r.trace["mults_busy"]) == 405 and set(np.unique(r.trace["mults_busy"])) == {25}
    assert cost_layer(work(405, 25), LECTURE).trace is None


def test_steady_state_skip_is_exact():
    rng = random.Random(9)
    for _ in range(150):
        hw = Hardware(n_dsp=rng.randint(1, 64), fifo_depth=rng.choice([0, 1, 3, 64]),
                      dram_write_words_per_cycle=rng.choice([0.25, 1 / 3, 0.5, 1.0, 1.5, 2.0, 7.0]),
                      dram_read_words_per_cycle=rng.choice([0.5, 1.0, 3.0]), pipeline_latency=rng.randint(0, 5),
                      weights=rng.choice(["dram", "on_chip"]), network_input=rng.choice(["dram", "on_chip"]),
                      double_buffer=rng.random() < 0.5, sram_bytes=rng.choice([120_000, 200_000, 500_000]))
        k, cout = rng.randint(1, 100), rng.randint(1, 500)
        w = work(cout * rng.randint(1, 40), k, i_words=rng.randint(100, 50_000), w_words=k * cout)
        fast, slow = cost_layer(w, hw), cost_layer(w, hw, skip_steady_state=False)
        assert (fast.cycles, fast.compute_cycles, fast.stall_cycles) == (slow.cycles, slow.compute_cycles, slow.stall_cycles)
        assert fast.notes == slow.notes


def test_layers_equal_but_for_their_name_share_one_stepping():
    from fpga_sim import machine

    rng = random.Random(11)
    for _ in range(60):
        hw = Hardware(n_dsp=rng.randint(1, 64), fifo_depth=rng.choice([0, 2, 64]),
                      dram_write_words_per_cycle=rng.choice([0.5, 1.0, 2.0]), weights=rng.choice(["dram", "on_chip"]),
                      double_buffer=rng.random() < 0.5, sram_bytes=rng.choice([120_000, 500_000]))
        k, cout = rng.randint(1, 80), rng.randint(1, 300)
        w = work(cout * rng.randint(1, 30), k, i_words=rng.randint(100, 20_000), w_words=k * cout)
        skip = rng.random() < 0.7
        fresh = machine._cost_layer(w, hw, False, False, skip, None)          # never memoised
        a = cost_layer(w, hw, skip_steady_state=skip)
        b = cost_layer(LayerWork(**{**w.__dict__, "name": "other"}), hw, skip_steady_state=skip)
        assert a.to_dict() == fresh.to_dict() and b.name == "other"
        assert {**b.to_dict(), "name": a.name} == a.to_dict()
        b.energy_pj["mult"] = -1.0
        b.memory["tiles"] = -1
        assert cost_layer(w, hw, skip_steady_state=skip).to_dict() == fresh.to_dict()


@pytest.mark.parametrize("double_buffer,expected", [
    # 5 weight tiles of 4000 words at 8 words/cycle (500 cycles each), 200 outputs x 2 cycles per tile.
    # Serial: load 1..500, compute 501..900; the next load starts in the cycle the last issue
    # frees the buffer (900), so each later tile takes 499 + 400 cycles: 900 + 4 * 899 = 4496.
    (False, 4496 + 10),
    # Double buffered: the read port never idles, tile 4 is on chip at 2500, computes 2501..2900.
    (True, 2900 + 10),
])
def test_double_buffering_overlaps_loads_with_compute(double_buffer, expected):
    # input preloaded on chip; 200 channels of 200 B weights + 10 B outputs: 40 channels (8400 B,
    # twice that double buffered) fit, 50 do not -> 5 tiles
    w = LayerWork("l", "Conv", 1000, 100, 20_000, 20_000, 16, 16, 16, 32)
    hw = Hardware(n_dsp=50, sram_bytes=18_000 if double_buffer else 9_000, double_buffer=double_buffer,
                  weights="dram", network_input="on_chip",
                  dram_read_words_per_cycle=8.0, dram_write_words_per_cycle=4.0, pipeline_latency=10)
    r = cost_layer(w, hw)
    assert "5 tiles of 40 of 200 output channels" in r.notes and r.dram_reads == 20_000
    assert r.cycles == expected and r.bound == "memory-read"
