"""Linear algebra primitives: matmul (1-D, 2-D and batched) and singular values."""
from __future__ import annotations

import numpy as np

from minigrad import backend
from minigrad.ops.registry import Primitive, apply, register
from minigrad.tensor import Tensor, lift  # noqa: F401  (tensor.py is always imported first)


def _matmul_shapes(a_shape: tuple, b_shape: tuple) -> tuple:
    """The output shape of a @ b, or a ValueError that shows both shapes."""
    if len(a_shape) == 0 or len(b_shape) == 0:
        raise ValueError(
            f"matmul: both operands need at least 1 dimension, got shapes {a_shape} and "
            f"{b_shape}; use * to multiply by a scalar."
        )
    a2 = a_shape if len(a_shape) > 1 else (1,) + a_shape
    b2 = b_shape if len(b_shape) > 1 else b_shape + (1,)
    if a2[-1] != b2[-2]:
        raise ValueError(
            f"matmul: shapes {a_shape} and {b_shape} are not aligned: {a2[-1]} (last axis of the "
            f"first) != {b2[-2]} ({'only' if len(b_shape) == 1 else 'second-to-last'} axis of "
            f"the second). Transpose one operand (x.T) or check the layer sizes."
        )
    try:
        batch = np.broadcast_shapes(a2[:-2], b2[:-2])
    except ValueError:
        raise ValueError(
            f"matmul: batch dimensions of shapes {a_shape} and {b_shape} do not broadcast"
        ) from None
    out = batch + a2[-2:-1] + b2[-1:]
    if len(a_shape) == 1:
        out = out[:-2] + out[-1:]
    if len(b_shape) == 1:
        out = out[:-1]
    return out


@register
class MatMul(Primitive):
    """a @ b with NumPy's rules (1-D operands promoted, batch axes broadcast).

    grad_a = g @ b^T, grad_b = a^T @ g, each summed over broadcast batch axes.
    Reference: Giles, "An extended collection of matrix derivative results" (2008), 2.2.2.
    """

    name = "matmul"
    formula = "d(a@b): grad_a = g @ b^T, grad_b = a^T @ g"
    examples = [
        (((3, 4), (4, 2)), {}),
        (((4,), (4, 2)), {}),
        (((3, 4), (4,)), {}),
        (((4,), (4,)), {}),
        (((2, 3, 4), (4, 5)), {}),
        (((2, 1, 3, 4), (5, 4, 2)), {}),
    ]

    @staticmethod
    def forward(ctx, a, b):
        return np.matmul(a, b)

    @staticmethod
    def vjp(ctx, grad):
        a, b = ctx.parents
        need_a, need_b = ctx.needs_input_grad
        if a.ndim == 2 and b.ndim == 2:  # the common case, with no reshaping at all
            return (
                matmul(grad, transpose(b, (1, 0))) if need_a else None,
                matmul(transpose(a, (1, 0)), grad) if need_b else None,
            )
        a2 = a if a.ndim > 1 else reshape(a, (1,) + a.shape)
        b2 = b if b.ndim > 1 else reshape(b, b.shape + (1,))
        batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        g2 = reshape(grad, batch + (a2.shape[-2], b2.shape[-1]))
        grad_a = grad_b = None
        if need_a:
            grad_a = reshape(unbroadcast(matmul(g2, swapaxes(b2, -1, -2)), a2.shape), a.shape)
        if need_b:
            grad_b = reshape(unbroadcast(matmul(swapaxes(a2, -1, -2), g2), b2.shape), b.shape)
        return grad_a, grad_b


@register
class SvdVals(Primitive):
    """Singular values of the last two axes, in descending order (numeric data only).

    grad_A = U diag(g) V^T with U, V the thin SVD's singular vectors (valid where the
    singular values are distinct and non-zero). U and V enter the VJP as constants, so the
    VJP is not itself differentiable: no second derivatives through SVD.
    Reference: Giles (2008), 3.2; Townsend, "Differentiating the singular value decomposition" (2016).
    """

    name = "svdvals"
    formula = "d s(A): grad_A = U diag(g) V^T"
    symbolic = False
    smooth = False
    examples = [(((3, 2),), {}), (((2, 3),), {}), (((2, 3, 3),), {})]

    @staticmethod
    def forward(ctx, a):
        backend.require_numeric("svdvals", a)
        if ctx is None:
            return np.linalg.svd(a, compute_uv=False)
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        ctx.saved = (u, vh)
        return s

    @staticmethod
    def vjp(ctx, grad):
        u, vh = ctx.saved
        scaled = mul(Tensor._constant(u), reshape(grad, grad.shape[:-1] + (1, grad.shape[-1])))
        return (matmul(scaled, Tensor._constant(vh)),)


def matmul(a, b):
    a = a if isinstance(a, Tensor) else lift(a, b)
    b = b if isinstance(b, Tensor) else lift(b, a)
    a_shape, b_shape = a._data.shape, b._data.shape
    # The common 2-D case is checked inline; anything else goes through the full rules.
    if not (len(a_shape) == 2 and len(b_shape) == 2 and a_shape[1] == b_shape[0]):
        _matmul_shapes(a_shape, b_shape)
    return apply(MatMul, a, b)


def svdvals(a):
    a = lift(a)
    if a.ndim < 2:
        raise ValueError(f"svdvals: needs a matrix (at least 2 dimensions), got shape {a.shape}")
    return apply(SvdVals, a)


def svd(a):
    """Thin SVD ``(U, S, Vh)``. Only ``S`` carries a gradient (through ``svdvals``);
    ``U`` and ``Vh`` are returned as constants (differentiating the singular vectors is
    ill-conditioned near repeated singular values, and no norm here needs it)."""
    a = lift(a)
    backend.require_numeric("svd", a.data)
    u, _, vh = np.linalg.svd(a.data, full_matrices=False)
    return Tensor._constant(u), svdvals(a), Tensor._constant(vh)


from minigrad.ops.elementwise import mul, unbroadcast  # noqa: E402
from minigrad.ops.shape import reshape, swapaxes, transpose  # noqa: E402
