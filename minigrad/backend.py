"""The few elementwise maths calls that differ between float arrays and SymPy arrays.

A tensor's data is either a float ndarray or an object ndarray whose entries are SymPy
expressions. NumPy's arithmetic (``+ - * / **``, ``@``, ``sum``, ``transpose``, indexing)
already works on both, because object arrays call the entries' own operators. The
transcendental functions do not: ``np.exp`` on an object array looks for an ``exp``
*method* on each entry, which SymPy expressions do not have. Every such call goes through
this module, and nothing else in the engine asks which world it is in.
"""
from __future__ import annotations

import numpy as np

_sympy = None


def sympy():
    """Import SymPy on first use, so a purely numeric session never pays for it."""
    global _sympy
    if _sympy is None:
        import sympy as sp

        _sympy = sp
    return _sympy


def is_symbolic(array: np.ndarray) -> bool:
    """True when ``array`` holds SymPy expressions (an object array)."""
    return array.dtype == object


def _elementwise(sympy_name: str):
    def apply(array):
        fn = getattr(sympy(), sympy_name)
        out = np.empty(array.shape, dtype=object)
        flat_in, flat_out = array.reshape(-1), out.reshape(-1)
        for i in range(flat_in.size):
            flat_out[i] = fn(flat_in[i])
        return out

    apply.__name__ = f"symbolic_{sympy_name}"
    return apply


_symbolic_exp = _elementwise("exp")
_symbolic_log = _elementwise("log")
_symbolic_sqrt = _elementwise("sqrt")
_symbolic_tanh = _elementwise("tanh")
_symbolic_abs = _elementwise("Abs")
_symbolic_sign = _elementwise("sign")


def exp(array):
    return _symbolic_exp(array) if array.dtype == object else np.exp(array)


def log(array):
    return _symbolic_log(array) if array.dtype == object else np.log(array)


def sqrt(array):
    return _symbolic_sqrt(array) if array.dtype == object else np.sqrt(array)


def tanh(array):
    return _symbolic_tanh(array) if array.dtype == object else np.tanh(array)


def abs(array):  # (shadows the builtin on purpose: the name mirrors NumPy's)
    return _symbolic_abs(array) if array.dtype == object else np.abs(array)


def sign(array):
    return _symbolic_sign(array) if array.dtype == object else np.sign(array)


class NotSymbolicError(TypeError):
    """Raised by ops that have no symbolic form (comparisons, max, SVD) on SymPy data."""


def require_numeric(op_name: str, *arrays) -> None:
    """Raise a clear error when an op without a symbolic form meets SymPy data."""
    for array in arrays:
        if array.dtype == object:
            raise NotSymbolicError(
                f"{op_name}: has no symbolic form; it got SymPy data of shape {array.shape}. "
                f"Evaluate the expression at numbers first (e.g. with minigrad.verification.substitute) "
                f"or use an op that SymPy can express."
            )


def exact(value):
    """A number as the exact SymPy number it spells: 0.1 -> 1/10, 3 -> 3, inf -> oo.

    The rule for floats entering the SymPy world: a float becomes the rational written by
    its shortest decimal form (Python's ``repr``), which is the number the user typed.
    That rational differs from the binary float by at most half a unit in the last place
    (a relative 1.1e-16), far below every tolerance in the project; in exchange, 0.1 and
    1/3 stay exact through every later operation instead of turning into 16-digit Floats.
    SymPy expressions pass through unchanged.
    """
    sp = sympy()
    if isinstance(value, (bool, np.bool_)):
        return sp.Integer(int(value))
    if isinstance(value, (int, np.integer)):
        return sp.Integer(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if number != number:
            return sp.nan
        if number in (float("inf"), float("-inf")):
            return sp.oo if number > 0 else -sp.oo
        return sp.Rational(repr(number))
    return value


def exact_array(array: np.ndarray) -> np.ndarray:
    """A numeric array as an object array of exact SymPy numbers (see :func:`exact`)."""
    out = np.empty(array.shape, dtype=object)
    flat_in, flat_out = array.reshape(-1), out.reshape(-1)
    for i in range(flat_in.size):
        flat_out[i] = exact(flat_in[i].item() if isinstance(flat_in[i], np.generic) else flat_in[i])
    return out


def to_object_array(value) -> np.ndarray:
    """Wrap a SymPy result (an expression, or a NumPy reduction of one) as an object ndarray.

    NumPy reductions of object arrays return a bare expression, not a 0-d array; the engine
    wants ndarrays everywhere, so this puts the expression back inside one.
    """
    out = np.empty((), dtype=object)
    out[()] = value
    return out


def step(array, below=0):
    """The slope of relu-like functions: 1 where ``array`` > 0, else ``below``, elementwise.

    Numbers: the test is "not (x <= 0)", so NaN gets 1 (PyTorch's threshold rule lets the
    gradient through at NaN). SymPy data: Piecewise((1, x > 0), (below, True)), the same
    choice at the kink x = 0 (``below``, exact: 0.01 becomes 1/100).
    """
    if array.dtype != object:
        return np.where(array <= 0, below, 1).astype(array.dtype)
    sp = sympy()
    lower = exact(below)
    out = np.empty(array.shape, dtype=object)
    flat_in, flat_out = array.reshape(-1), out.reshape(-1)
    for i in range(flat_in.size):
        flat_out[i] = sp.Piecewise((1, flat_in[i] > 0), (lower, True))
    return out
