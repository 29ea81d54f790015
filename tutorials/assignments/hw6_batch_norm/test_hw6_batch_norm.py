"""Tests of assignment 6: the backward pass of batch normalisation (training mode)."""
import numpy as np
import pytest

import minigrad as mg
from minigrad.testing import assert_close
from hw6_batch_norm import batch_norm, batch_norm_input_grad, batch_norm_param_grads

EPS = 1e-5


def _reference(x: np.ndarray, gamma: np.ndarray, grad: np.ndarray):
    """xhat, sigma, grad_x, grad_gamma, grad_beta from the closed forms, in plain NumPy."""
    count = x.shape[0]
    sigma = np.sqrt(x.var(axis=0, keepdims=True) + EPS)
    xhat = (x - x.mean(axis=0, keepdims=True)) / sigma
    grad_x = (gamma / sigma) * (count * grad - grad.sum(0) - xhat * (grad * xhat).sum(0)) / count
    return xhat, sigma, grad_x, (grad * xhat).sum(0), grad.sum(0)


def _example(seed: int = 9, shape=(5, 3)):
    rng = np.random.default_rng(seed)
    return rng.normal(size=shape) * 2.0 + 1.0, rng.normal(size=shape[1]), rng.normal(size=shape)


@pytest.mark.task(6, 1)
def test_param_grads_by_hand():
    grad = mg.tensor([[1.0, 2.0], [3.0, 4.0]])
    xhat = mg.tensor([[-1.0, 1.0], [1.0, -1.0]])
    grad_gamma, grad_beta = batch_norm_param_grads(grad, xhat)
    assert_close(grad_gamma, [2.0, -2.0], "grad_gamma = sum_i g_i xhat_i")
    assert_close(grad_beta, [4.0, 6.0], "grad_beta = sum_i g_i")


@pytest.mark.task(6, 1)
def test_param_grads_through_backward():
    x, gamma, grad = _example()
    g_t, b_t = mg.tensor(gamma, requires_grad=True), mg.tensor(np.zeros(3), requires_grad=True)
    grad_gamma, grad_beta = mg.grad(batch_norm(mg.tensor(x), g_t, b_t, EPS), [g_t, b_t], grad_outputs=mg.tensor(grad))
    _, _, _, expected_gamma, expected_beta = _reference(x, gamma, grad)
    assert_close(grad_gamma, expected_gamma, "grad_gamma of batch norm (5, 3)")
    assert_close(grad_beta, expected_beta, "grad_beta of batch norm (5, 3)")


@pytest.mark.task(6, 2)
def test_input_grad_by_hand():
    # N = 2: xhat = [[-1], [1]] (up to eps), sigma = 1, gamma = 1, g = [[1], [0]]:
    # grad_x = (1/2) (2 g - 1 - xhat * (-1)) = (1/2) ([[2], [0]] - 1 + [[-1], [1]]) = 0.
    grad_x = batch_norm_input_grad(mg.tensor([[1.0], [0.0]]), mg.tensor([[-1.0], [1.0]]), mg.tensor([1.0]),
                                   mg.tensor([[1.0]]))
    assert_close(grad_x, [[0.0], [0.0]], "grad_x for N = 2 (two points: the output cannot change)")


@pytest.mark.task(6, 2)
@pytest.mark.parametrize("shape", [(5, 3), (2, 4), (8, 1)])
def test_input_grad_through_backward(shape):
    x, gamma, grad = _example(10, shape)
    x_t = mg.tensor(x, requires_grad=True)
    out = batch_norm(x_t, mg.tensor(gamma), mg.tensor(np.zeros(shape[1])), EPS)
    (grad_x,) = mg.grad(out, [x_t], grad_outputs=mg.tensor(grad))
    assert_close(grad_x, _reference(x, gamma, grad)[2], f"grad_x of batch norm {shape}")


@pytest.mark.task(6, 2)
def test_input_grad_sums_to_zero_and_is_orthogonal_to_xhat():
    # Exact with eps = 0 (with eps > 0, sum_i xhat_i^2 = N var / (var + eps) is not quite N).
    x, gamma, grad = _example(11)
    x_t = mg.tensor(x, requires_grad=True)
    out = batch_norm(x_t, mg.tensor(gamma), mg.tensor(np.zeros(3)), 0.0)
    (grad_x,) = mg.grad(out, [x_t], grad_outputs=mg.tensor(grad))
    xhat = (x - x.mean(axis=0)) / x.std(axis=0)
    assert_close(grad_x.data.sum(axis=0), np.zeros(3), "sum of grad_x over the batch (the mean term)", atol=1e-10)
    assert_close((grad_x.data * xhat).sum(axis=0), np.zeros(3), "<grad_x, xhat> per column (the sigma term)", atol=1e-8)
