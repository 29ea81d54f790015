"""Functions composed from primitives in plain Python (no VJPs of their own).

Their gradients come from the primitives they are made of, so they need no separate
proof: the registry-wide checks cover the pieces, and the composed checks cover the sums.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from minigrad import backend, ops
from minigrad.tensor import Tensor, lift
from minigrad.ops.fused import cross_entropy_indices, linear as fused_linear
from minigrad.ops.reduce import _gather, _one_axis, resolve_axis, return_types


def _count(x: Tensor, axis) -> int:
    axes = ops.normalize_axis(axis, x.ndim, "mean")
    return int(np.prod([x.shape[a] for a in axes])) if axes else 1


def mean(x, dim=None, keepdim=None, *, axis=None, keepdims=None) -> Tensor:
    """Arithmetic mean over ``dim`` (or ``axis``; None: all entries)."""
    axis, keepdims = resolve_axis("mean", dim, axis, keepdim, keepdims)
    x = lift(x)
    count = _count(x, axis)
    if count == 0:
        raise ValueError(f"mean: cannot average over an empty axis of a tensor of shape {x.shape}")
    return ops.div(ops.sum_(x, axis, keepdims), count)


def var(x, dim=None, keepdim=None, *, axis=None, keepdims=None, ddof=None, correction=None,
        unbiased=None) -> Tensor:
    """Variance: sum((x - mean)^2) / (n - c) over ``dim`` (or ``axis``; None: all entries).

    The two libraries differ in c, and the spelling picks: NumPy's ``axis=``, ``keepdims=``
    or ``ddof=`` give c = ddof (default 0, the population variance BatchNorm uses);
    otherwise (``dim``, ``correction``, ``unbiased`` or no argument) c is PyTorch's
    ``correction`` (default 1, the sample variance; ``unbiased=False`` means 0).
    """
    numpy_spelling = axis is not None or keepdims is not None or ddof is not None
    if ddof is not None and (correction is not None or unbiased is not None):
        raise TypeError("var: got ddof= and correction=/unbiased=; they are one argument, give only one")
    if correction is not None and unbiased is not None:
        raise TypeError("var: got correction= and unbiased=; give only correction")
    axis, keepdims = resolve_axis("var", dim, axis, keepdim, keepdims)
    if numpy_spelling:
        ddof = 0 if ddof is None else ddof
    else:
        ddof = correction if correction is not None else (1 if unbiased is None else int(bool(unbiased)))
    x = lift(x)
    count = _count(x, axis) - ddof
    if count <= 0:
        raise ValueError(
            f"var: dividing by n - {ddof} leaves no degrees of freedom for shape {x.shape} over "
            f"axis {axis} (PyTorch returns NaN here); pass correction=0 (or ddof=0) for the "
            f"population variance."
        )
    centred = ops.sub(x, mean(x, axis, keepdims=True))
    return ops.div(ops.sum_(ops.mul(centred, centred), axis, keepdims), count)


def relu(x) -> Tensor:
    """max(x, 0) elementwise.

    d relu(x)/dx = 1 for x > 0, 0 for x <= 0: the kink x = 0 gets 0, as in PyTorch. The
    test is "not (x <= 0)" (PyTorch's threshold rule), so NaN propagates: relu(nan) = nan
    with gradient 1, and relu(-inf) = 0. On SymPy data a comparison has no truth value, so
    relu is x * Piecewise((1, x > 0), (0, True)) with the Piecewise a constant: the same
    gradient, 0 at the kink, and SymPy proves it equal to diff away from the kink.
    """
    x = lift(x)
    if x.dtype == object:
        return ops.mul(x, Tensor._constant(backend.step(x.data)))
    return ops.where(~(x.data <= 0), x, 0.0)


def leaky_relu(x, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, negative_slope * x otherwise (elementwise).

    d/dx = 1 for x > 0 and negative_slope for x <= 0 (the kink takes the slope, as
    PyTorch's leaky_relu_backward). NaN propagates with gradient negative_slope (PyTorch's
    too). On SymPy data: x * Piecewise((1, x > 0), (negative_slope, True)), the slope exact.
    """
    x = lift(x)
    if x.dtype == object:
        return ops.mul(x, Tensor._constant(backend.step(x.data, negative_slope)))
    return ops.where(x.data > 0, x, ops.mul(x, negative_slope))


def sigmoid(x) -> Tensor:
    """1 / (1 + exp(-x)), computed as (1 + tanh(x/2)) / 2, which never overflows."""
    x = lift(x)
    return ops.mul(ops.add(ops.tanh(ops.mul(x, 0.5)), 1.0), 0.5)


def softmax(x, dim: int = -1, *, axis=None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim`` (or ``axis``; default the last axis)."""
    return ops.exp(log_softmax(x, _softmax_axis("softmax", dim, axis)))


def log_softmax(x, dim: int = -1, *, axis=None) -> Tensor:
    """log(softmax(x)) along ``dim`` (or ``axis``; default the last axis), one stable op."""
    x = lift(x)
    axis = _softmax_axis("log_softmax", dim, axis)
    if x.size == 0:  # nothing to normalise (the fused op's max has no identity): empty, as PyTorch
        ops.normalize_axis(axis, x.ndim, "log_softmax")
        return ops.mul(x, 1.0)
    return ops.log_softmax(x, axis)


def _softmax_axis(function: str, dim, axis):
    if axis is None:
        return dim
    if dim != -1:
        raise TypeError(f"{function}: got dim={dim!r} and axis={axis!r}; they are one argument, give only one")
    return axis


def logsumexp(x, dim=None, keepdim=None, *, axis=None, keepdims=None) -> Tensor:
    """log(sum(exp(x))) over ``axis``, computed as m + log(sum(exp(x - m))) with m the max.

    Gradient: softmax(x) along the axes (m is held constant: it cancels). An infinite max
    is not subtracted (m = 0 there, as PyTorch does), so a slice of all -inf gives -inf
    and one holding +inf gives inf, never inf - inf = NaN; the gradient at such a slice is
    0/0 or inf/inf = NaN on the infinite entries, as in PyTorch (softmax is undefined there).
    A 0-d tensor takes axis 0 or -1 and returns itself (gradient 1).
    """
    axis, keepdims = resolve_axis("logsumexp", dim, axis, keepdim, keepdims)
    x = lift(x)
    axes = ops.normalize_axis(axis, x.ndim, "logsumexp")
    if x.dtype == object:
        return ops.log(ops.sum_(ops.exp(x), axes, keepdims))
    peak = np.max(x.data, axis=axes, keepdims=True)
    shift = Tensor._constant(np.where(np.isinf(peak), np.zeros_like(peak), peak))
    total = ops.log(ops.sum_(ops.exp(ops.sub(x, shift)), axes, keepdims=True))
    out = ops.add(total, shift)
    if not keepdims:
        out = ops.reshape(out, tuple(s for i, s in enumerate(x.shape) if i not in axes))
    return out


def _reduce(loss: Tensor, reduction: str, function: str) -> Tensor:
    if reduction == "mean":
        return mean(loss)
    if reduction == "sum":
        return ops.sum_(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"{function}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def mse_loss(input, target, reduction: str = "mean") -> Tensor:
    input, target = lift(input), lift(target)
    if input.shape != target.shape:
        raise ValueError(
            f"mse_loss: input shape {input.shape} and target shape {target.shape} differ; "
            f"they must match (no silent broadcasting of a loss)."
        )
    diff = ops.sub(input, target)
    return _reduce(ops.mul(diff, diff), reduction, "mse_loss")


def cross_entropy(logits, target, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy of ``logits`` (N, C) against class indices (N,) or probabilities (N, C).

    Stable: it goes through log_softmax, which subtracts the row max.
    """
    logits = lift(logits)
    if logits.ndim != 2:
        raise ValueError(f"cross_entropy: logits must have shape (N, C), got {logits.shape}")
    target_data = target.data if isinstance(target, Tensor) else np.asarray(target)
    if target_data.dtype.kind in "iu":
        if target_data.shape != logits.shape[:1]:
            raise ValueError(
                f"cross_entropy: class-index target must have shape ({logits.shape[0]},), got "
                f"{target_data.shape}"
            )
        # One pass: as unsigned integers, negative classes become huge, so a single max
        # finds both kinds of out-of-range class.
        if target_data.size and np.maximum.reduce(target_data.astype(np.uint64)) >= logits.shape[1]:
            raise IndexError(
                f"cross_entropy: target classes must be in [0, {logits.shape[1] - 1}], got "
                f"values from {target_data.min()} to {target_data.max()}"
            )
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"cross_entropy: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        return cross_entropy_indices(logits, target_data.astype(np.intp, copy=False), reduction)
    if target_data.shape != logits.shape:
        raise ValueError(
            f"cross_entropy: probability target must have the logits' shape {logits.shape}, got "
            f"{target_data.shape} (or pass integer class indices)"
        )
    log_probs = ops.log_softmax(logits, axis=1)
    per_row = ops.neg(ops.sum_(ops.mul(lift(target, logits), log_probs), axis=1))
    return _reduce(per_row, reduction, "cross_entropy")


# Primitives, re-exported so nn.functional offers everything in one place.
exp, log, sqrt, tanh, abs = ops.exp, ops.log, ops.sqrt, ops.tanh, ops.abs_
maximum, minimum, where = ops.maximum, ops.minimum, ops.where
matmul, reshape, transpose = ops.matmul, ops.reshape, ops.transpose


def linear(x, weight, bias=None) -> Tensor:
    """y = x W^T + b, with PyTorch's weight layout (out_features, in_features); one fused node."""
    return fused_linear(x, weight, bias)


def linear_composed(x, weight, bias=None) -> Tensor:
    """The same as ``linear``, built from transpose, matmul and add (for teaching and checks)."""
    out = ops.matmul(x, ops.transpose(weight, (1, 0)))
    return ops.add(out, bias) if bias is not None else out


# ---------------------------------------------------------------------------------------
# PyTorch's spellings beside NumPy's, and the ops a learner brings from PyTorch
# ---------------------------------------------------------------------------------------
# Every reduction takes PyTorch's ``dim``/``keepdim`` and NumPy's ``axis``/``keepdims``:
# the same arguments under two names (giving both names is an error). Where the two
# libraries differ in meaning, the spelling decides: ``var``/``std`` with ``axis=`` or
# ``ddof=`` divide by n - ddof (NumPy, ddof 0), and otherwise by n - correction
# (PyTorch, correction 1); ``x.max(1)`` and ``x.max(dim=1)`` give PyTorch's (values,
# indices), ``x.max(axis=1)`` NumPy's values.
ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])


