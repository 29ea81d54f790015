"""Tests of assignment 5: power iteration, W / sigma, and its gradient with u, v constant."""
import numpy as np
import pytest

import minigrad as mg
from minigrad.testing import assert_close
from hw5_spectral_norm import power_iteration, spectral_normalize_with


def _top_singular(weight: np.ndarray):
    """The top singular triple from NumPy's SVD, signs fixed so that u has a positive sum."""
    left, values, right_t = np.linalg.svd(weight)
    u, v = left[:, 0], right_t[0]
    sign = 1.0 if u.sum() >= 0 else -1.0
    return sign * u, sign * v, values[0]


@pytest.mark.task(5, 1)
def test_one_step_by_hand():
    weight = np.array([[2.0, 0.0], [0.0, 1.0]])
    u, v, sigma = power_iteration(weight, np.array([1.0, 1.0]) / np.sqrt(2.0), 1)
    # v = normalize([2, 1]/sqrt 2) = [2, 1]/sqrt 5;  u = normalize([4, 1]/sqrt 5) = [4, 1]/sqrt 17
    assert_close(v, np.array([2.0, 1.0]) / np.sqrt(5.0), "v after one step")
    assert_close(u, np.array([4.0, 1.0]) / np.sqrt(17.0), "u after one step")
    assert_close(sigma, np.sqrt(17.0 / 5.0), "sigma = u . W v after one step")


@pytest.mark.task(5, 1)
def test_converges_to_the_top_singular_triple():
    rng = np.random.default_rng(5)
    weight = rng.normal(size=(5, 3))
    u, v, sigma = power_iteration(weight, np.ones(5) / np.sqrt(5.0), 200)
    u_ref, v_ref, sigma_ref = _top_singular(weight)
    sign = 1.0 if u.sum() >= 0 else -1.0
    assert u.shape == (5,) and v.shape == (3,), f"u, v must have shapes (5,), (3,); got {u.shape}, {v.shape}"
    assert_close(sigma, sigma_ref, "sigma after 200 steps (largest singular value)", rtol=1e-8)
    assert_close(sign * u, u_ref, "u after 200 steps (top left singular vector)", rtol=1e-6, atol=1e-8)
    assert_close(sign * v, v_ref, "v after 200 steps (top right singular vector)", rtol=1e-6, atol=1e-8)


@pytest.mark.task(5, 2)
def test_forward_divides_by_u_w_v():
    weight = np.array([[1.0, 2.0], [3.0, 4.0]])
    u, v = np.array([1.0, 0.0]), np.array([0.0, 1.0])  # u^T W v = W[0, 1] = 2
    assert_close(spectral_normalize_with(weight, u, v), weight / 2.0, "W / (u^T W v) with u^T W v = 2")


@pytest.mark.task(5, 2)
def test_forward_with_exact_vectors_has_spectral_norm_one():
    rng = np.random.default_rng(6)
    weight = rng.normal(size=(4, 6))
    u, v, _ = _top_singular(weight)
    normalized = spectral_normalize_with(weight, u, v)
    assert_close(np.linalg.norm(normalized.data, 2), 1.0, "largest singular value of W / sigma")


@pytest.mark.task(5, 3)
@pytest.mark.parametrize("shape", [(3, 4), (3, 3)])
def test_gradient_with_u_v_constant(shape):
    rng = np.random.default_rng(7)
    weight, upstream = rng.normal(size=shape), rng.normal(size=shape)
    u, v, _ = _top_singular(weight + 0.5)  # any fixed u, v: the formula holds for all of them
    sigma = u @ weight @ v
    expected = upstream / sigma - (np.sum(upstream * weight) / sigma**2) * np.outer(u, v)
    w = mg.tensor(weight, requires_grad=True)
    (grad_w,) = mg.grad(spectral_normalize_with(w, u, v), [w], grad_outputs=mg.tensor(upstream))
    assert_close(grad_w, expected, f"grad_W = G/sigma - (<G,W>/sigma^2) u v^T for W {shape}")


@pytest.mark.task(5, 3)
def test_gradient_is_orthogonal_to_w_at_the_fixed_point():
    # With exact singular vectors, <grad_W, W> = <G,W>/sigma - <G,W> sigma/sigma^2 = 0:
    # scaling W does not change W / sigma(W).
    rng = np.random.default_rng(8)
    weight = rng.normal(size=(3, 5))
    u, v, _ = _top_singular(weight)
    w = mg.tensor(weight, requires_grad=True)
    (grad_w,) = mg.grad(spectral_normalize_with(w, u, v), [w], grad_outputs=mg.tensor(rng.normal(size=(3, 5))))
    assert_close(np.sum(grad_w.data * weight), 0.0, "<grad_W, W> at exact u, v (must be 0)", atol=1e-10)

