"""Assignment 6: the backward pass of batch normalisation.

In training mode BatchNorm normalises each feature (column) over the batch of N rows:

    mu = (1/N) sum_i x_i,   sigma = sqrt((1/N) sum_i (x_i - mu)^2 + eps)
    xhat = (x - mu) / sigma,   y = gamma * xhat + beta

Every output row depends on every input row of its column (through mu and sigma), which is
why the gradient has three terms. With g = dL/dy and sums over the batch axis:

    grad_beta  = sum_i g_i
    grad_gamma = sum_i g_i * xhat_i
    grad_x     = (1/N) * (gamma / sigma) * (N g - sum_i g_i - xhat * sum_i g_i xhat_i)

The first term is the direct path through xhat; the second comes from mu (moving every x
the same way moves nothing), the third from sigma (stretching x around mu moves nothing).
So grad_x sums to 0 over the batch and is orthogonal to xhat, column by column.

Reference: Ioffe & Szegedy, "Batch Normalization" (ICML 2015), section 3; the compact form
above is the one in Kevin Zakka's and Frederik Kratzert's derivations, and PyTorch's
``batchnorm_backward`` (aten/src/ATen/native/Normalization.cpp).
"""
from __future__ import annotations

import numpy as np

from minigrad import backend
from minigrad.ops import Primitive, apply, register, sqrt, sum_
from minigrad.tensor import Tensor, lift

BATCH_EXAMPLES = [
    (((3, 2), (2,), (2,)), {"eps": 1e-5}),
    (((5, 4), (4,), (4,)), {"eps": 1e-5}),
]


@register
class BatchNorm(Primitive):
    """y = gamma * (x - mu) / sigma + beta over the batch axis 0 (training mode).

    x has shape (N, D); gamma and beta have shape (D,). VJP: see the module docstring.
    """

    name = "hw6_batch_norm"
    formula = "grad_x = (1/N) gamma/sigma (N g - sum g - xhat sum(g xhat))"
    examples = BATCH_EXAMPLES

    @staticmethod
    def forward(ctx, x, gamma, beta, eps):
        if x.ndim != 2 or x.shape[0] < 2 or gamma.shape != (x.shape[1],) or beta.shape != gamma.shape:
            raise ValueError(
                f"hw6_batch_norm: needs x of shape (N, D) with N >= 2 and gamma, beta of shape "
                f"(D,); got {x.shape}, {gamma.shape}, {beta.shape}"
            )
        count = x.shape[0]
        centred = x - np.sum(x, axis=0, keepdims=True) / count
        sigma = backend.sqrt(np.sum(centred * centred, axis=0, keepdims=True) / count + eps)
        return gamma * (centred / sigma) + beta

    @staticmethod
    def vjp(ctx, grad: Tensor) -> tuple:
        x, gamma, beta = ctx.parents
        need_x, need_gamma, need_beta = ctx.needs_input_grad
        # mu, sigma and xhat again, with minigrad ops, so that the VJP is differentiable too
        count = x.shape[0]
        centred = x - sum_(x, axis=0, keepdims=True) / count
        sigma = sqrt(sum_(centred * centred, axis=0, keepdims=True) / count + ctx.attrs["eps"])
        xhat = centred / sigma
        grad_gamma = grad_beta = None
        if need_gamma or need_beta:
            grad_gamma, grad_beta = batch_norm_param_grads(grad, xhat)
        return (
            batch_norm_input_grad(grad, xhat, gamma, sigma) if need_x else None,
            grad_gamma if need_gamma else None,
            grad_beta if need_beta else None,
        )


def batch_norm_param_grads(grad: Tensor, xhat: Tensor) -> tuple:
    """``(grad_gamma, grad_beta)``, each of shape (D,): sums over the batch axis 0.

    grad_gamma = sum_i g_i * xhat_i,   grad_beta = sum_i g_i
    """
    # TASK 6.1: return (grad_gamma, grad_beta)
    # BEGIN SOLUTION
    return sum_(grad * xhat, axis=0), sum_(grad, axis=0)
    # END SOLUTION


def batch_norm_input_grad(grad: Tensor, xhat: Tensor, gamma: Tensor, sigma: Tensor) -> Tensor:
    """grad_x = (1/N) (gamma / sigma) (N g - sum_i g_i - xhat sum_i g_i xhat_i), shape (N, D).

    ``sigma`` has shape (1, D); ``gamma`` has shape (D,); the sums run over axis 0.
    """
    # TASK 6.2: return grad_x
    # BEGIN SOLUTION
    count = grad.shape[0]
    through_mean = sum_(grad, axis=0, keepdims=True)
    through_sigma = xhat * sum_(grad * xhat, axis=0, keepdims=True)
    return (gamma / sigma) * (grad * count - through_mean - through_sigma) / count
    # END SOLUTION


def batch_norm(x, gamma, beta, eps: float = 1e-5) -> Tensor:
    """Training-mode batch normalisation over axis 0, with this assignment's primitive."""
    return apply(BatchNorm, lift(x), lift(gamma), lift(beta), eps=float(eps))
