"""Fused primitives: ops that could be composed but are worth one node each.

log_softmax is the base of softmax and cross-entropy: as one op it is numerically stable
(the max is subtracted inside) and costs one node instead of five.
"""
from __future__ import annotations

import numpy as np

from minigrad import backend
from minigrad.ops.elementwise import _array_constant, div, exp, mul, sub
from minigrad.ops.linalg import matmul
from minigrad.ops.reduce import normalize_axis, sum_
from minigrad.ops.registry import Primitive, apply, register
from minigrad.ops.shape import reshape, transpose
from minigrad.tensor import Tensor, lift


@register
class LogSoftmax(Primitive):
    """log softmax(a) along ``axis``: a - logsumexp(a).

    grad_a = g - softmax(a) * sum(g, axis), with softmax(a) = exp(output).
    A 0-d input (``axis`` ()) is a softmax over one entry: the output is 0 and the
    gradient 0, as PyTorch's log_softmax(x, -1) on a 0-d tensor.
    """

    name = "log_softmax"
    formula = "grad_a = g - exp(out) * sum(g, axis)"
    examples = [(((3, 4),), {"axis": 1}), (((3, 4),), {"axis": 0}), (((5,),), {"axis": 0}),
                (((),), {"axis": ()})]

    @staticmethod
    def forward(ctx, a, axis):
        if a.dtype == object:  # no max to subtract symbolically; the identity is the same
            # (asarray: over no axis, NumPy hands back the bare expression of a 0-d input)
            total = np.asarray(np.sum(backend.exp(a), axis=axis, keepdims=True), dtype=object)
            return a - backend.log(total)
        # (the ufuncs' reduce directly: ndarray.max/.sum add a Python-level wrapper per call)
        shifted = a - np.maximum.reduce(a, axis=axis, keepdims=True)
        shifted -= np.log(np.add.reduce(np.exp(shifted), axis=axis, keepdims=True))
        return shifted

    @staticmethod
    def vjp(ctx, grad):
        axis = ctx.attrs["axis"]
        softmax = exp(ctx.output)
        return (sub(grad, mul(softmax, sum_(grad, axis=axis, keepdims=True))),)


def log_softmax(a, axis: int = -1):
    a = lift(a)
    axes = normalize_axis(axis, a.ndim, "log_softmax")  # () for a 0-d tensor
    if len(axes) > 1:
        raise TypeError(f"log_softmax: axis must be one int, got {axis!r} for shape {a.shape}")
    return apply(LogSoftmax, a, axis=axes[0] if axes else ())



@register
class Linear(Primitive):
    """y = x W^T + b (PyTorch's layout: W is (out_features, in_features)).

    grad_x = g W;  grad_W = g^T x (summed over all batch axes);  grad_b = sum of g over
    batch axes. One node instead of transpose + matmul + add, with the gradient of W
    formed directly in W's layout (no transposed copy).
    """

    name = "linear"
    no_zero_d = "x W^T + b needs a 2-D weight and an input with a feature axis"
    formula = "grad_x = g @ W, grad_W = g^T @ x, grad_b = sum_batch(g)"
    examples = [
        (((5, 4), (3, 4), (3,)), {}),
        (((4,), (3, 4), (3,)), {}),
        (((2, 5, 4), (3, 4), (3,)), {}),
        (((5, 4), (3, 4)), {}),
    ]

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        out = np.matmul(x, weight.T)
        if bias is not None:
            out += bias  # out is a fresh array from matmul, so adding in place is safe
        return out

    @staticmethod
    def vjp(ctx, grad):
        x, weight = ctx.parents[0], ctx.parents[1]
        needs = ctx.needs_input_grad
        grad_x = matmul(grad, weight) if needs[0] else None
        grad_w = grad_b = None
        if needs[1]:
            # every batch axis is summed over: grad_W = g^T x with the batch flattened
            g2 = reshape(grad, (-1, grad.shape[-1]))
            x2 = reshape(x, (-1, x.shape[-1]))
            grad_w = matmul(transpose(g2, (1, 0)), x2)
        if len(needs) == 2:
            return grad_x, grad_w
        if needs[2]:
            grad_b = sum_(grad, axis=tuple(range(grad.ndim - 1))) if grad.ndim > 1 else grad
        return grad_x, grad_w, grad_b

    @staticmethod
    def fast_vjp(ctx, grad):
        # vjp's formulas by NumPy on the float arrays.
        x, weight = ctx.parents[0]._data, ctx.parents[1]._data
        needs = ctx.needs_input_grad
        g = grad._data
        grad_x = _array_constant(g @ weight) if needs[0] else None
        grad_w = grad_b = None
        if needs[1]:
            g2 = g if g.ndim == 2 else g.reshape(-1, g.shape[-1])
            x2 = x if x.ndim == 2 else x.reshape(-1, x.shape[-1])
            grad_w = _array_constant(g2.T @ x2)
        if len(needs) == 2:
            return grad_x, grad_w
        if needs[2]:
            grad_b = _array_constant(np.add.reduce(g.reshape(-1, g.shape[-1]), axis=0))
        return grad_x, grad_w, grad_b


