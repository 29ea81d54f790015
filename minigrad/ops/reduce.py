"""Reductions over axes: sum and max (with NumPy's ``axis`` and ``keepdims``)."""
from __future__ import annotations

import numpy as np

from minigrad import backend
from minigrad.ops.registry import Primitive, apply, register
from minigrad.tensor import Tensor, lift  # noqa: F401  (tensor.py is always imported first)


def normalize_axis(axis, ndim: int, op: str) -> tuple:
    """Turn ``axis`` (None, an int or a tuple of ints, negatives allowed) into sorted axes."""
    if axis is None:
        return tuple(range(ndim))
    if type(axis) is int and 0 <= axis < ndim:
        return (axis,)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for item in axes:
        if not isinstance(item, (int, np.integer)):
            raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {axis!r}")
        if not -ndim <= item < max(ndim, 1) or (ndim == 0 and item not in (0, -1)):
            raise IndexError(
                f"{op}: axis {item} is out of range for a tensor of {ndim} dimension(s); "
                f"use an axis in [{-ndim}, {ndim - 1}]."
            )
        out.append(int(item) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: axis {axis!r} repeats an axis")
    return tuple(sorted(out))


def _kept_shape(shape: tuple, axes: tuple) -> tuple:
    return tuple(1 if i in axes else size for i, size in enumerate(shape))


def _expand(grad, input_shape: tuple, axes: tuple, keepdims: bool):
    """Broadcast a reduction's gradient back over the reduced axes.

    The shapes are right by construction (they come from the forward), so the primitives
    are applied directly, without the argument checks of ``reshape``/``broadcast_to``.
    """
    if not keepdims:
        kept = _kept_shape(input_shape, axes)
        if grad._data.shape != kept:
            grad = apply(Reshape, grad, shape=kept)
    if grad._data.shape == input_shape:
        return grad
    return apply(BroadcastTo, grad, shape=input_shape)


@register
class Sum(Primitive):
    name = "sum"
    formula = "d sum(a, axis): grad_a = broadcast g back over the summed axes"
    examples = [
        # attrs as apply() receives them: axes already normalised by sum_() to sorted tuples
        (((3, 4),), {"axis": (0, 1), "keepdims": False}),
        (((3, 4),), {"axis": (0,), "keepdims": False}),
        (((3, 4),), {"axis": (1,), "keepdims": True}),
        (((2, 3, 4),), {"axis": (0, 2), "keepdims": False}),
        (((),), {"axis": (), "keepdims": False}),
    ]

    @staticmethod
    def forward(ctx, a, axis, keepdims):
        return np.add.reduce(a, axis=axis, keepdims=keepdims)

    @staticmethod
    def vjp(ctx, grad):
        (a,) = ctx.parents
        return (_expand(grad, a.shape, ctx.attrs["axis"], ctx.attrs["keepdims"]),)


@register
class Max(Primitive):
    """Largest entry over axes; ties share the gradient equally (PyTorch's amax rule)."""

    name = "max"
    formula = "d max(a, axis): grad_a = g * [a = max] / (number of ties)"
    symbolic = False
    domain = "distinct"
    examples = [
        (((3, 4),), {"axis": (0, 1), "keepdims": False}),
        (((3, 4),), {"axis": (1,), "keepdims": False}),
        (((2, 3, 4),), {"axis": (0, 2), "keepdims": True}),
        (((),), {"axis": (), "keepdims": False}),
    ]

    @staticmethod
    def forward(ctx, a, axis, keepdims):
        backend.require_numeric("max", a)
        if a.size == 0:
            raise ValueError(f"max: cannot reduce an empty tensor of shape {a.shape}")
        out = np.max(a, axis=axis, keepdims=keepdims)
        if ctx is not None:
            kept = out if keepdims else out.reshape(_kept_shape(a.shape, axis))
            hits = (a == kept).astype(a.dtype)
            ctx.saved = hits / np.sum(hits, axis=axis, keepdims=True)
        return out

    @staticmethod
    def vjp(ctx, grad):
        (a,) = ctx.parents
        spread = _expand(grad, a.shape, ctx.attrs["axis"], ctx.attrs["keepdims"])
        return (mul(spread, Tensor._constant(ctx.saved)),)


def sum_(a, axis=None, keepdims: bool = False):
    """Sum over ``axis`` (None: all axes)."""
    a = lift(a)
    axes = normalize_axis(axis, a.ndim, "sum")
    return apply(Sum, a, axis=axes, keepdims=bool(keepdims))


def max_(a, axis=None, keepdims: bool = False):
    """Largest entry over ``axis`` (None: all axes)."""
    a = lift(a)
    axes = normalize_axis(axis, a.ndim, "max")
    return apply(Max, a, axis=axes, keepdims=bool(keepdims))


def min_(a, axis=None, keepdims: bool = False):
    """Smallest entry over ``axis``, composed as -max(-a)."""
    return neg(max_(neg(a), axis=axis, keepdims=keepdims))


from minigrad.ops.elementwise import mul, neg  # noqa: E402
from minigrad.ops.shape import BroadcastTo, Reshape  # noqa: E402
