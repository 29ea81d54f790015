"""Shape primitives: reshape, transpose, broadcast_to, indexing, concatenate and stack.

None of them changes a value, so each VJP just moves the gradient back to where the value
came from: reshape back, transpose by the inverse permutation, sum over broadcast axes,
scatter into the indexed places, split along the joined axis.
"""
from __future__ import annotations

import math

import numpy as np

from minigrad.ops.elementwise import unbroadcast
from minigrad.ops.registry import Primitive, apply, register
from minigrad.tensor import Tensor, lift


@register
class Reshape(Primitive):
    name = "reshape"
    formula = "grad_a = reshape(g, a.shape)"
    examples = [(((3, 4),), {"shape": (4, 3)}), (((2, 3, 2),), {"shape": (12,)}), (((),), {"shape": (1, 1)})]

    @staticmethod
    def forward(ctx, a, shape):
        return a.reshape(shape)

    @staticmethod
    def vjp(ctx, grad):
        return (reshape(grad, ctx.parents[0].shape),)


@register
class Transpose(Primitive):
    name = "transpose"
    formula = "grad_a = transpose(g, inverse(axes))"
    examples = [(((3, 4),), {"axes": (1, 0)}), (((2, 3, 4),), {"axes": (2, 0, 1)}), (((),), {"axes": ()})]

    @staticmethod
    def forward(ctx, a, axes):
        return a.transpose(axes)

    @staticmethod
    def vjp(ctx, grad):
        return (transpose(grad, tuple(np.argsort(ctx.attrs["axes"]).tolist())),)


@register
class BroadcastTo(Primitive):
    name = "broadcast_to"
    formula = "grad_a = unbroadcast(g, a.shape)"
    examples = [(((1, 4),), {"shape": (3, 4)}), (((),), {"shape": (2, 3)}), (((3, 1),), {"shape": (2, 3, 5)})]

    @staticmethod
    def forward(ctx, a, shape):
        return np.broadcast_to(a, shape)

    @staticmethod
    def vjp(ctx, grad):
        return (unbroadcast(grad, ctx.parents[0].shape),)


def _is_basic(index) -> bool:
    """Basic indexing (ints, slices, None, Ellipsis) never repeats an entry."""
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis for i in items)


@register
class GetItem(Primitive):
    name = "getitem"
    formula = "grad_a = zeros(a.shape) with g added at a[index] (repeats accumulate)"
    examples = [
        (((4, 5),), {"index": (slice(1, 3), slice(None, None, 2))}),
        (((4, 5),), {"index": 2}),
        (((4, 5),), {"index": (np.array([0, 2, 2]), np.array([1, 1, 4]))}),
        (((6,),), {"index": np.array([5, 0, 5, 5])}),
        (((3, 4),), {"index": np.array([True, False, True])}),
        (((),), {"index": ()}),
    ]

    @staticmethod
    def forward(ctx, a, index):
        out = a[index]
        return out if isinstance(out, np.ndarray) else np.asarray(out, dtype=a.dtype)

    @staticmethod
    def vjp(ctx, grad):
        (a,) = ctx.parents
        return (scatter_add(grad, ctx.attrs["index"], a.shape),)


@register
class ScatterAdd(Primitive):
    """The adjoint of indexing: a zero array of ``shape`` with ``a`` added at ``index``."""

    name = "scatter_add"
    formula = "grad_a = g[index]"
    examples = [
        (((2, 3),), {"index": (slice(1, 3), slice(None, None, 2)), "shape": (4, 5)}),
        (((3,),), {"index": (np.array([0, 2, 2]), np.array([1, 1, 4])), "shape": (4, 5)}),
        (((),), {"index": (), "shape": ()}),
    ]

    @staticmethod
    def forward(ctx, a, index, shape):
        out = np.zeros(shape, dtype=a.dtype)
        if a.dtype == object:
            out[...] = 0
        if _is_basic(index):
            # (``out[()] = a``, or out[i, j] = a, would store a 0-d object array as the
            # entry itself: give NumPy the expression inside it)
            out[index if index != () else ...] = a[()] if a.dtype == object and a.ndim == 0 and index != () else a
        else:
            np.add.at(out, index, a)
        return out

    @staticmethod
    def vjp(ctx, grad):
        return (getitem(grad, ctx.attrs["index"]),)


@register
class Concatenate(Primitive):
    name = "concatenate"
    no_zero_d = "NumPy and PyTorch cannot concatenate 0-d arrays (there is no axis to join along)"
    formula = "grad_i = the slice of g that input i filled"
    examples = [(((2, 3), (4, 3)), {"axis": 0}), (((2, 3), (2, 1), (2, 2)), {"axis": 1})]

    @staticmethod
    def forward(ctx, *arrays, axis):
        return np.concatenate(arrays, axis=axis)

    @staticmethod
    def vjp(ctx, grad):
        axis = ctx.attrs["axis"]
        grads, start = [], 0
        for parent, need in zip(ctx.parents, ctx.needs_input_grad):
            stop = start + parent.shape[axis]
            if need:
                index = (slice(None),) * axis + (slice(start, stop),)
                grads.append(getitem(grad, index))
            else:
                grads.append(None)
            start = stop
        return tuple(grads)


