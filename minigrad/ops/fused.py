"""Fused primitives: ops that could be composed but are worth one node each.

log_softmax is the base of softmax and cross-entropy: as one op it is numerically stable
(the max is subtracted inside) and costs one node instead of five.
"""
from __future__ import annotations

import numpy as np

from minigrad import backend
from minigrad.ops.registry import Primitive, apply, register
from minigrad.tensor import Tensor, lift  # noqa: F401  (tensor.py is always imported first)


@register
class LogSoftmax(Primitive):
    """log softmax(a) along ``axis``: a - logsumexp(a).

    grad_a = g - softmax(a) * sum(g, axis), with softmax(a) = exp(output).
    """

    name = "log_softmax"
    formula = "grad_a = g - exp(out) * sum(g, axis)"
    examples = [(((3, 4),), {"axis": 1}), (((3, 4),), {"axis": 0}), (((5,),), {"axis": 0})]

    @staticmethod
    def forward(ctx, a, axis):
        if a.dtype == object:  # no max to subtract symbolically; the identity is the same
            total = np.sum(backend.exp(a), axis=axis, keepdims=True)
            return a - backend.log(total)
        shifted = a - np.max(a, axis=axis, keepdims=True)
        return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))

    @staticmethod
    def vjp(ctx, grad):
        axis = ctx.attrs["axis"]
        softmax = exp(ctx.output)
        return (sub(grad, mul(softmax, sum_(grad, axis=axis, keepdims=True))),)


def log_softmax(a, axis: int = -1):
    from minigrad.ops.reduce import normalize_axis

    a = lift(a)
    (axis,) = normalize_axis(axis, a.ndim, "log_softmax")
    return apply(LogSoftmax, a, axis=axis)


from minigrad.ops.elementwise import exp, mul, sub  # noqa: E402
from minigrad.ops.reduce import sum_  # noqa: E402


@register
class Linear(Primitive):
    """y = x W^T + b (PyTorch's layout: W is (out_features, in_features)).

    grad_x = g W;  grad_W = g^T x (summed over all batch axes);  grad_b = sum of g over
    batch axes. One node instead of transpose + matmul + add, with the gradient of W
    formed directly in W's layout (no transposed copy).
    """

    name = "linear"
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
            if x.ndim == 1:
                grad_w = matmul(reshape(grad, (grad.shape[0], 1)), reshape(x, (1, x.shape[0])))
            else:
                g2 = grad if grad.ndim == 2 else reshape(grad, (-1, grad.shape[-1]))
                x2 = x if x.ndim == 2 else reshape(x, (-1, x.shape[-1]))
                grad_w = matmul(transpose(g2, (1, 0)), x2)
        if len(needs) == 3 and needs[2]:
            grad_b = sum_(grad, axis=tuple(range(grad.ndim - 1))) if grad.ndim > 1 else grad
        return (grad_x, grad_w, grad_b) if len(needs) == 3 else (grad_x, grad_w)


@register
class CrossEntropy(Primitive):
    """Softmax cross-entropy of logits (N, C) against integer classes (N,).

    loss_i = -log softmax(z_i)[t_i];  grad_z = (softmax(z) - onehot(t)) * g (/ N for 'mean').
    When the backward pass is itself recorded (create_graph=True) the softmax is rebuilt
    from minigrad ops so that second derivatives are exact; otherwise the probabilities
    saved by the forward are reused (the same numbers, without a second softmax).
    """

    name = "cross_entropy"
    formula = "grad_z = (softmax(z) - onehot(t)) * g / N"
    examples = [
        (((4, 3),), {"target": np.array([0, 2, 1, 2]), "reduction": "mean"}),
        (((4, 3),), {"target": np.array([1, 1, 0, 2]), "reduction": "sum"}),
        (((3, 5),), {"target": np.array([4, 0, 2]), "reduction": "none"}),
    ]

    @staticmethod
    def forward(ctx, logits, target, reduction):
        log_probs = LogSoftmax.forward(None, logits, axis=1)
        if ctx is not None:
            ctx.saved = log_probs
        picked = -log_probs[np.arange(logits.shape[0]), target]
        if reduction == "mean":
            return np.sum(picked) / logits.shape[0]
        if reduction == "sum":
            return np.sum(picked)
        return picked

    @staticmethod
    def vjp(ctx, grad):
        (logits,) = ctx.parents
        target, reduction = ctx.attrs["target"], ctx.attrs["reduction"]
        rows = logits.shape[0]
        if reduction == "none":
            scale = reshape(grad, (rows, 1))
        elif reduction == "mean":
            scale = div(grad, rows)
        else:
            scale = grad
        onehot = np.zeros(logits.shape, dtype=logits.dtype if logits.dtype != object else int)
        onehot[np.arange(rows), target] = 1
        if is_grad_enabled() or logits.dtype == object:
            probs = exp(log_softmax(logits, axis=1))
            return (mul(sub(probs, Tensor._constant(onehot)), scale),)
        diff = np.exp(ctx.saved)
        diff -= onehot
        return (mul(Tensor._constant(diff), scale),)


def linear(x, weight, bias=None):
    """y = x W^T + b as one fused node; checks the shapes first."""
    x = x if isinstance(x, Tensor) else lift(x, weight)
    weight = weight if isinstance(weight, Tensor) else lift(weight, x)
    if weight.ndim != 2 or x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: input of shape {x.shape} does not fit a weight of shape {weight.shape}: "
            f"the input's last axis must equal in_features = weight.shape[1]"
            f"{'' if weight.ndim == 2 else ' (and the weight must be 2-D)'}."
        )
    if bias is None:
        return apply(Linear, x, weight)
    bias = bias if isinstance(bias, Tensor) else lift(bias, x)
    if bias.shape != (weight.shape[0],):
        raise ValueError(
            f"linear: bias of shape {bias.shape} does not fit a weight of shape {weight.shape}; "
            f"it must have shape ({weight.shape[0]},)"
        )
    return apply(Linear, x, weight, bias)


def cross_entropy_indices(logits, target: np.ndarray, reduction: str = "mean"):
    return apply(CrossEntropy, logits, target=target, reduction=reduction)


from minigrad.autograd import is_grad_enabled  # noqa: E402
from minigrad.ops.elementwise import div  # noqa: E402
from minigrad.ops.linalg import matmul  # noqa: E402
from minigrad.ops.shape import reshape, transpose  # noqa: E402
