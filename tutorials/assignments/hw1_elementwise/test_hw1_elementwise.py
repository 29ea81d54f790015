"""Tests of assignment 1: the VJPs of a * b, a / b and exp(a), with broadcasting.

Each test is marked ``@pytest.mark.task(n, m)`` and compares the gradients your VJP returns
with closed-form values computed here in plain NumPy. Run them with
``python -m pytest test_hw1_elementwise.py``.
"""
import numpy as np
import pytest

import minigrad as mg
from minigrad.testing import assert_close, gradients
from hw1_elementwise import div, exp, mul


@pytest.mark.task(1, 1)
def test_mul_same_shape_by_hand():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([4.0, -5.0, 0.5])
    grad_a, grad_b = gradients(mul, [a, b], np.array([1.0, 10.0, 100.0]))
    assert_close(grad_a, [4.0, -50.0, 50.0], "grad_a of a*b")
    assert_close(grad_b, [1.0, 20.0, 300.0], "grad_b of a*b")


@pytest.mark.task(1, 1)
@pytest.mark.parametrize("shape_a, shape_b", [((1, 4), (3, 1)), ((5, 4, 1), (4, 3)), ((), (3, 4))])
def test_mul_broadcast_sums_back(shape_a, shape_b):
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=shape_a), rng.normal(size=shape_b)
    upstream = rng.normal(size=np.broadcast_shapes(shape_a, shape_b))
    grad_a, grad_b = gradients(mul, [a, b], upstream)
    expected_a = _sum_to(upstream * b, shape_a)
    expected_b = _sum_to(upstream * a, shape_b)
    assert_close(grad_a, expected_a, f"grad_a of a*b with a {shape_a} broadcast against b {shape_b}")
    assert_close(grad_b, expected_b, f"grad_b of a*b with a {shape_a} broadcast against b {shape_b}")


@pytest.mark.task(1, 1)
def test_mul_constant_operand_gets_no_gradient():
    a = mg.tensor([[1.0, 2.0]], requires_grad=True)
    (mul(a, 3.0)).sum().backward()
    assert_close(a.grad, [[3.0, 3.0]], "grad_a of a*3")


@pytest.mark.task(1, 2)
def test_div_by_hand():
    a, b = np.array([1.0, 6.0]), np.array([2.0, -3.0])
    grad_a, grad_b = gradients(div, [a, b], np.array([1.0, 1.0]))
    assert_close(grad_a, [0.5, -1.0 / 3.0], "grad_a of a/b")
    assert_close(grad_b, [-0.25, -6.0 / 9.0], "grad_b of a/b")


@pytest.mark.task(1, 2)
@pytest.mark.parametrize("shape_a, shape_b", [((1, 4), (3, 1)), ((5, 4, 1), (4, 3)), ((3, 4), ())])
def test_div_broadcast_sums_back(shape_a, shape_b):
    rng = np.random.default_rng(2)
    a = rng.normal(size=shape_a)
    b = rng.uniform(0.5, 2.0, size=shape_b) * rng.choice([-1.0, 1.0], size=shape_b)
    upstream = rng.normal(size=np.broadcast_shapes(shape_a, shape_b))
    grad_a, grad_b = gradients(div, [a, b], upstream)
    assert_close(grad_a, _sum_to(upstream / b, shape_a), f"grad_a of a/b with shapes {shape_a}, {shape_b}")
    assert_close(grad_b, _sum_to(-upstream * a / b**2, shape_b), f"grad_b of a/b with shapes {shape_a}, {shape_b}")


@pytest.mark.task(1, 3)
def test_exp_by_hand():
    (grad_a,) = gradients(exp, [np.array([0.0, 1.0, -2.0])], np.array([1.0, 2.0, 3.0]))
    assert_close(grad_a, [1.0, 2.0 * np.e, 3.0 * np.exp(-2.0)], "grad_a of exp(a)")


@pytest.mark.task(1, 3)
def test_exp_second_derivative():
    # The VJP is written with minigrad ops, so differentiating it again must work:
    # d^2/da^2 exp(a) = exp(a).
    a = mg.tensor(0.5, requires_grad=True)
    (first,) = mg.grad(exp(a), [a], create_graph=True)
    (second,) = mg.grad(first, [a])
    assert_close(second, np.exp(0.5), "second derivative of exp at 0.5")


def _sum_to(array: np.ndarray, shape: tuple) -> np.ndarray:
    """Reference unbroadcast in plain NumPy: sum leading axes, then the axes that were 1."""
    extra = array.ndim - len(shape)
    total = array.sum(axis=tuple(range(extra))) if extra else array
    axes = tuple(i for i, size in enumerate(shape) if size == 1 and total.shape[i] != 1)
    return total.sum(axis=axes, keepdims=True) if axes else total
