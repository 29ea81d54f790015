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


def abs(array):  # noqa: A001 - mirrors numpy's name on purpose
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
                f"Evaluate the expression at numbers first (e.g. with minigrad.symbolic.substitute) "
                f"or use an op that SymPy can express."
            )


def to_object_array(value) -> np.ndarray:
    """Wrap a SymPy result (an expression, or a NumPy reduction of one) as an object ndarray.

    NumPy reductions of object arrays return a bare expression, not a 0-d array; the engine
    wants ndarrays everywhere, so this puts the expression back inside one.
    """
    out = np.empty((), dtype=object)
    out[()] = value
    return out
