"""Tests of assignment 3: the Frobenius norm, its gradient, and the zero subgradient."""
import numpy as np
import pytest

import minigrad as mg
from minigrad.testing import assert_close
from hw3_frobenius import frobenius_norm


@pytest.mark.task(3, 1)
def test_norm_of_a_3_4_5_triangle():
    assert_close(frobenius_norm(mg.tensor([[3.0, 0.0], [0.0, 4.0]])), 5.0, "||[[3,0],[0,4]]||_F")


@pytest.mark.task(3, 1)
def test_norm_of_any_shape():
    a = np.arange(-6.0, 6.0).reshape(2, 3, 2)
    out = frobenius_norm(mg.tensor(a))
    assert out.shape == (), f"the norm must be a 0-d tensor, got shape {out.shape}"
    assert_close(out, np.sqrt(np.sum(a**2)), "||a||_F of a (2, 3, 2) tensor")
    assert_close(frobenius_norm(mg.zeros((3, 4))), 0.0, "||0||_F")


@pytest.mark.task(3, 2)
def test_gradient_is_a_over_norm():
    a = mg.tensor([[3.0, 0.0], [0.0, -4.0]], requires_grad=True)
    (grad_a,) = mg.grad(frobenius_norm(a), [a], grad_outputs=mg.tensor(2.0))
    assert_close(grad_a, [[1.2, 0.0], [0.0, -1.6]], "grad of ||A||_F with upstream 2 (= 2 A / 5)")


@pytest.mark.task(3, 2)
def test_gradient_of_a_random_matrix():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(4, 3))
    x = mg.tensor(a, requires_grad=True)
    frobenius_norm(x).backward()
    assert_close(x.grad, a / np.linalg.norm(a), "grad of ||A||_F (A / ||A||_F)")


@pytest.mark.task(3, 2)
@pytest.mark.parametrize("shape", [(3, 4), (5,), ()])
def test_zero_subgradient_at_zero(shape):
    x = mg.zeros(shape, requires_grad=True)
    frobenius_norm(x).backward()
    grad = np.asarray(x.grad.data, dtype=float)
    assert np.all(np.isfinite(grad)), (
        f"the gradient at A = 0 (shape {shape}) contains NaN or Inf: {grad.ravel()[:4]}; "
        f"return the zero subgradient there instead of dividing 0 by 0"
    )
    assert_close(grad, np.zeros(shape), f"the subgradient at A = 0 (shape {shape})")


@pytest.mark.task(3, 2)
def test_training_step_through_zero_stays_finite():
    # A weight that reaches exactly 0 must not turn every later step into NaN.
    w = mg.tensor([0.0, 0.0], requires_grad=True)
    loss = frobenius_norm(w) + (w * mg.tensor([1.0, -2.0])).sum()
    loss.backward()
    assert_close(w.grad, [1.0, -2.0], "grad of ||w|| + <w, c> at w = 0 (subgradient 0 + c)")
