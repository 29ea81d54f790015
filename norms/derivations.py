"""Each norm's gradient as a textbook closed form, written in SymPy and proved by SymPy.

These do not use the engine at all: every entry builds a norm's forward expression from
plain SymPy symbols, writes its gradient the way a textbook states it, and asks SymPy
whether ``closed_form - sympy.diff(forward)`` simplifies to zero. The engine's fused VJPs
are checked against ``sympy.diff`` separately (``minigrad.verification.symbolic_check``) and
against these closed forms numerically (tests/test_derivations.py), so closed form, engine
and SymPy are tied together.

    derivation("frobenius").latex()     the formula, for a notebook
    prove("matrix_2")                   True when SymPy proves the closed form
    for name in DERIVATIONS: print(derivation(name))

Shapes are small (2x2, 2x3, 3 entries) so that the proofs finish in seconds; the algebra
does not depend on the size. Two kinds of entry need a word:

* Max and min (vector inf-norm, matrix 1- and inf-norms) are differentiable only where the
  extreme is strict. Those are proved on a *region*: the symbols are replaced by a
  parametrisation of one open region (``region``, e.g. |x_0| > |x_1| > |x_2|) after
  differentiating, and every other region is the same algebra with the entries renamed.
* The singular-value norms of a 2x2 matrix are written through their closed forms in the
  entries: ||A||_* = sqrt(||A||_F^2 + 2|det A|), sigma_1,2^2 = (||A||_F^2 +- sqrt(||A||_F^4
  - 4 det(A)^2)) / 2. The textbook gradients U V^T and u_1 v_1^T are then written without an
  SVD: U V^T = (A + sign(det A) cof A) / ||A||_* (the polar factor of a 2x2 matrix), and
  u_1 v_1^T = A P / sigma_1 with P = v_1 v_1^T = (A^T A - sigma_2^2 I) / (sigma_1^2 - sigma_2^2).
  The tests check numerically that these are U V^T and u_1 v_1^T of NumPy's SVD.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import sympy as sp

__all__ = ["Derivation", "DERIVATIONS", "derivation", "prove", "is_zero"]


@dataclass
class Derivation:
    """A norm's forward expression, its closed-form gradient, and the symbols they use."""

    name: str
    statement: str          # the closed form in words/maths, as printed
    forward: sp.Expr        # the scalar being differentiated
    variables: list         # the symbols the gradient is taken against
    closed_form: list       # one expression per variable
    reference: str
    #: substitution applied after differentiating: one open region where a max/min is strict
    region: dict = field(default_factory=dict)
    region_note: str = ""

    def differences(self) -> list:
        """closed_form - d(forward)/d(variable), one per variable (all 0 when right)."""
        out = []
        for closed, variable in zip(self.closed_form, self.variables):
            difference = closed - sp.diff(self.forward, variable)
            out.append(difference.subs(self.region) if self.region else difference)
        return out

    def proved(self) -> bool:
        """True when every difference simplifies to 0 (a proof, not a sample)."""
        return all(is_zero(d) for d in self.differences())

    def gradient(self) -> list:
        """sympy.diff of the forward, one entry per variable (what the closed form must equal)."""
        return [sp.diff(self.forward, v) for v in self.variables]

    def latex(self) -> str:
        """The closed form as LaTeX (for notebooks and report.html)."""
        return _LATEX[self.name]

    def _repr_latex_(self) -> str:
        return f"$${self.latex()}$$"

    def __str__(self) -> str:
        where = f"  [on {self.region_note}]" if self.region_note else ""
        return f"{self.name}: {self.statement}  ({self.reference}){where}"


def is_zero(expr: sp.Expr) -> bool:
    """Decide that ``expr`` is identically 0.

    A counterexample first: a value clearly away from 0 at a rational point settles "no"
    at once (``simplify`` can take minutes to fail). Then the proof: rational
    cancellation (square roots are independent generators for it, which is enough for
    most norms), power simplification, and ``simplify`` last.
    """
    combined = sp.together(expr)
    if combined == 0:
        return True
    if _counterexample(combined):
        return False
    if sp.cancel(combined) == 0:
        return True
    if sp.cancel(sp.powsimp(combined)) == 0:
        return True
    return sp.simplify(sp.radsimp(combined)) == 0


def _counterexample(expr: sp.Expr) -> bool:
    """True when ``expr`` is clearly non-zero at a fixed rational point (positive symbols get
    positive values). A tiny value proves nothing either way: the proof steps decide then."""
    point = {}
    for index, symbol in enumerate(sorted(expr.free_symbols, key=str)):
        value = sp.Rational(7 + 5 * index, 3 + (index % 4))
        point[symbol] = value if symbol.is_positive or index % 2 == 0 else -value
    try:
        value = complex(sp.N(expr.xreplace(point), 30))
    except (TypeError, ValueError, ZeroDivisionError):
        return False
    return abs(value) > 1e-12