@register
class Stack(Primitive):
    name = "stack"
    formula = "grad_i = g taken at position i of the new axis"
    examples = [(((2, 3), (2, 3)), {"axis": 0}), (((4,), (4,), (4,)), {"axis": 1}), (((), ()), {"axis": 0})]

    @staticmethod
    def forward(ctx, *arrays, axis):
        return np.stack(arrays, axis=axis)

    @staticmethod
    def vjp(ctx, grad):
        axis = ctx.attrs["axis"]
        return tuple(
            getitem(grad, (slice(None),) * axis + (i,)) if need else None
            for i, need in enumerate(ctx.needs_input_grad)
        )


# ---------------------------------------------------------------------------------------
def reshape(a, *shape):
    """Give ``a`` a new shape with the same number of entries (one -1 is inferred)."""
    a = lift(a)
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    shape = tuple(int(s) for s in shape)
    if shape == a.shape:
        return a
    try:
        target = _resolve_shape(shape, a._data.size)
    except ValueError:
        raise ValueError(
            f"reshape: cannot reshape a tensor of shape {a.shape} ({a._data.size} entries) into "
            f"shape {shape}; the number of entries must stay the same."
        ) from None
    return apply(Reshape, a, shape=target)


def _resolve_shape(shape: tuple, size: int) -> tuple:
    if shape.count(-1) > 1:
        raise ValueError("only one -1")
    known = math.prod(s for s in shape if s != -1)
    if -1 in shape:
        if known == 0 or size % known:
            raise ValueError("does not divide")
        shape = tuple(size // known if s == -1 else s for s in shape)
    if math.prod(shape) != size or any(s < 0 for s in shape):
        raise ValueError("size mismatch")
    return shape


def transpose(a, axes=None):
    """Permute the axes (None: reverse them, like NumPy)."""
    a = a if isinstance(a, Tensor) else lift(a)
    if axes == (1, 0) and a._data.ndim == 2:  # the matrix transpose, on every backward of linear
        return apply(Transpose, a, axes=axes)
    if axes is None:
        axes = tuple(range(a.ndim - 1, -1, -1))
    axes = tuple(int(x) % max(a.ndim, 1) for x in axes)
    if sorted(axes) != list(range(a.ndim)):
        raise ValueError(
            f"transpose: axes {axes} are not a permutation of the {a.ndim} axes of a tensor of "
            f"shape {a.shape}"
        )
    if axes == tuple(range(a.ndim)):
        return a
    return apply(Transpose, a, axes=axes)


def swapaxes(a, axis1: int, axis2: int):
    a = lift(a)
    axes = list(range(a.ndim))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return transpose(a, tuple(axes))


def broadcast_to(a, shape):
    a = lift(a)
    shape = tuple(int(s) for s in shape)
    if shape == a.shape:
        return a
    try:
        if len(shape) < a.ndim or np.broadcast_shapes(a.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast shape {a.shape} to {shape}") from None
    return apply(BroadcastTo, a, shape=shape)


def _normalize_index(index):
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return np.asarray(index)
    if isinstance(index, tuple):
        return tuple(_normalize_index(i) for i in index)
    return index


def getitem(a, index):
    a = lift(a)
    index = _normalize_index(index)
    try:
        a.data[index]
    except IndexError as error:
        raise IndexError(f"getitem: index {index!r} is invalid for a tensor of shape {a.shape}: {error}") from None
    return apply(GetItem, a, index=index)


def scatter_add(a, index, shape):
    return apply(ScatterAdd, lift(a), index=index, shape=tuple(shape))


def concatenate(tensors, axis: int = 0):
    tensors = [lift(t) for t in tensors]
    if not tensors:
        raise ValueError("concatenate: needs at least one tensor")
    ndim = tensors[0].ndim
    axis = int(axis) % max(ndim, 1)
    outside = tensors[0].shape[:axis] + tensors[0].shape[axis + 1:]
    for t in tensors:
        if t.ndim != ndim or t.shape[:axis] + t.shape[axis + 1:] != outside:
            raise ValueError(
                f"concatenate: shapes {[x.shape for x in tensors]} do not match outside axis {axis}"
            )
    return apply(Concatenate, *tensors, axis=axis)


def stack(tensors, axis: int = 0):
    tensors = [lift(t) for t in tensors]
    if not tensors:
        raise ValueError("stack: needs at least one tensor")
    if any(t.shape != tensors[0].shape for t in tensors):
        raise ValueError(f"stack: all tensors must have the same shape, got {[t.shape for t in tensors]}")
    axis = int(axis) % (tensors[0].ndim + 1)
    return apply(Stack, *tensors, axis=axis)


def flatten(a, start_axis: int = 0):
    a = lift(a)
    return reshape(a, a.shape[:start_axis] + (-1,))
