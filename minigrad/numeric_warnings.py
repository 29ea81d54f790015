"""NumPy's floating-point warnings from inside an op, restated as one line that names the op.

``minigrad.log(x)`` with a zero in ``x`` makes NumPy warn "divide by zero encountered in
log" from a line deep inside the engine, with that file's path and source line: the
reader learns nothing about which of their ops did it. While minigrad is imported, such a
warning (a RuntimeWarning raised by code in the engine's files, or in the folder of a
package that asked for it with :func:`restate_warnings_from`) is shown instead as one line
at the user's own call, naming the op::

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

#: the folders whose warnings are restated (and whose frames are not the user's): minigrad's
#: own, and those added by restate_warnings_from
_PACKAGES: tuple = (os.path.dirname(os.path.abspath(__file__)) + os.sep,)
#: the NumPy condition named in the message -> the errstate keyword that controls it
_CONDITIONS = {"divide by zero": "divide", "overflow": "over", "underflow": "under", "invalid value": "invalid"}

_previous_showwarning = None


def restate_warnings_from(package_dir: str) -> None:
    """Restate the floating-point warnings raised by code under ``package_dir`` as well.

    A package of primitives built on minigrad calls this once, when it is imported, with its
    own folder::

        restate_warnings_from(os.path.dirname(os.path.abspath(__file__)))

    Its ops' warnings are then shown as one line at the user's call, naming the op, and its
    frames are passed over when looking for that call, as minigrad's are. Calling it again
    with the same folder changes nothing.
    """
    global _PACKAGES
    if not isinstance(package_dir, (str, os.PathLike)) or not os.path.isdir(package_dir):
        raise ValueError(
            f"restate_warnings_from: {package_dir!r} is not a folder; pass the package's folder, "
            f"e.g. os.path.dirname(os.path.abspath(__file__)) in its __init__.py"
        )
    folder = os.path.join(os.path.abspath(package_dir), "")
    if folder not in _PACKAGES:
        _PACKAGES += (folder,)


def _inside(filename: str) -> bool:
    return os.path.abspath(filename).startswith(_PACKAGES)


def _context(filename: str) -> tuple:
    """(op name or None, input shapes, the user's frame, the warning frame's globals)."""
    op_name, shapes, user, backward_of, engine_globals = None, [], None, None, None
    frame, reached_engine = sys._getframe(2), False  # (the first frames are warnings' own)
    while frame is not None:
        code = frame.f_code
        if engine_globals is None and code.co_filename == filename:
            engine_globals = frame.f_globals
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
    return op_name, shapes, user, engine_globals


#: (file, line, text) of the restated warnings already shown at a user's call
_SHOWN: set = set()


def _showwarning(message, category, filename, lineno, file=None, line=None):
    text = str(message)
    # only NumPy's floating-point conditions are restated; any other warning passes unchanged
    if issubclass(category, RuntimeWarning) and _inside(filename) and text.startswith(tuple(_CONDITIONS)):
        op_name, shapes, user, engine_globals = _context(filename)
        if op_name is not None:
            # The warnings module decided "once per location" at the engine's line; forget
            # that, and decide it at the user's line instead (as NumPy alone would).
            registry = (engine_globals or {}).get("__warningregistry__")
            once_per_location = registry is not None and registry.pop((text, category, lineno), None) is not None
            keyword = next(k for c, k in _CONDITIONS.items() if text.startswith(c))
            where = f" (input shape{'s' if len(shapes) > 1 else ''} {', '.join(shapes)})" if shapes else ""
            message = (f"{op_name}: {text}{where}; the result holds inf or nan. "
                       f"numpy.errstate({keyword}='ignore') around the call silences it.")
            if user is not None:
                filename, lineno = user.f_code.co_filename, user.f_lineno
                if once_per_location:
                    if (filename, lineno, text) in _SHOWN:
                        return
                    _SHOWN.add((filename, lineno, text))
            line = ""  # one line: the user's source line is where they look already
    _previous_showwarning(message, category, filename, lineno, file, line)


def install() -> None:
    """Route warnings through :func:`_showwarning` (once; idempotent)."""
    global _previous_showwarning
    if _previous_showwarning is None:
        _previous_showwarning = warnings.showwarning
        warnings.showwarning = _showwarning
