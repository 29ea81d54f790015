"""Each norm's gradient as a textbook closed form, written in SymPy and proved by SymPy.

These do not use the engine at all: every entry builds a norm's forward expression from
plain SymPy symbols, writes its gradient the way a textbook states it, and asks SymPy
whether ``closed_form - sympy.diff(forward)`` simplifies to zero. The engine's fused VJPs
are checked against ``sympy.diff`` separately (``minigrad.symbolic.symbolic_check``) and
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

from dataclasses import dataclass, field
from typing import Callable

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
    "vector_inf": r"\frac{\partial \|x\|_\infty}{\partial x} = \operatorname{sign}(x_k)\, e_k,\quad k = \arg\max_i |x_i|",
    "normalize": r"\frac{\partial \langle G, x/\|x\|\rangle}{\partial x} = \frac{G - y\,\langle G, y\rangle}{\|x\|},\quad y = \frac{x}{\|x\|}",
    "matrix_1": r"\frac{\partial \|A\|_1}{\partial A} = \operatorname{sign}(A)\ \text{on column } k = \arg\max_j \textstyle\sum_i |a_{ij}|",
    "matrix_inf": r"\frac{\partial \|A\|_\infty}{\partial A} = \operatorname{sign}(A)\ \text{on row } k = \arg\max_i \textstyle\sum_j |a_{ij}|",
    "nuclear": r"\frac{\partial \|A\|_*}{\partial A} = U V^\top",
    "matrix_2": r"\frac{\partial \|A\|_2}{\partial A} = u_1 v_1^\top",
    "matrix_-2": r"\frac{\partial \sigma_{\min}(A)}{\partial A} = u_n v_n^\top",
    "power_iteration": r"\frac{\partial \sigma}{\partial W} = u v^\top + \frac{u_0 (W^\top u - \sigma v)^\top}{\|W^\top u_0\|}",
    "spectral": r"\frac{\partial \langle G, W/\sigma\rangle}{\partial W} = \frac{G}{\sigma} - \frac{\langle G, W\rangle}{\sigma^2}\, u v^\top",
    "weight_norm": r"\nabla_g = \frac{\langle G, v\rangle}{\|v\|},\quad \nabla_v = \frac{g}{\|v\|}\Big(G - \frac{\langle G, v\rangle}{\|v\|^2} v\Big)",
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