# ---------------------------------------------------------------------------------------
# Symbols
# ---------------------------------------------------------------------------------------
def _matrix(name: str, rows: int, cols: int, **assumptions) -> sp.Matrix:
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i}_{j}", real=True, **assumptions))


def _vector(name: str, size: int, **assumptions) -> sp.Matrix:
    return sp.Matrix(size, 1, lambda i, _: sp.Symbol(f"{name}_{i}", real=True, **assumptions))


def _inner(a: sp.Matrix, b: sp.Matrix) -> sp.Expr:
    return sum(x * y for x, y in zip(a, b))


def _length(a: sp.Matrix) -> sp.Expr:
    return sp.sqrt(_inner(a, a))


def _positive(*names: str) -> list:
    return [sp.Symbol(n, positive=True) for n in names]


# ---------------------------------------------------------------------------------------
# Vector norms
# ---------------------------------------------------------------------------------------
def _frobenius() -> Derivation:
    x = _matrix("x", 2, 3)
    norm = _length(x)
    return Derivation(
        "frobenius", "d||X||_F / dX = X / ||X||_F", norm, list(x), [v / norm for v in x],
        "Magnus & Neudecker (1999), ch. 9",
    )


def _vector_2() -> Derivation:
    x = _vector("x", 3)
    norm = _length(x)
    return Derivation("vector_2", "d||x||_2 / dx = x / ||x||_2", norm, list(x), [v / norm for v in x],
                      "Magnus & Neudecker (1999)")


def _vector_1() -> Derivation:
    x = _vector("x", 3)
    return Derivation("vector_1", "d||x||_1 / dx = sign(x)", sum(sp.Abs(v) for v in x), list(x),
                      [sp.sign(v) for v in x], "Magnus & Neudecker (1999); subgradient 0 at x_i = 0")


def _vector_p() -> Derivation:
    p = 3
    x = _vector("x", 3)  # real, any sign: sign(x) is part of the claim
    norm = sum(sp.Abs(v) ** p for v in x) ** sp.Rational(1, p)
    return Derivation(
        "vector_p", "d||x||_p / dx = sign(x) |x|^(p-1) / ||x||_p^(p-1)  (p = 3)", norm, list(x),
        [sp.sign(v) * sp.Abs(v) ** (p - 1) / norm ** (p - 1) for v in x], "Magnus & Neudecker (1999)",
    )


def _vector_p_any() -> Derivation:
    p = sp.Symbol("p", positive=True)
    x = _vector("x", 3)
    norm = sum(sp.Abs(v) ** p for v in x) ** (1 / p)
    return Derivation(
        "vector_p_any", "d||x||_p / dx = sign(x) |x|^(p-1) / ||x||_p^(p-1)  (p a symbol, p > 0)", norm,
        list(x), [sp.sign(v) * sp.Abs(v) ** (p - 1) / norm ** (p - 1) for v in x], "Magnus & Neudecker (1999)",
    )


def _vector_inf() -> Derivation:
    x = _vector("x", 3)
    m, d1, d2 = _positive("m", "d_1", "d_2")
    closed = [sp.sign(x[0]), 0, 0]  # sign(x_k) on the entry that attains the max, 0 elsewhere
    return Derivation(
        "vector_inf", "d||x||_inf / dx = sign(x_k) e_k, k = argmax |x_i| (ties share it)",
        sp.Max(*[sp.Abs(v) for v in x]), list(x), closed, "Magnus & Neudecker (1999); PyTorch's amax rule",
        region={x[0]: -(m + d1 + d2), x[1]: m + d1, x[2]: -m},
        region_note="|x_0| > |x_1| > |x_2| (signs -, +, -); other orders rename the entries",
    )


def _normalize() -> Derivation:
    x = _vector("x", 3)
    grad_y = _vector("G", 3)
    n = _length(x)
    y = x / n
    closed = list((grad_y - y * _inner(grad_y, y)) / n)
    return Derivation(
        "normalize", "d<G, x/||x||>/dx = (G - y <G, y>) / ||x||,  y = x/||x||", _inner(grad_y, y), list(x), closed,
        "Magnus & Neudecker (1999); PyTorch's F.normalize",
    )


