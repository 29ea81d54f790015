"""A gradient as a formula: the engine's reverse mode on symbols, simplified, as text and LaTeX.

``derive(fn, shapes)`` runs any minigrad function on SymPy symbols of the given shapes and
prints its forward expression and the engine's gradient of each input, simplified as far
as the wall-time budget allows. It proves nothing by itself (``symbolic_check`` does); it
shows what the backward pass computes.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from minigrad.backend import sympy as _sp
from minigrad.verification.budget import (
    DEFAULT_BUDGET, SymbolicTooLarge, run_until, too_large_message, within_budget,
)
from minigrad.verification.proof import simplified
from minigrad.verification.symbolic_run import run_symbolic, to_matrix

__all__ = ["GradientFormula", "derive", "simplify_until"]


@dataclass
class GradientFormula:
    """A function's forward expression and the engine's gradient, as text and LaTeX.

    For a scalar output, ``gradients[name]`` has the input's shape (a SymPy Matrix for 1-D
    and 2-D inputs); otherwise it is the Jacobian d vec(f)/d vec(input).
    """

    name: str
    inputs: list
    forward: object
    gradients: dict
    simplified: bool

    def text(self) -> str:
        sp = _sp()
        lines = [f"{self.name} = {sp.sstr(self.forward)}"]
        for label, gradient in self.gradients.items():
            lines.append(f"d{self.name}/d{label} = {sp.sstr(gradient)}")
        return "\n".join(lines)

    def latex(self) -> str:
        sp = _sp()
        f = sp.latex(sp.Symbol(self.name))
        rows = [f"{f} &= {sp.latex(self.forward)}"]
        for label, gradient in self.gradients.items():
            rows.append(rf"\frac{{\partial {f}}}{{\partial {sp.latex(sp.Symbol(label))}}} &= {sp.latex(gradient)}")
        return r"\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}"

    def _repr_latex_(self) -> str:
        return f"$\\displaystyle {self.latex()}$"

    def __str__(self) -> str:
        return self.text()

    __repr__ = __str__


def derive(
    fn: Callable,
    shapes: Sequence[tuple],
    domain="real",
    names: Sequence[str] | None = None,
    simplify: bool = True,
    budget: float | None = DEFAULT_BUDGET,
    name: str = "f",
) -> GradientFormula:
    """The engine's gradient of ``fn`` as a formula (SymPy), printable as text and LaTeX.

    All of it (the symbolic run and the simplification) takes at most ``budget`` seconds
    of wall time: entries not simplified by then are shown as the engine built them
    (``simplified`` says whether all were), and a symbolic run that does not finish in
    time raises :class:`SymbolicTooLarge` ("too large to prove in N s: try a smaller
    shape"). ``budget=None``: no limit.
    """
    def task(deadline):
        return _derive(fn, shapes, domain, names, simplify, name, deadline)

    status, formula = within_budget(task, budget)
    if status == "timeout":
        raise SymbolicTooLarge(f"derive: {name}: {too_large_message(budget)}")
    return formula


def simplify_until(deadline: float, started: float, entries: list) -> list:
    """Each entry simplified if time allows (else None); a tenth of the budget is kept to
    send the result back to the parent process."""
    if math.isfinite(deadline):
        deadline -= 0.1 * (deadline - started)
    return run_until(deadline, simplified, entries)


def _derive(fn, shapes, domain, names, simplify, name, deadline) -> GradientFormula:
    started = time.monotonic()
    run = run_symbolic(fn, shapes, domain, names)
    keys = [(0, i) for i in range(len(run.inputs))]
    entries = [e for key in keys for e in run.engine[key].reshape(-1)]
    forward_entries = list(run.forward[0].reshape(-1))
    everything = forward_entries + entries
    done = simplify_until(deadline, started, everything) if simplify else [None] * len(everything)
    all_simplified = simplify and all(d is not None for d in done)
    done = [d if d is not None else e for d, e in zip(done, everything)]
    forward_done, gradient_done = done[: len(forward_entries)], done[len(forward_entries):]
    forward = to_matrix(np.array(forward_done, dtype=object).reshape(run.forward[0].shape))
    gradients, start = {}, 0
    scalar = run.forward[0].size == 1
    for (k, i) in keys:
        block = run.engine[(k, i)]
        values = np.array(gradient_done[start: start + block.size], dtype=object).reshape(block.shape)
        start += block.size
        label = run.inputs[i].name
        gradients[label] = to_matrix(values.reshape(run.inputs[i].shape)) if scalar else _sp().Matrix(values.tolist())
    return GradientFormula(name, run.inputs, forward, gradients, all_simplified)
