"""Linear algebra primitives: matmul (1-D, 2-D and batched), singular values and singular vectors."""
from __future__ import annotations

import numpy as np

from minigrad import backend
from minigrad.modes import GradMode
from minigrad.ops.elementwise import add, div, mul, sub, unbroadcast
from minigrad.ops.registry import Primitive, apply, register
from minigrad.ops.shape import reshape, swapaxes, transpose
from minigrad.tensor import Tensor, lift


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
    no_zero_d = "matmul needs operands with at least one axis (NumPy and PyTorch refuse 0-d)"
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


#: how close two squared singular values may come (relative to the largest, in units of the
#: dtype's eps) before the derivative of the singular vectors is refused: their F-matrix
#: divides by s_j^2 - s_i^2
SPECTRAL_GAP_EPS = 1e3


@register
class SvdVals(Primitive):
    """Singular values of the last two axes, in descending order (numeric data only).

    With the thin SVD A = U diag(s) V^T, d s_i = u_i^T dA v_i, so
        grad_A = U diag(g) V^T.
    The VJP is written with the ``svd_u`` and ``svd_v`` primitives when it is recorded
    (``create_graph=True``), so second (and higher) derivatives follow U and V as A moves;
    they need distinct singular values (``svd_u``/``svd_v`` raise otherwise). The first
    derivative is defined at repeated singular values too (where the span is unique).
    Reference: Giles (2008), 3.2; Townsend, "Differentiating the singular value decomposition" (2016).
    """

    name = "svdvals"
    no_zero_d = "the SVD needs a matrix (at least 2 axes)"
    formula = "d s(A): grad_A = U diag(g) V^T"
    symbolic = False
    examples = [(((3, 2),), {}), (((2, 3),), {}), (((2, 3, 3),), {}), (((2, 2, 4),), {})]

    @staticmethod
    def forward(ctx, a):
        backend.require_numeric("svdvals", a)
        if ctx is None:
            return np.linalg.svd(a, compute_uv=False)
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        ctx.saved = (u, s, np.swapaxes(vh, -1, -2))
        return s

    @staticmethod
    def vjp(ctx, grad):
        u, _, v = _factors(ctx)
        scaled = mul(u, reshape(grad, grad.shape[:-1] + (1, grad.shape[-1])))  # U diag(g)
        return (matmul(scaled, swapaxes(v, -1, -2)),)


@register
class SvdU(Primitive):
    """The left singular vectors U (m x k, k = min(m, n)) of the thin SVD A = U diag(s) V^T.

    With F_ij = 1 / (s_j^2 - s_i^2) for i != j (F_ii = 0) and K = U^T g:
        grad_A = U (F o (K - K^T)) diag(s) V^T + (I - U U^T) g diag(1/s) V^T
    (the second term only when m > k). Valid where the singular values are distinct (and
    non-zero when m > k); elsewhere it raises. Each column's sign is whatever LAPACK
    returns; the formula holds for any sign choice that is locally constant, so only
    functions that do not depend on the signs (like U diag(g) V^T) are well defined.
    Reference: Townsend (2016), eq. for A-bar with only U-bar non-zero; Giles (2008), 3.2;
    PyTorch's svd_backward (torch/csrc/autograd/FunctionsManual.cpp).
    """

    name = "svd_u"
    no_zero_d = "the SVD needs a matrix (at least 2 axes)"
    formula = "grad_A = U (F o (U^T g - g^T U)) S V^T + (I - U U^T) g S^-1 V^T,  F_ij = 1/(s_j^2 - s_i^2)"
    symbolic = False
    examples = [(((3, 2),), {}), (((2, 3),), {}), (((2, 3, 3),), {})]

    @staticmethod
    def forward(ctx, a):
        backend.require_numeric("svd_u", a)
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        if ctx is not None:
            ctx.saved = (u, s, np.swapaxes(vh, -1, -2))
        return u

    @staticmethod
    def vjp(ctx, grad):
        a = ctx.parents[0]
        _check_spectral_gaps("svd_u", a.shape, ctx.saved[1], a.shape[-2] > ctx.saved[1].shape[-1])
        u, s, v = _factors(ctx)
        row_s = _as_row(s)
        inner = matmul(swapaxes(u, -1, -2), grad)  # K = U^T g
        skew = mul(_f_matrix(s), sub(inner, swapaxes(inner, -1, -2)))
        core = matmul(u, mul(skew, row_s))  # U (F o (K - K^T)) S
        if a.shape[-2] > s.shape[-1]:  # the part of g outside the span of U
            core = add(core, div(sub(grad, matmul(u, inner)), row_s))
        return (matmul(core, swapaxes(v, -1, -2)),)