# ---------------------------------------------------------------------------------------
# Matrix norms
# ---------------------------------------------------------------------------------------
def _matrix_abs_sum(by: str) -> Derivation:
    a = _matrix("a", 2, 2)
    s = sp.Symbol("s", positive=True)
    if by == "column":
        sums = [sp.Abs(a[0, j]) + sp.Abs(a[1, j]) for j in range(2)]
        closed = sp.Matrix([[sp.sign(a[0, 0]), 0], [sp.sign(a[1, 0]), 0]])
        region = {a[0, 0]: -(sums[1] + s)}  # column 0's sum exceeds column 1's by s
        name, ord_, note = "matrix_1", "1", "column 0 the larger (a_00 = -(|a_01| + |a_11| + s))"
    else:
        sums = [sp.Abs(a[i, 0]) + sp.Abs(a[i, 1]) for i in range(2)]
        closed = sp.Matrix([[sp.sign(a[0, 0]), sp.sign(a[0, 1])], [0, 0]])
        region = {a[0, 0]: -(sums[1] + s)}
        name, ord_, note = "matrix_inf", "inf", "row 0 the larger (a_00 = -(|a_10| + |a_11| + s))"
    return Derivation(
        name, f"d||A||_{ord_} / dA = sign(A) on the largest {by} (sum of |a|), 0 elsewhere (ties share it)",
        sp.Max(*sums), list(a), list(closed), "Giles (2008); PyTorch's amax(sum(abs(A))) rule",
        region=region, region_note=note,
    )


def _two_by_two(a: sp.Matrix):
    """||A||_F^2, det A and the squared singular values of a 2x2 matrix, in its entries."""
    frobenius_sq = _inner(a, a)
    det = a.det()
    root = sp.sqrt(frobenius_sq**2 - 4 * det**2)
    return frobenius_sq, det, (frobenius_sq + root) / 2, (frobenius_sq - root) / 2


def _nuclear() -> Derivation:
    a = _matrix("a", 2, 2)
    frobenius_sq, det, _, _ = _two_by_two(a)
    nuclear = sp.sqrt(frobenius_sq + 2 * sp.Abs(det))  # (s1 + s2)^2 = s1^2 + s2^2 + 2 s1 s2
    cofactor = sp.Matrix([[a[1, 1], -a[1, 0]], [-a[0, 1], a[0, 0]]])
    polar = (a + sp.sign(det) * cofactor) / nuclear  # = U V^T for a 2x2 matrix
    return Derivation(
        "nuclear", "d||A||_* / dA = U V^T  (2x2: (A + sign(det A) cof A) / ||A||_*)", nuclear, list(a), list(polar),
        "Giles (2008), 3.2; Townsend (2016); PyTorch's svd_backward",
    )


def _singular(largest: bool) -> Derivation:
    a = _matrix("a", 2, 2)
    _, _, big_sq, small_sq = _two_by_two(a)
    mine_sq, other_sq = (big_sq, small_sq) if largest else (small_sq, big_sq)
    sigma = sp.sqrt(mine_sq)
    # v v^T projects onto the right singular vector: (A^T A - s_other^2 I) / (s^2 - s_other^2),
    # and u = A v / sigma, so u v^T = A (v v^T) / sigma.
    projector = (a.T * a - other_sq * sp.eye(2)) / (mine_sq - other_sq)
    closed = a * projector / sigma
    if largest:
        name, statement = "matrix_2", "d||A||_2 / dA = u_1 v_1^T  (the top singular pair)"
    else:
        name, statement = "matrix_-2", "d sigma_min(A) / dA = u_n v_n^T  (the bottom singular pair)"
    return Derivation(name, statement, sigma, list(a), list(closed),
                      "Giles (2008), 3.2; Magnus & Neudecker (1999), ch. 8; PyTorch's svd_backward")


def _power_iteration() -> Derivation:
    w = _matrix("w", 2, 2)
    u0 = sp.Matrix([sp.Rational(3, 5), sp.Rational(4, 5)])
    a = w.T * u0  # v = a / ||a||
    b = w * a     # u = b / ||b||, and sigma = u^T W v = ||b|| / ||a||
    sigma = _length(b) / _length(a)
    v, u = a / _length(a), b / _length(b)
    closed = u * v.T + u0 * (w.T * u - sigma * v).T / _length(a)
    return Derivation(
        "power_iteration",
        "one step v = W^T u0/||W^T u0||, u = W v/||W v||, sigma = u^T W v:  "
        "d sigma/dW = u v^T + u0 (W^T u - sigma v)^T / ||W^T u0||",
        sigma, list(w), list(closed),
        "Miyato et al. (2018), algorithm 1; the first term alone is the constant-u,v gradient",
    )


