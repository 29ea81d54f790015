"""Vector and matrix norms as graph operations, with NumPy's and PyTorch's dispatch rules.

Every norm comes twice: a fused primitive (one node; its forward and its closed-form VJP
side by side below) and a composed twin (``*_composed``) built from engine primitives, so
the tests can compare fused VJP, composed autodiff and finite differences.

Fused primitives                    closed-form gradient (g: the incoming gradient)
    frobenius_norm    sqrt(sum x^2)       g x / ||x||                       (0 at x = 0)
    vector_norm_p     (sum |x|^p)^(1/p)   g sign(x) |x|^(p-1) / ||x||^(p-1) (0 at x = 0)
    vector_norm_inf   max |x|, min |x|    g sign(x) on the extreme entries, ties share it
    count_nonzero     #{x != 0} (ord 0)   0: a step function is flat where it is defined
    matrix_norm_abs   max/min column (1) or row (inf) sum of |A|
                                          g sign(A) on the extreme column/row, ties share it
    matrix_norm_svd   'nuc', 2, -2        g U diag(w) V^T, w = 1 for 'nuc', e_1 for 2, e_n for -2
Composed from those
    vector_norm, matrix_norm, norm     the public entry points (NumPy's / torch.linalg's rules)
    normalize(x, axis, eps)            x / max(||x||, eps), never NaN at zero
    power_iteration(W, u, n_iter)      sigma, u, v by v = normalize(W^T u), u = normalize(W v)

Conventions (PyTorch's, checked against torch.linalg 2.13 in the tests)
    * At x = 0 the gradient is the subgradient 0, never NaN.
    * Ties of a max or min (inf/-inf norms; 1/-1/inf/-inf and 2/-2 matrix norms) split the
      gradient equally among the tied entries, so eye(2) gives 0.5 I for ord=2.
    * The composed twin of the Frobenius norm is the naive sqrt(sum(x*x)): its gradient at
      x = 0 is 0/0 = NaN. Tutorial 2 is about exactly that, so it is kept that way on purpose.

Large and tiny values: ||x|| is computed as m ||x / m|| with m = max|x|, so entries of 1e300
or 1e-300 give the right finite answer where sum(x*x) alone would overflow to inf or
underflow to 0. Sums of |x| (the 1-norms) need no scaling: a partial sum never exceeds the
answer. LAPACK scales the SVD itself.

NaN and inf (documented propagation, never a silent number)
    * A slice holding NaN has norm NaN and gradient NaN; other slices are untouched.
      (ord 1: only the NaN entry's gradient is NaN, since sign(x_i) involves no other entry.
      PyTorch returns a gradient of 0 for the NaN slice of an inf-norm; we keep the NaN.)
    * ord 0 counts NaN as non-zero (NaN != 0), as PyTorch; its gradient stays 0.
    * A slice holding inf has norm inf (ord 0: the count, as PyTorch).
    * 'nuc', 2 and -2 refuse non-finite matrices with an error, as torch.linalg.svd does.

References: Magnus & Neudecker, "Matrix Differential Calculus" (1999), ch. 9; M. Giles,
"An extended collection of matrix derivative results" (2008); J. Townsend, "Differentiating
the singular value decomposition" (2016); PyTorch's linalg_vector_norm_backward,
linalg_matrix_norm and svd_backward in torch/csrc/autograd/FunctionsManual.cpp (behaviour
matched, code not copied); numpy.linalg.norm's dispatch.
"""
from __future__ import annotations

import math

import numpy as np

from minigrad import backend, ops
from minigrad.autograd import GradMode
from minigrad.ops.linalg import svd_u, svd_v
from minigrad.ops.registry import Primitive, apply, register
from minigrad.tensor import Tensor, lift

__all__ = [
    "frobenius_norm", "frobenius_norm_composed", "vector_norm", "vector_norm_composed",
    "matrix_norm", "matrix_norm_composed", "norm", "normalize", "power_iteration",
    "VECTOR_ORDS", "MATRIX_ORDS",
]

