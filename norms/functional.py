"""Vector and matrix norms as graph operations, with NumPy's and PyTorch's dispatch rules.

Fused primitives (forward and closed-form VJP side by side)
    frobenius_norm   ||x||_2 over some axes (the Frobenius norm of a matrix)
                     d||x||/dx = x / ||x||, and 0 at x = 0 (the subgradient PyTorch picks)
    vector_norm      (sum |x|^p)^(1/p) for any real p other than 0 and +-inf
                     d/dx = sign(x) |x|^(p-1) / ||x||_p^(p-1), and 0 at x = 0
    vector_norm_inf  max |x| (ord=inf) or min |x| (ord=-inf)
                     d/dx = sign(x) on the entries that attain it, shared equally by ties
Composed on top of those and of the engine's ``svdvals``
    vector_norm(x, ord=0)   the count of non-zero entries (no gradient: it is flat)
    matrix_norm(A, ord)     'fro', 'nuc', 2, -2, 1, -1, inf, -inf over the last two axes
    norm(x, ord, axis)      NumPy's / torch.linalg.norm's dispatch, with their error cases
    normalize(x, axis, eps) x / max(||x||, eps), never NaN at zero
    power_iteration(W, u)   sigma, u, v by v = normalize(W^T u), u = normalize(W v)
The composed twins (``*_composed``) build each fused norm from engine primitives, so the
tests can compare fused VJP, composed autodiff and finite differences. The twin of the
Frobenius norm is the naive sqrt(sum(x*x)): its gradient at x = 0 is 0/0 = NaN, which is
exactly the point tutorial 2 makes, so it is kept that way on purpose.

Overflow and underflow: ||x|| is computed as m * ||x / m|| with m = max |x|, so entries
of 1e300 or 1e-300 give the right finite answer where sum(x*x) alone would overflow to inf
or underflow to 0.

References: Magnus & Neudecker, "Matrix Differential Calculus" (1999), ch. 9; M. Giles,
"An extended collection of matrix derivative results" (2008); the behaviour of
torch.linalg.vector_norm / matrix_norm / norm (PyTorch 2.13) and numpy.linalg.norm.
"""
from __future__ import annotations

import math

import numpy as np

from minigrad import backend, ops
from minigrad.ops.registry import Primitive, apply, register
from minigrad.tensor import Tensor, lift

__all__ = [
    "frobenius_norm", "frobenius_norm_composed", "vector_norm", "vector_norm_composed",
    "matrix_norm", "norm", "normalize", "power_iteration",
]


def _kept_shape(shape: tuple, axes: tuple) -> tuple:
    return tuple(1 if i in axes else size for i, size in enumerate(shape))


def _expand(tensor: Tensor, shape: tuple, axes: tuple, keepdims: bool) -> Tensor:
    """A reduced result (or its gradient) reshaped so it broadcasts against the input."""
    return tensor if keepdims else ops.reshape(tensor, _kept_shape(shape, axes))


def _scaled_abs(x: np.ndarray, axes: tuple):
    """|x| / m and m = max |x| (1 where the slice is all zero), kept-dims shaped."""
    magnitude = np.abs(x)
    scale = np.max(magnitude, axis=axes, keepdims=True) if x.size else np.ones(_kept_shape(x.shape, axes))
    scale = np.where(scale > 0, scale, 1.0)
    return magnitude / scale, scale


def _reduce_shape(kept: np.ndarray, axes: tuple, keepdims: bool) -> np.ndarray:
    return kept if keepdims else np.squeeze(kept, axis=axes)


