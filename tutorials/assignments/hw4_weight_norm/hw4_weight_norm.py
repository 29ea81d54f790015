"""Assignment 4: weight normalisation, forward and backward.

Weight normalisation writes each row of a weight matrix as a direction times a length:

    w_i = g_i * v_i / ||v_i||          (v of shape (out, in), g of shape (out, 1))

so that the optimiser moves the length g and the direction v separately. For one row, with
n = ||v||, upstream gradient G = dL/dw and s = <G, v> = sum_j G_j v_j:

    grad_g = s / n
    grad_v = (g / n) * (G - v * s / n^2)

The second formula is G, scaled by g/n, with its component along v removed: moving v
along itself does not change w, so grad_v is orthogonal to v.

Reference: Salimans & Kingma, "Weight Normalization: A Simple Reparameterization to
Accelerate Training of Deep Neural Networks" (NeurIPS 2016), eq. (3); PyTorch's
``_weight_norm_interface_backward`` (aten/src/ATen/native/WeightNorm.cpp).
"""
from __future__ import annotations

import numpy as np

from minigrad import backend
from minigrad.ops import Primitive, apply, register, sqrt, sum_
from minigrad.tensor import Tensor, lift

V_EXAMPLE, G_EXAMPLE = (4, 3), (4, 1)


def row_norms(v: Tensor) -> Tensor:
    """||v_i|| for every row i of v, as a column of shape (out, 1) (a minigrad computation)."""
    return sqrt(sum_(v * v, axis=1, keepdims=True))


@register
class WeightNorm(Primitive):
    """w = g * v / ||v||, row by row: v of shape (out, in), g of shape (out, 1).

    VJP, with n = ||v_i||, G = grad_w and s = sum_j G_ij v_ij (one per row):
        grad_g = s / n
        grad_v = (g / n) * (G - v * s / n^2)
    """

    name = "hw4_weight_norm"
    formula = "w = g v/||v||: grad_g = s/n, grad_v = (g/n)(G - v s/n^2), s = <G, v>"
    domain = "nonzero"
    examples = [((V_EXAMPLE, G_EXAMPLE), {}), (((1, 5), (1, 1)), {})]

    @staticmethod
    def forward(ctx, v, g):
        if v.ndim != 2 or g.shape != (v.shape[0], 1):
            raise ValueError(
                f"hw4_weight_norm: needs v of shape (out, in) and g of shape (out, 1), got "
                f"{v.shape} and {g.shape}"
            )
        # TASK 4.1: the forward: w = g * v / ||v||, with ||v|| taken row by row (backend.sqrt)
        # BEGIN SOLUTION
        norm = backend.sqrt(np.sum(v * v, axis=1, keepdims=True))
        return g * (v / norm)
        # END SOLUTION

    @staticmethod
    def vjp(ctx, grad: Tensor) -> tuple:
        v, g = ctx.parents
        need_v, need_g = ctx.needs_input_grad
        norm = row_norms(v)
        return (
            weight_norm_grad_v(grad, v, g, norm) if need_v else None,
            weight_norm_grad_g(grad, v, norm) if need_g else None,
        )


def weight_norm_grad_g(grad_w: Tensor, v: Tensor, norm: Tensor) -> Tensor:
    """grad_g = s / n with s = sum_j grad_w_ij v_ij per row and n = ||v_i||; shape (out, 1)."""
    # TASK 4.2: grad_g, of shape (out, 1)
    # BEGIN SOLUTION
    along_v = sum_(grad_w * v, axis=1, keepdims=True)
    return along_v / norm
    # END SOLUTION


def weight_norm_grad_v(grad_w: Tensor, v: Tensor, g: Tensor, norm: Tensor) -> Tensor:
    """grad_v = (g / n) * (grad_w - v * s / n^2) per row; shape (out, in)."""
    # TASK 4.3: grad_v, of shape (out, in), orthogonal to v row by row
    # BEGIN SOLUTION
    s = sum_(grad_w * v, axis=1, keepdims=True)
    # remove from grad_w its component along v (that part only stretches v, leaving w alone)
    tangential = grad_w - v * (s / (norm * norm))
    return (g / norm) * tangential
    # END SOLUTION


def weight_norm(v, g) -> Tensor:
    """g * v / ||v|| row by row, with this assignment's primitive."""
    return apply(WeightNorm, lift(v), lift(g))
