"""Jacobians two ways, and their comparison entry by entry: the machinery of gradcheck.

The analytic side is reverse mode: one VJP per output entry with a one-hot cotangent
(``analytic_jacobian``), or one VJP per output with a random cotangent u (a projection).
The numeric side is central differences, one pair of forward passes per input entry
(``numeric_jacobian``), or per input along a random direction v. ``compare_block`` applies
the tolerance rule ``|a - n| <= atol + rtol * |n|`` to one (output, input) block and keeps
the worst entries for the report. The ``result`` these functions fill is a
``gradcheck.GradcheckResult`` (they count its forward and backward passes).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from minigrad.autograd import enable_grad, no_grad
from minigrad.autograd import grad as _grad
from minigrad.tensor import Tensor
from minigrad.verification.diagnosis import diagnose

__all__ = [
    "PairResult", "Evaluator", "numeric_jacobian", "analytic_jacobian", "full_compare", "fast_compare",
    "compare_block", "as_outputs",
]

#: how many of the worst entries a report lists
WORST_SHOWN = 5


@dataclass
class PairResult:
    """The comparison for one (output, input) pair: a block of the Jacobian, or one projection."""

    output: int
    input: int
    output_shape: tuple
    input_shape: tuple
    input_label: str
    ok: bool
    max_abs_error: float
    max_rel_error: float
    #: worst entries: dicts with output_index, input_index, analytic, numeric, rel_error
    worst: list = field(default_factory=list)
    failing: int = 0
    total: int = 0
    hint: str | None = None


# ---------------------------------------------------------------------------------------
# Evaluating the function at perturbed inputs
# ---------------------------------------------------------------------------------------
class Evaluator:
    """Calls ``fn`` with some inputs replaced by perturbed copies, and counts the calls.

    The originals are never changed in place: the perturbed values go into fresh tensors,
    so a check cannot leave an input modified if ``fn`` raises halfway.
    """

    def __init__(self, fn, inputs, record: bool, result):
        self.fn, self.inputs, self.record, self.result = fn, inputs, record, result

    def __call__(self, replacements: dict) -> list:
        args = list(self.inputs)
        for index, array in replacements.items():
            fresh = Tensor._constant(array)
            fresh.requires_grad = self.inputs[index].requires_grad
            args[index] = fresh
        self.result.forward_passes += 1
        context = enable_grad() if self.record else no_grad()
        with context:
            outputs = as_outputs(self.fn(*args), "fn")
        return [np.array(o.data, copy=True) for o in outputs]


def numeric_jacobian(evaluate, inputs, index, eps, output_sizes) -> list:
    """Central differences for every entry of input ``index``: one (out, in) block per output."""
    base = inputs[index].data
    blocks = [np.zeros((size, base.size)) for size in output_sizes]
    for j in range(base.size):
        plus, minus = base.copy(), base.copy()
        plus.flat[j] += eps
        minus.flat[j] -= eps
        f_plus, f_minus = evaluate({index: plus}), evaluate({index: minus})
        for block, hi, lo in zip(blocks, f_plus, f_minus):
            block[:, j] = (hi.astype(np.float64).ravel() - lo.astype(np.float64).ravel()) / (2 * eps)
    return blocks


def analytic_jacobian(outputs, inputs, differentiable, result) -> dict:
    """Reverse mode, one VJP per output entry with a one-hot cotangent: blocks[(k, i)]."""
    wanted = [inputs[i] for i in differentiable]
    blocks = {}
    for k, out in enumerate(outputs):
        for i in differentiable:
            blocks[(k, i)] = np.zeros((out.size, inputs[i].size))
        if not out.requires_grad:
            continue  # a constant output: its Jacobian is zero
        for m in range(out.size):
            seed = np.zeros(out.shape, dtype=out.dtype)
            seed.flat[m] = 1
            grads = _grad([out], wanted, [Tensor._constant(seed)], retain_graph=True, allow_unused=True)
            result.backward_passes += 1
            for i, g in zip(differentiable, grads):
                if g is not None:
                    blocks[(k, i)][m] = np.asarray(g.data, dtype=np.float64).ravel()
    return blocks


# ---------------------------------------------------------------------------------------
# Comparisons
# ---------------------------------------------------------------------------------------
def full_compare(outputs, inputs, differentiable, evaluate, eps, atol, rtol, result, labels, out_labels):
    """Every Jacobian entry: the analytic blocks against central differences, pair by pair, into ``result``."""
    analytic = analytic_jacobian(outputs, inputs, differentiable, result)
    sizes = [o.size for o in outputs]
    for i in differentiable:
        numeric = numeric_jacobian(evaluate, inputs, i, eps, sizes)
        for k, out in enumerate(outputs):
            pair = compare_block(
                analytic[(k, i)], numeric[k], k, i, out.shape, inputs[i].shape, labels[i], atol, rtol
            )
            _add_pair(result, pair)


def fast_compare(outputs, inputs, differentiable, evaluate, rng, eps, atol, rtol, result, labels, out_labels):
    """<u, J v> by one VJP per output against a JVP by central differences per input.

    One projection always fits "analytic = c x numeric" for some c, so it cannot name a
    mistake. When a pair fails, a second random projection is taken, and a hint is given
    only for a pattern that both projections show.
    """
    first = _project(outputs, inputs, differentiable, evaluate, rng, eps, result)
    failing = []
    for i in differentiable:
        for k, out in enumerate(outputs):
            pair = compare_block(
                np.array([[first["analytic"][(k, i)]]]), np.array([[first["numeric"][(k, i)]]]), k, i,
                out.shape, inputs[i].shape, labels[i], atol, rtol, projected=True,
            )
            pair.hint = None  # set below, from two projections
            _add_pair(result, pair)
            if not pair.ok:
                failing.append(pair)
    if failing:
        second = _project(outputs, inputs, differentiable, evaluate, rng, eps, result)
        for pair in failing:
            pair.hint = _projection_hint(first, second, pair, atol, rtol)


def _project(outputs, inputs, differentiable, evaluate, rng, eps, result) -> dict:
    """One random projection: <u, J v> by VJPs (analytic) and by central differences (numeric).

    ``transposed[(k, i)]`` is <J^T u, v> with the VJP's last two axes swapped (square
    inputs only): what the analytic side would be if the VJP returned a transpose.
    """
    directions = {i: rng.standard_normal(inputs[i].shape).astype(inputs[i].dtype) for i in differentiable}
    cotangents = [rng.standard_normal(o.shape).astype(o.dtype) for o in outputs]
    wanted = [inputs[i] for i in differentiable]
    analytic, numeric, transposed = {}, {}, {}
    for k, out in enumerate(outputs):
        grads = [None] * len(wanted)
        if out.requires_grad:
            grads = _grad([out], wanted, [Tensor._constant(cotangents[k])], retain_graph=True, allow_unused=True)
            result.backward_passes += 1
        for i, g in zip(differentiable, grads):
            vjp = None if g is None else np.asarray(g.data, np.float64)
            analytic[(k, i)] = 0.0 if vjp is None else float(np.sum(vjp * directions[i]))
            square = vjp is not None and vjp.ndim >= 2 and vjp.shape[-1] == vjp.shape[-2]
            transposed[(k, i)] = float(np.sum(vjp.swapaxes(-1, -2) * directions[i])) if square else None
    for i in differentiable:
        base, v = inputs[i].data, directions[i]
        f_plus, f_minus = evaluate({i: base + eps * v}), evaluate({i: base - eps * v})
        for k in range(len(outputs)):
            jvp = (f_plus[k].astype(np.float64) - f_minus[k].astype(np.float64)) / (2 * eps)
            numeric[(k, i)] = float(np.sum(cotangents[k] * jvp))
    return {"analytic": analytic, "numeric": numeric, "transposed": transposed}


def _projection_hint(first: dict, second: dict, pair: PairResult, atol: float, rtol: float) -> str | None:
    """The typical mistake that both random projections of a failing pair agree on, or None.

    With two projections, "analytic = c x numeric" must hold with the same c twice, which
    a sign flipped in one entry or a transposed gradient does not do (except by chance).
    """
    key = (pair.output, pair.input)
    analytic = np.array([first["analytic"][key], second["analytic"][key]])
    numeric = np.array([first["numeric"][key], second["numeric"][key]])
    swapped = [first["transposed"][key], second["transposed"][key]]
    both = " (seen in two random projections)"
    if None not in swapped and np.all(np.isfinite(numeric)):
        scale = max(np.abs(numeric).max(initial=0), np.abs(analytic).max(initial=0))
        swapped = np.array(swapped)
        if np.all(np.abs(swapped - numeric) <= atol + 1e-6 * scale + rtol * np.abs(numeric)):
            return ("the gradient is transposed: swapping the last two axes of the analytic gradient "
                    "matches the numeric one. The VJP returns the transpose of what it should (e.g. "
                    "g @ W where g @ W.T is meant); a square input hides this from the shape check." + both)
    hint = diagnose(analytic, numeric, pair.output_shape, pair.input_shape, atol, rtol, projected=True)
    if hint is None:
        return None
    if "NaN or Inf" in hint or "check that the VJP sums" in hint:
        return hint  # a fact about the values, or general advice: no pattern is claimed
    # Entries are not seen through projections: say what was seen.
    hint = re.sub(r"is 0 at \d+ entries", "is 0 in a projection", hint.replace(" everywhere", ""))
    return hint + both


def _add_pair(result, pair: PairResult) -> None:
    result.pairs.append(pair)
    result.ok = result.ok and pair.ok
    result.max_abs_error = max(result.max_abs_error, pair.max_abs_error)
    result.max_rel_error = max(result.max_rel_error, pair.max_rel_error)


def compare_block(analytic, numeric, k, i, out_shape, in_shape, label, atol, rtol, projected=False) -> PairResult:
    """One (output, input) block against the tolerance rule: errors, failing count, worst entries, hint."""
    difference = np.abs(analytic - numeric)
    allowed = atol + rtol * np.abs(numeric)
    failing = difference > allowed
    failing |= ~np.isfinite(analytic) | ~np.isfinite(numeric)
    scale = max(float(np.max(np.abs(numeric), initial=0.0)), float(np.max(np.abs(analytic), initial=0.0)))
    floor = max(1e-3 * scale, np.finfo(np.float64).tiny)
    relative = difference / np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), floor)
    relative = np.where(np.isfinite(relative), relative, np.inf)
    pair = PairResult(
        output=k, input=i, output_shape=tuple(out_shape), input_shape=tuple(in_shape),
        input_label=label, ok=not failing.any(),
        max_abs_error=float(np.max(np.where(np.isfinite(difference), difference, np.inf), initial=0.0)),
        max_rel_error=float(np.max(relative, initial=0.0)),
        failing=int(failing.sum()), total=int(failing.size),
    )
    if not pair.ok:
        # Rank by how far past the tolerance each entry is: that is what made the check fail.
        ratio = np.where(np.isfinite(difference), difference / allowed, np.inf)
        order = np.argsort(-ratio, axis=None, kind="stable")[:WORST_SHOWN]
        for flat in order:
            m, j = np.unravel_index(flat, analytic.shape)
            if not failing[m, j]:
                break
            pair.worst.append({
                "output_index": None if projected else _unravel(m, out_shape),
                "input_index": None if projected else _unravel(j, in_shape),
                "analytic": float(analytic[m, j]), "numeric": float(numeric[m, j]),
                "rel_error": float(relative[m, j]),
            })
        if not projected:  # a projection's hint needs a second one (see fast_compare)
            pair.hint = diagnose(analytic, numeric, out_shape, in_shape, atol, rtol)
    return pair


def _unravel(flat: int, shape: tuple) -> tuple:
    return tuple(int(x) for x in np.unravel_index(int(flat), shape)) if shape else ()


def as_outputs(value: Any, name: str) -> list:
    """``value`` as a list of output tensors (a tensor, or the tensors of a tuple); else a TypeError."""
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        outs = [v for v in value if isinstance(v, Tensor)]
        if outs:
            return outs
    raise TypeError(
        f"gradcheck: {name} must return a tensor or a tuple of tensors, got {type(value).__name__}"
    )
