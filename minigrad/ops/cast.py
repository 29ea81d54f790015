"""Casting between float dtypes, as a primitive so that gradients flow back through it."""
from __future__ import annotations

import numpy as np

from minigrad import backend
from minigrad.ops.registry import Primitive, register


@register
class Cast(Primitive):
    """Change of float dtype; the gradient is cast back to the input's dtype."""

    name = "cast"
    formula = "grad_a = g (in a's dtype)"
    symbolic = False  # SymPy entries have no float dtype to cast to
    examples = [(((3, 2),), {"dtype": np.dtype(np.float64)}), (((),), {"dtype": np.dtype(np.float64)})]

    @staticmethod
    def forward(ctx, a, dtype):
        backend.require_numeric("cast", a)
        return a.astype(dtype)

    @staticmethod
    def vjp(ctx, grad):
        return (grad.astype(ctx.parents[0].dtype),)