@register
class SvdV(Primitive):
    """The right singular vectors V (n x k, k = min(m, n)) of the thin SVD A = U diag(s) V^T.

    With F as for ``svd_u`` and L = V^T g:
        grad_A = U diag(s) (F o (L - L^T)) V^T + U diag(1/s) g^T (I - V V^T)
    (the second term only when n > k); this is ``svd_u``'s formula for A^T, transposed.
    Same conditions and references as ``svd_u``.
    """

    name = "svd_v"
    no_zero_d = "the SVD needs a matrix (at least 2 axes)"
    formula = "grad_A = U S (F o (V^T g - g^T V)) V^T + U S^-1 g^T (I - V V^T),  F_ij = 1/(s_j^2 - s_i^2)"
    symbolic = False
    examples = [(((3, 2),), {}), (((2, 3),), {}), (((2, 3, 3),), {})]

    @staticmethod
    def forward(ctx, a):
        backend.require_numeric("svd_v", a)
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        v = np.swapaxes(vh, -1, -2)
        if ctx is not None:
            ctx.saved = (u, s, v)
        return v

    @staticmethod
    def vjp(ctx, grad):
        a = ctx.parents[0]
        _check_spectral_gaps("svd_v", a.shape, ctx.saved[1], a.shape[-1] > ctx.saved[1].shape[-1])
        u, s, v = _factors(ctx)
        inner = matmul(swapaxes(v, -1, -2), grad)  # L = V^T g
        skew = mul(_f_matrix(s), sub(inner, swapaxes(inner, -1, -2)))
        core = mul(_as_column(s), skew)  # S (F o (L - L^T))
        out = matmul(matmul(u, core), swapaxes(v, -1, -2))
        if a.shape[-1] > s.shape[-1]:  # the part of g outside the span of V
            outside = swapaxes(sub(grad, matmul(v, inner)), -1, -2)
            out = add(out, matmul(div(u, _as_row(s)), outside))
        return (out,)


def _factors(ctx) -> tuple:
    """U, s, V of a node's input, as tensors for its VJP.

    A recorded VJP (``create_graph=True``) takes them from the ``svd_u``, ``svdvals`` and
    ``svd_v`` primitives, so the gradient is differentiable with respect to A again;
    otherwise the factors the forward saved are constants (no SVD is computed twice).
    """
    a = ctx.parents[0]
    if GradMode.enabled and a.requires_grad:
        return apply(SvdU, a), apply(SvdVals, a), apply(SvdV, a)
    return tuple(Tensor._constant(array) for array in ctx.saved)


def _as_row(s):
    """s as a (..., 1, k) tensor: multiplying by it scales the columns, like @ diag(s)."""
    return reshape(s, s.shape[:-1] + (1, s.shape[-1]))


def _as_column(s):
    """s as a (..., k, 1) tensor: multiplying by it scales the rows, like diag(s) @."""
    return reshape(s, s.shape + (1,))


def _f_matrix(s):
    """F_ij = 1 / (s_j^2 - s_i^2) off the diagonal and 0 on it, as a differentiable tensor.

    The diagonal's denominator is replaced by 1 before dividing (then masked to 0), so no
    inf ever enters the graph: masking 1/0 afterwards would still give 0 * inf = NaN in the
    derivative of this expression.
    """
    k = s.shape[-1]
    squares = mul(s, s)
    gaps = sub(_as_row(squares), _as_column(squares))  # gaps[i, j] = s_j^2 - s_i^2
    eye = np.eye(k, dtype=s.dtype)
    return mul(Tensor._constant(1.0 - eye), div(1.0, add(gaps, Tensor._constant(eye))))


def _check_spectral_gaps(op: str, shape: tuple, values: np.ndarray, needs_inverse: bool) -> None:
    """Refuse the singular-vector derivative where F (or 1/s) is not finite.

    ``values`` are the singular values (descending, batched); ``needs_inverse`` says the
    formula divides by s (a non-square matrix). Tolerance: SPECTRAL_GAP_EPS * eps(dtype)
    * s_max^2, so singular values that are equal up to rounding count as repeated.
    """
    squares = values.astype(np.float64) ** 2
    tolerance = SPECTRAL_GAP_EPS * np.finfo(values.dtype).eps * squares.max(axis=-1, initial=0.0)
    gaps = squares[..., :-1] - squares[..., 1:]  # sorted, so neighbours are the closest pairs
    repeated = (gaps <= tolerance[..., None]).any(axis=-1)
    zero = (squares[..., -1] <= tolerance) if needs_inverse else np.zeros_like(repeated)
    bad = repeated | zero
    if not bad.any():
        return
    index = tuple(int(i) for i in np.argwhere(bad)[0]) if bad.ndim else ()
    where = f" (matrix at batch index {index})" if index else ""
    problem = "repeated singular values" if repeated[index] else "a zero singular value of a non-square matrix"
    raise ValueError(
        f"{op}: the derivative of the singular vectors of the input of shape {shape} is undefined: "
        f"it has {problem}{where}, s = {np.array2string(values[index], precision=6)}, and the "
        f"formula divides by {'s_j^2 - s_i^2' if repeated[index] else 's'}. This derivative is what "
        f"second derivatives of svdvals and matrix_norm(ord='nuc'/2/-2) need (create_graph=True). The first derivative "
        f"is fine there; for second derivatives use an input with distinct, non-zero singular values."
    )


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


def svd_u(a):
    """The left singular vectors U (m x k) of the thin SVD, differentiable (see ``SvdU``)."""
    a = lift(a)
    if a.ndim < 2:
        raise ValueError(f"svd_u: needs a matrix (at least 2 dimensions), got shape {a.shape}")
    return apply(SvdU, a)


def svd_v(a):
    """The right singular vectors V (n x k; V, not V^T) of the thin SVD, differentiable (see ``SvdV``)."""
    a = lift(a)
    if a.ndim < 2:
        raise ValueError(f"svd_v: needs a matrix (at least 2 dimensions), got shape {a.shape}")
    return apply(SvdV, a)


def svd(a):
    """Thin SVD ``(U, S, Vh)``. Only ``S`` carries a gradient (through ``svdvals``);
    ``U`` and ``Vh`` are returned as constants (differentiating the singular vectors is
    ill-conditioned near repeated singular values, and no norm here needs it)."""
    a = lift(a)
    backend.require_numeric("svd", a.data)
    u, _, vh = np.linalg.svd(a.data, full_matrices=False)
    return Tensor._constant(u), svdvals(a), Tensor._constant(vh)
