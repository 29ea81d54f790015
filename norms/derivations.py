"""Each norm's gradient as a textbook closed form, written in SymPy and proved by SymPy.

These do not use the engine at all: every entry builds a norm's forward expression from
plain SymPy symbols, writes its gradient the way a textbook states it, and asks SymPy
whether ``closed_form - sympy.diff(forward)`` simplifies to zero. The engine's fused VJPs
are checked against ``sympy.diff`` separately (``minigrad.symbolic.symbolic_check``), so
closed form, engine and SymPy are tied together.

    derivation("frobenius").latex()     the formula, for a notebook
    prove("spectral")                   True when SymPy proves the closed form

Shapes are small (2x2, 2x3) so that the proofs finish in seconds; the algebra does not
depend on the size.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sympy as sp


@dataclass
class Derivation:
    """A norm's forward expression, its closed-form gradient, and the symbols they use."""

    name: str
    statement: str          # the closed form in words/maths, as printed
    forward: sp.Expr        # the scalar being differentiated
    variables: list         # the symbols the gradient is taken against
    closed_form: list       # one expression per variable
    reference: str

    def differences(self) -> list:
        """closed_form - d(forward)/d(variable), one per variable (all 0 when right)."""
        return [c - sp.diff(self.forward, v) for c, v in zip(self.closed_form, self.variables)]

    def proved(self) -> bool:
        return all(sp.simplify(sp.radsimp(sp.together(d))) == 0 for d in self.differences())

    def latex(self) -> str:
        """The closed form as LaTeX (for notebooks and report.html)."""
        return _LATEX[self.name]

    def _repr_latex_(self) -> str:
        return f"$${self.latex()}$$"

    def __str__(self) -> str:
        return f"{self.name}: {self.statement}  ({self.reference})"


def _matrix(name: str, rows: int, cols: int, **assumptions) -> sp.Matrix:
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i}_{j}", real=True, **assumptions))


def _vector(name: str, size: int, **assumptions) -> sp.Matrix:
    return sp.Matrix(size, 1, lambda i, _: sp.Symbol(f"{name}_{i}", real=True, **assumptions))


def _inner(a: sp.Matrix, b: sp.Matrix) -> sp.Expr:
    return sum(x * y for x, y in zip(a, b))


def _frobenius() -> Derivation:
    x = _matrix("x", 2, 3)
    norm = sp.sqrt(_inner(x, x))
    return Derivation(
        "frobenius", "d||X||_F / dX = X / ||X||_F", norm, list(x), [v / norm for v in x],
        "Magnus & Neudecker (1999), ch. 9",
    )


def _vector_2() -> Derivation:
    x = _vector("x", 3)
    norm = sp.sqrt(_inner(x, x))
    return Derivation("vector_2", "d||x||_2 / dx = x / ||x||_2", norm, list(x), [v / norm for v in x], "Magnus & Neudecker (1999)")


def _vector_p() -> Derivation:
    p = 3
    x = _vector("x", 3, positive=True)  # |x| = x here; the sign factor is the same algebra
    norm = sum(v**p for v in x) ** sp.Rational(1, p)
    return Derivation(
        "vector_p", "d||x||_p / dx = sign(x) |x|^(p-1) / ||x||_p^(p-1)  (p = 3)", norm, list(x),
        [v ** (p - 1) / norm ** (p - 1) for v in x], "Magnus & Neudecker (1999)",
    )


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
    n = sp.sqrt(_inner(v, v))
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
    "vector_p": _vector_p,
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
    "vector_p": r"\frac{\partial \|x\|_p}{\partial x} = \frac{\operatorname{sign}(x)\,|x|^{p-1}}{\|x\|_p^{p-1}}",
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
