"""Running minigrad functions on SymPy symbols, and reading their gradients as expressions.

minigrad's data can be an object array of SymPy expressions, and every primitive runs on
it unchanged (see ``backend.py``). So a function run on symbolic inputs gives its forward
expression F(x), and a backward pass gives the engine's reverse-mode gradient as
expressions too: ``run_symbolic`` collects both, one Jacobian block per (output, input).
``substitute`` evaluates such data back at numbers.

Inputs are exact (``sympy.Rational``, never 0.6): Python floats met along the way (0.5 in
sigmoid, an exponent of -1.5) are turned into the rationals they spell, or no proof could
reach an exact zero.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from minigrad import backend
from minigrad.autograd import enable_grad
from minigrad.autograd import grad as _grad
from minigrad.backend import sympy as _sp
from minigrad.tensor import Tensor

__all__ = [
    "SymbolicRun", "BackwardFailed", "symbolic_inputs", "run_symbolic", "to_matrix", "substitute", "exact",
    "as_outputs", "input_domains",
]


def _default_names(count: int) -> list:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return [letters[i] if i < len(letters) else f"x{i}" for i in range(count)]


def input_domains(domain, count: int) -> list:
    """One domain per input: ``domain`` repeated, or the per-input list checked for its length."""
    if isinstance(domain, str):
        return [domain] * count
    domain = list(domain)
    if len(domain) != count:
        raise ValueError(f"symbolic: got {len(domain)} domains for {count} inputs")
    return domain


def symbolic_inputs(shapes: Sequence[tuple], domain="real", names: Sequence[str] | None = None) -> list:
    """One tensor of real SymPy symbols per shape, named ``a_0_1`` etc., requiring grad.

    ``domain`` ("real", "positive", "nonzero"; one for all inputs or one per input) becomes
    SymPy assumptions, which let it simplify |x|, sqrt(x^2) and log(x*y).
    """
    sp = _sp()
    shapes = [tuple(s) for s in shapes]
    names = list(names) if names else _default_names(len(shapes))
    tensors = []
    for shape, name, kind in zip(shapes, names, input_domains(domain, len(shapes))):
        assumptions = {"real": True}
        if kind == "positive":
            assumptions["positive"] = True
        elif kind == "nonzero":
            assumptions["nonzero"] = True
        data = np.empty(shape, dtype=object)
        for index in np.ndindex(*shape):
            label = "_".join([name, *map(str, index)]) if index else name
            data[index] = sp.Symbol(label, **assumptions)
        tensors.append(Tensor(data, requires_grad=True, name=name))
    return tensors


def exact(value):
    """A SymPy expression with every Float replaced by the rational it spells (0.01 -> 1/100).

    The same rule as the engine's (``backend.exact``), for Floats that SymPy itself made.
    """
    sp = _sp()
    expr = sp.sympify(value)
    floats = expr.atoms(sp.Float)
    if floats:
        expr = expr.xreplace({f: backend.exact(float(f)) for f in floats})
    return expr


def as_outputs(value) -> list:
    """``value`` as a list of output tensors; a TypeError naming what the function returned otherwise."""
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(v, Tensor) for v in value) and value:
        return list(value)
    raise TypeError(f"symbolic: the function must return a tensor or a tuple of tensors, got {type(value).__name__}")


@dataclass
class SymbolicRun:
    """A function run on symbols: inputs, forward expressions, the engine's Jacobian blocks.

    ``forward[k]`` is an object array (output k's expressions); ``engine[(k, i)]`` is an
    object array of shape (output k's size, input i's size): row m is the engine's
    reverse-mode gradient of output entry m with respect to input i, flattened.
    """

    inputs: list
    forward: list
    engine: dict

    def reference(self, k: int, i: int) -> np.ndarray:
        """``sympy.diff`` of the forward expression: the same layout as ``engine[(k, i)]``."""
        sp = _sp()
        flat_out = self.forward[k].reshape(-1)
        flat_in = self.inputs[i].data.reshape(-1)
        block = np.empty((flat_out.size, flat_in.size), dtype=object)
        for m in range(flat_out.size):
            for j in range(flat_in.size):
                block[m, j] = sp.diff(flat_out[m], flat_in[j])
        return block

    def forward_matrix(self, k: int = 0):
        return to_matrix(self.forward[k])

    def gradient(self, i: int, k: int = 0):
        """The engine's gradient of (scalar) output k with respect to input i, in i's shape."""
        if self.forward[k].size != 1:
            raise ValueError(
                f"gradient: output {k} has shape {self.forward[k].shape}, not a scalar; use "
                f"jacobian({i}, {k}) for the full matrix of derivatives"
            )
        return to_matrix(self.engine[(k, i)].reshape(self.inputs[i].shape))

    def jacobian(self, i: int, k: int = 0):
        """The engine's Jacobian d vec(output k) / d vec(input i) as a SymPy Matrix."""
        return _sp().Matrix(self.engine[(k, i)].tolist())


class BackwardFailed(Exception):
    """Raised by run_symbolic when the engine's backward pass itself raised."""


def run_symbolic(fn: Callable, shapes: Sequence[tuple], domain="real", names=None, inputs=None,
                 _report_backward_errors: bool = False) -> SymbolicRun:
    """Run ``fn`` on symbolic inputs and take the engine's reverse-mode Jacobian.

    One backward pass per output entry, each seeded with a one-hot cotangent, so row m of
    each block is exactly what ``backward`` would put in ``.grad`` for output entry m.
    """
    sp = _sp()
    tensors = inputs if inputs is not None else symbolic_inputs(shapes, domain, names)
    with enable_grad():
        outputs = as_outputs(fn(*tensors))
    forward = [np.vectorize(exact, otypes=[object])(np.asarray(o.data, dtype=object)) if o.size else o.data
               for o in outputs]
    engine = {}
    for k, out in enumerate(outputs):
        for i, x in enumerate(tensors):
            engine[(k, i)] = np.full((out.size, x.size), sp.Integer(0), dtype=object)
        if not out.requires_grad:
            continue
        for m in range(out.size):
            seed = np.full(out.shape, sp.Integer(0), dtype=object)
            seed.reshape(-1)[m] = sp.Integer(1)
            try:
                grads = _grad([out], tensors, [Tensor._constant(seed)], retain_graph=True, allow_unused=True)
            except (RuntimeError, NotImplementedError) as error:
                if not _report_backward_errors:
                    raise
                raise BackwardFailed(error) from error
            for i, g in enumerate(grads):
                if g is not None:
                    row = np.asarray(g.data, dtype=object).reshape(-1)
                    engine[(k, i)][m] = [exact(e) for e in row]
    return SymbolicRun(tensors, forward, engine)


def to_matrix(array):
    """An object array as SymPy: 0-d -> expression, 1-d -> column Matrix, 2-d -> Matrix, else Array."""
    sp = _sp()
    array = np.asarray(array, dtype=object)
    if array.ndim == 0:
        return sp.sympify(array[()])
    if array.ndim == 1:
        return sp.Matrix([[sp.sympify(e)] for e in array])
    if array.ndim == 2:
        return sp.Matrix([[sp.sympify(e) for e in row] for row in array])
    return sp.Array(array.tolist())


def substitute(value, values: dict) -> np.ndarray:
    """Evaluate symbolic data at numbers: ``values`` maps symbols (or symbol tensors) to numbers/arrays.

    Returns a float64 array. Example: ``substitute(y, {x: [[1.0, 2.0]]})`` for a tensor x of
    symbols, or ``substitute(y, {sympy.Symbol('a'): 0.5})``.
    """
    sp = _sp()
    mapping = {}
    for key, number in values.items():
        if isinstance(key, Tensor):
            for symbol, v in zip(key.data.reshape(-1), np.asarray(number, dtype=object).reshape(-1)):
                mapping[symbol] = sp.sympify(v)
        else:
            mapping[key] = sp.sympify(number)
    data = value.data if isinstance(value, Tensor) else np.asarray(value, dtype=object)
    out = np.empty(data.shape, dtype=np.float64)
    for index in np.ndindex(*data.shape):
        out[index] = float(sp.sympify(data[index]).xreplace(mapping).evalf())
    return out
