"""Tests of assignment 2: the VJPs of matmul, sum and max.

Each test is marked ``@pytest.mark.task(n, m)`` and compares your gradients with closed-form
values computed here in plain NumPy.
"""
import numpy as np
import pytest

from minigrad.testing import assert_close, gradients
from hw2_matmul_reductions import matmul, max_, sum_


@pytest.mark.task(2, 1)
def test_matmul_by_hand():
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    b = np.array([[0.0, 1.0], [1.0, 0.0]])
    upstream = np.array([[1.0, 0.0], [0.0, 0.0]])
    grad_a, grad_b = gradients(matmul, [a, b], upstream)
    # grad_a = g b^T = [[0, 1], [0, 0]];  grad_b = a^T g = [[1, 0], [2, 0]]
    assert_close(grad_a, [[0.0, 1.0], [0.0, 0.0]], "grad_a of a@b (square, by hand)")
    assert_close(grad_b, [[1.0, 0.0], [2.0, 0.0]], "grad_b of a@b (square, by hand)")


@pytest.mark.task(2, 1)
@pytest.mark.parametrize("m, k, n", [(3, 4, 2), (3, 3, 3), (1, 5, 1)])
def test_matmul_shapes_and_values(m, k, n):
    rng = np.random.default_rng(m * 100 + k * 10 + n)
    a, b, upstream = rng.normal(size=(m, k)), rng.normal(size=(k, n)), rng.normal(size=(m, n))
    grad_a, grad_b = gradients(matmul, [a, b], upstream)
    assert_close(grad_a, upstream @ b.T, f"grad_a of a@b with a {(m, k)}, b {(k, n)}")
    assert_close(grad_b, a.T @ upstream, f"grad_b of a@b with a {(m, k)}, b {(k, n)}")


@pytest.mark.task(2, 2)
@pytest.mark.parametrize("axis, keepdims", [(None, False), (0, False), (1, True), (-1, False)])
def test_sum_over_axes(axis, keepdims):
    a = np.arange(12.0).reshape(3, 4)
    out_shape = np.sum(a, axis=axis, keepdims=keepdims).shape
    upstream = np.arange(1.0, 1.0 + np.prod(out_shape)).reshape(out_shape)
    (grad_a,) = gradients(lambda x: sum_(x, axis, keepdims), [a], upstream)
    expanded = upstream if keepdims or axis is None else np.expand_dims(upstream, axis)
    assert_close(grad_a, np.broadcast_to(expanded, a.shape), f"grad of sum(axis={axis}, keepdims={keepdims})")


@pytest.mark.task(2, 2)
def test_sum_of_3d_over_two_axes():
    a = np.ones((2, 3, 4))
    (grad_a,) = gradients(lambda x: sum_(x, (0, 2)), [a], np.array([1.0, 2.0, 3.0]))
    expected = np.broadcast_to(np.array([1.0, 2.0, 3.0])[None, :, None], (2, 3, 4))
    assert_close(grad_a, expected, "grad of sum over axes (0, 2) of a (2, 3, 4) tensor")


@pytest.mark.task(2, 3)
def test_max_routes_gradient_to_the_maximum():
    a = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, -1.0]])
    (grad_a,) = gradients(lambda x: max_(x, axis=1), [a], np.array([10.0, 20.0]))
    assert_close(grad_a, [[0.0, 10.0, 0.0], [20.0, 0.0, 0.0]], "grad of max over axis 1")


@pytest.mark.task(2, 3)
def test_max_ties_share_the_gradient():
    a = np.array([[3.0, 3.0, 1.0, 3.0]])
    (grad_a,) = gradients(lambda x: max_(x, keepdims=True), [a], np.array([[6.0]]))
    assert_close(grad_a, [[2.0, 2.0, 0.0, 2.0]], "grad of max with a three-way tie")
