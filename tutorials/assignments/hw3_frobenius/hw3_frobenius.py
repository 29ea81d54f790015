"""Assignment 3: the Frobenius norm and its gradient, including the point where it has none.

    ||A||_F = sqrt(sum_ij A_ij^2)

Away from zero the norm is smooth, and

    d||A||_F / dA = A / ||A||_F.

At A = 0 the formula divides 0 by 0. The norm is not differentiable there (its graph is a
cone with its tip at 0), but it has *subgradients*: every G with ||G||_F <= 1 satisfies
||B||_F >= ||0||_F + <G, B> for all B. A gradient engine must return one of them, and must
never return NaN, which would poison every parameter it touches. We return G = 0, the
subgradient of least norm; PyTorch does the same (``norm_backward`` in
``torch/csrc/autograd/FunctionsManual.cpp`` masks the zero-norm case to 0).

Reference: Magnus & Neudecker, "Matrix Differential Calculus" (3rd ed., 2019), ch. 9;
Rockafellar, "Convex Analysis" (1970), section 23, for subgradients.
"""
from __future__ import annotations

import numpy as np

from minigrad import backend
from minigrad.ops import Primitive, apply, register
from minigrad.tensor import Tensor, lift, zeros_like


def is_exact_zero(array: np.ndarray) -> bool:
    """True for a numeric array whose entries are all exactly 0.

    SymPy data (an object array of expressions) counts as non-zero: a symbol is a generic
    point, where the norm is smooth, so the symbolic gradient is the smooth formula.
    """
    return not backend.is_symbolic(array) and not np.any(array)


@register
class FrobeniusNorm(Primitive):
    """||A||_F = sqrt(sum of the squares of all entries), for a tensor of any shape.

    VJP:  grad_A = g * A / ||A||_F   where ||A||_F > 0
          grad_A = 0                 where A = 0 (the zero subgradient, never NaN)
    """

    name = "hw3_frobenius"
    formula = "d||A||_F: grad_A = g*A/||A||_F, and 0 at A = 0"
    examples = [(((3, 4),), {}), (((5,),), {}), (((2, 3, 2),), {})]

    @staticmethod
    def forward(ctx, a):
        # TASK 3.1: the forward: return sqrt(sum of a^2) as a 0-d array (use backend.sqrt)
        # BEGIN SOLUTION
        squares = np.sum(a * a, keepdims=True).reshape(())  # stays an ndarray, also for SymPy
        return backend.sqrt(squares)
        # END SOLUTION

    @staticmethod
    def vjp(ctx, grad: Tensor) -> tuple:
        (a,) = ctx.parents
        norm = ctx.output
        # TASK 3.2: the VJP: g * A / ||A||_F, and the zero subgradient at A = 0 (no NaN)
        # BEGIN SOLUTION
        if is_exact_zero(norm.data):
            # 0/0 here: the formula has no value, so take the least-norm subgradient
            return (zeros_like(a),)
        return (a * (grad / norm),)
        # END SOLUTION


def frobenius_norm(a) -> Tensor:
    """||a||_F over all entries of ``a``, with this assignment's primitive."""
    return apply(FrobeniusNorm, lift(a))