# ---------------------------------------------------------------------------------------
# Fused primitives
# ---------------------------------------------------------------------------------------
@register
class FrobeniusNorm(Primitive):
    """||x||_2 = sqrt(sum x^2) over ``axis``.

    grad_x = g * x / ||x||, taken as 0 where ||x|| = 0 (the subgradient of smallest size,
    as PyTorch). Reference: Magnus & Neudecker (1999), d||X||_F = tr(X^T dX) / ||X||_F.
    """

    name = "frobenius_norm"
    formula = "d||x||: grad_x = g * x / ||x|| (0 where ||x|| = 0)"
    examples = [
        (((2, 3),), {"axis": (0, 1), "keepdims": False}),
        (((3, 4),), {"axis": (1,), "keepdims": True}),
        (((2, 2, 3),), {"axis": (1, 2), "keepdims": False}),
        (((4,),), {"axis": (0,), "keepdims": False}),
    ]

    @staticmethod
    def forward(ctx, x, axis, keepdims):
        if x.dtype == object:
            return backend.sqrt(_object_sum(x * x, axis, keepdims))
        scaled, scale = _scaled_abs(x, axis)
        kept = scale * np.sqrt(np.sum(scaled * scaled, axis=axis, keepdims=True))
        return _reduce_shape(kept, axis, keepdims)

    @staticmethod
    def vjp(ctx, grad):
        (x,) = ctx.parents
        axis, keepdims = ctx.attrs["axis"], ctx.attrs["keepdims"]
        out = _expand(ctx.output, x.shape, axis, keepdims)
        g = _expand(grad, x.shape, axis, keepdims)
        if x.dtype == object:
            return (ops.div(ops.mul(g, x), out),)
        positive = out.data > 0
        # Divide by 1 where the norm is 0, then zero those slices: no 0/0 ever formed.
        safe = ops.where(positive, out, 1.0)
        return (ops.where(np.broadcast_to(positive, x.shape), ops.div(ops.mul(g, x), safe), 0.0),)


@register
class VectorNorm(Primitive):
    """||x||_p = (sum |x|^p)^(1/p) over ``axis`` for a real p (not 0, not +-inf).

    grad_x = g * sign(x) |x|^(p-1) / ||x||_p^(p-1), taken as 0 where ||x||_p = 0.
    (p = 1 gives g * sign(x); p = 2 gives g * x / ||x||.) Reference: Magnus & Neudecker.
    """

    name = "vector_norm"
    formula = "grad_x = g * sign(x) |x|^(p-1) / ||x||_p^(p-1)"
    domain = "positive"  # so SymPy can drop |.|; the tests cover signs separately
    examples = [
        (((3,),), {"ord": 3.0, "axis": (0,), "keepdims": False}),
        (((2, 3),), {"ord": 1.0, "axis": (0, 1), "keepdims": False}),
        (((2, 3),), {"ord": 2.0, "axis": (1,), "keepdims": True}),
        (((4,),), {"ord": 0.5, "axis": (0,), "keepdims": False}),
        (((3,),), {"ord": -2.0, "axis": (0,), "keepdims": False}),
    ]

    @staticmethod
    def forward(ctx, x, ord, axis, keepdims):
        if x.dtype == object:
            return _symbolic_power_norm(x, ord, axis, keepdims)
        scaled, scale = _scaled_abs(x, axis)
        with np.errstate(divide="ignore"):  # a negative p meets |x| = 0: the norm is then 0
            kept = scale * np.sum(scaled**ord, axis=axis, keepdims=True) ** (1.0 / ord)
        return _reduce_shape(kept, axis, keepdims)

    @staticmethod
    def vjp(ctx, grad):
        (x,) = ctx.parents
        ord, axis, keepdims = ctx.attrs["ord"], ctx.attrs["axis"], ctx.attrs["keepdims"]
        out = _expand(ctx.output, x.shape, axis, keepdims)
        g = _expand(grad, x.shape, axis, keepdims)
        sign = Tensor._constant(backend.sign(x.data))
        magnitude = ops.abs_(x)
        if x.dtype == object:  # exact exponents, or SymPy cannot cancel x**2.0 against x**2
            ratio = ops.pow_scalar(ops.div(magnitude, out), backend.sympy().nsimplify(ord) - 1)
            return (ops.mul(ops.mul(g, sign), ratio),)
        positive = np.broadcast_to(out.data > 0, x.shape) & (x.data != 0)
        safe_out = ops.where(out.data > 0, out, 1.0)
        safe_magnitude = ops.where(positive, magnitude, 1.0)
        ratio = ops.pow_scalar(ops.div(safe_magnitude, safe_out), ord - 1)
        return (ops.where(positive, ops.mul(ops.mul(g, sign), ratio), 0.0),)


