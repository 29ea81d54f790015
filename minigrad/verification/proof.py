"""Deciding that a SymPy expression is zero: simplification first, exact points second.

A gradient is proved when  engine - reference  simplifies to 0. ``is_zero`` tries the
cheap steps first (cancel, expand, with radicals lifted to new symbols) and ``simplify``
only on small expressions, since it has no timeout and can run for minutes. Where no
proof comes in time, the two sides are compared at random rational points instead
(``agree``): exactly where the values are rational, else to 60 significant digits
(exp, log, sqrt make them irrational). Agreement at points is evidence, not a proof.
"""
from __future__ import annotations

import numpy as np

from minigrad.backend import sympy as _sp

__all__ = ["SIMPLIFY_MAX_OPS", "DIGITS", "is_zero", "simplified", "random_point", "values_at", "agree", "as_float"]

#: differences bigger than this (sympy.count_ops) are not simplified, only expanded/cancelled
SIMPLIFY_MAX_OPS = 400
#: significant digits for comparisons at points whose values are not rational
DIGITS = 60


def is_zero(expr) -> bool:
    """Cheap steps first, ``simplify`` only on small expressions (it can run for minutes)."""
    sp = _sp()
    if expr == 0:
        return True
    if expr.has(sp.Heaviside):
        # Away from its step (the only place a derivative is claimed), H(x) = (1 + sign(x))/2
        # whatever H(0) is taken to be: 1 - H(a - b) and H(b - a) are then seen to agree.
        expr = expr.replace(sp.Heaviside, lambda argument, *at_zero: (1 + sp.sign(argument)) / 2)
    if expr.has(sp.sign):
        # sympy.diff writes d|x|/dx as sign(x), the engine as x/|x|: the same away from the
        # kink (x != 0, where neither is the derivative), and cancel sees that once written alike.
        expr = expr.replace(sp.sign, lambda argument: argument / sp.Abs(argument))
    # cancel treats exp(..), tanh(..), sqrt(..) as independent generators of a rational
    # function; lifting the radicals first (V^(1/2) -> t, V^(3/2) -> t^3) lets it see
    # the relations between powers of the same base, which lengths (square roots of sums
    # of squares) are full of.
    lifted = _lift_radicals(expr)
    if (lifted is not expr and sp.cancel(lifted) == 0) or sp.cancel(expr) == 0:
        return True
    expanded = sp.expand(expr)
    if expanded == 0 or sp.cancel(expanded) == 0:
        return True
    if sp.count_ops(expr) <= SIMPLIFY_MAX_OPS:
        return sp.simplify(expr) == 0
    return False


def _lift_radicals(expr):
    """Replace each base V raised to fractional powers by t^q (t a new positive symbol).

    Sound for proofs: if the result is identically 0 in the symbols and the t's taken as
    independent, it is 0 at t = V^(1/q) too (wherever V > 0, i.e. where the expression is
    real). exp(a - b) is split into exp(a) exp(-b) first, so exp(x - log S) becomes exp(x)/S.
    """
    sp = _sp()
    if not expr.atoms(sp.exp) and not any(
        p.exp.is_Rational and not p.exp.is_Integer for p in expr.atoms(sp.Pow)
    ):
        return expr  # nothing to lift: a plain rational function, cancel as it is
    expr = sp.expand(expr, deep=True, power_exp=True, power_base=False, mul=False,
                     multinomial=False, log=False)
    denominators = {}
    for power in expr.atoms(sp.Pow):
        if power.exp.is_Rational and not power.exp.is_Integer and not power.base.is_Number:
            denominators[power.base] = int(np.lcm(denominators.get(power.base, 1), int(power.exp.q)))
    if not denominators:
        return expr
    mapping = {base: sp.Dummy(f"t{i}", positive=True) ** q for i, (base, q) in enumerate(denominators.items())}
    return expr.xreplace(mapping)


def simplified(expr):
    """``expr`` simplified: ``simplify`` when it is small enough, else only ``cancel``."""
    sp = _sp()
    return sp.simplify(expr) if sp.count_ops(expr) <= SIMPLIFY_MAX_OPS else sp.cancel(expr)


def random_point(symbols, rng) -> dict:
    """A rational value for each symbol, respecting its assumptions (positive, nonzero)."""
    sp = _sp()
    point = {}
    for symbol in symbols:
        value = sp.Rational(int(rng.integers(1, 13)), int(rng.integers(1, 8)))
        if not symbol.is_positive and rng.random() < 0.5:
            value = -value
        point[symbol] = value
    return point


def values_at(expr, point):
    """(value, exact?) of ``expr`` at ``point``: exact rational when possible, else 60 digits."""
    value = expr.xreplace(point)
    if value.is_Rational:
        return value, True
    return value.evalf(DIGITS), False


def agree(engine, reference, point) -> tuple:
    """(agree?, exact?, engine value, reference value) at one point."""
    sp = _sp()
    e, e_exact = values_at(engine, point)
    r, r_exact = values_at(reference, point)
    if e_exact and r_exact:
        return e == r, True, e, r
    difference = abs(sp.N(e - r, DIGITS))
    bound = sp.Float(10) ** (15 - DIGITS) * max(1, abs(sp.N(r, 20)))
    try:
        agree = bool(difference <= bound)
    except TypeError:  # a value that is not a real number (nan, zoo)
        agree = sp.simplify(e - r) == 0
    return agree, False, e, r


def as_float(value) -> float:
    """A SymPy value as a float (nan for what is not a real number)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def short(expr, limit: int = 160) -> str:
    """``expr`` as text, cut to ``limit`` characters for a report."""
    text = str(expr)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def point_text(point: dict) -> str:
    """The first few symbol values of a point, for a report."""
    text = ", ".join(f"{s} = {v}" for s, v in list(point.items())[:6])
    return text + (" ..." if len(point) > 6 else "")
