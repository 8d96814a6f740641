"""Compressed models exported to ONNX run through fpga_sim, and the hardware report shows it."""
import numpy as np
import torch

import fpga_sim   # a plain import: an import error in the simulator must fail here, not skip

from models.data import load_digits_split
from models.export import export_onnx
from models.prune import apply_masks, magnitude_masks
from models.share import default_bits, share_weights
from models.zoo import build


def _sim(path, x, **hw):
    """Weights streamed from DRAM, so that what compression stores shows in the DRAM traffic."""
    hw.setdefault("weights", "dram")
    g = fpga_sim.load_onnx(path)
    qg = fpga_sim.quantize(g, calibration=x, precision="auto<16>")
    return fpga_sim.simulate(qg, x, hardware=fpga_sim.Hardware(**hw))


def test_sparsity_and_sharing_show_in_the_hardware_report(tmp_path):
    x = load_digits_split()[2][:4]
    m = build("lenet", c1=8, c2=16, fc=32)
    dense_path = export_onnx(m, tmp_path / "dense.onnx")
    masks, _ = magnitude_masks(m, {"conv2": 0.9, "fc1": 0.9})
    apply_masks(m, masks)
    pruned_path = export_onnx(m, tmp_path / "pruned.onnx")
    share_weights(m, default_bits(m, conv=4, dense=3))
    shared_path = export_onnx(m, tmp_path / "shared.onnx")

    dense = _sim(dense_path, x).totals
    pruned_plain = _sim(pruned_path, x).totals
    pruned = _sim(pruned_path, x, skip_zero_weights=True).totals
    shared = _sim(shared_path, x, skip_zero_weights=True, weights_as_codebook=True).totals
    assert pruned_plain["macs"] == dense["macs"]              # dense hardware multiplies the zeros
    assert pruned["macs"] < 0.5 * dense["macs"]
    assert pruned["dram_read_bytes"] < dense["dram_read_bytes"]
    assert pruned["energy_total_pj"] < dense["energy_total_pj"]
    assert shared["dram_read_bytes"] < pruned["dram_read_bytes"]

    # the simulated network still computes the torch model's answer
    g = fpga_sim.load_onnx(shared_path)
    r = fpga_sim.simulate(fpga_sim.quantize(g, calibration=x, precision="auto<16>"), x)
    with torch.no_grad():
        ref = m(torch.as_tensor(x)).numpy()
    np.testing.assert_array_equal(r.outputs[g.outputs[0]].argmax(1), ref.argmax(1))