def _symbolic_power_norm(x, ord, axis, keepdims):
    sp = backend.sympy()
    exponent = sp.nsimplify(ord)
    return _object_sum(backend.abs(x) ** exponent, axis, keepdims) ** (1 / exponent)


def _object_sum(x: np.ndarray, axis: tuple, keepdims: bool) -> np.ndarray:
    """np.sum of SymPy entries, kept an ndarray (a full reduction returns a bare expression)."""
    total = np.sum(x, axis=axis, keepdims=keepdims)
    return total if isinstance(total, np.ndarray) else backend.to_object_array(total)


@register
class VectorNormInf(Primitive):
    """max |x| (ord = inf) or min |x| (ord = -inf) over ``axis``.

    grad_x = g * sign(x) on the entries that attain the extreme, divided equally among
    ties (PyTorch's rule); 0 elsewhere. Numeric only: SymPy cannot order symbols.
    """

    name = "vector_norm_inf"
    formula = "grad_x = g * sign(x) * [|x| = extreme] / (number of ties)"
    symbolic = False
    domain = "distinct"
    examples = [
        (((5,),), {"largest": True, "axis": (0,), "keepdims": False}),
        (((2, 3),), {"largest": False, "axis": (1,), "keepdims": True}),
    ]

    @staticmethod
    def forward(ctx, x, largest, axis, keepdims):
        backend.require_numeric("vector_norm(ord=inf)", x)
        magnitude = np.abs(x)
        kept = (np.max if largest else np.min)(magnitude, axis=axis, keepdims=True)
        if ctx is not None:
            hits = (magnitude == kept).astype(x.dtype)
            ctx.saved = np.sign(x) * hits / np.sum(hits, axis=axis, keepdims=True)
        return _reduce_shape(kept, axis, keepdims)

    @staticmethod
    def vjp(ctx, grad):
        (x,) = ctx.parents
        g = _expand(grad, x.shape, ctx.attrs["axis"], ctx.attrs["keepdims"])
        return (ops.mul(g, Tensor._constant(ctx.saved)),)


# ---------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------
def _axes(x: Tensor, axis, function: str) -> tuple:
    return ops.normalize_axis(axis, x.ndim, function)


def frobenius_norm(x, axis=None, keepdims: bool = False) -> Tensor:
    """sqrt(sum x^2) over ``axis`` (None: every axis), as one fused node."""
    x = lift(x)
    _check_float(x, "frobenius_norm")
    return apply(FrobeniusNorm, x, axis=_axes(x, axis, "frobenius_norm"), keepdims=bool(keepdims))


def frobenius_norm_composed(x, axis=None, keepdims: bool = False) -> Tensor:
    """The naive twin sqrt(sum(x*x)): right everywhere except x = 0, where its gradient is NaN."""
    x = lift(x)
    return ops.sqrt(ops.sum_(ops.mul(x, x), axis=axis, keepdims=keepdims))


def _check_float(x: Tensor, function: str) -> None:
    if x.dtype != object and x.dtype.kind not in "fc":
        raise TypeError(
            f"{function}: expected a floating-point tensor, got dtype {x.dtype}; convert it first "
            f"(e.g. x.astype('float64'))"
        )


def _check_ord(ord, function: str) -> float:
    if isinstance(ord, bool) or not isinstance(ord, (int, float, np.integer, np.floating)):
        raise TypeError(f"{function}: ord must be a number (or inf / -inf), got {ord!r}")
    ord = float(ord)
    if math.isnan(ord):
        raise ValueError(f"{function}: ord must not be NaN")
    return ord