@register
class CrossEntropy(Primitive):
    """Softmax cross-entropy of logits (N, C) against integer classes (N,).

    loss_i = -log softmax(z_i)[t_i];  grad_z = (softmax(z) - onehot(t)) * g (/ N for 'mean').
    When the backward pass is itself recorded (create_graph=True) the softmax is rebuilt
    from minigrad ops so that second derivatives are exact; otherwise the probabilities
    saved by the forward are reused (the same numbers, without a second softmax).
    """

    name = "cross_entropy"
    no_zero_d = "logits are (batch, classes): two axes"
    formula = "grad_z = (softmax(z) - onehot(t)) * g / N"
    examples = [
        (((4, 3),), {"target": np.array([0, 2, 1, 2]), "reduction": "mean"}),
        (((4, 3),), {"target": np.array([1, 1, 0, 2]), "reduction": "sum"}),
        (((3, 5),), {"target": np.array([4, 0, 2]), "reduction": "none"}),
    ]

    @staticmethod
    def forward(ctx, logits, target, reduction):
        log_probs = LogSoftmax.forward(None, logits, axis=1)
        # Each row's target entry, by its position in the flattened array: one integer index
        # is several times cheaper in NumPy than the pair (arange(rows), target).
        rows, classes = logits.shape
        flat = np.arange(0, rows * classes, classes) + target
        if ctx is not None:
            ctx.saved = (log_probs, flat)
        picked = log_probs.reshape(-1)[flat]
        if reduction == "mean":
            return -np.add.reduce(picked) / logits.shape[0]
        if reduction == "sum":
            return -np.add.reduce(picked)
        return -picked

    @staticmethod
    def vjp(ctx, grad):
        (logits,) = ctx.parents
        target, reduction = ctx.attrs["target"], ctx.attrs["reduction"]
        rows = logits.shape[0]
        # The softmax is rebuilt from minigrad ops, so that its own derivative is exact.
        if reduction == "none":
            scale = reshape(grad, (rows, 1))
        elif reduction == "mean":
            scale = div(grad, rows)
        else:
            scale = grad
        onehot = np.zeros(logits.shape, dtype=logits.dtype if logits.dtype != object else int)
        onehot[np.arange(rows), target] = 1
        probs = exp(log_softmax(logits, axis=1))
        return (mul(sub(probs, Tensor._constant(onehot)), scale),)

    @staticmethod
    def fast_vjp(ctx, grad):
        # The same numbers from the log-probabilities the forward saved, in one new array.
        rows = ctx.parents[0].shape[0]
        reduction = ctx.attrs["reduction"]
        log_probs, flat = ctx.saved
        diff = np.exp(log_probs)
        diff.reshape(-1)[flat] -= 1
        if reduction == "none":
            diff *= grad.data.reshape(rows, 1)
        else:
            diff *= grad.data / rows if reduction == "mean" else grad.data
        return (Tensor._constant(diff),)


def linear(x, weight, bias=None):
    """y = x W^T + b as one fused node; checks the shapes first."""
    x = x if isinstance(x, Tensor) else lift(x, weight)
    weight = weight if isinstance(weight, Tensor) else lift(weight, x)
    x_shape, w_shape = x._data.shape, weight._data.shape
    if len(w_shape) != 2 or not x_shape or x_shape[-1] != w_shape[1]:
        raise ValueError(
            f"linear: input of shape {x_shape} does not fit a weight of shape {w_shape}: "
            f"the input's last axis must equal in_features = weight.shape[1]"
            f"{'' if len(w_shape) == 2 else ' (and the weight must be 2-D)'}."
        )
    if bias is None:
        return apply(Linear, x, weight)
    bias = bias if isinstance(bias, Tensor) else lift(bias, x)
    if bias._data.shape != w_shape[:1]:
        raise ValueError(
            f"linear: bias of shape {bias.shape} does not fit a weight of shape {w_shape}; "
            f"it must have shape ({w_shape[0]},)"
        )
    return apply(Linear, x, weight, bias)


def cross_entropy_indices(logits, target: np.ndarray, reduction: str = "mean"):
    return apply(CrossEntropy, logits, target=target, reduction=reduction)
