"""Special-function primitives: sin, cos and the error function erf.

d sin(a)/da = cos(a), d cos(a)/da = -sin(a) and d erf(a)/da = 2/sqrt(pi) exp(-a^2); each
VJP is written with minigrad ops, so it can be differentiated again and runs unchanged on
SymPy data.
"""
from __future__ import annotations

import math

import numpy as np

from minigrad import backend
from minigrad.ops.elementwise import exp, mul, neg
from minigrad.ops.registry import Primitive, apply, register
from minigrad.tensor import Tensor, lift

_UNARY = [(((),), {}), (((5,),), {}), (((3, 4),), {})]
_symbolic_sin = backend._elementwise("sin")
_symbolic_cos = backend._elementwise("cos")
_symbolic_erf = backend._elementwise("erf")
# NumPy has no erf; math.erf is correctly rounded to about one ulp (C99's erf).
_float_erf = np.frompyfunc(math.erf, 1, 1)


@register
class Sin(Primitive):
    name = "sin"
    formula = "d(sin a): grad_a = g*cos(a)"
    examples = _UNARY

    @staticmethod
    def forward(ctx, a):
        return _symbolic_sin(a) if a.dtype == object else np.sin(a)

    @staticmethod
    def vjp(ctx, grad):
        return (mul(grad, cos(ctx.parents[0])),)


@register
class Cos(Primitive):
    name = "cos"
    formula = "d(cos a): grad_a = -g*sin(a)"
    examples = _UNARY

    @staticmethod
    def forward(ctx, a):
        return _symbolic_cos(a) if a.dtype == object else np.cos(a)

    @staticmethod
    def vjp(ctx, grad):
        return (neg(mul(grad, sin(ctx.parents[0]))),)


@register
class Erf(Primitive):
    """The error function erf(a) = 2/sqrt(pi) * integral_0^a exp(-t^2) dt (used by GELU)."""

    name = "erf"
    formula = "d(erf a): grad_a = g * 2/sqrt(pi) * exp(-a^2)"
    examples = _UNARY

    @staticmethod
    def forward(ctx, a):
        if a.dtype == object:
            return _symbolic_erf(a)
        return np.asarray(_float_erf(a), dtype=a.dtype)

    @staticmethod
    def vjp(ctx, grad):
        (a,) = ctx.parents
        if a.dtype == object:
            sp = backend.sympy()
            slope = mul(exp(neg(mul(a, a))), Tensor._constant(backend.to_object_array(2 / sp.sqrt(sp.pi))))
        else:
            slope = mul(exp(neg(mul(a, a))), 2.0 / math.sqrt(math.pi))
        return (mul(grad, slope),)


def erf(a):
    """Elementwise error function."""
    return apply(Erf, a if isinstance(a, Tensor) else lift(a))


def sin(a):
    """Elementwise sine."""
    return apply(Sin, a if isinstance(a, Tensor) else lift(a))


def cos(a):
    """Elementwise cosine."""
    return apply(Cos, a if isinstance(a, Tensor) else lift(a))