def vector_norm(x, ord=2, axis=None, keepdims: bool = False) -> Tensor:
    """The p-norm over ``axis`` (None: all entries, flattened), for ord 2, 1, inf, -inf, 0, any p.

    ord=0 counts the non-zero entries (a step function: its gradient is 0).
    """
    x = lift(x)
    _check_float(x, "vector_norm")
    ord = _check_ord(ord, "vector_norm")
    axes = _axes(x, axis, "vector_norm")
    if ord == 2:
        return apply(FrobeniusNorm, x, axis=axes, keepdims=bool(keepdims))
    if math.isinf(ord):
        return apply(VectorNormInf, x, largest=ord > 0, axis=axes, keepdims=bool(keepdims))
    if ord == 0:
        backend.require_numeric("vector_norm(ord=0)", x.data)
        count = np.sum(x.data != 0, axis=axes, keepdims=bool(keepdims)).astype(x.dtype)
        # A step function: flat almost everywhere, so its gradient is 0 (x * 0 keeps the graph).
        return ops.add(Tensor._constant(np.asarray(count)), ops.mul(ops.sum_(x, axis=axes, keepdims=bool(keepdims)), 0.0))
    return apply(VectorNorm, x, ord=ord, axis=axes, keepdims=bool(keepdims))


def vector_norm_composed(x, ord=2, axis=None, keepdims: bool = False) -> Tensor:
    """The same norm from abs, pow, sum and max (the twin for the three-way checks)."""
    x = lift(x)
    ord = _check_ord(ord, "vector_norm")
    if ord == math.inf:
        return ops.max_(ops.abs_(x), axis=axis, keepdims=keepdims)
    if ord == -math.inf:
        return ops.min_(ops.abs_(x), axis=axis, keepdims=keepdims)
    if ord == 2:
        return frobenius_norm_composed(x, axis, keepdims)
    return ops.pow_scalar(ops.sum_(ops.pow_scalar(ops.abs_(x), ord), axis=axis, keepdims=keepdims), 1.0 / ord)


