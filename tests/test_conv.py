"""Convolution, pooling, normalisation layers and losses against PyTorch 2.13 (float64, 1e-10).

Each case builds the same layer in both libraries (the weights copied through
state_dict, which must match key for key and shape for shape), runs the same input, and
compares the output and the gradients of a random weighting of it with respect to the
input and every parameter.
"""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.nn import functional as F

ORACLE = "PyTorch (the optional oracle) is not installed"


def _torch():
    return pytest.importorskip("torch", reason=ORACLE)


def _copy_weights(ours, theirs):
    torch_state = theirs.state_dict()
    assert list(ours.state_dict()) == list(torch_state)
    for key, value in torch_state.items():
        assert ours.state_dict()[key].shape == tuple(value.shape), key
    ours.load_state_dict({k: v.detach().numpy() for k, v in torch_state.items()})


def _compare(ours, theirs, x, *, input_grad=True, rtol=1e-10):
    torch = _torch()
    ours_x = mg.tensor(x, requires_grad=input_grad)
    theirs_x = torch.tensor(x, requires_grad=input_grad)
    out, expected = ours(ours_x), theirs(theirs_x)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=rtol, atol=1e-12)
    weights = np.cos(np.arange(out.data.size) * 0.7).reshape(out.shape)
    (out * weights).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    if input_grad:
        np.testing.assert_allclose(ours_x.grad.data, theirs_x.grad.numpy(), rtol=rtol, atol=1e-12)
    for (name, param), (_, their_param) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(param.grad.data, their_param.grad.numpy(), rtol=rtol, atol=1e-12, err_msg=name)


LAYERS = {
    "Conv2d": (lambda m: m.Conv2d(4, 6, 3), (2, 4, 7, 6)),
    "Conv2d strided, padded, dilated, grouped": (
        lambda m: m.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2), (2, 4, 7, 6)),
    "Conv2d without bias": (lambda m: m.Conv2d(3, 2, 2, bias=False), (1, 3, 4, 4)),
    "Conv1d": (lambda m: m.Conv1d(4, 6, 3, stride=2, padding=1, groups=2), (2, 4, 9)),
    "ConvTranspose2d": (lambda m: m.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1), (2, 4, 3, 4)),
    "ConvTranspose2d grouped, dilated": (
        lambda m: m.ConvTranspose2d(4, 6, (2, 3), stride=(1, 2), padding=(0, 1), groups=2, dilation=(2, 1)),
        (2, 4, 3, 3)),
    "MaxPool2d": (lambda m: m.MaxPool2d(2), (2, 3, 6, 5)),
    "MaxPool2d overlapping, padded": (lambda m: m.MaxPool2d(3, stride=2, padding=1), (2, 3, 7, 6)),
    "AvgPool2d": (lambda m: m.AvgPool2d(2), (2, 3, 6, 5)),
    "AvgPool2d padded": (lambda m: m.AvgPool2d(3, stride=2, padding=1), (2, 3, 7, 6)),
    "AvgPool2d padded, pad not counted": (
        lambda m: m.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), (2, 3, 7, 6)),
    "AdaptiveAvgPool2d": (lambda m: m.AdaptiveAvgPool2d((3, 2)), (2, 3, 7, 5)),
    "AdaptiveAvgPool2d 1": (lambda m: m.AdaptiveAvgPool2d(1), (2, 3, 4, 5)),
    "Flatten": (lambda m: m.Flatten(), (2, 3, 4)),
    "BatchNorm2d": (lambda m: m.BatchNorm2d(3), (4, 3, 5, 2)),
    "LayerNorm": (lambda m: m.LayerNorm((4, 5)), (3, 4, 5)),
    "GELU": (lambda m: m.GELU(), (3, 7)),
    "GELU tanh": (lambda m: m.GELU(approximate="tanh"), (3, 7)),
    "Softplus": (lambda m: m.Softplus(beta=2.0, threshold=3.0), (3, 7)),
    "Dropout in eval": (lambda m: m.Dropout(0.3).eval(), (3, 7)),
}


