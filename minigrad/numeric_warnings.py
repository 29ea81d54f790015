"""NumPy's floating-point warnings from inside an op, restated as one line that names the op.

``minigrad.log(x)`` with a zero in ``x`` makes NumPy warn "divide by zero encountered in
log" from a line deep inside the engine, with that file's path and source line: the
reader learns nothing about which of their ops did it. While minigrad is imported, such a
warning (a RuntimeWarning raised by code in the engine's or the norms' files) is shown
instead as one line at the user's own call, naming the op::

    train.py:12: RuntimeWarning: log: divide by zero encountered in log (input shape (3,));
    the result holds inf or nan. numpy.errstate(divide='ignore') around the call silences it.

Only the display changes: warning filters (``warnings.simplefilter("error")``, pytest's
``-W``) and ``numpy.errstate`` keep working as they do for NumPy, so under an errstate that
ignores the condition nothing is shown at all. Warnings from anywhere else are displayed
exactly as before.
"""
from __future__ import annotations

import os
import sys
import warnings

_PACKAGES = tuple(
    os.path.dirname(os.path.abspath(path)) + os.sep
    for path in (__file__, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "norms", "x"))
)
#: the NumPy condition named in the message -> the errstate keyword that controls it
_CONDITIONS = {"divide by zero": "divide", "overflow": "over", "underflow": "under", "invalid value": "invalid"}

_previous_showwarning = None


def _inside(filename: str) -> bool:
    return os.path.abspath(filename).startswith(_PACKAGES)


def _context() -> tuple:
    """(op name or None, input shapes, the user's frame) from the live stack."""
    op_name, shapes, user, backward_of = None, "", None, None
    frame, reached_engine = sys._getframe(2), False  # (the first frames are warnings' own)
    while frame is not None:
        code = frame.f_code
        if op_name is None and code.co_name in ("apply", "apply_binary") and "op" in frame.f_locals:
            op = frame.f_locals["op"]
            op_name = getattr(op, "name", None)
            inputs = frame.f_locals.get("inputs") or tuple(
                frame.f_locals[k] for k in ("first", "second") if k in frame.f_locals)
            shapes = [str(getattr(t, "shape", "?")) for t in inputs]
        elif backward_of is None and code.co_name == "run_backward" and frame.f_locals.get("node") is not None:
            backward_of = frame.f_locals["node"].op.name
        if _inside(code.co_filename):
            reached_engine = True
        elif reached_engine and "importlib" not in code.co_filename:
            user = frame
            break
        frame = frame.f_back
    if backward_of is not None:
        op_name = f"{op_name or backward_of} (in the backward pass of {backward_of})"
    return op_name, shapes, user


def _showwarning(message, category, filename, lineno, file=None, line=None):
    if issubclass(category, RuntimeWarning) and _inside(filename):
        op_name, shapes, user = _context()
        if op_name is not None:
            text = str(message)
            keyword = next((k for c, k in _CONDITIONS.items() if text.startswith(c)), "all")
            where = f" (input shape{'s' if len(shapes) > 1 else ''} {', '.join(shapes)})" if shapes else ""
            message = (f"{op_name}: {text}{where}; the result holds inf or nan. "
                       f"numpy.errstate({keyword}='ignore') around the call silences it.")
            if user is not None:
                filename, lineno = user.f_code.co_filename, user.f_lineno
            line = ""  # one line: the user's source line is where they look already
    _previous_showwarning(message, category, filename, lineno, file, line)


def install() -> None:
    """Route warnings through :func:`_showwarning` (once; idempotent)."""
    global _previous_showwarning
    if _previous_showwarning is None:
        _previous_showwarning = warnings.showwarning
        warnings.showwarning = _showwarning