MATRIX_ORDS = ("fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf)


def _matrix_ord(ord):
    for allowed in MATRIX_ORDS:
        if isinstance(ord, str) or isinstance(allowed, str):
            if ord == allowed:
                return ord
        elif not isinstance(ord, bool) and isinstance(ord, (int, float, np.number)) and float(ord) == allowed:
            return allowed
    shown = ord if isinstance(ord, str) else (int(ord) if isinstance(ord, (int, float)) and float(ord).is_integer() else ord)
    raise ValueError(f"linalg.matrix_norm: Order {shown} not supported.")


def matrix_norm(x, ord="fro", axis=(-2, -1), keepdims: bool = False) -> Tensor:
    """A matrix norm over the two axes ``axis`` (default: the last two; batched over the rest).

    'fro'  sqrt(sum a_ij^2)            'nuc'  sum of singular values (gradient U V^T)
    2, -2  largest / smallest singular value (gradient u_1 v_1^T / u_n v_n^T; tied
           singular values share it equally, so eye(2) gives 0.5 I as in PyTorch)
    1, -1  max / min column sum of |a|     inf, -inf  max / min row sum of |a|
    """
    x = lift(x)
    _check_float(x, "matrix_norm")
    ord = _matrix_ord(ord)
    if x.ndim < 2:
        raise ValueError(
            f"linalg.matrix_norm: The input tensor A must have at least 2 dimensions; got shape "
            f"{x.shape}. Use vector_norm for vectors."
        )
    axes = tuple(sorted(_axes(x, axis, "matrix_norm")))
    if len(axes) != 2:
        raise ValueError(f"matrix_norm: axis must name two different axes, got {axis!r}")
    if ord == "fro":
        return apply(FrobeniusNorm, x, axis=axes, keepdims=bool(keepdims))
    if ord in ("nuc", 2, -2):
        backend.require_numeric(f"matrix_norm(ord={ord!r})", x.data)
        # Move the two axes last, as svdvals works on the last two.
        rest = tuple(i for i in range(x.ndim) if i not in axes)
        moved = ops.transpose(x, rest + axes)
        values = ops.svdvals(moved)
        if ord == "nuc":
            out = ops.sum_(values, axis=-1)
        else:
            # max/min rather than picking an index: tied singular values share the
            # gradient equally (PyTorch's amax rule; eye(2) gives 0.5 I).
            out = ops.max_(values, axis=-1) if ord == 2 else ops.min_(values, axis=-1)
        return ops.reshape(out, _kept_shape(x.shape, axes)) if keepdims else out
    # 1 / -1: columns (sum over rows, the first axis); inf / -inf: rows (sum over columns).
    sum_axis, pick_axis = (axes[0], axes[1]) if abs(ord) == 1 else (axes[1], axes[0])
    sums = apply(VectorNorm, x, ord=1.0, axis=(sum_axis,), keepdims=True)
    picked = ops.max_(sums, axis=pick_axis, keepdims=True) if ord > 0 else ops.min_(sums, axis=pick_axis, keepdims=True)
    return picked if keepdims else ops.reshape(picked, tuple(s for i, s in enumerate(x.shape) if i not in axes))


def norm(x, ord=None, axis=None, keepdims: bool = False) -> Tensor:
    """numpy.linalg.norm / torch.linalg.norm's dispatch.

    ord None, axis None: the 2-norm of all entries flattened. An int axis (or one axis):
    a vector norm. Two axes: a matrix norm. With ord given and no axis the input must be
    1-D (vector norm) or 2-D (matrix norm).
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
                f"linalg.norm: ord={ord!r} is a matrix norm; the input tensor A must have at least "
                f"2 dimensions (or pass two axes). Got shape {x.shape} with axis {tuple(axis)}."
            )
        return vector_norm(x, 2 if ord is None else ord, axis, keepdims)
    if len(axis) == 2:
        return matrix_norm(x, "fro" if ord is None else ord, tuple(axis), keepdims)
    raise ValueError(f"linalg.norm: axis must name one or two axes, got {tuple(axis)}")


def normalize(x, axis: int = -1, eps: float = 1e-12) -> Tensor:
    """x / max(||x||_2, eps) along ``axis`` (PyTorch's F.normalize): 0 at x = 0, never NaN."""
    x = lift(x)
    if not eps > 0:
        raise ValueError(f"normalize: eps must be > 0, got {eps!r}")
    length = frobenius_norm(x, axis=axis, keepdims=True)
    if x.dtype == object:  # symbols are not compared with eps: the floor matters only at 0
        return ops.div(x, length)
    return ops.div(x, ops.maximum(length, eps))


def power_iteration(weight, u, n_iter: int = 1, eps: float = 1e-12) -> tuple:
    """``n_iter`` steps of v = normalize(W^T u), u = normalize(W v); returns (sigma, u, v).

    sigma = u^T W v estimates the largest singular value of the 2-D ``weight``. Built from
    engine ops, so it is differentiable through every step (wrap the call in no_grad() for
    PyTorch's constant-u-and-v convention). Miyato et al. (2018), algorithm 1.
    """
    weight, u = lift(weight), lift(u)
    if weight.ndim != 2:
        raise ValueError(f"power_iteration: the weight must be 2-D, got shape {weight.shape}")
    if u.shape != (weight.shape[0],):
        raise ValueError(
            f"power_iteration: u must have shape ({weight.shape[0]},) for a weight of shape "
            f"{weight.shape}, got {u.shape}"
        )
    if not isinstance(n_iter, (int, np.integer)) or n_iter < 1:
        raise ValueError(f"power_iteration: n_iter must be a positive int, got {n_iter!r}")
    v = None
    for _ in range(n_iter):
        v = normalize(ops.matmul(ops.transpose(weight, (1, 0)), u), axis=0, eps=eps)
        u = normalize(ops.matmul(weight, v), axis=0, eps=eps)
    sigma = ops.sum_(ops.mul(u, ops.matmul(weight, v)))
    return sigma, u, v