# ---------------------------------------------------------------------------------------
# The parametrisations and activation norms (their engines live in other files of norms/)
# ---------------------------------------------------------------------------------------
def _spectral() -> Derivation:
    w = _matrix("w", 2, 2)
    g = _matrix("g", 2, 2)
    u = sp.Matrix([sp.Rational(3, 5), sp.Rational(4, 5)])
    v = sp.Matrix([sp.Rational(5, 13), sp.Rational(-12, 13)])
    sigma = (u.T * w * v)[0]
    forward = _inner(g, w) / sigma  # <G, W / sigma>
    outer = u * v.T
    closed = g / sigma - (_inner(g, w) / sigma**2) * outer
    return Derivation(
        "spectral", "d<G, W/sigma>/dW = G/sigma - (<G, W>/sigma^2) u v^T  (u, v constant)", forward, list(w),
        list(closed), "Miyato et al. (2018); PyTorch torch/nn/utils/spectral_norm.py",
    )


def _weight_norm() -> Derivation:
    g = sp.Symbol("g", real=True)
    v = _vector("v", 3)
    grad_w = _vector("G", 3)
    n = _length(v)
    forward = _inner(grad_w, g * v / n)  # <G, w> with w = g v / ||v||
    s = _inner(grad_w, v)
    closed = [s / n] + list((g / n) * (grad_w - v * s / n**2))
    return Derivation(
        "weight_norm", "grad_g = <G, v>/||v||;  grad_v = (g/||v||) (G - v <G, v>/||v||^2)", forward, [g, *v],
        closed, "Salimans & Kingma (2016), eq. 3",
    )


def _standardised(name: str, centre: bool) -> Derivation:
    x = _vector("x", 3)
    grad_y = _vector("G", 3)
    count = len(x)
    mean = sum(x) / count if centre else 0
    centred = [v - mean for v in x]
    scale = sp.sqrt(sum(c**2 for c in centred) / count)
    y = [c / scale for c in centred]
    forward = sum(gy * yy for gy, yy in zip(grad_y, y))
    mean_g = sum(grad_y) / count if centre else 0
    mean_gy = sum(gy * yy for gy, yy in zip(grad_y, y)) / count
    closed = [(gy - mean_g - yy * mean_gy) / scale for gy, yy in zip(grad_y, y)]
    statement = (
        "grad_x = (G - mean(G) - y mean(G y)) / sigma" if centre else "grad_x = (G - y mean(G y)) / rms(x)"
    )
    reference = {
        "layer_norm": "Ba, Kiros & Hinton (2016)",
        "batch_norm": "Ioffe & Szegedy (2015), the classic backward",
        "rms_norm": "Zhang & Sennrich (2019)",
        "pixel_norm": "Karras et al. (2018), ProGAN",
    }[name]
    return Derivation(name, statement, forward, list(x), closed, reference)


DERIVATIONS: dict = {
    "frobenius": _frobenius,
    "vector_2": _vector_2,
    "vector_1": _vector_1,
    "vector_p": _vector_p,
    "vector_p_any": _vector_p_any,
    "vector_inf": _vector_inf,
    "normalize": _normalize,
    "matrix_1": lambda: _matrix_abs_sum("column"),
    "matrix_inf": lambda: _matrix_abs_sum("row"),
    "nuclear": _nuclear,
    "matrix_2": lambda: _singular(largest=True),
    "matrix_-2": lambda: _singular(largest=False),
    "power_iteration": _power_iteration,
    "spectral": _spectral,
    "weight_norm": _weight_norm,
    "layer_norm": lambda: _standardised("layer_norm", centre=True),
    "batch_norm": lambda: _standardised("batch_norm", centre=True),
    "rms_norm": lambda: _standardised("rms_norm", centre=False),
    "pixel_norm": lambda: _standardised("pixel_norm", centre=False),
}

