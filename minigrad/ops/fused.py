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
