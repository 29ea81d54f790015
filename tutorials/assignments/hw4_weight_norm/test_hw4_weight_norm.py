"""Tests of assignment 4: weight normalisation w = g v / ||v||, forward and backward."""
import numpy as np
import pytest

import minigrad as mg
from minigrad.testing import assert_close
from hw4_weight_norm import weight_norm, weight_norm_grad_g, weight_norm_grad_v


def _reference(v: np.ndarray, g: np.ndarray, grad_w: np.ndarray):
    """w, grad_v, grad_g from the closed forms, in plain NumPy."""
    n = np.linalg.norm(v, axis=1, keepdims=True)
    s = np.sum(grad_w * v, axis=1, keepdims=True)
    return g * v / n, (g / n) * (grad_w - v * s / n**2), s / n


def _example(seed: int = 4):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(4, 3)), rng.normal(size=(4, 1)), rng.normal(size=(4, 3))


@pytest.mark.task(4, 1)
def test_forward_by_hand():
    w = weight_norm(mg.tensor([[3.0, 4.0], [0.0, -2.0]]), mg.tensor([[10.0], [3.0]]))
    assert_close(w, [[6.0, 8.0], [0.0, -3.0]], "w = g v / ||v||")


@pytest.mark.task(4, 1)
def test_forward_rows_have_length_abs_g():
    v, g, _ = _example()
    w = weight_norm(mg.tensor(v), mg.tensor(g))
    assert_close(w, _reference(v, g, v)[0], "w = g v / ||v|| (random (4, 3))")
    assert_close(np.linalg.norm(w.data, axis=1, keepdims=True), np.abs(g), "row norms of w (must be |g|)")


@pytest.mark.task(4, 2)
def test_grad_g_by_hand():
    grad_g = weight_norm_grad_g(mg.tensor([[1.0, 1.0]]), mg.tensor([[3.0, 4.0]]), mg.tensor([[5.0]]))
    assert_close(grad_g, [[7.0 / 5.0]], "grad_g = <G, v> / ||v|| for G = [1, 1], v = [3, 4]")


@pytest.mark.task(4, 2)
def test_grad_g_through_backward():
    v, g, grad_w = _example()
    g_tensor = mg.tensor(g, requires_grad=True)
    (grad_g,) = mg.grad(weight_norm(mg.tensor(v), g_tensor), [g_tensor], grad_outputs=mg.tensor(grad_w))
    assert_close(grad_g, _reference(v, g, grad_w)[2], "grad_g of weight norm (random (4, 3))")


@pytest.mark.task(4, 3)
def test_grad_v_by_hand():
    v, norm = mg.tensor([[3.0, 4.0]]), mg.tensor([[5.0]])
    grad_v = weight_norm_grad_v(mg.tensor([[1.0, 0.0]]), v, mg.tensor([[2.0]]), norm)
    # (g/n)(G - v s/n^2) = (2/5)([1, 0] - [3, 4] * 3/25) = [0.256, -0.192]
    assert_close(grad_v, [[0.256, -0.192]], "grad_v for G = [1, 0], v = [3, 4], g = 2")


@pytest.mark.task(4, 3)
def test_grad_v_through_backward_is_orthogonal_to_v():
    v, g, grad_w = _example()
    v_tensor = mg.tensor(v, requires_grad=True)
    (grad_v,) = mg.grad(weight_norm(v_tensor, mg.tensor(g)), [v_tensor], grad_outputs=mg.tensor(grad_w))
    assert_close(grad_v, _reference(v, g, grad_w)[1], "grad_v of weight norm (random (4, 3))")
    assert_close(np.sum(grad_v.data * v, axis=1), np.zeros(4), "<grad_v, v> row by row (must be 0)", atol=1e-12)