_LATEX = {
    "frobenius": r"\frac{\partial \|X\|_F}{\partial X} = \frac{X}{\|X\|_F}",
    "vector_2": r"\frac{\partial \|x\|_2}{\partial x} = \frac{x}{\|x\|_2}",
    "vector_1": r"\frac{\partial \|x\|_1}{\partial x} = \operatorname{sign}(x)",
    "vector_p": r"\frac{\partial \|x\|_p}{\partial x} = \frac{\operatorname{sign}(x)\,|x|^{p-1}}{\|x\|_p^{p-1}}",
    "vector_p_any": r"\frac{\partial \|x\|_p}{\partial x} = \frac{\operatorname{sign}(x)\,|x|^{p-1}}{\|x\|_p^{p-1}}",
    "vector_inf": (r"\frac{\partial \|x\|_\infty}{\partial x} = \operatorname{sign}(x_k)\, e_k,\quad k = \arg\max_i "
        r"|x_i|"),
    "normalize": (r"\frac{\partial \langle G, x/\|x\|\rangle}{\partial x} = \frac{G - y\,\langle G, "
        r"y\rangle}{\|x\|},\quad y = \frac{x}{\|x\|}"),
    "matrix_1": (r"\frac{\partial \|A\|_1}{\partial A} = \operatorname{sign}(A)\ \text{on column } k = \arg\max_j "
        r"\textstyle\sum_i |a_{ij}|"),
    "matrix_inf": (r"\frac{\partial \|A\|_\infty}{\partial A} = \operatorname{sign}(A)\ \text{on row } k = \arg\max_i "
        r"\textstyle\sum_j |a_{ij}|"),
    "nuclear": r"\frac{\partial \|A\|_*}{\partial A} = U V^\top",
    "matrix_2": r"\frac{\partial \|A\|_2}{\partial A} = u_1 v_1^\top",
    "matrix_-2": r"\frac{\partial \sigma_{\min}(A)}{\partial A} = u_n v_n^\top",
    "power_iteration": (r"\frac{\partial \sigma}{\partial W} = u v^\top + \frac{u_0 (W^\top u - \sigma "
        r"v)^\top}{\|W^\top u_0\|}"),
    "spectral": (r"\frac{\partial \langle G, W/\sigma\rangle}{\partial W} = \frac{G}{\sigma} - \frac{\langle G, "
        r"W\rangle}{\sigma^2}\, u v^\top"),
    "weight_norm": (r"\nabla_g = \frac{\langle G, v\rangle}{\|v\|},\quad \nabla_v = \frac{g}{\|v\|}\Big(G - "
        r"\frac{\langle G, v\rangle}{\|v\|^2} v\Big)"),
    "layer_norm": r"\nabla_x = \frac{1}{\sigma}\big(G - \overline{G} - \hat y\,\overline{G \hat y}\big)",
    "batch_norm": r"\nabla_x = \frac{1}{\sigma}\big(G - \overline{G} - \hat x\,\overline{G \hat x}\big)",
    "rms_norm": r"\nabla_x = \frac{1}{\mathrm{rms}(x)}\big(G - y\,\overline{G y}\big)",
    "pixel_norm": r"\nabla_x = \frac{1}{\mathrm{rms}(x)}\big(G - y\,\overline{G y}\big)",
}


def derivation(name: str) -> Derivation:
    """The derivation called ``name`` (one of ``DERIVATIONS``)."""
    try:
        build: Callable = DERIVATIONS[name]
    except KeyError:
        raise KeyError(f"derivation: unknown norm {name!r}; choose one of {', '.join(DERIVATIONS)}") from None
    return build()


def prove(name: str) -> bool:
    """True when SymPy proves the closed form of ``name`` equal to ``sympy.diff``."""
    return derivation(name).proved()


# ---------------------------------------------------------------------------------------
# The engine beside the textbook: ``minigrad derive NAME``
# ---------------------------------------------------------------------------------------
# Each entry runs a norm of the engine on symbols and states the textbook gradient for the
# same symbols, entry by entry, so that minigrad.verification.derive_textbook can prove the two
# equal. Functions of a tensor output are made scalar with a symbolic cotangent G (the
# incoming gradient grad_w, grad_y of the textbook), so the closed form is the VJP itself.
# eps is 0 (SymPy's symbols are never 0): with eps, every sqrt(mean) below is sqrt(mean + eps).
def _cotangent(shape: tuple) -> np.ndarray:
    """Symbols G_i_j of ``shape``: the incoming gradient, the same in engine and closed form."""
    out = np.empty(shape, dtype=object)
    for index in np.ndindex(*shape):
        out[index] = sp.Symbol("_".join(["G", *map(str, index)]), real=True)
    return out


def _against(cotangent: np.ndarray, output) -> "object":
    """<G, output>: the scalar whose gradient is the VJP of ``output`` at G."""
    from minigrad.tensor import Tensor

    return (Tensor._constant(cotangent) * output).sum()


def _object(matrix) -> np.ndarray:
    return np.array(sp.Matrix(matrix).tolist(), dtype=object)


def _rows_of(statistic: Callable, x: np.ndarray, axis: int) -> np.ndarray:
    """Apply ``statistic`` (a closed form on one group, as a column Matrix) to each group along ``axis``."""
    moved = np.moveaxis(x, axis, -1)
    g = np.moveaxis(_cotangent(x.shape), axis, -1)
    out = np.empty(moved.shape, dtype=object)
    for index in np.ndindex(*moved.shape[:-1]):
        out[index] = np.array(list(statistic(sp.Matrix(list(moved[index])), sp.Matrix(list(g[index])))), dtype=object)
    return np.moveaxis(out, -1, axis)


def _standard_form(centre: bool) -> Callable:
    """(G - mean(G) - y mean(G y)) / sigma (centred) or (G - y mean(G y)) / rms, on one group."""
    def one_group(x: sp.Matrix, g: sp.Matrix) -> sp.Matrix:
        count = len(x)
        centred = x - sp.ones(count, 1) * (sum(x) / count) if centre else x
        scale = sp.sqrt(sum(c**2 for c in centred) / count)
        y = centred / scale
        mean_gy = sum(gi * yi for gi, yi in zip(g, y)) / count
        mean_g = sum(g) / count if centre else 0
        return (g - sp.ones(count, 1) * mean_g - y * mean_gy) / scale

    return one_group


