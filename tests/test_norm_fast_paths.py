"""The two ways each fused norm VJP runs, and the weight norm's unscaled norm.

A backward that is not recorded reads what the forward saved (spectral norm: M v and
sigma; weight norm: ||v||); a recorded one (create_graph=True, or SymPy data) rebuilds
them from engine ops so that they are differentiated too. Both must give the same first
derivatives. The weight norm's ||v|| is sqrt(sum v^2) when no square can overflow or
underflow, else the scaled norm of norms.functional: both must agree with it.
"""
from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from norms.functional import FrobeniusNorm
from norms.spectral import spectral_normalize
from norms.weight import _reduced_axes, _slice_norms, norm_except_dim, weight_normalize


def _first_derivatives(function, arrays, upstream, create_graph):
    leaves = [mg.tensor(a, requires_grad=True) for a in arrays]
    out = function(*leaves)
    grads = mg.grad(mg.sum(mg.mul(out, mg.tensor(upstream))), leaves, create_graph=create_graph)
    return out, [g.data for g in grads]


@pytest.mark.parametrize("shape, dim", [((4, 3), 0), ((3, 5), 1), ((2, 3, 2, 2), 0), ((2, 3, 2, 2), 1)])
def test_spectral_saved_and_rebuilt_backward_agree(shape, dim):
    rng = np.random.default_rng(10)
    weight = rng.standard_normal(shape)
    u, v = rng.standard_normal(shape[dim]), rng.standard_normal(weight.size // shape[dim])
    upstream = rng.standard_normal(shape)
    function = lambda w, a, b: spectral_normalize(w, a, b, dim)  # noqa: E731
    out, saved = _first_derivatives(function, [weight, u, v], upstream, create_graph=False)
    _, rebuilt = _first_derivatives(function, [weight, u, v], upstream, create_graph=True)
    for ours, theirs in zip(saved, rebuilt):
        np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=1e-15)
    # and both are the closed form (PyTorch's sigma = u . (M v))
    matrix = np.moveaxis(weight, dim, 0).reshape(shape[dim], -1)
    sigma = u @ (matrix @ v)
    np.testing.assert_allclose(out.data, weight / sigma, rtol=1e-15)
    c = np.sum(upstream * weight) / sigma**2
    np.testing.assert_allclose(saved[1], -c * (matrix @ v), rtol=1e-12)
    np.testing.assert_allclose(saved[2], -c * (matrix.T @ u), rtol=1e-12)


def test_spectral_node_keeps_m_v_and_sigma_until_backward():
    rng = np.random.default_rng(11)
    weight, u, v = rng.standard_normal((3, 4)), rng.standard_normal(3), rng.standard_normal(4)
    w = mg.tensor(weight, requires_grad=True)
    out = spectral_normalize(w, u, v)
    matrix_v, sigma = out.grad_fn.saved
    np.testing.assert_array_equal(matrix_v, weight @ v)
    assert sigma == u @ (weight @ v)
    mg.sum(out).backward()
    assert out.grad_fn.saved is None   # freed with the graph


@pytest.mark.parametrize("shape, dim", [((4, 3), 0), ((4, 3), 1), ((4, 3), None), ((2, 3, 2), 1), ((2, 3, 2), 0)])
def test_weight_norm_saved_and_rebuilt_backward_agree(shape, dim):
    rng = np.random.default_rng(12)
    v = rng.standard_normal(shape)
    g_shape = () if dim is None else tuple(s if a == dim else 1 for a, s in enumerate(shape))
    g = rng.uniform(0.5, 2.0, g_shape)
    upstream = rng.standard_normal(shape)
    function = lambda a, b: weight_normalize(a, b, dim)  # noqa: E731
    out, saved = _first_derivatives(function, [g, v], upstream, create_graph=False)
    _, rebuilt = _first_derivatives(function, [g, v], upstream, create_graph=True)
    for ours, theirs in zip(saved, rebuilt):
        np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=1e-15)
    axes = _reduced_axes(v.ndim, dim)
    n = np.sqrt(np.sum(v * v, axis=axes, keepdims=True))
    s = np.sum(upstream * v, axis=axes, keepdims=True)
    np.testing.assert_allclose(out.data, g * v / n, rtol=1e-14)
    np.testing.assert_allclose(saved[0], (s / n).reshape(g_shape), rtol=1e-13)   # s/n has g's size
    np.testing.assert_allclose(saved[1], (g / n) * (upstream - v * s / n**2), rtol=1e-12)


@pytest.mark.parametrize("scale", [1.0, 1e-150, 1e150, 1e300, 1e-300])
@pytest.mark.parametrize("dim", [0, 1, None])
def test_slice_norms_equal_the_scaled_norm_at_every_scale(scale, dim):
    v = np.random.default_rng(13).standard_normal((5, 7)) * scale
    expected = FrobeniusNorm.forward(None, v, _reduced_axes(v.ndim, dim), True)
    np.testing.assert_allclose(_slice_norms(v, dim), expected, rtol=4e-16, atol=0)
    assert np.all(np.isfinite(_slice_norms(v, dim))) and np.all(_slice_norms(v, dim) > 0)


def test_slice_norms_fall_back_for_zero_nan_and_mixed_slices():
    v = np.array([[0.0, 0.0, 0.0], [np.nan, 1.0, 2.0], [3.0, 4.0, 0.0], [1e300, 1e300, 0.0], [1e-300, 0.0, 0.0]])
    norms = _slice_norms(v, 0)
    assert norms.shape == (5, 1)
    assert norms[0, 0] == 0.0 and np.isnan(norms[1, 0])
    np.testing.assert_allclose(norms[2:, 0], [5.0, np.sqrt(2) * 1e300, 1e-300], rtol=1e-15)
    assert norm_except_dim(v[2:4], None).shape == ()
    np.testing.assert_allclose(norm_except_dim(v[2:4], None), np.sqrt(2) * 1e300, rtol=1e-15)
    assert _slice_norms(np.zeros((0, 3)), 0).shape == (0, 1)


def test_slice_norms_in_float32_keep_their_dtype():
    v = np.random.default_rng(14).standard_normal((3, 4)).astype(np.float32)
    norms = _slice_norms(v, 0)
    assert norms.dtype == np.float32
    np.testing.assert_allclose(norms, np.linalg.norm(v.astype(np.float64), axis=1, keepdims=True), rtol=1e-6)
