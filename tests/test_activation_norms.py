"""Activation norms: fused = composed = finite differences, SymPy, PyTorch, running stats, errors."""
from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.verification.symbolic import symbolic_check
from norms.activation import (
    BatchNorm1d, LayerNorm, PixelNorm, RMSNorm, batch_norm, batch_norm_composed, layer_norm,
    layer_norm_composed, pixel_norm, pixel_norm_composed, rms_norm, rms_norm_composed,
)

from tests._norms_helpers import check_second_order, check_three_ways

# (fused, composed, input arrays, which inputs to differentiate)
rng0 = np.random.default_rng(0)
CASES = {
    "pixel_norm": (lambda x: pixel_norm(x, 1), lambda x: pixel_norm_composed(x, 1),
                   [rng0.standard_normal((2, 3, 2, 2))], (0,)),
    "layer_norm": (lambda x, w, b: layer_norm(x, (3, 2), w, b), lambda x, w, b: layer_norm_composed(x, (3, 2), w, b),
                   [rng0.standard_normal((2, 3, 2)), rng0.standard_normal((3, 2)), rng0.standard_normal((3, 2))],
                   (0, 1, 2)),
    "rms_norm": (lambda x, w: rms_norm(x, 4, w, 1e-6), lambda x, w: rms_norm_composed(x, 4, w, 1e-6),
                 [rng0.standard_normal((3, 4)), rng0.standard_normal(4)], (0, 1)),
    "batch_norm_2d": (lambda x, w, b: batch_norm(x, None, None, w, b, training=True),
                      lambda x, w, b: batch_norm_composed(x, w, b),
                      [rng0.standard_normal((5, 3)), rng0.standard_normal(3), rng0.standard_normal(3)], (0, 1, 2)),
    "batch_norm_3d": (lambda x, w, b: batch_norm(x, None, None, w, b, training=True),
                      lambda x, w, b: batch_norm_composed(x, w, b),
                      [rng0.standard_normal((4, 2, 3)), rng0.standard_normal(2), rng0.standard_normal(2)], (0, 1, 2)),
}


# 2. Gradients ----------------------------------------------------------------------------------
@pytest.mark.parametrize("case", sorted(CASES))
def test_fused_vjp_matches_composed_and_finite_differences(case):
    fused, composed, arrays, wrt = CASES[case]
    check_three_ways(fused, composed, arrays, wrt, np.random.default_rng(1))


@pytest.mark.parametrize("case", sorted(CASES))
def test_second_derivatives_fused_equal_composed(case):
    fused, composed, arrays, wrt = CASES[case]
    check_second_order(fused, composed, arrays, wrt, np.random.default_rng(2))


def test_batch_norm_classic_backward_formula():
    # dx = (1/N) * gamma/sigma * (N*G - sum(G) - xhat * sum(G * xhat))
    rng = np.random.default_rng(3)
    x_np, gamma, G = rng.standard_normal((6, 2)), rng.standard_normal(2), rng.standard_normal((6, 2))
    x = mg.tensor(x_np, requires_grad=True)
    (batch_norm(x, None, None, mg.tensor(gamma), None, training=True, eps=1e-5) * mg.tensor(G)).sum().backward()
    n = 6
    sigma = np.sqrt(x_np.var(axis=0) + 1e-5)
    xhat = (x_np - x_np.mean(axis=0)) / sigma
    expected = (1 / n) * gamma / sigma * (n * G - G.sum(axis=0) - xhat * (G * xhat).sum(axis=0))
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-12)


@pytest.mark.parametrize("name, fn, shapes", [
    ("pixel_norm", lambda x: pixel_norm(x, 1, 1e-8), [(2, 2)]),
    ("layer_norm", lambda x, w, b: layer_norm(x, 2, w, b), [(2, 2), (2,), (2,)]),
    ("rms_norm", lambda x, w: rms_norm(x, 2, w, 1e-6), [(2, 2), (2,)]),
    ("batch_norm", lambda x, w, b: batch_norm(x, None, None, w, b, training=True), [(2, 2), (2,), (2,)]),
])
def test_symbolic_check_2x2(name, fn, shapes):
    # The whole Jacobian of each fused op against sympy.diff (minigrad.verification.symbolic), 2x2 input.
    result = symbolic_check(fn, shapes, seed=0, budget=4.0)
    assert result.ok and result.method == "proved", result.report


# 3. PyTorch as the oracle -------------------------------------------------------------------------
def _pair(values):
    torch = pytest.importorskip("torch")
    return mg.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)


def test_layer_norm_and_rms_norm_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x, G = rng.standard_normal((4, 3, 5)), rng.standard_normal((4, 3, 5))
    for ours_cls, theirs_cls in ((LayerNorm, torch.nn.LayerNorm), (RMSNorm, torch.nn.RMSNorm)):
        ours = ours_cls((3, 5))
        theirs = theirs_cls((3, 5), dtype=torch.float64)
        weight = rng.standard_normal((3, 5))
        ours.weight.data = weight.copy()
        with torch.no_grad():
            theirs.weight.copy_(torch.tensor(weight))
        mx, tx = _pair(x)
        (ours(mx) * mg.tensor(G)).sum().backward()
        out = theirs(tx)
        (out * torch.tensor(G)).sum().backward()
        np.testing.assert_allclose(ours(mx).data, out.detach().numpy(), atol=1e-12, rtol=0)
        np.testing.assert_allclose(mx.grad.data, tx.grad.numpy(), atol=1e-10, rtol=0)
        np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), atol=1e-10, rtol=0)
    assert RMSNorm(3).eps is None     # None -> machine eps of the dtype at call time, as torch


