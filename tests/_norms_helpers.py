"""Checks shared by the norm tests: three-way gradient agreement and SymPy proofs.

``check_three_ways`` compares a fused primitive's VJP with the composed twin's autodiff and
with central finite differences (float64; 1e-10 between the two analytic gradients, 1e-6
relative against finite differences). ``check_second_order`` does the same one level up
(Hessian-vector products). ``prove_symbolic`` compares the engine's gradient on SymPy
symbols with ``sympy.diff``, either as a proof (the difference simplifies to 0) or exactly
at a rational point.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

import minigrad as mg

FD_STEP = 1e-6


def _loss(fn, arrays, wrt, cotangent, create=True):
    tensors = [mg.tensor(a, requires_grad=(i in wrt)) for i, a in enumerate(arrays)]
    out = fn(*tensors)
    return mg.sum(mg.mul(out, mg.tensor(cotangent))), tensors


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def analytic_grads(fn, arrays, wrt, cotangent):
    loss, tensors = _loss(fn, arrays, wrt, cotangent)
    grads = mg.grad(loss, [tensors[i] for i in wrt])
    return [g.data for g in grads]


def numeric_grads(fn, arrays, wrt, cotangent, step: float = FD_STEP):
    """Central differences of sum(fn(*arrays) * cotangent), one input entry at a time."""
    def value(current):
        with mg.no_grad():
            out = fn(*[mg.tensor(a) for a in current])
        return float(np.sum(out.data * cotangent))

    grads = []
    for i in wrt:
        grad = np.zeros_like(arrays[i])
        for index in np.ndindex(*arrays[i].shape):
            plus = [a.copy() for a in arrays]
            minus = [a.copy() for a in arrays]
            plus[i][index] += step
            minus[i][index] -= step
            grad[index] = (value(plus) - value(minus)) / (2 * step)
        grads.append(grad)
    return grads


def check_three_ways(fused, composed, arrays, wrt, rng, fd_rtol: float = 1e-6) -> list:
    """Assert fused VJP = composed autodiff (1e-10) = finite differences (fd_rtol).

    Returns the largest relative errors seen: [fused vs composed, fused vs FD].
    """
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    with mg.no_grad():
        shape = fused(*[mg.tensor(a) for a in arrays]).shape
    cotangent = rng.standard_normal(shape)
    fused_grads = analytic_grads(fused, arrays, wrt, cotangent)
    composed_grads = analytic_grads(composed, arrays, wrt, cotangent)
    fd_grads = numeric_grads(fused, arrays, wrt, cotangent)
    worst = [0.0, 0.0]
    for f, c, n in zip(fused_grads, composed_grads, fd_grads):
        worst[0] = max(worst[0], _rel(f, c))
        worst[1] = max(worst[1], _rel(f, n))
    assert worst[0] < 1e-10, f"fused VJP differs from the composed twin's autodiff: {worst[0]:.3g}"
    assert worst[1] < fd_rtol, f"fused VJP differs from finite differences: {worst[1]:.3g}"
    return worst


def check_second_order(fused, composed, arrays, wrt, rng) -> float:
    """Hessian-vector products through create_graph: fused = composed (1e-9) = FD of the VJP (1e-6)."""
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    with mg.no_grad():
        shape = fused(*[mg.tensor(a) for a in arrays]).shape
    cotangent = rng.standard_normal(shape)
    directions = [rng.standard_normal(arrays[i].shape) for i in wrt]

    def hvp(fn, current):
        loss, tensors = _loss(fn, current, wrt, cotangent)
        inputs = [tensors[i] for i in wrt]
        first = mg.grad(loss, inputs, create_graph=True)
        total = None
        for g, d in zip(first, directions):
            term = mg.sum(mg.mul(g, mg.tensor(d)))
            total = term if total is None else mg.add(total, term)
        # A bias enters linearly: its second derivative is 0 and the grad reports it unused.
        seconds = mg.grad(total, inputs, allow_unused=True)
        return [np.zeros(t.shape) if g is None else g.data for g, t in zip(seconds, inputs)]

    fused_hvp = hvp(fused, arrays)
    composed_hvp = hvp(composed, arrays)
    # FD of the first derivative along the directions
    plus = [a.copy() for a in arrays]
    minus = [a.copy() for a in arrays]
    for i, d in zip(wrt, directions):
        plus[i] += FD_STEP * d
        minus[i] -= FD_STEP * d
    g_plus = analytic_grads(fused, plus, wrt, cotangent)
    g_minus = analytic_grads(fused, minus, wrt, cotangent)
    worst = 0.0
    for f, c, gp, gm in zip(fused_hvp, composed_hvp, g_plus, g_minus):
        assert _rel(f, c) < 1e-9, f"second derivative: fused {f} vs composed {c}"
        numeric = (gp - gm) / (2 * FD_STEP)
        worst = max(worst, _rel(f, numeric) if np.linalg.norm(numeric) > 1e-8 else float(np.abs(f).max()))
    assert worst < 1e-6, f"second derivative differs from finite differences of the VJP: {worst:.3g}"
    return worst


def rational_array(rng, shape, low: int = -9, high: int = 9, positive: bool = False) -> np.ndarray:
    """Random small rationals (never 0) as an object array of SymPy Rationals."""
    out = np.empty(shape, dtype=object)
    for index in np.ndindex(*shape):
        numerator = 0
        while numerator == 0:
            numerator = int(rng.integers(1 if positive else low, high + 1))
        out[index] = sp.Rational(numerator, int(rng.integers(1, 5)))
    return out


def prove_symbolic(fn, symbolic_inputs, wrt) -> str:
    """Prove the engine's VJP of ``fn`` equal to sympy.diff, for a *symbolic* cotangent.

    The loss is sum(fn(...) * c) with c a tensor of fresh symbols, so the engine's gradient
    is the whole VJP as a linear map in c; each entry's difference from sympy.diff of the
    loss must simplify to 0, which proves the VJP for every cotangent at once.
    """
    out = fn(*symbolic_inputs)
    cotangent = mg.symbols("c", out.shape, requires_grad=False)
    loss = mg.sum(mg.mul(out, cotangent))
    expr = loss.data[()]
    grads = mg.grad(loss, [symbolic_inputs[i] for i in wrt])
    for i, grad in zip(wrt, grads):
        variables = symbolic_inputs[i].data
        for index in np.ndindex(*variables.shape):
            reference = sp.diff(expr, variables[index])
            # cancel decides rational functions exactly and fast; simplify handles the roots
            difference = sp.cancel(sp.together(grad.data[index] - reference))
            if difference != 0:
                difference = sp.simplify(difference)
            assert difference == 0, f"input {i} entry {index}: engine {grad.data[index]} vs sympy.diff {reference}"
    return "proved"


def match_at_rational_point(fn, point: np.ndarray, cotangent: np.ndarray, entries, digits: int = 60) -> float:
    """Engine gradient vs sympy.diff at an exact rational ``point``, for the listed entries.

    For expressions too big to differentiate in all symbols at once (power iteration: the
    forward of two steps on a 2x2 is ~90,000 SymPy operations), the engine runs its forward
    and backward on the exact numbers (Rationals and their square roots), and the reference
    is sympy.diff of the forward along one entry, W = point + t E_ij, at t = 0. Both are
    compared to ``digits`` significant digits; returns the largest difference.
    """
    loss = lambda w: mg.sum(mg.mul(fn(w), mg.tensor(cotangent)))  # noqa: E731
    weight = mg.tensor(point.copy(), requires_grad=True)
    (grad,) = mg.grad(loss(weight), [weight])
    t = sp.Symbol("t", real=True)
    worst = sp.Integer(0)
    for index in entries:
        moved = point.copy()
        moved[index] = moved[index] + t
        with mg.no_grad():
            expr = loss(mg.tensor(moved)).data[()]
        reference = sp.N(sp.diff(expr, t).subs(t, 0), digits)
        ours = sp.N(grad.data[index], digits)
        worst = max(worst, abs(ours - reference))
        assert abs(ours - reference) <= sp.Float(10) ** (10 - digits) * max(1, abs(reference)), (index, ours, reference)
    return float(worst)
