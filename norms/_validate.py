"""The argument checks that several norms share: ``eps`` and ``dim``.

Each check returns the argument in its working form (a float, a non-negative axis) or
raises an error that names the calling function, what it got and what to pass instead, so
that a norm refuses bad arguments before it changes any module.
"""
from __future__ import annotations

import numpy as np

__all__ = ["check_dim", "check_eps"]


def check_eps(eps, function: str, role: str, example: str) -> float:
    """eps as a finite float > 0; 0, negatives, NaN, Inf and non-numbers are refused.

    ``role`` says in a few words what eps does in ``function`` (for the error message), and
    ``example`` is the value to suggest, such as "1e-12".
    """
    if isinstance(eps, (bool, np.bool_)) or not isinstance(eps, (int, float, np.integer, np.floating)):
        raise TypeError(
            f"{function}: eps must be a float > 0, got {eps!r} ({type(eps).__name__}); pass a "
            f"small positive number such as {example}."
        )
    if not (np.isfinite(eps) and eps > 0):
        raise ValueError(
            f"{function}: eps must be finite and > 0, got {eps!r}; {role}, so pass a small "
            f"positive number such as {example}."
        )
    return float(eps)


def check_dim(dim, ndim: int, function: str, what: str, whole_tensor: bool = False) -> int | None:
    """dim as an axis in [0, ndim): negative values count from the end.

    With ``whole_tensor`` (PyTorch's ``weight_norm`` rule), None and -1 mean "no axis: the
    whole tensor" and come back as None. ``what`` names the tensor in the error message,
    such as "a weight of shape (2, 3)".
    """
    if whole_tensor and (dim is None or (dim == -1 and not isinstance(dim, bool))):
        return None
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        expected = "an int or None" if whole_tensor else "an int"
        raise TypeError(f"{function}: dim must be {expected}, got {dim!r}")
    if not -ndim <= dim < ndim:
        alternative = ", or None (or -1) for the norm of the whole tensor" if whole_tensor else ""
        raise IndexError(
            f"{function}: dim {dim} is out of range for {what} with {ndim} dimension(s); "
            f"use a dim in [{-ndim}, {ndim - 1}]{alternative}."
        )
    return int(dim) % ndim