def test_batch_norm_matches_torch_train_eval_and_running_stats():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    for shape, momentum in (((8, 3), 0.1), ((5, 3, 4), 0.3), ((6, 3), None)):
        ours = BatchNorm1d(3, momentum=momentum)
        theirs = torch.nn.BatchNorm1d(3, momentum=momentum, dtype=torch.float64)
        for mode in ("train", "train", "train", "eval"):
            ours.train(mode == "train")
            theirs.train(mode == "train")
            x, G = rng.standard_normal(shape) * 2 + 1, rng.standard_normal(shape)
            mx, tx = _pair(x)
            out_ours, out_theirs = ours(mx), theirs(tx)
            (out_ours * mg.tensor(G)).sum().backward()
            (out_theirs * torch.tensor(G)).sum().backward()
            np.testing.assert_allclose(out_ours.data, out_theirs.detach().numpy(), atol=1e-10, rtol=0)
            np.testing.assert_allclose(mx.grad.data, tx.grad.numpy(), atol=1e-10, rtol=0)
            for key, value in theirs.state_dict().items():
                np.testing.assert_allclose(ours.state_dict()[key], value.numpy(), atol=1e-12, rtol=0, err_msg=key)
        np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), atol=1e-10, rtol=0)
        np.testing.assert_allclose(ours.bias.grad.data, theirs.bias.grad.numpy(), atol=1e-10, rtol=0)
        assert int(ours.num_batches_tracked.data) == 3


def test_batch_norm_without_running_stats_uses_batch_stats_in_eval():
    layer = BatchNorm1d(2, track_running_stats=False).eval()
    assert list(layer.state_dict()) == ["weight", "bias"]
    x = mg.tensor([[1.0, 2.0], [3.0, 6.0]])
    np.testing.assert_allclose(layer(x).data, [[-1, -1], [1, 1]], atol=1e-5)


def test_pixel_norm_gives_unit_rms_per_pixel():
    x = mg.tensor(np.random.default_rng(6).standard_normal((2, 4, 3, 3)) * 5)
    y = PixelNorm()(x).data
    np.testing.assert_allclose(np.mean(y * y, axis=1), 1, rtol=1e-8)


# 6. Bad input --------------------------------------------------------------------------------------
def test_batch_of_one_in_training_is_an_error_and_leaves_no_trace():
    layer = BatchNorm1d(3)
    with pytest.raises(ValueError,
                       match=r"^Expected more than 1 value per channel when training, got input size \(1, 3\)$"):
        layer(mg.randn(1, 3))
    assert int(layer.num_batches_tracked.data) == 0
    layer.eval()
    assert layer(mg.randn(1, 3)).shape == (1, 3)      # eval mode takes a single sample


def test_wrong_shapes_are_errors():
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected 2D or 3D input \(got 4D input\)"):
        BatchNorm1d(3)(mg.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"BatchNorm1d: input of shape \(4, 2\) has 2 channels on axis 1; "
                                         r"this layer was built for num_features=3"):
        BatchNorm1d(3)(mg.randn(4, 2))
    with pytest.raises(ValueError, match=r"layer_norm: Given normalized_shape=\[4\], expected input with shape "
                                         r"\[\*, 4\], but got input of size \[2, 3\]"):
        LayerNorm(4)(mg.randn(2, 3))
    with pytest.raises(IndexError, match=r"pixel_norm: axis 4 is out of range for a tensor of 4 dimension\(s\)"):
        pixel_norm(mg.randn(1, 2, 3, 3), axis=4)


def test_zero_vectors_give_zero_output_and_finite_gradients():
    for fn in (lambda x: pixel_norm(x, 1), lambda x: rms_norm(x, 3), lambda x: layer_norm(x, 3)):
        x = mg.zeros(2, 3, requires_grad=True)
        y = fn(x)
        np.testing.assert_array_equal(y.data, 0)
        (y * mg.tensor(np.arange(6.0).reshape(2, 3))).sum().backward()
        assert np.isfinite(x.grad.data).all()


def test_nan_input_propagates_within_its_group_only():
    x = np.ones((3, 4))
    x[0, 1] = np.nan
    x[1] = [1.0, 2.0, 3.0, 4.0]
    rows = layer_norm(x, 4).data                 # a row is a group: row 0 only
    assert np.isnan(rows[0]).all() and np.isfinite(rows[1:]).all()
    columns = batch_norm(x, None, None, training=True).data   # a channel is a group: column 1 only
    assert np.isnan(columns[:, 1]).all() and np.isfinite(np.delete(columns, 1, axis=1)).all()


def test_every_composed_twin_is_exported_beside_its_fused_norm():
    import inspect

    import norms
    from norms import activation, functional, spectral, weight

    for module in (activation, functional, spectral, weight):
        for name, obj in vars(module).items():
            if name.endswith("_composed") and inspect.isfunction(obj) and obj.__module__ == module.__name__:
                fused = name[: -len("_composed")]
                assert getattr(norms, name) is obj, f"norms.{name} is not exported"
                assert hasattr(norms, fused), f"norms.{fused} (the fused twin of {name}) is not exported"
