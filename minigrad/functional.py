"""Functions composed from primitives in plain Python (no VJPs of their own).

Their gradients come from the primitives they are made of, so they need no separate
proof: the registry-wide checks cover the pieces, and the composed checks cover the sums.
"""
from __future__ import annotations

import numpy as np

from minigrad import backend, ops
from minigrad.tensor import Tensor, lift
from minigrad.ops.fused import cross_entropy_indices, linear as fused_linear


def _count(x: Tensor, axis) -> int:
    axes = ops.normalize_axis(axis, x.ndim, "mean")
    return int(np.prod([x.shape[a] for a in axes])) if axes else 1


def mean(x, axis=None, keepdims: bool = False) -> Tensor:
    """Arithmetic mean over ``axis`` (None: all entries)."""
    x = lift(x)
    count = _count(x, axis)
    if count == 0:
        raise ValueError(f"mean: cannot average over an empty axis of a tensor of shape {x.shape}")
    return ops.div(ops.sum_(x, axis, keepdims), count)


def var(x, axis=None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    """Variance with NumPy's ``ddof`` (0: population variance, as BatchNorm uses)."""
    x = lift(x)
    count = _count(x, axis) - ddof
    if count <= 0:
        raise ValueError(f"var: ddof={ddof} leaves no degrees of freedom for shape {x.shape} over axis {axis}")
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


def softmax(x, axis: int = -1) -> Tensor:
    return ops.exp(ops.log_softmax(x, axis))


def log_softmax(x, axis: int = -1) -> Tensor:
    return ops.log_softmax(x, axis)


def logsumexp(x, axis=None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) over ``axis``, computed as m + log(sum(exp(x - m))) with m the max.

    Gradient: softmax(x) along the axes (m is held constant: it cancels). An infinite max
    is not subtracted (m = 0 there, as PyTorch does), so a slice of all -inf gives -inf
    and one holding +inf gives inf, never inf - inf = NaN; the gradient at such a slice is
    0/0 or inf/inf = NaN on the infinite entries, as in PyTorch (softmax is undefined there).
    A 0-d tensor takes axis 0 or -1 and returns itself (gradient 1).
    """
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