@pytest.mark.parametrize("case", list(LAYERS))
def test_layer_matches_pytorch(case):
    torch = _torch()
    build, shape = LAYERS[case]
    torch.manual_seed(0)
    theirs = build(torch.nn).double()
    ours = build(nn)
    _copy_weights(ours, theirs)
    x = np.random.default_rng(1).standard_normal(shape) * 2
    _compare(ours, theirs, x)
    if case.startswith("BatchNorm"):
        for key in ("running_mean", "running_var", "num_batches_tracked"):
            np.testing.assert_allclose(ours.state_dict()[key], theirs.state_dict()[key].numpy(), rtol=1e-12)
        ours.eval(), theirs.eval()
        _compare(ours, theirs, x)


def test_embedding_matches_pytorch():
    torch = _torch()
    theirs = torch.nn.Embedding(5, 3).double()
    ours = nn.Embedding(5, 3)
    _copy_weights(ours, theirs)
    index = np.array([[0, 4, 4], [2, 0, 1]])
    out, expected = ours(mg.tensor(index)), theirs(torch.tensor(index))
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=0)
    out.sum().backward(), expected.sum().backward()
    np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), rtol=0)


def test_dropout_zeroes_and_scales_in_training():
    mg.manual_seed(0)
    out = nn.Dropout(0.25)(mg.ones(1000))
    kept = out.data != 0
    assert set(np.unique(out.data)) <= {0.0, 1 / 0.75}
    assert 0.70 < kept.mean() < 0.80


LOSSES = {
    "MSELoss": (lambda m: m.MSELoss(), "same"),
    "L1Loss sum": (lambda m: m.L1Loss(reduction="sum"), "same"),
    "CrossEntropyLoss": (lambda m: m.CrossEntropyLoss(), "classes"),
    "CrossEntropyLoss ignore_index": (lambda m: m.CrossEntropyLoss(ignore_index=2), "classes"),
    "CrossEntropyLoss label_smoothing": (lambda m: m.CrossEntropyLoss(label_smoothing=0.2), "classes"),
    "CrossEntropyLoss weight, smoothing, ignore": (
        lambda m: m.CrossEntropyLoss(weight=_WEIGHTS(m), ignore_index=1, label_smoothing=0.1), "classes"),
    "CrossEntropyLoss none": (lambda m: m.CrossEntropyLoss(reduction="none", label_smoothing=0.3), "classes"),
    "CrossEntropyLoss probabilities": (lambda m: m.CrossEntropyLoss(label_smoothing=0.1), "probabilities"),
    "CrossEntropyLoss spatial": (lambda m: m.CrossEntropyLoss(ignore_index=0), "spatial"),
    "NLLLoss weight": (lambda m: m.NLLLoss(weight=_WEIGHTS(m)), "classes"),
    "BCEWithLogitsLoss": (lambda m: m.BCEWithLogitsLoss(), "unit"),
    "BCEWithLogitsLoss pos_weight": (lambda m: m.BCEWithLogitsLoss(pos_weight=_POS(m)), "unit"),
}


def _WEIGHTS(m):
    values = [0.5, 2.0, 1.0, 1.5]
    return mg.tensor(values) if m is nn else __import__("torch").tensor(values, dtype=__import__("torch").float64)


def _POS(m):
    values = [3.0, 0.5, 1.0, 2.0]
    return mg.tensor(values) if m is nn else __import__("torch").tensor(values, dtype=__import__("torch").float64)


@pytest.mark.parametrize("case", list(LOSSES))
def test_loss_matches_pytorch(case):
    torch = _torch()
    build, kind = LOSSES[case]
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 4, 3) if kind == "spatial" else (6, 4)) * 3
    if kind in ("classes", "spatial"):
        target = rng.integers(0, 4, x.shape[:1] + x.shape[2:])
        ours_t, theirs_t = mg.tensor(target), torch.tensor(target)
    else:
        target = rng.random(x.shape)
        if kind == "probabilities":
            target = target / target.sum(axis=1, keepdims=True)
        ours_t, theirs_t = mg.tensor(target), torch.tensor(target)
    ours_x, theirs_x = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = build(nn)(ours_x, ours_t), build(torch.nn)(theirs_x, theirs_t)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-10, atol=1e-13)
    weights = np.cos(np.arange(out.data.size) + 0.5).reshape(out.shape)
    (out * weights).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(ours_x.grad.data, theirs_x.grad.numpy(), rtol=1e-10, atol=1e-13)


