import numpy as np
import torch
from torch.nn.utils import parametrize

from fpga_sim import Fixed
from models.data import load_digits_split
from models.fixed_train import fake_quant, fixed_accuracy, fixed_train, to_fixed
from models.train import TrainConfig, accuracy
from models.zoo import build, weight_layers

T = Fixed.parse("ap_fixed<8,3,AP_RND,AP_SAT>")


def _grid_ok(values: np.ndarray, t: Fixed) -> bool:
    raw = values * 2.0 ** t.frac
    return bool(np.all(raw == np.round(raw)) and values.min() >= t.min and values.max() <= t.max)


def test_fake_quant_has_fixed_semantics():
    x = torch.tensor([-5.0, -1.03125, 0.015625, 0.0469, 1.0, 3.99, 7.0], dtype=torch.float64)
    got = fake_quant(x, T).numpy()
    # by hand: resolution 1/32, round half up, saturate at [-4, 4 - 1/32]
    expected = [-4.0, -1.03125, 0.03125, 0.0625, 1.0, 3.96875, 3.96875]
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(got, T.to_float(T.quantize(x.numpy())))
    trn = Fixed(8, 3)                                   # AP_TRN, AP_WRAP: floor and wrap-around
    np.testing.assert_array_equal(fake_quant(torch.tensor([0.05, 4.0]), trn).numpy(), [0.03125, -4.0])


def test_ste_passes_gradients():
    x = torch.tensor([-5.0, 0.3, 2.0, 6.0], requires_grad=True)
    (fake_quant(x, T) * torch.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 2.0, 3.0, 4.0])
    x.grad = None
    (fake_quant(x, T, clip=True) * torch.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 2.0, 3.0, 0.0])   # saturated: no gradient


def test_shadow_weights_get_the_gradient_of_the_quantised_weights():
    torch.manual_seed(0)
    m = build("student")
    fm = to_fixed(m, T, T)
    xtr, ytr, _, _ = load_digits_split()
    x, y = torch.as_tensor(xtr[:8]), torch.as_tensor(ytr[:8])
    torch.nn.functional.cross_entropy(m(x), y).backward()
    conv1 = m.conv1
    shadow = conv1.parametrizations.weight.original
    wq = fake_quant(shadow.detach(), T)
    assert _grid_ok(wq.numpy(), T)
    # the same forward written out by hand with the quantised weight as a leaf
    wq_leaf = wq.clone().requires_grad_(True)
    xq = fake_quant(x, T)
    h = torch.nn.functional.conv2d(xq, wq_leaf, conv1.bias, padding=1)
    rest = torch.nn.Sequential(*list(m.children())[1:])
    logits = fake_quant(rest(h), fm.out_type)
    torch.nn.functional.cross_entropy(logits, y).backward()
    torch.testing.assert_close(shadow.grad, wq_leaf.grad)
    assert shadow.grad.abs().sum() > 0


def test_fixed_training_keeps_weights_on_the_grid_and_beats_quantising_after():
    xtr, ytr, xte, yte = load_digits_split()
    x, y, xt, yt = xtr[:300], ytr[:300], xte[:150], yte[:150]
    tight = Fixed.parse("ap_fixed<4,2,AP_RND,AP_SAT>")
    m = build("mlp", hidden=(32,))
    from models.train import train
    train(m, x, y, TrainConfig(epochs=5), progress=False)
    ptq = fixed_accuracy(m, xt, yt, tight, tight)
    assert not any(parametrize.is_parametrized(l) for l in weight_layers(m).values())   # left untouched
    fm = fixed_train(m, x, y, tight, tight, TrainConfig(epochs=5, lr=3e-3), progress=False)
    for s in fm.shadows():
        assert s.min() >= tight.min and s.max() <= tight.max              # clipped shadows
    qat = accuracy(m, xt, yt)
    fm.to_float()
    for layer in weight_layers(m).values():
        assert _grid_ok(layer.weight.detach().numpy(), tight)
        assert _grid_ok(layer.bias.detach().numpy(), tight)
    assert qat > ptq