def argmax(x, dim=None, keepdim=None, *, axis=None, keepdims=None) -> Tensor:
    """Index of the largest entry (of the flattened tensor when dim is None); int64, no gradient."""
    return _arg_extreme(x, "argmax", np.argmax, dim, keepdim, axis, keepdims)


def argmin(x, dim=None, keepdim=None, *, axis=None, keepdims=None) -> Tensor:
    """Index of the smallest entry (of the flattened tensor when dim is None); int64, no gradient."""
    return _arg_extreme(x, "argmin", np.argmin, dim, keepdim, axis, keepdims)


def _arg_extreme(x, name, pick, dim, keepdim, axis, keepdims) -> Tensor:
    x = lift(x)
    backend.require_numeric(name, x.data)
    dim, keepdim = resolve_axis(name, dim, axis, keepdim, keepdims)
    if x.size == 0:
        raise ValueError(f"{name}: cannot take the {name} of an empty tensor (shape {x.shape})")
    if dim is None:
        out = np.asarray(pick(x.data))
        if keepdim:  # every axis kept, of length 1 (PyTorch and NumPy agree)
            out = out.reshape((1,) * x.ndim)
    elif x.ndim == 0:
        ops.normalize_axis(dim, 0, name)
        out = np.zeros((), dtype=np.int64)
    else:
        axis = _one_axis(x, dim, name)
        out = pick(x.data, axis=axis, keepdims=keepdim)
    return Tensor._constant(np.asarray(out, dtype=np.int64))