#: the ords the tests and ``minigrad check`` run through (any other real p works too)
VECTOR_ORDS = (2, 1, math.inf, -math.inf, 0, 3, 0.5, -1.5)
MATRIX_ORDS = ("fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf)


# ---------------------------------------------------------------------------------------
# Small helpers on raw arrays
# ---------------------------------------------------------------------------------------
def _kept_shape(shape: tuple, axes: tuple) -> tuple:
    return tuple(1 if i in axes else size for i, size in enumerate(shape))


def _expand(tensor: Tensor, shape: tuple, axes: tuple, keepdims: bool) -> Tensor:
    """A reduced result (or its gradient) reshaped so it broadcasts against the input."""
    return tensor if keepdims else ops.reshape(tensor, _kept_shape(shape, axes))


def _reduce_shape(kept: np.ndarray, axes: tuple, keepdims: bool) -> np.ndarray:
    return kept if keepdims else np.squeeze(kept, axis=axes)


def _scaled_power_sum(x: np.ndarray, p: float, axes: tuple) -> np.ndarray:
    """(sum |x|^p)^(1/p) over ``axes``, kept-dims shaped, without overflow or underflow.

    Each slice is divided by its largest magnitude m first (so every term is <= 1) and
    the result multiplied back by m. A slice of zeros keeps m = 1 (the norm is 0). A slice
    with an infinite entry is summed unscaled (inf / inf would be NaN): its norm is inf for
    p > 0, and the inf entry drops out for p < 0, both right.
    """
    magnitude = np.abs(x)
    if x.size == 0:
        return np.zeros(_kept_shape(x.shape, axes), dtype=x.dtype)
    scale = np.max(magnitude, axis=axes, keepdims=True)
    usable = (scale > 0) & np.isfinite(scale)
    safe_scale = np.where(usable, scale, 1.0)
    # 0^p for p < 0 is inf and then inf^(1/p) = 0: the right limit, so silence the warning.
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        if p == 2:  # the common case, without a general power
            scaled = magnitude / safe_scale
            result = safe_scale * np.sqrt(np.sum(scaled * scaled, axis=axes, keepdims=True))
        else:
            result = safe_scale * np.sum((magnitude / safe_scale) ** p, axis=axes, keepdims=True) ** (1.0 / p)
        infinite = np.isinf(scale)
        if infinite.any():
            unscaled = np.sum(magnitude**p, axis=axes, keepdims=True) ** (1.0 / p)
            result = np.where(infinite, unscaled, result)
    return result


def _object_sum(x: np.ndarray, axis: tuple, keepdims: bool) -> np.ndarray:
    """np.sum of SymPy entries, kept an ndarray (a full reduction returns a bare expression)."""
    total = np.sum(x, axis=axis, keepdims=keepdims)
    return total if isinstance(total, np.ndarray) else backend.to_object_array(total)


def _tie_weights(values: np.ndarray, extreme: np.ndarray, axis) -> np.ndarray:
    """[values == extreme] / (number of ties): how a max or min shares its gradient.

    A slice holding NaN matches nothing, so its weights are 0/0 = NaN: the NaN reaches the
    gradient instead of a silent 0.
    """
    hits = (values == extreme).astype(values.dtype)
    with np.errstate(invalid="ignore"):
        return hits / np.sum(hits, axis=axis, keepdims=True)


# ---------------------------------------------------------------------------------------
# Fused primitives: vector norms
# ---------------------------------------------------------------------------------------
@register
class FrobeniusNorm(Primitive):
    """||x||_2 = sqrt(sum x^2) over ``axis`` (the Frobenius norm of a matrix).

    grad_x = g * x / ||x||, taken as 0 where ||x|| = 0 (the subgradient of smallest size,
    as PyTorch). From d||X||_F = tr(X^T dX) / ||X||_F: Magnus & Neudecker (1999), ch. 9;
    Giles (2008); linalg_vector_norm_backward in PyTorch's FunctionsManual.cpp.
    """

    name = "frobenius_norm"
    formula = "d||x||: grad_x = g * x / ||x|| (0 where ||x|| = 0)"
    examples = [
        (((2, 3),), {"axis": (0, 1), "keepdims": False}),
        (((3, 4),), {"axis": (1,), "keepdims": True}),
        (((2, 2, 3),), {"axis": (1, 2), "keepdims": False}),
        (((4,),), {"axis": (0,), "keepdims": False}),
        (((),), {"axis": (), "keepdims": False}),
    ]

    @staticmethod
    def forward(ctx, x, axis, keepdims):
        if x.dtype == object:
            return backend.sqrt(_object_sum(x * x, axis, keepdims))
        return _reduce_shape(_scaled_power_sum(x, 2, axis), axis, keepdims)

    @staticmethod
    def vjp(ctx, grad):
        (x,) = ctx.parents
        axis, keepdims = ctx.attrs["axis"], ctx.attrs["keepdims"]
        out = _expand(ctx.output, x.shape, axis, keepdims)
        g = _expand(grad, x.shape, axis, keepdims)
        if x.dtype == object:
            return (ops.div(ops.mul(g, x), out),)
        # Only an exact 0 is replaced: a NaN norm must stay NaN (NaN > 0 is False, so a
        # "positive" mask would silently turn NaN slices into zero gradients).
        zero = out._data == 0
        safe = ops.where(zero, 1.0, out)  # never form 0/0, even in the discarded branch
        return (ops.where(np.broadcast_to(zero, x.shape), 0.0, ops.div(ops.mul(g, x), safe)),)


@register
class VectorNorm(Primitive):
    """||x||_p = (sum |x|^p)^(1/p) over ``axis``, for a real p other than 0, 2 and +-inf.

    grad_x = g * sign(x) |x|^(p-1) / ||x||_p^(p-1), taken as 0 where ||x||_p = 0 or x = 0
    (p = 1 gives g * sign(x)). From d||x||_p = ||x||_p^(1-p) sum sign(x_i)|x_i|^(p-1) dx_i:
    Magnus & Neudecker (1999); PyTorch's linalg_vector_norm_backward (FunctionsManual.cpp).
    """

    name = "vector_norm"
    formula = "grad_x = g * sign(x) |x|^(p-1) / ||x||_p^(p-1)"
    domain = "nonzero"  # the kink of |x| at 0 is not differentiable
    examples = [
        (((3,),), {"ord": 3.0, "axis": (0,), "keepdims": False}),
        (((2, 3),), {"ord": 1.0, "axis": (0, 1), "keepdims": False}),
        (((2, 3),), {"ord": 1.5, "axis": (1,), "keepdims": True}),
        (((4,),), {"ord": 0.5, "axis": (0,), "keepdims": False}),
        (((3,),), {"ord": -2.0, "axis": (0,), "keepdims": False}),
        (((),), {"ord": 3.0, "axis": (), "keepdims": False}),
    ]

    @staticmethod
    def forward(ctx, x, ord, axis, keepdims):
        if x.dtype == object:
            exponent = backend.sympy().nsimplify(ord)  # exact, so SymPy can cancel powers
            return _object_sum(backend.abs(x) ** exponent, axis, keepdims) ** (1 / exponent)
        return _reduce_shape(_scaled_power_sum(x, ord, axis), axis, keepdims)

    @staticmethod
    def vjp(ctx, grad):
        (x,) = ctx.parents
        ord, axis, keepdims = ctx.attrs["ord"], ctx.attrs["axis"], ctx.attrs["keepdims"]
        out = _expand(ctx.output, x.shape, axis, keepdims)
        g = _expand(grad, x.shape, axis, keepdims)
        sign = Tensor._constant(backend.sign(x._data))
        magnitude = ops.abs_(x)
        if x.dtype == object:
            ratio = ops.pow_scalar(ops.div(magnitude, out), backend.sympy().nsimplify(ord) - 1)
            return (ops.mul(ops.mul(g, sign), ratio),)
        # Zero norm or zero entry: subgradient 0 (for p < 1, |0|^(p-1) would be inf).
        # Comparisons with == 0, not > 0, so that NaN entries propagate.
        zero_norm = out._data == 0
        inactive = np.broadcast_to(zero_norm, x.shape) | (x._data == 0)
        safe_out = ops.where(zero_norm, 1.0, out)
        safe_magnitude = ops.where(inactive, 1.0, magnitude)
        ratio = ops.pow_scalar(ops.div(safe_magnitude, safe_out), ord - 1)
        return (ops.where(inactive, 0.0, ops.mul(ops.mul(g, sign), ratio)),)


@register
class VectorNormInf(Primitive):
    """max |x| (ord = inf, ``largest``) or min |x| (ord = -inf) over ``axis``.

    grad_x = g * sign(x) on the entries that attain the extreme, shared equally by ties
    (PyTorch's amax/amin rule), 0 elsewhere. Numeric only: SymPy cannot order symbols.
    """

    name = "vector_norm_inf"
    formula = "grad_x = g * sign(x) * [|x| = extreme] / (number of ties)"
    symbolic = False
    domain = "distinct"
    examples = [
        (((5,),), {"largest": True, "axis": (0,), "keepdims": False}),
        (((2, 3),), {"largest": False, "axis": (1,), "keepdims": True}),
        (((),), {"largest": True, "axis": (), "keepdims": False}),
    ]

    @staticmethod
    def forward(ctx, x, largest, axis, keepdims):
        backend.require_numeric("vector_norm(ord=inf)", x)
        magnitude = np.abs(x)
        kept = (np.max if largest else np.min)(magnitude, axis=axis, keepdims=True)
        if ctx is not None:
            ctx.saved = np.sign(x) * _tie_weights(magnitude, kept, axis)
        return _reduce_shape(kept, axis, keepdims)

    @staticmethod
    def vjp(ctx, grad):
        (x,) = ctx.parents
        g = _expand(grad, x.shape, ctx.attrs["axis"], ctx.attrs["keepdims"])
        return (ops.mul(g, Tensor._constant(ctx.saved)),)


@register
class CountNonzero(Primitive):
    """The number of non-zero entries over ``axis`` (vector_norm with ord = 0).

    grad_x = 0: a step function is flat wherever it is differentiable, and PyTorch
    returns 0 at the jumps too. Numeric only: SymPy cannot decide whether a symbol is 0.
    """

    name = "count_nonzero"
    formula = "grad_x = 0"
    symbolic = False
    domain = "nonzero"
    examples = [
        (((3, 4),), {"axis": (1,), "keepdims": False}),
        (((5,),), {"axis": (0,), "keepdims": True}),
        (((),), {"axis": (), "keepdims": False}),
    ]

    @staticmethod
    def forward(ctx, x, axis, keepdims):
        backend.require_numeric("vector_norm(ord=0)", x)
        return np.sum(x != 0, axis=axis, keepdims=keepdims).astype(x.dtype)

    @staticmethod
    def vjp(ctx, grad):
        (x,) = ctx.parents
        return (Tensor._constant(np.zeros(x.shape, dtype=x.dtype)),)


# ---------------------------------------------------------------------------------------
# Fused primitives: matrix norms (over the last two axes; matrix_norm moves them there)
# ---------------------------------------------------------------------------------------
@register
class MatrixNormAbsSum(Primitive):
    """Largest or smallest column (``by`` = "column": ord 1, -1) or row (``by`` = "row":
    ord inf, -inf) sum of |A|, over the last two axes.

    grad_A = g * sign(A) on the extreme column (or row), shared equally by tied columns,
    0 elsewhere: the 1-norm's gradient sign(a) on the column that the max picks. Giles
    (2008); PyTorch composes it as amax(sum(abs(A))), with the same tie rule.
    """

    name = "matrix_norm_abs"
    no_zero_d = "a matrix norm needs a matrix (at least 2 axes)"
    formula = "grad_A = g * sign(A) * [column (row) is the extreme] / (number of ties)"
    symbolic = False
    domain = "distinct"
    examples = [
        (((3, 4),), {"by": "column", "largest": True}),
        (((2, 3, 2),), {"by": "row", "largest": False}),
    ]

    @staticmethod
    def forward(ctx, a, by, largest):
        backend.require_numeric("matrix_norm(ord=1/inf)", a)
        # A column sum runs down the rows (axis -2); the extreme is then taken along -1.
        sum_axis, pick_axis = (-2, -1) if by == "column" else (-1, -2)
        if a.shape[pick_axis] == 0:
            raise ValueError(
                f"matrix_norm: the {'max' if largest else 'min'} {by} sum of a matrix with no "
                f"{by}s (shape {a.shape}) is undefined; the input must have at least one {by}"
            )
        sums = np.sum(np.abs(a), axis=sum_axis, keepdims=True)
        extreme = (np.max if largest else np.min)(sums, axis=pick_axis, keepdims=True)
        if ctx is not None:
            ctx.saved = np.sign(a) * _tie_weights(sums, extreme, pick_axis)
        return extreme[..., 0, 0]

    @staticmethod
    def vjp(ctx, grad):
        spread = ops.reshape(grad, grad.shape + (1, 1))
        return (ops.mul(spread, Tensor._constant(ctx.saved)),)


@register
class MatrixNormSVD(Primitive):
    """The nuclear norm (``which`` = "nuc": sum of singular values), the spectral norm
    ("max": sigma_1, ord 2) or the smallest singular value ("min": sigma_n, ord -2), over
    the last two axes.

    grad_A = g * U diag(w) V^T with the thin SVD A = U diag(s) V^T and w = 1 for 'nuc'
    (so U V^T), w = e_1 for ord 2 (so u_1 v_1^T) and w = e_n for ord -2; tied extreme
    singular values share w equally (eye(2) gives 0.5 I for ord 2, as PyTorch). From
    d sigma_i = u_i^T dA v_i: Giles (2008), 3.2; Townsend (2016); PyTorch's svd_backward.
    A recorded VJP (``create_graph=True``) builds U and V with the ``svd_u``/``svd_v``
    primitives, so second derivatives follow the singular vectors (the SVD differential,
    F_ij = 1/(s_j^2 - s_i^2)); w is piecewise constant and enters as a constant. Second
    derivatives need distinct singular values: at repeated ones ``svd_u`` raises.
    """

    name = "matrix_norm_svd"
    no_zero_d = "a matrix norm needs a matrix (at least 2 axes)"
    formula = "grad_A = g * U diag(w) V^T  (w = 1: nuc; e_1: ord 2; e_n: ord -2)"
    symbolic = False
    examples = [
        (((3, 2),), {"which": "nuc"}),
        (((2, 3),), {"which": "max"}),
        (((2, 3, 3),), {"which": "min"}),
        (((2, 4, 3),), {"which": "nuc"}),
    ]

    @staticmethod
    def forward(ctx, a, which):
        label = {"nuc": "'nuc'", "max": "2", "min": "-2"}[which]
        backend.require_numeric(f"matrix_norm(ord={label})", a)
        if min(a.shape[-2:]) == 0:
            raise ValueError(f"matrix_norm(ord={label}): the matrices are empty (shape {a.shape})")
        finite = np.isfinite(a).all(axis=(-2, -1))
        if not finite.all():
            where = "" if a.ndim == 2 else f" (first at batch index {tuple(int(i) for i in np.argwhere(~finite)[0])})"
            raise np.linalg.LinAlgError(
                f"matrix_norm(ord={label}): the input of shape {a.shape} holds NaN or inf{where}; the SVD is not "
                f"defined for non-finite values (torch.linalg.svd refuses them too). Find where "
                f"they came from, e.g. with minigrad.detect_anomaly()."
            )
        if ctx is None:
            values = np.linalg.svd(a, compute_uv=False)
        else:
            left, values, right = np.linalg.svd(a, full_matrices=False)
        if which == "nuc":
            weights = np.ones_like(values)
        else:
            extreme = (values[..., :1] if which == "max" else values[..., -1:])
            weights = _tie_weights(values, extreme, -1)
        if ctx is not None:
            ctx.saved = (left, weights, right)  # U, w, V^T
        return np.sum(values * weights, axis=-1)

    @staticmethod
    def vjp(ctx, grad):
        left, weights, right = ctx.saved
        spread = ops.reshape(grad, grad.shape + (1, 1))
        (a,) = ctx.parents
        if GradMode.enabled and a.requires_grad:  # recorded: U and V follow A
            left_weighted = ops.mul(svd_u(a), Tensor._constant(weights[..., None, :]))
            return (ops.mul(spread, ops.matmul(left_weighted, ops.swapaxes(svd_v(a), -1, -2))),)
        return (ops.mul(spread, Tensor._constant((left * weights[..., None, :]) @ right)),)


# ---------------------------------------------------------------------------------------
# Checks shared by the public functions
# ---------------------------------------------------------------------------------------
def _check_real(x: Tensor, function: str) -> None:
    if x.dtype == object:
        return
    if x.dtype.kind == "c":
        raise TypeError(
            f"{function}: complex tensors are not supported (dtype {x.dtype}); minigrad's "
            f"gradients are real. Take the norm of abs(x), or of the real and imaginary parts stacked."
        )
    if x.dtype.kind != "f":
        raise TypeError(
            f"{function}: expected a floating-point tensor, got dtype {x.dtype}; convert it first "
            f"(e.g. x.astype('float64'))"
        )


def _check_ord(ord, function: str) -> float:
    if isinstance(ord, bool) or not isinstance(ord, (int, float, np.integer, np.floating)):
        raise TypeError(
            f"{function}: ord must be a number (2, 1, inf, -inf, 0 or any real p), got {ord!r}; "
            f"'fro' and 'nuc' are matrix norms (use matrix_norm)"
        )
    ord = float(ord)
    if math.isnan(ord):
        raise ValueError(f"{function}: ord must be a number, got NaN")
    return ord


def _matrix_ord(ord):
    """The canonical form of a matrix ord ('fro', 'nuc', 2, -2, 1, -1, inf, -inf)."""
    if isinstance(ord, str):
        if ord in ("fro", "nuc"):
            return ord
    elif not isinstance(ord, bool) and isinstance(ord, (int, float, np.integer, np.floating)):
        for allowed in MATRIX_ORDS[2:]:
            if float(ord) == allowed:
                return allowed
    shown = int(ord) if isinstance(ord, (int, float)) and not isinstance(ord, bool) and float(ord).is_integer() else ord
    raise ValueError(f"linalg.matrix_norm: Order {shown} not supported.")


def _matrix_axes(x: Tensor, axis, function: str) -> tuple:
    if x.ndim < 2:
        raise ValueError(
            f"linalg.matrix_norm: The input tensor A must have at least 2 dimensions; got shape "
            f"{x.shape}. Use vector_norm for vectors."
        )
    if not isinstance(axis, (tuple, list)) or len(axis) != 2:
        raise ValueError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {axis!r}")
    first, second = (ops.normalize_axis(a, x.ndim, function)[0] for a in axis)
    if first == second:
        raise ValueError(f"linalg.matrix_norm: dims must be different. Got {tuple(axis)}")
    return first, second


# ---------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------
def frobenius_norm(x, axis=None, keepdims: bool = False) -> Tensor:
    """sqrt(sum x^2) over ``axis`` (None: every axis), as one fused node.

    >>> frobenius_norm(minigrad.arange(9.0).reshape(3, 3))   # sqrt(204) = 14.2829
    """
    x = lift(x)
    _check_real(x, "frobenius_norm")
    axes = ops.normalize_axis(axis, x.ndim, "frobenius_norm")
    return apply(FrobeniusNorm, x, axis=axes, keepdims=bool(keepdims))


def frobenius_norm_composed(x, axis=None, keepdims: bool = False) -> Tensor:
    """The naive twin sqrt(sum(x*x)): right everywhere except x = 0, where its gradient is
    0 * inf = NaN (d sqrt(s)/ds = 1/(2 sqrt(s)) is inf at s = 0). Kept naive on purpose."""
    x = lift(x)
    return ops.sqrt(ops.sum_(ops.mul(x, x), axis=axis, keepdims=keepdims))


def vector_norm(x, ord=2, axis=None, keepdims: bool = False) -> Tensor:
    """The vector ``ord``-norm over ``axis`` (None: all entries, as one flat vector).

    ord = 2: sqrt(sum x^2); 1: sum |x|; inf / -inf: max / min |x|; 0: the number of
    non-zero entries (gradient 0); any other real p: (sum |x|^p)^(1/p). As
    torch.linalg.vector_norm (``dim`` is called ``axis`` here, NumPy's name).

    For 0 < p < 1 this is only a quasi-norm (the triangle inequality fails) and its true
    derivative at a zero entry is infinite; for p < 0 a zero entry makes the whole result 0.
    In both cases the gradient at a zero entry is 0, as in PyTorch (a convention, like the
    subgradient 0 of |x| at 0), so no inf or NaN reaches the optimiser.
    """
    x = lift(x)
    _check_real(x, "vector_norm")
    ord = _check_ord(ord, "vector_norm")
    axes = ops.normalize_axis(axis, x.ndim, "vector_norm")
    keepdims = bool(keepdims)
    if ord == 2:
        return apply(FrobeniusNorm, x, axis=axes, keepdims=keepdims)
    if ord == 0:
        return apply(CountNonzero, x, axis=axes, keepdims=keepdims)
    if math.isinf(ord):
        if any(x.shape[i] == 0 for i in axes):
            raise ValueError(
                f"linalg.vector_norm cannot compute the {'inf' if ord > 0 else '-inf'} norm on an "
                f"empty tensor because the operation does not have an identity (shape {x.shape}, axis {axis!r})"
            )
        return apply(VectorNormInf, x, largest=ord > 0, axis=axes, keepdims=keepdims)
    return apply(VectorNorm, x, ord=ord, axis=axes, keepdims=keepdims)


def vector_norm_composed(x, ord=2, axis=None, keepdims: bool = False) -> Tensor:
    """The same norm from abs, pow, sum, max and sqrt (the twin for the three-way checks)."""
    x = lift(x)
    ord = _check_ord(ord, "vector_norm")
    if ord == 2:
        return frobenius_norm_composed(x, axis, keepdims)
    if ord == math.inf:
        return ops.max_(ops.abs_(x), axis=axis, keepdims=keepdims)
    if ord == -math.inf:
        return ops.min_(ops.abs_(x), axis=axis, keepdims=keepdims)
    if ord == 0:
        # sum of |x|^0 over the non-zero entries: 1 each, and d(|x|^0) = 0 * |x|^-1 is
        # formed as an exact 0 by pow_scalar, so no NaN.
        ones = ops.pow_scalar(ops.abs_(x), 0)
        return ops.sum_(ops.where(x.data != 0, ones, 0.0), axis=axis, keepdims=keepdims)
    # Exact exponents on SymPy data, or SymPy cannot cancel x**3.0 against x**(1/3)
    exponent = backend.sympy().nsimplify(ord) if x.dtype == object else ord
    powered = ops.pow_scalar(ops.abs_(x), exponent)
    return ops.pow_scalar(ops.sum_(powered, axis=axis, keepdims=keepdims), 1 / exponent)


def _move_last(x: Tensor, axes: tuple) -> Tensor:
    """x with the two matrix axes moved last (in the given order), the rest in order."""
    rest = tuple(i for i in range(x.ndim) if i not in axes)
    order = rest + tuple(axes)
    return x if order == tuple(range(x.ndim)) else ops.transpose(x, order)


def _restore(out: Tensor, x: Tensor, axes: tuple, keepdims: bool) -> Tensor:
    return ops.reshape(out, _kept_shape(x.shape, axes)) if keepdims else out


def matrix_norm(x, ord="fro", axis=(-2, -1), keepdims: bool = False) -> Tensor:
    """A matrix norm over the two axes ``axis`` (default: the last two; batched over the rest).

    'fro'  sqrt(sum a_ij^2)              'nuc'  sum of singular values (gradient U V^T)
    2, -2  largest / smallest singular value (gradient u_1 v_1^T / u_n v_n^T)
    1, -1  max / min column sum of |a|    inf, -inf  max / min row sum of |a|
    As torch.linalg.matrix_norm (``dim`` is ``axis``). 'nuc', 2 and -2 need numbers (SVD).
    """
    x = lift(x)
    _check_real(x, "matrix_norm")
    ord = _matrix_ord(ord)
    axes = _matrix_axes(x, axis, "matrix_norm")
    keepdims = bool(keepdims)
    if ord == "fro":
        return apply(FrobeniusNorm, x, axis=tuple(sorted(axes)), keepdims=keepdims)
    moved = _move_last(x, axes)
    if ord in ("nuc", 2, -2):
        which = {"nuc": "nuc", 2: "max", -2: "min"}[ord]
        return _restore(apply(MatrixNormSVD, moved, which=which), x, axes, keepdims)
    by = "column" if abs(ord) == 1 else "row"
    return _restore(apply(MatrixNormAbsSum, moved, by=by, largest=ord > 0), x, axes, keepdims)


def matrix_norm_composed(x, ord="fro", axis=(-2, -1), keepdims: bool = False) -> Tensor:
    """The same matrix norm from engine primitives: sqrt/sum/mul for 'fro' (the naive twin),
    sum/max/min of the engine's ``svdvals`` for 'nuc', 2, -2, and max/min of sum(abs) for
    1, -1, inf, -inf."""
    x = lift(x)
    ord = _matrix_ord(ord)
    axes = _matrix_axes(x, axis, "matrix_norm")
    if ord == "fro":
        return frobenius_norm_composed(x, axis=axes, keepdims=keepdims)
    moved = _move_last(x, axes)
    if ord in ("nuc", 2, -2):
        values = ops.svdvals(moved)
        reduce = {"nuc": ops.sum_, 2: ops.max_, -2: ops.min_}[ord]
        out = reduce(values, axis=-1)
    else:
        sum_axis, pick_axis = (-2, -1) if abs(ord) == 1 else (-1, -2)
        sums = ops.sum_(ops.abs_(moved), axis=sum_axis, keepdims=True)
        pick = ops.max_ if ord > 0 else ops.min_
        out = ops.reshape(pick(sums, axis=pick_axis, keepdims=True), moved.shape[:-2])
    return _restore(out, x, axes, bool(keepdims))


def norm(x, ord=None, axis=None, keepdims: bool = False) -> Tensor:
    """numpy.linalg.norm / torch.linalg.norm: a vector or a matrix norm by the usual rules.

    ord None, axis None: the 2-norm of all entries, flattened (any number of dimensions).
    One axis (an int, or a 1-tuple): vector_norm. Two axes: matrix_norm. ord given and
    axis None: the input must be 1-D (vector norm) or 2-D (matrix norm).
    """
    x = lift(x)
    if axis is not None and not isinstance(axis, (tuple, list)):
        axis = (axis,)
    if axis is None:
        if ord is None:
            return frobenius_norm(x, None, keepdims)
        if x.ndim not in (1, 2):
            raise ValueError(
                f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got {x.ndim}D."
            )
        axis = tuple(range(x.ndim))
    if len(axis) == 1:
        if isinstance(ord, str):
            raise ValueError(
                f"linalg.matrix_norm: The input tensor A must have at least 2 dimensions: ord={ord!r} is a "
                f"matrix norm, but the input has shape {x.shape} and axis {tuple(axis)} names one axis; "
                f"pass two axes or a numeric ord."
            )
        return vector_norm(x, 2 if ord is None else ord, axis, keepdims)
    if len(axis) == 2:
        return matrix_norm(x, "fro" if ord is None else ord, tuple(axis), keepdims)
    raise ValueError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. Got {list(axis)}")


def normalize(x, axis: int = -1, eps: float = 1e-12) -> Tensor:
    """x / max(||x||_2, eps) along ``axis`` (PyTorch's F.normalize, p = 2).

    At x = 0 this is 0 / eps = 0 with gradient g / eps * (the identity, since max picks
    eps, a constant): finite, never NaN. Composed from the fused frobenius_norm, maximum
    and div. On SymPy data the eps floor is left out (symbols cannot be compared with it).
    """
    x = lift(x)
    if not eps > 0:
        raise ValueError(f"normalize: eps must be > 0, got {eps!r}")
    length = frobenius_norm(x, axis=axis, keepdims=True)
    if x.dtype == object:
        return ops.div(x, length)
    return ops.div(x, ops.maximum(length, eps))


def power_iteration(weight, u, n_iter: int = 1, eps: float = 1e-12) -> tuple:
    """``n_iter`` steps of v = normalize(W^T u), u = normalize(W v); returns (sigma, u, v).

    sigma = u^T W v estimates the largest singular value of the 2-D ``weight``. Built from
    engine ops, so it is differentiable through every step; wrap the call in
    ``minigrad.no_grad()`` (or detach u and v) for PyTorch's constant-u-and-v convention.
    With one step, d sigma / dW = u v^T + u_0 (W^T u - sigma v)^T / ||W^T u_0||
    (``norms.derivations.derivation("power_iteration")``; the second term is what flows
    through the iteration). Miyato et al. (2018), algorithm 1.
    """
    weight, u = lift(weight), lift(u)
    if weight.ndim != 2:
        raise ValueError(
            f"power_iteration: the weight must be 2-D, got shape {weight.shape}; reshape it to "
            f"(out, -1) first, as spectral_norm does"
        )
    if u.shape != (weight.shape[0],):
        raise ValueError(
            f"power_iteration: u must have shape ({weight.shape[0]},) for a weight of shape "
            f"{weight.shape}, got {u.shape}"
        )
    if isinstance(n_iter, bool) or not isinstance(n_iter, (int, np.integer)) or n_iter < 1:
        raise ValueError(f"power_iteration: n_iter must be a positive int, got {n_iter!r}")
    for _ in range(n_iter):
        # One call per step, so that each step transposes W anew: the graph this function
        # records (and the order in which backward sums the steps' terms) stays as it was.
        u, v = _power_steps(weight, u, 1, eps)
    sigma = ops.sum_(ops.mul(u, ops.matmul(weight, v)))
    return sigma, u, v


def _power_steps(matrix: Tensor, u: Tensor, n_iterations: int, eps: float) -> tuple:
    """``n_iterations`` steps of v = normalize(M^T u), u = normalize(M v); returns (u, v).

    The loop behind :func:`power_iteration` and ``spectral_norm``, on checked arguments.
    Written with engine ops, so under ``no_grad`` it is plain NumPy work and with grad mode
    on it records the graph that differentiating through the iteration needs.
    """
    matrix_t = ops.transpose(matrix, (1, 0))
    v = None
    for _ in range(n_iterations):
        v = normalize(ops.matmul(matrix_t, u), axis=0, eps=eps)
        u = normalize(ops.matmul(matrix, v), axis=0, eps=eps)
    return u, v
