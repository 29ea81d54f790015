"""Weight norm: the post's numbers, gradients three ways, PyTorch's behaviour, init, errors."""
from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.verification.symbolic import symbolic_check
from norms.weight import (
    remove_weight_norm, weight_norm, weight_norm_init, weight_normalize, weight_normalize_composed,
)

from tests._norms_helpers import check_second_order, check_three_ways, prove_symbolic

POST_V = np.array([[0.5569, 0.1186], [-0.6304, -0.2217], [0.1165, -0.3152], [0.5837, 0.4351]])


def post_linear() -> nn.Linear:
    layer = nn.Linear(2, 4)
    layer.weight.data = POST_V.copy()
    return layer


# 1. The post's numbers ------------------------------------------------------------------
def test_post_weight_g_and_remove_restores_the_weight():
    layer = weight_norm(post_linear(), name="weight")
    np.testing.assert_allclose(layer.weight_g.data, [[0.5694], [0.6682], [0.3360], [0.7280]], atol=2e-4)
    assert layer.weight_g.shape == (4, 1)
    np.testing.assert_array_equal(layer.weight_v.data, POST_V)
    assert list(layer.state_dict()) == ["bias", "weight_g", "weight_v"]
    remove_weight_norm(layer)
    assert list(layer.state_dict()) == ["bias", "weight"]
    assert isinstance(layer.weight, nn.Parameter)
    np.testing.assert_allclose(layer.weight.data, POST_V, rtol=1e-15)


@pytest.mark.parametrize("dim, shape", [(0, (5, 1)), (1, (1, 4)), (None, ()), (-1, ())])
def test_g_shapes_follow_dim(dim, shape):
    layer = weight_norm(nn.Linear(4, 5), dim=dim)
    assert layer.weight_g.shape == shape
    np.testing.assert_allclose(layer.weight.data, layer.weight_v.data, rtol=1e-14)   # w = v at start


# 2. Gradients ------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, dim", [((3, 4), 0), ((3, 4), 1), ((3, 4), None), ((2, 3, 2), 1)])
def test_fused_vjp_matches_composed_and_finite_differences(shape, dim):
    rng = np.random.default_rng(1)
    v = rng.standard_normal(shape)
    g_shape = () if dim is None else tuple(s if a == dim else 1 for a, s in enumerate(shape))
    g = rng.uniform(0.5, 2.0, g_shape)
    check_three_ways(
        lambda a, b: weight_normalize(a, b, dim), lambda a, b: weight_normalize_composed(a, b, dim),
        [g, v], wrt=(0, 1), rng=rng,
    )


def test_closed_form_per_slice():
    # grad_g = s/n, grad_v = (g/n)(G - v s/n^2), s = sum(G * v), n = ||v|| (row by row)
    rng = np.random.default_rng(2)
    g_np, v_np, G = rng.uniform(0.5, 2, (3, 1)), rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    g, v = mg.tensor(g_np, requires_grad=True), mg.tensor(v_np, requires_grad=True)
    (weight_normalize(g, v, 0) * mg.tensor(G)).sum().backward()
    n = np.linalg.norm(v_np, axis=1, keepdims=True)
    s = np.sum(G * v_np, axis=1, keepdims=True)
    np.testing.assert_allclose(g.grad.data, s / n, rtol=1e-13)
    np.testing.assert_allclose(v.grad.data, (g_np / n) * (G - v_np * s / n**2), rtol=1e-12)


def test_second_derivatives():
    rng = np.random.default_rng(3)
    check_second_order(
        lambda a, b: weight_normalize(a, b, 0), lambda a, b: weight_normalize_composed(a, b, 0),
        [rng.uniform(0.5, 2, (3, 1)), rng.standard_normal((3, 2))], wrt=(0, 1), rng=rng,
    )


def test_symbolic_check_proves_the_fused_vjp_2x2():
    result = symbolic_check(lambda g, v: weight_normalize(g, v, 0), [(2, 1), (2, 2)], seed=0)
    assert result.ok and result.method == "proved", result.report


@pytest.mark.parametrize("shape, dim", [((2, 3), 0), ((3, 2), 0), ((2, 3), None)])
def test_symbolic_proof_of_the_fused_vjp(shape, dim):
    g_shape = () if dim is None else (shape[0], 1)
    inputs = [mg.symbols("g", g_shape), mg.symbols("v", shape)]
    assert prove_symbolic(lambda g, v: weight_normalize(g, v, dim), inputs, wrt=(0, 1)) == "proved"