def sort(x, dim: int = -1, descending: bool = False, stable: bool = False):
    """(values, indices) of ``x`` sorted along ``dim``; the values carry the gradient.

    The sort is stable (ties keep their order) whether or not ``stable`` is asked for.
    """
    x = lift(x)
    backend.require_numeric("sort", x.data)
    if x.ndim == 0:
        ops.normalize_axis(dim, 0, "sort")
        return return_types.sort(x, Tensor._constant(np.zeros((), dtype=np.int64)))
    axis = _one_axis(x, dim, "sort")
    key = -x.data if descending else x.data
    indices = np.argsort(key, axis=axis, kind="stable")
    return return_types.sort(_gather(x, indices, axis), Tensor._constant(indices.astype(np.int64)))


def topk(x, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    """(values, indices) of the ``k`` largest (or smallest) entries along ``dim``."""
    x = lift(x)
    axis = _one_axis(x, dim, "topk") if x.ndim else 0
    length = x.shape[axis] if x.ndim else 1
    if not isinstance(k, (int, np.integer)) or not 0 <= k <= length:
        raise IndexError(f"topk: k={k!r} must be an int in [0, {length}] for dim {dim} of shape {x.shape}")
    values, indices = sort(x, dim, descending=largest)
    if x.ndim == 0:
        return return_types.topk(values, indices)
    keep = (slice(None),) * axis + (slice(0, int(k)),)
    return return_types.topk(ops.getitem(values, keep), Tensor._constant(indices.data[keep]))


def amax(x, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    """Largest entry over ``dim`` (ties share the gradient equally, as torch.amax)."""
    dim, keepdim = resolve_axis("amax", dim, axis, keepdim, keepdims)
    return ops.max_(x, dim, keepdim)


def amin(x, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    """Smallest entry over ``dim`` (ties share the gradient equally, as torch.amin)."""
    dim, keepdim = resolve_axis("amin", dim, axis, keepdim, keepdims)
    return ops.min_(x, dim, keepdim)


def std(x, dim=None, keepdim=None, *, axis=None, keepdims=None, ddof=None, correction=None,
        unbiased=None) -> Tensor:
    """Standard deviation, sqrt(var) with the same arguments (see ``var``)."""
    return ops.sqrt(var(x, dim, keepdim, axis=axis, keepdims=keepdims, ddof=ddof,
                        correction=correction, unbiased=unbiased))


def prod(x, dim=None, keepdim=None, *, axis=None, keepdims=None) -> Tensor:
    """Product of the entries over ``dim`` (None: all), composed from multiplications.

    Halving the axis by multiplying its two halves (a tree of mul) keeps the gradient exact
    when entries are zero: d prod / d a_i is the product of the others, never prod / a_i.
    """
    x = lift(x)
    dim, keepdim = resolve_axis("prod", dim, axis, keepdim, keepdims)
    axes = ops.normalize_axis(dim, x.ndim, "prod")
    rest = [i for i in range(x.ndim) if i not in axes]
    kept_shape = tuple(1 if i in axes else s for i, s in enumerate(x.shape))
    moved = ops.transpose(x, tuple(rest) + axes) if x.ndim else x
    count = int(np.prod([x.shape[i] for i in axes])) if axes else 1
    rows = ops.reshape(moved, tuple(x.shape[i] for i in rest) + (count,))
    if count == 0:
        out = ops.add(ops.sum_(rows, axis=-1), 1.0)
    else:
        while rows.shape[-1] > 1:
            half = rows.shape[-1] // 2
            last = (Ellipsis, slice(2 * half, None))
            paired = ops.mul(ops.getitem(rows, (Ellipsis, slice(0, half))),
                             ops.getitem(rows, (Ellipsis, slice(half, 2 * half))))
            rows = ops.concatenate([paired, ops.getitem(rows, last)], axis=-1) if rows.shape[-1] % 2 else paired
        out = ops.reshape(rows, rows.shape[:-1])
    return ops.reshape(out, kept_shape) if keepdim else out


def clamp(x, min=None, max=None) -> Tensor:  # (PyTorch's argument names)
    """x limited to [min, max]; the gradient passes where min <= x <= max (ends included).

    PyTorch's rule: d clamp / dx = 1 on the closed interval, 0 outside. NaN stays NaN.
    """
    x = lift(x)
    if min is None and max is None:
        raise ValueError("clamp: give at least one of min and max")
    if x.dtype == object:
        out = x if min is None else ops.maximum(x, min)
        return out if max is None else ops.minimum(out, max)
    low = -np.inf if min is None else (min.data if isinstance(min, Tensor) else min)
    high = np.inf if max is None else (max.data if isinstance(max, Tensor) else max)
    inside = ~((x.data < low) | (x.data > high))
    clipped = np.minimum(np.maximum(x.data, low), high).astype(x.dtype, copy=False)
    return ops.where(np.broadcast_to(inside, clipped.shape), x, Tensor._constant(clipped))


def masked_fill(x, mask, value) -> Tensor:
    """x with ``value`` where ``mask`` is True (the mask broadcasts to x's shape)."""
    x = lift(x)
    mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
    if mask.dtype != bool:
        raise TypeError(f"masked_fill: mask must be a bool tensor, got dtype {mask.dtype}")
    try:
        mask = np.broadcast_to(mask, x.shape)
    except ValueError:
        raise ValueError(f"masked_fill: a mask of shape {mask.shape} does not broadcast to {x.shape}") from None
    return ops.where(mask, lift(value, x), x)


def one_hot(indices, num_classes: int = -1) -> Tensor:
    """int64 tensor with a 1 at each index along a new last axis (as torch's one_hot)."""
    data = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
    if data.dtype.kind not in "iu":
        raise TypeError(f"one_hot: the indices must be integers (class numbers), got dtype {data.dtype}")
    if data.size and data.min() < 0:
        raise ValueError(f"one_hot: class values must be non-negative, got {int(data.min())}")
    if num_classes == -1:
        num_classes = int(data.max()) + 1 if data.size else 0
    if data.size and data.max() >= num_classes:
        raise ValueError(f"one_hot: class values must be smaller than num_classes={num_classes}, got {int(data.max())}")
    return Tensor._constant((data[..., None] == np.arange(num_classes)).astype(np.int64))


def cat(tensors, dim: int = 0, *, axis=None) -> Tensor:
    """Join tensors along an existing ``dim`` (torch.cat; NumPy's concatenate)."""
    dim, _ = resolve_axis("cat", None if axis is not None else dim, axis)
    return ops.concatenate(list(tensors), dim)


def split(x, split_size_or_sections, dim: int = 0) -> tuple:
    """Pieces of ``x`` along ``dim``: of ``split_size`` each (the last may be smaller), or of the listed sizes."""
    x = lift(x)
    axis = _one_axis(x, dim, "split")
    length = x.shape[axis]
    if isinstance(split_size_or_sections, (int, np.integer)):
        size = int(split_size_or_sections)
        if size <= 0 and length:
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes = [min(size, length - start) for start in range(0, length, size)] if length else [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != length or min(sizes, default=0) < 0:
            raise ValueError(
                f"split: sizes {sizes} must be non-negative and add up to {length} (dim {dim} of shape {x.shape})"
            )
    pieces, start = [], 0
    for size in sizes:
        pieces.append(ops.getitem(x, (slice(None),) * axis + (slice(start, start + size),)))
        start += size
    return tuple(pieces)


def chunk(x, chunks: int, dim: int = 0) -> tuple:
    """``x`` cut along ``dim`` into ``chunks`` pieces of ceil(n / chunks) (fewer if they run out)."""
    x = lift(x)
    if not isinstance(chunks, (int, np.integer)) or chunks <= 0:
        raise ValueError(f"chunk: chunks must be a positive int, got {chunks!r}")
    length = x.shape[_one_axis(x, dim, "chunk")]
    return split(x, max(-(-length // int(chunks)), 1), dim)


def unsqueeze(x, dim: int) -> Tensor:
    """``x`` with a new axis of length 1 at ``dim`` (in [-ndim-1, ndim])."""
    x = lift(x)
    if not isinstance(dim, (int, np.integer)) or not -x.ndim - 1 <= dim <= x.ndim:
        raise IndexError(
            f"unsqueeze: dim {dim!r} is out of range for a tensor of {x.ndim} dimension(s); "
            f"use [{-x.ndim - 1}, {x.ndim}]"
        )
    dim = int(dim) % (x.ndim + 1)
    return ops.reshape(x, x.shape[:dim] + (1,) + x.shape[dim:])


def squeeze(x, dim=None) -> Tensor:
    """``x`` without its axes of length 1 (only ``dim``'s, if given and of length 1, as PyTorch)."""
    x = lift(x)
    if dim is None:
        axes = tuple(i for i, s in enumerate(x.shape) if s == 1)
    else:
        axes = tuple(i for i in ops.normalize_axis(dim, x.ndim, "squeeze") if x.shape[i] == 1)
    return ops.reshape(x, tuple(s for i, s in enumerate(x.shape) if i not in axes))


def permute(x, *dims) -> Tensor:
    """``x`` with its axes in the order ``dims`` (a permutation)."""
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    return ops.transpose(x, tuple(dims))


def expand(x, *sizes) -> Tensor:
    """``x`` broadcast to ``sizes``; -1 keeps an axis' length, new leading axes allowed."""
    x = lift(x)
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    extra = len(sizes) - x.ndim
    if extra < 0:
        raise ValueError(f"expand: {len(sizes)} sizes for a tensor of {x.ndim} dimensions; give at least {x.ndim}")
    shape = tuple(x.shape[i - extra] if s == -1 and i >= extra else s for i, s in enumerate(sizes))
    if any(s < 0 for s in shape):
        raise ValueError(f"expand: -1 is only allowed for existing axes, got sizes {sizes} for shape {x.shape}")
    return ops.broadcast_to(x, shape)


def repeat(x, *repeats) -> Tensor:
    """``x`` tiled ``repeats`` times along each axis (torch's repeat, NumPy's tile).

    Composed: a new axis of length 1 before each axis is broadcast to the repeat count,
    then merged with it, so the gradient sums over the copies.
    """
    x = lift(x)
    if len(repeats) == 1 and isinstance(repeats[0], (tuple, list)):
        repeats = tuple(repeats[0])
    if len(repeats) < x.ndim:
        raise ValueError(f"repeat: give at least {x.ndim} repeat counts for shape {x.shape}, got {repeats}")
    shape = (1,) * (len(repeats) - x.ndim) + x.shape
    spread = ops.reshape(x, tuple(v for s in shape for v in (1, s)))
    spread = ops.broadcast_to(spread, tuple(v for r, s in zip(repeats, shape) for v in (int(r), s)))
    return ops.reshape(spread, tuple(int(r) * s for r, s in zip(repeats, shape)))


def flatten_dims(x, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """``x`` with the axes start_dim..end_dim (inclusive) merged into one."""
    x = lift(x)
    if x.ndim == 0:
        return ops.reshape(x, (1,))
    start, end = (ops.normalize_axis(d, x.ndim, "flatten")[0] for d in (start_dim, end_dim))
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    return ops.reshape(x, x.shape[:start] + (int(np.prod(x.shape[start:end + 1])),) + x.shape[end + 1:])

