"""Assignment 5: spectral normalisation by power iteration, and its gradient.

Spectral normalisation divides a weight matrix by its largest singular value sigma, so that
the layer is 1-Lipschitz:  W_sn = W / sigma(W).

sigma is estimated by *power iteration*. Starting from a vector u, repeat

    v = normalize(W^T u)
    u = normalize(W v)

and then sigma = u . (W v). Each step multiplies by W^T W, so v turns towards the top right
singular vector and u towards the top left one; in training one step per forward pass is
enough because u is kept from one pass to the next.

The gradient is taken with u and v held constant (they are buffers, not functions of W, as
in PyTorch): then sigma = u^T W v is linear in W, d sigma / dW = u v^T, and for the
upstream gradient G = dL/dW_sn,

    grad_W = G / sigma - (<G, W> / sigma^2) u v^T.

Reference: Miyato et al., "Spectral Normalization for Generative Adversarial Networks"
(ICLR 2018), Algorithm 1 and eq. (12); PyTorch's ``torch/nn/utils/spectral_norm.py``.
"""
from __future__ import annotations

import numpy as np

from minigrad.ops import Primitive, apply, register, sum_
from minigrad.tensor import Tensor, lift

# Constant u and v for the grader's checks of the gradient: positive entries, so that with
# a positive W (domain "positive") sigma = u^T W v stays well away from 0.
U_EXAMPLE = np.array([0.7, 0.1, 0.9])
V_EXAMPLE = np.array([0.5, 0.5, 0.5, 0.5])
SQUARE_U = np.array([0.8, 0.6])


def normalize(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """x / max(||x||, eps): a unit vector, and no division by 0 for x = 0 (PyTorch's rule)."""
    return x / max(float(np.linalg.norm(x)), eps)


def power_iteration(weight: np.ndarray, u: np.ndarray, n_iterations: int = 1) -> tuple:
    """Estimate the top singular triple of ``weight`` by ``n_iterations`` power-iteration steps.

    Each step:  v = normalize(W^T u),  u = normalize(W v).  Then sigma = u . (W v).
    Returns ``(u, v, sigma)``: u of shape (m,), v of shape (n,), sigma a float.
    """
    if n_iterations < 1:
        raise ValueError(f"power_iteration: n_iterations must be at least 1, got {n_iterations}")
    # TASK 5.1: power iteration; return (u, v, sigma)
    # BEGIN SOLUTION
    for _ in range(n_iterations):
        v = normalize(weight.T @ u)
        u = normalize(weight @ v)
    sigma = float(u @ (weight @ v))
    return u, v, sigma
    # END SOLUTION


@register
class SpectralNormalize(Primitive):
    """W / sigma with sigma = u^T W v, for constant vectors u (shape (m,)) and v (shape (n,)).

    VJP (u, v constant):  grad_W = G / sigma - (<G, W> / sigma^2) u v^T
    """

    name = "hw5_spectral_normalize"
    formula = "d(W/sigma): grad_W = G/sigma - (<G,W>/sigma^2) u v^T"
    domain = "positive"
    examples = [
        (((3, 4),), {"u": U_EXAMPLE, "v": V_EXAMPLE}),
        (((2, 2),), {"u": SQUARE_U, "v": SQUARE_U[::-1].copy()}),
    ]

    @staticmethod
    def forward(ctx, weight, u, v):
        # TASK 5.2: the forward: sigma = u . (W v), return W / sigma
        # BEGIN SOLUTION
        sigma = u @ (weight @ v)
        return weight / sigma
        # END SOLUTION

    @staticmethod
    def vjp(ctx, grad: Tensor) -> tuple:
        (weight,) = ctx.parents
        u, v = ctx.attrs["u"], ctx.attrs["v"]
        # TASK 5.3: the VJP with u and v constant: return (grad_W,)
        # BEGIN SOLUTION
        # u v^T enters as a constant: u and v are buffers, not functions of W
        direction = Tensor._constant(np.outer(u, v))
        sigma = sum_(weight * direction)  # u^T W v = <W, u v^T>
        inner = sum_(grad * weight)
        return (grad / sigma - direction * (inner / (sigma * sigma)),)
        # END SOLUTION


def spectral_normalize_with(weight, u: np.ndarray, v: np.ndarray) -> Tensor:
    """W / (u^T W v) for given constant u and v, with this assignment's primitive."""
    return apply(SpectralNormalize, lift(weight), u=np.asarray(u, float), v=np.asarray(v, float))


def spectral_normalize(weight: Tensor, u: np.ndarray, n_iterations: int = 1) -> tuple:
    """Spectral normalisation as a layer uses it: ``(W / sigma, new u)``.

    Power iteration runs on the raw numbers (no graph); the new u is returned so that the
    caller can keep it for the next forward pass, as PyTorch keeps ``weight_u``.
    """
    weight = lift(weight)
    u, v, _ = power_iteration(np.asarray(weight.data, dtype=float), u, n_iterations)
    return spectral_normalize_with(weight, u, v), u