# 3. PyTorch as the oracle ------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:.*weight_norm. is deprecated:FutureWarning")
@pytest.mark.parametrize("dim", [0, 1, None])
def test_matches_torch_weight_norm(dim):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    theirs = torch.nn.Linear(3, 4).double()
    ours = nn.Linear(3, 4)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    theirs = torch.nn.utils.weight_norm(theirs, dim=dim)
    weight_norm(ours, dim=dim)
    np.testing.assert_allclose(ours.weight_g.data, theirs.weight_g.detach().numpy(), atol=1e-12, rtol=0)
    np.testing.assert_allclose(ours.weight_v.data, theirs.weight_v.detach().numpy(), atol=0, rtol=0)
    x = rng.standard_normal((5, 3))
    with torch.no_grad():       # move g away from ||v|| so that w != v
        theirs.weight_g.mul_(1.7)
    ours.weight_g.data = theirs.weight_g.detach().numpy().copy()
    out_ours, out_theirs = ours(mg.tensor(x)), theirs(torch.tensor(x))
    mg.sum(mg.mul(out_ours, out_ours)).backward()
    (out_theirs * out_theirs).sum().backward()
    np.testing.assert_allclose(out_ours.data, out_theirs.detach().numpy(), atol=1e-12, rtol=0)
    np.testing.assert_allclose(ours.weight_g.grad.data, theirs.weight_g.grad.numpy(), atol=1e-10, rtol=0)
    np.testing.assert_allclose(ours.weight_v.grad.data, theirs.weight_v.grad.numpy(), atol=1e-10, rtol=0)


# Behaviour -----------------------------------------------------------------------------------
def test_weight_recomputed_each_forward_and_state_round_trip(tmp_path):
    layer = weight_norm(nn.Linear(3, 2))
    x = mg.randn(4, 3)
    layer.weight_g.data = layer.weight_g.data * 2
    out = layer(x).data
    np.testing.assert_allclose(layer.weight.data, 2 * layer.weight_v.data, rtol=1e-14)
    mg.save(layer.state_dict(), tmp_path / "wn.safetensors")
    fresh = weight_norm(nn.Linear(3, 2))
    fresh.load_state_dict(mg.load(tmp_path / "wn.safetensors"))
    np.testing.assert_array_equal(fresh(x).data, out)


def test_weight_norm_init_gives_mean_0_std_1_layer_by_layer():
    mg.manual_seed(1)
    model = nn.Sequential(weight_norm(nn.Linear(3, 6)), nn.Tanh(), weight_norm(nn.Linear(6, 2)))
    x = mg.tensor(np.random.default_rng(5).standard_normal((50, 3)) * 3 + 1)
    weight_norm_init(model, x)
    first = model[0](x).data
    second = model[2](model[1](model[0](x))).data
    for pre in (first, second):
        np.testing.assert_allclose(pre.mean(axis=0), 0, atol=1e-12)
        np.testing.assert_allclose(pre.std(axis=0), 1, rtol=1e-12)


# 6. Bad input -----------------------------------------------------------------------------------
def test_registering_twice_and_removing_when_absent():
    layer = weight_norm(nn.Linear(3, 2))
    with pytest.raises(RuntimeError, match="^Cannot register two weight_norm hooks on the same parameter weight$"):
        weight_norm(layer)
    remove_weight_norm(layer)
    with pytest.raises(ValueError, match=r"^weight_norm of 'weight' not found in Linear\(in_features=3"):
        remove_weight_norm(layer)


def test_zero_v_gives_zero_weight_and_finite_gradients_not_nan():
    # PyTorch: 0/0 = NaN. Ours: ||v|| is floored at 1e-12, so w = 0 and the gradients are
    # grad_g = 0 and grad_v = g * G / 1e-12 (finite).
    g = mg.tensor([[2.0], [1.0]], requires_grad=True)
    v = mg.tensor([[0.0, 0.0], [3.0, 4.0]], requires_grad=True)
    G = np.array([[1.0, -1.0], [0.5, 0.5]])
    w = weight_normalize(g, v, 0)
    np.testing.assert_allclose(w.data, [[0, 0], [0.6, 0.8]], rtol=1e-15)
    (w * mg.tensor(G)).sum().backward()
    assert np.isfinite(g.grad.data).all() and np.isfinite(v.grad.data).all()
    np.testing.assert_allclose(g.grad.data[0], [0.0])
    np.testing.assert_allclose(v.grad.data[0], 2.0 * G[0] / 1e-12)
    np.testing.assert_allclose(g.grad.data[1], [0.5 * 0.6 + 0.5 * 0.8], rtol=1e-14)


def test_dim_out_of_range_and_wrong_g_shape():
    with pytest.raises(IndexError, match=r"weight_norm: dim 2 is out of range for a weight with 2 dimension\(s\); "
                                         r"use a dim in \[-2, 1\], or None \(or -1\)"):
        weight_norm(nn.Linear(3, 2), dim=2)
    with pytest.raises(ValueError,
                       match=r"weight_normalize: for v of shape \(2, 3\) and dim=0, g must have shape \(2, 1\)"):
        weight_normalize(np.ones(2), np.ones((2, 3)), 0)


def test_nan_in_v_propagates_to_its_row_only():
    w = weight_normalize(np.ones((2, 1)), np.array([[np.nan, 1.0], [3.0, 4.0]]), 0)
    assert np.isnan(w.data[0]).all()
    np.testing.assert_allclose(w.data[1], [0.6, 0.8])


def test_init_needs_weight_norm_and_spread():
    with pytest.raises(ValueError, match="weight_norm_init: found no Linear with weight_norm in Sequential"):
        weight_norm_init(nn.Sequential(nn.Linear(2, 2)), mg.randn(4, 2))
    with pytest.raises(ValueError, match=r"have zero spread on this batch of shape \(1, 2\)"):
        weight_norm_init(nn.Sequential(weight_norm(nn.Linear(2, 2))), mg.randn(1, 2))
