"""Assignment 2: the VJPs of matrix multiplication and of reductions.

You write three VJPs:
  * ``matmul(a, b)`` for matrices, a of shape (m, k) and b of shape (k, n);
  * ``sum(a, axis, keepdims)``, which adds entries along some axes;
  * ``max(a, axis, keepdims)``, which keeps the largest entry along some axes.

Two rules to keep in mind:
  * Every gradient has its input's shape. For matmul, check the shapes of g @ b^T and a^T @ g
    against (m, k) and (k, n): if they do not fit, a transpose is missing or misplaced.
  * A reduction's gradient goes back to every entry that was reduced. The gradient of the
    output has the reduced shape; put back the reduced axes (``reshape`` to the kept-dims
    shape when ``keepdims`` is False) and ``broadcast_to`` the input's shape.

Reference: Giles, "An extended collection of matrix derivative results for forward and
reverse mode algorithmic differentiation" (2008), section 2.2.2 (matrix product).
"""
from __future__ import annotations

import numpy as np

from minigrad.ops import Primitive, apply, broadcast_to, register, reshape, transpose
from minigrad.tensor import Tensor, lift

REDUCE_EXAMPLES = [
    (((3, 4),), {"axis": (0, 1), "keepdims": False}),
    (((3, 4),), {"axis": (0,), "keepdims": False}),
    (((3, 4),), {"axis": (1,), "keepdims": True}),
    (((2, 3, 4),), {"axis": (0, 2), "keepdims": False}),
]


def kept_shape(shape: tuple, axes: tuple) -> tuple:
    """The shape of a reduction over ``axes`` with keepdims=True: each reduced axis becomes 1."""
    return tuple(1 if i in axes else size for i, size in enumerate(shape))


@register
class MatMul(Primitive):
    """a @ b for matrices: a of shape (m, k), b of shape (k, n), out of shape (m, n).

    VJP:  grad_a = g @ b^T  (m, n)(n, k) -> (m, k)
          grad_b = a^T @ g  (k, m)(m, n) -> (k, n)
    from out_ij = sum_l a_il b_lj, so d out_ij / d a_il = b_lj and d out_ij / d b_lj = a_il.
    """

    name = "hw2_matmul"
    formula = "d(a@b): grad_a = g @ b^T, grad_b = a^T @ g"
    examples = [(((3, 4), (4, 2)), {}), (((3, 3), (3, 3)), {}), (((1, 5), (5, 1)), {})]

    @staticmethod
    def forward(ctx, a, b):
        if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
            raise ValueError(f"hw2_matmul: needs matrices (m, k) and (k, n), got {a.shape} and {b.shape}")
        return a @ b

    @staticmethod
    def vjp(ctx, grad: Tensor) -> tuple:
        a, b = ctx.parents
        need_a, need_b = ctx.needs_input_grad
        # TASK 2.1: the VJP of a @ b: return (grad_a, grad_b)
        # BEGIN SOLUTION
        grad_a = grad @ transpose(b, (1, 0)) if need_a else None
        grad_b = transpose(a, (1, 0)) @ grad if need_b else None
        return grad_a, grad_b
        # END SOLUTION


@register
class Sum(Primitive):
    """sum(a, axis, keepdims): ``axis`` is a sorted tuple of axes (all of them for a full sum).

    VJP:  grad_a = broadcast_to(reshape(g, kept_shape), a.shape)
    since every input entry enters its sum with coefficient 1.
    """

    name = "hw2_sum"
    formula = "d sum(a): grad_a = g copied along the summed axes"
    examples = REDUCE_EXAMPLES

    @staticmethod
    def forward(ctx, a, axis, keepdims):
        return np.sum(a, axis=axis, keepdims=keepdims)

    @staticmethod
    def vjp(ctx, grad: Tensor) -> tuple:
        (a,) = ctx.parents
        axis, keepdims = ctx.attrs["axis"], ctx.attrs["keepdims"]
        # TASK 2.2: the VJP of sum: return (grad_a,), grad_a of a's shape
        # BEGIN SOLUTION
        # without keepdims the summed axes are gone: put them back as length-1 axes first
        grad_kept = grad if keepdims else reshape(grad, kept_shape(a.shape, axis))
        return (broadcast_to(grad_kept, a.shape),)
        # END SOLUTION


@register
class Max(Primitive):
    """max(a, axis, keepdims): the largest entry along ``axis`` (a sorted tuple of axes).

    VJP:  grad_a = broadcast(g) * mask / count
    where mask is 1 where an entry equals its maximum and 0 elsewhere, and count is the
    number of maxima (ties share the gradient equally, as PyTorch's ``amax`` does).
    The forward saves ``mask / count`` in ``ctx.saved``.
    """

    name = "hw2_max"
    formula = "d max(a): grad_a = g * [a == max] / (number of ties)"
    symbolic = False  # comparisons have no SymPy form
    domain = "distinct"
    examples = REDUCE_EXAMPLES

    @staticmethod
    def forward(ctx, a, axis, keepdims):
        out = np.max(a, axis=axis, keepdims=True)
        if ctx is not None:
            mask = (a == out).astype(a.dtype)
            ctx.saved = mask / mask.sum(axis=axis, keepdims=True)
        return out if keepdims else out.reshape([s for i, s in enumerate(a.shape) if i not in axis])

    @staticmethod
    def vjp(ctx, grad: Tensor) -> tuple:
        (a,) = ctx.parents
        axis, keepdims = ctx.attrs["axis"], ctx.attrs["keepdims"]
        share = Tensor._constant(ctx.saved)  # mask / count, a constant of a's shape
        # TASK 2.3: the VJP of max: return (grad_a,), nonzero only at the maxima
        # BEGIN SOLUTION
        spread = broadcast_to(grad if keepdims else reshape(grad, kept_shape(a.shape, axis)), a.shape)
        return (spread * share,)
        # END SOLUTION


def _axes(axis, ndim: int) -> tuple:
    """None, an int or a tuple of ints (negatives allowed) as a sorted tuple of axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    return tuple(sorted(int(a) % ndim for a in axes))


def matmul(a, b) -> Tensor:
    """a @ b for matrices, with this assignment's primitive."""
    return apply(MatMul, lift(a), lift(b))


def sum_(a, axis=None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis`` (None: every axis), with this assignment's primitive."""
    a = lift(a)
    return apply(Sum, a, axis=_axes(axis, a.ndim), keepdims=bool(keepdims))


def max_(a, axis=None, keepdims: bool = False) -> Tensor:
    """Largest entry over ``axis`` (None: every axis), with this assignment's primitive."""
    a = lift(a)
    return apply(Max, a, axis=_axes(axis, a.ndim), keepdims=bool(keepdims))