def _sigma_squares(a: sp.Matrix) -> tuple:
    _, _, big, small = _two_by_two(a)
    return big, small


def _singular_pair(largest: bool) -> Callable:
    """u v^T of the top (or bottom) singular pair of a 2x2 W, written without an SVD."""
    def closed(w):
        a = sp.Matrix(w.tolist())
        big, small = _sigma_squares(a)
        mine, other = (big, small) if largest else (small, big)
        projector = (a.T * a - other * sp.eye(2)) / (mine - other)  # v v^T
        return [_object(a * projector / sp.sqrt(mine))]

    return closed


def _engine_sigma(largest: bool) -> Callable:
    """sigma_1 (or sigma_2) of a 2x2 W from engine ops, through its closed form in the entries."""
    def sigma(w):
        import minigrad as mg

        frobenius_sq = (w * w).sum()
        det = w[0, 0] * w[1, 1] - w[0, 1] * w[1, 0]
        root = mg.sqrt(frobenius_sq * frobenius_sq - 4 * det * det)
        return mg.sqrt((frobenius_sq + root) / 2 if largest else (frobenius_sq - root) / 2)

    return sigma


def _engine_nuclear(w):
    import minigrad as mg

    det = w[0, 0] * w[1, 1] - w[0, 1] * w[1, 0]
    return mg.sqrt((w * w).sum() + 2 * mg.abs(det))


def _nuclear_closed(w):
    a = sp.Matrix(w.tolist())
    nuclear = sp.sqrt(_inner(a, a) + 2 * sp.Abs(a.det()))
    cofactor = sp.Matrix([[a[1, 1], -a[1, 0]], [-a[0, 1], a[0, 0]]])
    return [_object((a + sp.sign(a.det()) * cofactor) / nuclear)]


def _only(*allowed: tuple) -> Callable:
    def check(shapes):
        if tuple(map(tuple, shapes)) not in allowed:
            wanted = " or ".join(" ".join("x".join(map(str, s)) for s in option) for option in allowed)
            got = " ".join("x".join(map(str, s)) or "scalar" for s in shapes)
            return (f"this closed form is written for --shape {wanted} (the SVD has no symbolic form, so the "
                    f"singular values are written through 2x2 formulas); got {got}")
        return None

    return check


def _dims(*counts: int) -> Callable:
    def check(shapes):
        for shape, count in zip(shapes, counts):
            if len(shape) != count:
                return f"expects a {count}-D input, got shape {'x'.join(map(str, shape)) or 'scalar'}"
        return None

    return check


def _weight_norm_shapes(shapes):
    g, v = shapes
    if len(v) != 2 or tuple(g) != (v[0], 1):
        return (f"weight norm (dim=0) takes g of shape Rx1 and v of shape RxC, e.g. --shape 2x1 --shape 2x3; "
                f"got {'x'.join(map(str, g)) or 'scalar'} and {'x'.join(map(str, v)) or 'scalar'}")
    return None


def _weight_norm_closed(g, v):
    grads_g, grads_v = [], []
    cotangent = _cotangent(v.shape)
    for row in range(v.shape[0]):
        vr, gr = sp.Matrix(list(v[row])), sp.Matrix(list(cotangent[row]))
        n = sp.sqrt(_inner(vr, vr))
        grads_v.append(list((g[row, 0] / n) * (sp.eye(len(vr)) - vr * vr.T / n**2) * gr))
        grads_g.append([_inner(gr, vr) / n])
    return [np.array(grads_g, dtype=object), np.array(grads_v, dtype=object)]


_U0 = (sp.Rational(3, 5), sp.Rational(4, 5))
_V0 = (sp.Rational(5, 13), sp.Rational(-12, 13))


def _exact_vector(values) -> "object":
    from minigrad.tensor import Tensor

    return Tensor._constant(np.array(values, dtype=object))


def _power_iteration_closed(w):
    a = sp.Matrix(w.tolist())
    u0 = sp.Matrix(_U0)
    first = a.T * u0
    second = a * first
    v, u = first / _length(first), second / _length(second)
    sigma = _length(second) / _length(first)
    return [_object(u * v.T + u0 * (a.T * u - sigma * v).T / _length(first))]


def _spectral_normalize_closed(w):
    a = sp.Matrix(w.tolist())
    g = sp.Matrix(_cotangent(w.shape).tolist())
    u, v = sp.Matrix(_U0), sp.Matrix(_V0)
    sigma = (u.T * a * v)[0]
    return [_object(g / sigma - (_inner(g, a) / sigma**2) * u * v.T)]


