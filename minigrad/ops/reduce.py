"""Reductions over axes: sum and max (with NumPy's ``axis`` and ``keepdims``)."""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from minigrad import backend
from minigrad.ops.elementwise import mul, neg
from minigrad.ops.registry import Primitive, apply, register
from minigrad.ops.shape import BroadcastTo, Reshape, getitem, reshape
from minigrad.tensor import Tensor, lift


def normalize_axis(axis, ndim: int, op: str) -> tuple:
    """Turn ``axis`` (None, an int or a tuple of ints, negatives allowed) into sorted axes.

    A 0-d tensor accepts axis 0 and -1, as PyTorch does (its one "axis" has length 1), and
    reducing over it reduces over no axis at all: the result is the tensor itself, so this
    returns ().
    """
    if axis is None:
        return tuple(range(ndim))
    if type(axis) is int and 0 <= axis < ndim:
        return (axis,)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    low, high = (-1, 0) if ndim == 0 else (-ndim, ndim - 1)
    out = []
    for item in axes:
        if not isinstance(item, (int, np.integer)) or isinstance(item, bool):
            raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {axis!r}")
        if not low <= item <= high:
            raise IndexError(
                f"{op}: axis {item} is out of range for a tensor of {ndim} dimension(s); "
                f"use an axis in [{low}, {high}]."
            )
        out.append(int(item) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: axis {axis!r} repeats an axis")
    return () if ndim == 0 else tuple(sorted(out))


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
    """Largest entry over axes; ties share the gradient equally (PyTorch's amax rule).

    grad_a = g * [a = max] / (number of entries equal to the max), so the kink (a tie)
    splits g evenly. On SymPy data the max is sympy.Max and [a = max] is
    Piecewise((1, Eq(a, max)), (0, True)): the same rule, ties included; SymPy writes its
    own derivative with Heaviside, so the two agree away from ties (checked at points).
    """

    name = "max"
    formula = "d max(a, axis): grad_a = g * [a = max] / (number of ties)"
    domain = "distinct"
    examples = [
        (((3, 4),), {"axis": (0, 1), "keepdims": False}),
        (((3, 4),), {"axis": (1,), "keepdims": False}),
        (((2, 3, 4),), {"axis": (0, 2), "keepdims": True}),
        (((),), {"axis": (), "keepdims": False}),
    ]

    @staticmethod
    def forward(ctx, a, axis, keepdims):
        if a.size == 0:
            raise ValueError(f"max: cannot reduce an empty tensor of shape {a.shape}")
        kept_shape = _kept_shape(a.shape, axis)
        if a.dtype == object:  # comparisons of symbols have no truth value: sympy.Max
            kept = _symbolic_max(a, axis).reshape(kept_shape)
            out = kept if keepdims else kept.reshape(tuple(s for i, s in enumerate(a.shape) if i not in axis))
        else:
            out = np.max(a, axis=axis, keepdims=keepdims)
        if ctx is not None:
            kept = out if keepdims else out.reshape(kept_shape)
            hits = _is_peak(a, kept)
            # (asarray: on a 0-d input NumPy hands back a scalar, SymPy's or NumPy's)
            ctx.saved = np.asarray(hits / np.sum(hits, axis=axis, keepdims=True), dtype=a.dtype)
        return out

    @staticmethod
    def vjp(ctx, grad):
        (a,) = ctx.parents
        spread = _expand(grad, a.shape, ctx.attrs["axis"], ctx.attrs["keepdims"])
        return (mul(spread, Tensor._constant(ctx.saved)),)


def _symbolic_max(a: np.ndarray, axis: tuple) -> np.ndarray:
    """sympy.Max over ``axis`` of an object array (the kept axes first, in order)."""
    sp = backend.sympy()
    rest = [i for i in range(a.ndim) if i not in axis]
    rows = np.transpose(a, rest + list(axis)).reshape([a.shape[i] for i in rest] + [-1])
    out = np.empty(rows.shape[:-1], dtype=object)
    for index in np.ndindex(out.shape):
        out[index] = sp.Max(*rows[index])
    return out


def _is_peak(a: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """1 where an entry equals the max of its slice, else 0 (Piecewise of Eq for SymPy)."""
    if a.dtype != object:
        return (a == kept).astype(a.dtype)
    sp = backend.sympy()
    peaks = np.broadcast_to(kept, a.shape)
    out = np.empty(a.shape, dtype=object)
    for index in np.ndindex(a.shape):
        out[index] = sp.Piecewise((1, sp.Eq(a[index], peaks[index])), (0, True))
    return out


def sum_(a, axis=None, keepdims: bool = False, *, dim=None, keepdim=None):
    """Sum over ``axis`` or PyTorch's ``dim`` (None: all axes)."""
    if dim is not None or keepdim is not None:
        axis, keepdims = _pytorch_names("sum", dim, axis, keepdim, keepdims)
    a = lift(a)
    axes = normalize_axis(axis, a.ndim, "sum")
    return apply(Sum, a, axis=axes, keepdims=bool(keepdims))


def max_(a, axis=None, keepdims: bool = False, *, dim=None, keepdim=None):
    """Largest entry over ``axis`` (None: all axes); ties share the gradient.

    With PyTorch's ``dim=`` keyword it is ``torch.max(x, dim=...)``: the named tuple
    (values, indices). A positional second argument is NumPy's axis (``np.max(x, 1)``).
    """
    if dim is not None:
        _pytorch_names("max", dim, axis, keepdim, None)
        return max_values_indices(a, dim, bool(keepdim))
    if keepdim is not None:
        axis, keepdims = _pytorch_names("max", None, axis, keepdim, keepdims)
    a = lift(a)
    axes = normalize_axis(axis, a.ndim, "max")
    return apply(Max, a, axis=axes, keepdims=bool(keepdims))


def min_(a, axis=None, keepdims: bool = False, *, dim=None, keepdim=None):
    """Smallest entry over ``axis``, composed as -max(-a); ``dim=`` as in ``max_``."""
    if dim is not None:
        _pytorch_names("min", dim, axis, keepdim, None)
        return min_values_indices(a, dim, bool(keepdim))
    if keepdim is not None:
        axis, keepdims = _pytorch_names("min", None, axis, keepdim, keepdims)
    return neg(max_(neg(a), axis=axis, keepdims=keepdims))


def _pytorch_names(function: str, dim, axis, keepdim, keepdims) -> tuple:
    """(axis, keepdims) from either spelling (see resolve_axis)."""
    return resolve_axis(function, dim, axis, keepdim, keepdims if keepdims else None)


# PyTorch's max/min over one dim: (values, indices) ----------------------------------------
class return_types:  # (PyTorch's name: torch.return_types.max and friends)
    """The named tuples of (values, indices) that ``max``/``min``/``sort``/``topk`` return."""

    max = namedtuple("max", ["values", "indices"])
    min = namedtuple("min", ["values", "indices"])
    sort = namedtuple("sort", ["values", "indices"])
    topk = namedtuple("topk", ["values", "indices"])


def resolve_axis(function: str, dim=None, axis=None, keepdim=None, keepdims=None) -> tuple:
    """(axis, keepdims) from PyTorch's ``dim``/``keepdim`` or NumPy's ``axis``/``keepdims``."""
    if dim is not None and axis is not None:
        raise TypeError(
            f"{function}: got dim={dim!r} and axis={axis!r}; they are one argument under "
            f"PyTorch's and NumPy's names, give only one."
        )
    if keepdim is not None and keepdims is not None and bool(keepdim) != bool(keepdims):
        raise TypeError(
            f"{function}: got keepdim={keepdim!r} and keepdims={keepdims!r}; they are one "
            f"argument under PyTorch's and NumPy's names, give only one."
        )
    chosen = dim if dim is not None else axis
    if isinstance(chosen, list):
        chosen = tuple(chosen)
    return chosen, bool(keepdim if keepdim is not None else (keepdims or False))


def _one_axis(x: Tensor, dim, function: str) -> int:
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{function}: dim must be one int, got {dim!r}")
    axes = normalize_axis(int(dim), x.ndim, function)
    return axes[0] if axes else 0


def _gather(x: Tensor, indices: np.ndarray, axis: int) -> Tensor:
    """x's entries at ``indices`` along ``axis`` (NumPy's take_along_axis), as getitem.

    The gradient is getitem's: scattered back to the picked places only.
    """
    grids = np.ogrid[tuple(slice(0, size) for size in indices.shape)]
    index = tuple(indices if i == axis else grids[i] for i in range(indices.ndim))
    return getitem(x, index)


def _extreme_with_index(x, dim, keepdim: bool, largest: bool):
    x = lift(x)
    name = "max" if largest else "min"
    backend.require_numeric(name, x.data)
    if x.ndim == 0:
        normalize_axis(dim, 0, name)
        return getattr(return_types, name)(x, Tensor._constant(np.zeros((), dtype=np.int64)))
    axis = _one_axis(x, dim, name)
    if x.shape[axis] == 0:
        raise IndexError(f"{name}: cannot take the {name} over dim {dim} of length 0 (shape {x.shape})")
    pick = np.argmax if largest else np.argmin
    indices = np.expand_dims(pick(x.data, axis=axis), axis)
    values = _gather(x, indices, axis)
    if not keepdim:
        values = reshape(values, tuple(s for i, s in enumerate(values.shape) if i != axis))
        indices = np.squeeze(indices, axis)
    return getattr(return_types, name)(values, Tensor._constant(indices.astype(np.int64)))


def max_values_indices(x, dim, keepdim: bool = False):
    """(values, indices) of the largest entry along ``dim``, as ``torch.max(x, dim)``.

    The gradient reaches only the entry picked (the first largest), as in PyTorch; the
    reduction ``x.max(axis=...)``/``amax`` instead shares it among ties.
    """
    return _extreme_with_index(x, dim, keepdim, largest=True)


def min_values_indices(x, dim, keepdim: bool = False):
    """(values, indices) of the smallest entry along ``dim``, as ``torch.min(x, dim)``."""
    return _extreme_with_index(x, dim, keepdim, largest=False)