def test_conv_errors_name_the_op_and_shapes():
    with pytest.raises(ValueError, match=r"conv2d: input of shape \(1, 3, 5, 5\) has 3 channels, but the weight"):
        nn.Conv2d(4, 2, 3)(mg.zeros(1, 3, 5, 5))
    with pytest.raises(ValueError, match=r"conv2d: expected a 4-d input \(N, C, H, W\)"):
        nn.Conv2d(3, 2, 3)(mg.zeros(3, 5, 5))
    with pytest.raises(ValueError, match=r"conv2d: the kernel \(3, 3\) .* does not fit the padded input \(2, 2\)"):
        nn.Conv2d(1, 1, 3)(mg.zeros(1, 1, 2, 2))
    with pytest.raises(ValueError,
                       match=r"Conv2d: in_channels \(3\) and out_channels \(4\) must be divisible by groups \(2\)"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="conv_transpose2d: output_padding"):
        F.conv_transpose2d(mg.zeros(1, 1, 2, 2), mg.zeros(1, 1, 2, 2), stride=1, output_padding=1)


@pytest.mark.filterwarnings("ignore:.*torch.nn.utils.weight_norm.*is deprecated:FutureWarning")
def test_spectral_and_weight_norm_on_convolutions_match_pytorch():
    torch = _torch()
    import norms

    for make, dim in ((lambda m: m.Conv2d(3, 4, (2, 3)), 0), (lambda m: m.ConvTranspose2d(3, 4, (2, 3)), 1)):
        torch.manual_seed(0)
        theirs, ours = make(torch.nn).double(), make(nn)
        _copy_weights(ours, theirs)
        torch.nn.utils.spectral_norm(theirs)
        norms.spectral_norm(ours)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert ours.weight_u.shape == (theirs.weight.shape[dim],)
        ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
        _compare(ours, theirs, np.random.default_rng(3).standard_normal((2, 3, 5, 6)))
        np.testing.assert_allclose(ours.weight_u.data, theirs.weight_u.numpy(), rtol=1e-12)

        torch.manual_seed(0)
        theirs, ours = make(torch.nn).double(), make(nn)
        _copy_weights(ours, theirs)
        torch.nn.utils.weight_norm(theirs, dim=dim)
        norms.weight_norm(ours, dim=dim)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        _compare(ours, theirs, np.random.default_rng(4).standard_normal((2, 3, 5, 6)))


def test_fast_float_paths_agree_with_the_im2col_versions():
    from minigrad.ops import conv

    rng = np.random.default_rng(5)
    for groups, geometry in ((1, ((1, 1), (0, 0), (1, 1))), (2, ((2, 1), (1, 2), (1, 2)))):
        x = rng.standard_normal((2, 4, 7, 6))
        w = rng.standard_normal((6, 4 // groups, 3, 2))
        y = conv._conv_forward(x, w, *geometry, groups)
        np.testing.assert_allclose(conv._fast_conv(x, w, *geometry, groups)[0], y, rtol=1e-13, atol=1e-14)
        g = rng.standard_normal(y.shape)
        np.testing.assert_allclose(conv._fast_conv_transpose(g, w, *geometry, groups, (7, 6)),
                                   conv._conv_transpose_forward(g, w, *geometry, groups, (7, 6)),
                                   rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(conv._fast_conv_weight(x, g, (3, 2), *geometry, groups),
                                   conv._conv_weight_forward(x, g, (3, 2), *geometry, groups), rtol=1e-13, atol=1e-14)
