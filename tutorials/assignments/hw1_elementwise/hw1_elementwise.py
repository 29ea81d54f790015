"""Assignment 1: elementwise primitives and the broadcast rule.

A primitive is a class with a ``forward`` on raw NumPy arrays and a ``vjp`` (vector-Jacobian
product) that turns the gradient of the output, ``grad``, into one gradient per input. The
VJP is written with minigrad operations (``grad * b``, ``grad / b``), so the gradient is
itself a differentiable computation.

You write the VJPs of three primitives: ``a * b``, ``a / b`` and ``exp(a)``. The forwards
are given.

The broadcast rule (read it twice, it is what most first attempts get wrong). When NumPy
broadcasts an input of shape ``a.shape`` to the output's shape, it (1) prepends axes until
the ranks match and (2) stretches every axis of length 1. One input entry then feeds many
output entries, so its gradient is the *sum* of theirs: over (1) the prepended leading axes
and (2) the stretched axes. ``unbroadcast(grad, a.shape)`` does exactly that sum, and every
gradient a VJP returns must have its input's shape.

Example: a of shape (3, 1), b of shape (1, 4), out = a * b of shape (3, 4). Then
grad_a[i, 0] = sum_j grad[i, j] * b[0, j], which is unbroadcast(grad * b, (3, 1)).

Reference: the VJP convention of HIPS autograd (``autograd/numpy/numpy_vjps.py``) and
PyTorch's ``derivatives.yaml`` entries for mul, div and exp.
"""
from __future__ import annotations

from minigrad import backend
from minigrad.ops import Primitive, apply, register, unbroadcast
from minigrad.tensor import Tensor, lift

# Shapes the grader checks every binary VJP on: equal shapes, a scalar against a matrix,
# and the two broadcasting cases that catch a missing sum ((1,4) with (3,1); (5,4,1) with (4,3)).
BINARY_SHAPES = [
    (((3, 4), (3, 4)), {}),
    (((), (3, 4)), {}),
    (((1, 4), (3, 1)), {}),
    (((5, 4, 1), (4, 3)), {}),
]
UNARY_SHAPES = [(((),), {}), (((3, 4),), {})]


@register
class Mul(Primitive):
    """a * b, elementwise, with NumPy broadcasting.

    VJP:  grad_a = unbroadcast(g * b, a.shape),   grad_b = unbroadcast(g * a, b.shape)
    because d(a_k b_k)/d a_k = b_k, and a broadcast entry sums the gradients it fed.
    """

    name = "hw1_mul"
    formula = "d(a*b): grad_a = g*b, grad_b = g*a (each unbroadcast)"
    examples = BINARY_SHAPES

    @staticmethod
    def forward(ctx, a, b):
        return a * b

    @staticmethod
    def vjp(ctx, grad: Tensor) -> tuple:
        a, b = ctx.parents
        need_a, need_b = ctx.needs_input_grad
        # TASK 1.1: the VJP of a * b: return (grad_a, grad_b), each of its input's shape
        # BEGIN SOLUTION
        grad_a = unbroadcast(grad * b, a.shape) if need_a else None
        grad_b = unbroadcast(grad * a, b.shape) if need_b else None
        return grad_a, grad_b
        # END SOLUTION


@register
class Div(Primitive):
    """a / b, elementwise, with NumPy broadcasting.

    VJP:  grad_a = unbroadcast(g / b, a.shape),   grad_b = unbroadcast(-g * a / b^2, b.shape)
    because d(a/b)/da = 1/b and d(a/b)/db = -a/b^2.
    """

    name = "hw1_div"
    formula = "d(a/b): grad_a = g/b, grad_b = -g*a/b^2 (each unbroadcast)"
    domain = "nonzero"
    examples = BINARY_SHAPES

    @staticmethod
    def forward(ctx, a, b):
        return a / b

    @staticmethod
    def vjp(ctx, grad: Tensor) -> tuple:
        a, b = ctx.parents
        need_a, need_b = ctx.needs_input_grad
        # TASK 1.2: the VJP of a / b: return (grad_a, grad_b), each of its input's shape
        # BEGIN SOLUTION
        grad_over_b = grad / b
        # -g*a/b^2 = -(g/b) * (a/b), and a/b is the output we already have
        grad_a = unbroadcast(grad_over_b, a.shape) if need_a else None
        grad_b = unbroadcast(-grad_over_b * ctx.output, b.shape) if need_b else None
        return grad_a, grad_b
        # END SOLUTION


@register
class Exp(Primitive):
    """exp(a), elementwise.

    VJP:  grad_a = g * exp(a)
    The output is exp(a) already: reuse ``ctx.output`` instead of computing it again.
    """

    name = "hw1_exp"
    formula = "d(exp a): grad_a = g*exp(a)"
    examples = UNARY_SHAPES

    @staticmethod
    def forward(ctx, a):
        return backend.exp(a)  # floats or SymPy expressions alike

    @staticmethod
    def vjp(ctx, grad: Tensor) -> tuple:
        # TASK 1.3: the VJP of exp(a): return a one-element tuple (grad_a,)
        # BEGIN SOLUTION
        return (grad * ctx.output,)
        # END SOLUTION


def _as_tensors(a, b) -> tuple:
    """Lift numbers and arrays to tensors; a number takes the other operand's dtype."""
    return (a if isinstance(a, Tensor) else lift(a, b), b if isinstance(b, Tensor) else lift(b, a))


def mul(a, b) -> Tensor:
    """a * b with this assignment's primitive."""
    return apply(Mul, *_as_tensors(a, b))


def div(a, b) -> Tensor:
    """a / b with this assignment's primitive."""
    return apply(Div, *_as_tensors(a, b))


def exp(a) -> Tensor:
    """exp(a) with this assignment's primitive."""
    return apply(Exp, lift(a))
