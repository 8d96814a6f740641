import pytest
import torch

from fpga_sim.errors import FpgaSimError
from models.zoo import ARCHS, Fire, build, count_params, weight_layers


@pytest.mark.parametrize("name", sorted(ARCHS))
def test_every_arch_maps_digits_to_ten_logits(name):
    m = build(name)
    assert m(torch.zeros(3, 1, 8, 8)).shape == (3, 10)
    assert count_params(m) == sum(p.numel() for p in m.parameters())
    assert weight_layers(m)


def test_build_is_deterministic_per_seed():
    a, b, c = build("lenet", seed=1), build("lenet", seed=1), build("lenet", seed=2)
    assert torch.equal(a.conv1.weight, b.conv1.weight)
    assert not torch.equal(a.conv1.weight, c.conv1.weight)


def test_fire_concat_and_simple_bypass():
    torch.manual_seed(0)
    plain = Fire(8, 2, 4)
    byp = Fire(8, 2, 4, bypass=True)
    byp.load_state_dict(plain.state_dict())
    x = torch.randn(2, 8, 5, 5)
    y = plain(x)
    assert y.shape == (2, 8, 5, 5)
    s = torch.relu(plain.squeeze(x))
    torch.testing.assert_close(y[:, :4], torch.relu(plain.expand1x1(s)))
    torch.testing.assert_close(y[:, 4:], torch.relu(plain.expand3x3(s)))
    torch.testing.assert_close(byp(x), y + x)
    with pytest.raises(FpgaSimError, match=r"bypass needs input channels \(6\) equal to output channels \(8\)"):
        Fire(6, 2, 4, bypass=True)


def test_unknown_arch():
    with pytest.raises(FpgaSimError, match="lenet"):
        build("alexnet")


def test_nonzero_count():
    m = build("student")
    with torch.no_grad():
        m.conv1.weight.zero_()
    assert count_params(m, nonzero=True) == count_params(m) - m.conv1.weight.numel()