def _register_textbook() -> None:
    from norms import activation, functional, spectral, weight
    from minigrad.verification.textbook import register_derivation

    def register(name, fn, shapes, names, statement, reference, closed_form=None, **options):
        register_derivation(name, fn, shapes, names=names, statement=statement, reference=reference,
                            closed_form=closed_form, **options)

    def norm_of(x):
        return sp.sqrt(sum(e**2 for e in x.reshape(-1)))

    register("frobenius", functional.frobenius_norm, [(2, 2)], ["W"], "d||W||_F / dW = W / ||W||_F",
             "Magnus & Neudecker (1999), ch. 9", lambda w: [w / norm_of(w)], aliases=["frobenius-norm", "fro"])
    register("spectral", _engine_sigma(True), [(2, 2)], ["W"],
             "d||W||_2 / dW = u1 v1^T  (u1, v1 the top singular vectors; for 2x2: u1 v1^T = W P / sigma1 with "
             "P = v1 v1^T = (W^T W - sigma2^2 I) / (sigma1^2 - sigma2^2))",
             "Giles (2008), 3.2; Magnus & Neudecker (1999), ch. 8; PyTorch's svd_backward",
             _singular_pair(True), aliases=["spectral-norm", "matrix-2"], check_shapes=_only(((2, 2),)),
             note="the engine's SVD has no symbolic form, so sigma1 is computed with engine ops from "
                  "sigma1^2 = (||W||_F^2 + sqrt(||W||_F^4 - 4 det(W)^2)) / 2")
    register("sigma-min", _engine_sigma(False), [(2, 2)], ["W"],
             "d sigma_min(W) / dW = u2 v2^T  (the bottom singular pair; matrix_norm ord=-2)",
             "Giles (2008), 3.2; PyTorch's svd_backward", _singular_pair(False),
             aliases=["matrix--2", "matrix_-2"], check_shapes=_only(((2, 2),)),
             note="sigma2^2 = (||W||_F^2 - sqrt(||W||_F^4 - 4 det(W)^2)) / 2, with engine ops")
    register("nuclear", _engine_nuclear, [(2, 2)], ["W"],
             "d||W||_* / dW = U V^T  (for 2x2: (W + sign(det W) cof W) / ||W||_*)",
             "Giles (2008), 3.2; PyTorch's svd_backward", _nuclear_closed, aliases=["nuclear-norm", "nuc"],
             check_shapes=_only(((2, 2),)), note="||W||_* = sqrt(||W||_F^2 + 2 |det W|) for 2x2, with engine ops")
    register("vector-2", lambda x: functional.vector_norm(x, 2), [(3,)], ["x"], "d||x||_2 / dx = x / ||x||_2",
             "Magnus & Neudecker (1999)", lambda x: [x / norm_of(x)], aliases=["l2"])
    register("vector-1", lambda x: functional.vector_norm(x, 1), [(3,)], ["x"], "d||x||_1 / dx = sign(x)",
             "Magnus & Neudecker (1999); subgradient 0 at x_i = 0",
             lambda x: [np.array([sp.sign(e) for e in x.reshape(-1)], dtype=object).reshape(x.shape)],
             domain="nonzero", aliases=["l1"])
    register("vector-p", lambda x: functional.vector_norm(x, 3), [(3,)], ["x"],
             "d||x||_p / dx = sign(x) |x|^(p-1) / ||x||_p^(p-1)  (p = 3)", "Magnus & Neudecker (1999)",
             lambda x: [np.array([sp.sign(e) * sp.Abs(e) ** 2 for e in x.reshape(-1)], dtype=object).reshape(x.shape)
                        / sum(sp.Abs(e) ** 3 for e in x.reshape(-1)) ** sp.Rational(2, 3)],
             domain="nonzero", aliases=["lp"])
    register("vector-inf", lambda x: functional.vector_norm(x, math.inf), [(3,)], ["x"],
             "d||x||_inf / dx = sign(x_k) e_k, k = argmax |x_i|", "Magnus & Neudecker (1999); PyTorch's amax rule",
             derivation=lambda: derivation("vector_inf"), aliases=["linf"])
    register("matrix-1", lambda a: functional.matrix_norm(a, 1), [(2, 2)], ["A"],
             "d||A||_1 / dA = sign(A) on the column of largest sum |a|, 0 elsewhere", "Giles (2008)",
             derivation=lambda: derivation("matrix_1"))
    register("matrix-inf", lambda a: functional.matrix_norm(a, math.inf), [(2, 2)], ["A"],
             "d||A||_inf / dA = sign(A) on the row of largest sum |a|, 0 elsewhere", "Giles (2008)",
             derivation=lambda: derivation("matrix_inf"))
    register("normalize", lambda x: _against(_cotangent(x.shape), functional.normalize(x, axis=0)), [(3,)], ["x"],
             "y = x / ||x||:  grad_x = (G - y <G, y>) / ||x||  (G = grad_y)", "Magnus & Neudecker (1999); F.normalize",
             lambda x: [_object((sp.Matrix(list(_cotangent(x.shape))) - sp.Matrix(list(x)) / norm_of(x)
                                 * _inner(sp.Matrix(list(_cotangent(x.shape))), sp.Matrix(list(x)) / norm_of(x)))
                                / norm_of(x)).reshape(x.shape)],
             check_shapes=_dims(1))
    register("power-iteration", lambda w: functional.power_iteration(w, _exact_vector(_U0), n_iter=1)[0],
             [(2, 2)], ["W"],
             "one step v = W^T u0/||W^T u0||, u = W v/||W v||, sigma = u^T W v:  "
             "d sigma / dW = u v^T + u0 (W^T u - sigma v)^T / ||W^T u0||  (u0 = (3/5, 4/5))",
             "Miyato et al. (2018), algorithm 1", _power_iteration_closed, check_shapes=_only(((2, 2),)))
    register("spectral-normalize",
             lambda w: _against(_cotangent(w.shape),
                                spectral.spectral_normalize(w, _exact_vector(_U0), _exact_vector(_V0))),
             [(2, 2)], ["W"],
             "W / sigma, sigma = u^T W v (u, v constant):  grad_W = G / sigma - (<G, W> / sigma^2) u v^T",
             "Miyato et al. (2018); PyTorch torch/nn/utils/spectral_norm.py", _spectral_normalize_closed,
             check_shapes=_only(((2, 2),)), aliases=["spectral-norm-weight"],
             note="u = (3/5, 4/5) and v = (5/13, -12/13) stand for the power iteration's vectors")
    register("weight-norm", lambda g, v: _against(_cotangent(v.shape), weight.weight_normalize(g, v, dim=0)),
             [(2, 1), (2, 3)], ["g", "v"],
             "w = g v / ||v|| (per row):  grad_v = (g / ||v||) (I - v v^T / ||v||^2) grad_w,  "
             "grad_g = v . grad_w / ||v||  (grad_w = G)",
             "Salimans & Kingma (2016), eq. 3", _weight_norm_closed, domain=["real", "nonzero"],
             check_shapes=_weight_norm_shapes, aliases=["weight"])
    register("layer-norm", lambda x: _against(_cotangent(x.shape), activation.layer_norm(x, x.shape[-1], eps=0.0)),
             [(2, 3)], ["x"],
             "y = (x - mean) / sigma over the last axis:  grad_x = (G - mean(G) - y mean(G y)) / sigma",
             "Ba, Kiros & Hinton (2016)", lambda x: [_rows_of(_standard_form(True), x, -1)],
             check_shapes=_dims(2), note="eps = 0; with eps, sigma = sqrt(var + eps)")
    register("rms-norm", lambda x: _against(_cotangent(x.shape), activation.rms_norm(x, x.shape[-1], eps=0.0)),
             [(2, 3)], ["x"], "y = x / rms(x) over the last axis:  grad_x = (G - y mean(G y)) / rms(x)",
             "Zhang & Sennrich (2019)", lambda x: [_rows_of(_standard_form(False), x, -1)],
             check_shapes=_dims(2), note="eps = 0; with eps, rms = sqrt(mean(x^2) + eps)")
    register("pixel-norm", lambda x: _against(_cotangent(x.shape), activation.pixel_norm(x, 1, eps=0.0)),
             [(2, 3)], ["x"], "y = x / rms(x) over the channels (axis 1):  grad_x = (G - y mean(G y)) / rms(x)",
             "Karras et al. (2018), ProGAN, 4.2", lambda x: [_rows_of(_standard_form(False), x, 1)],
             check_shapes=_dims(2), note="eps = 0; with eps, rms = sqrt(mean(x^2) + eps)")
    register("batch-norm",
             lambda x: _against(_cotangent(x.shape), activation.batch_norm(x, training=True, eps=0.0)), [(3, 2)], ["x"],
             "per feature over the batch of m:  grad_x = (1/m) (1/sigma) (m G - sum(G) - xhat sum(G xhat))",
             "Ioffe & Szegedy (2015), section 3", lambda x: [_rows_of(_standard_form(True), x, 0)],
             check_shapes=_dims(2), note="eps = 0; with eps, sigma = sqrt(var + eps); (1/m)(m G - sum G - "
                                        "xhat sum(G xhat)) is G - mean(G) - xhat mean(G xhat)")


_register_textbook()
