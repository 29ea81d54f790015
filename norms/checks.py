"""The functional norms' rows in ``minigrad check``, registered when this module is imported.

``minigrad check`` (``norms.app.cli.cmd_check``) imports it before running the table, with
``minigrad.verification.register_check``, the tools' hook for packages built on the engine.

The fused primitives (frobenius_norm, vector_norm, vector_norm_inf, count_nonzero,
matrix_norm_abs, matrix_norm_svd) are in the engine's REGISTRY already, with their
``examples``. Registered here: the composed twins (so the table shows both halves of
"fused = composed"), the public dispatchers, normalize and power iteration.

Flags: max/min and SVD have no SymPy form (``symbolic=False``); the SVD's VJP takes U and V
as constants (``smooth=False``). Power iteration with two steps is marked not symbolic here
because the engine's symbolic gradient grows to millions of operations (a minute to build);
tests/test_norms_functional.py matches it against sympy.diff at rational points instead.
"""
from __future__ import annotations

import math

import numpy as np

from norms import functional
from minigrad.tensor import Tensor
from minigrad.verification.checks import register_check

_U = Tensor._constant(np.array([0.6, 0.8]))


def _register() -> None:
    register_check("frobenius_norm_composed", lambda x: functional.frobenius_norm_composed(x), [(2, 3)], kind="norm")
    register_check("frobenius_norm_composed", lambda x: functional.frobenius_norm_composed(x, axis=1, keepdims=True),
                   [(3, 4)], kind="norm", attrs="axis=1 keepdims")
    vector_cases = [
        (1, "nonzero", True), (3, "nonzero", True), (0.5, "positive", True), (-1.5, "positive", True),
        (math.inf, "distinct", False), (-math.inf, "distinct", False), (0, "nonzero", False),
    ]
    for ord, domain, symbolic in vector_cases:
        register_check("vector_norm_composed", lambda x, ord=ord: functional.vector_norm_composed(x, ord, axis=1),
                       [(2, 3)], domain=domain, symbolic=symbolic, kind="norm", attrs=f"ord={ord} axis=1")
    for ord in ("fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf):
        svd = ord in ("nuc", 2, -2)
        domain = "real" if ord == "fro" or svd else "distinct"
        twins = (("matrix_norm", functional.matrix_norm), ("matrix_norm_composed", functional.matrix_norm_composed))
        for name, fn in twins:
            register_check(name, lambda x, fn=fn, ord=ord: fn(x, ord), [(2, 3, 2)], domain=domain,
                           symbolic=ord == "fro", smooth=not svd, kind="norm", attrs=f"ord={ord!r}")
    register_check("norm", lambda x: functional.norm(x), [(2, 3, 2)], kind="norm", attrs="ord=None axis=None")
    register_check("norm", lambda x: functional.norm(x, 3, axis=0), [(3, 2)], domain="nonzero", kind="norm",
                   attrs="ord=3 axis=0")
    register_check("norm", lambda x: functional.norm(x, "nuc"), [(3, 2)], symbolic=False, smooth=False, kind="norm",
                   attrs="ord='nuc'")
    register_check("normalize", lambda x: functional.normalize(x, axis=1), [(2, 3)], kind="norm", attrs="axis=1")
    register_check("power_iteration", lambda w: functional.power_iteration(w, _U, n_iter=1)[0], [(2, 3)],
                   kind="norm", attrs="n_iter=1 u=(0.6,0.8)")
    register_check("power_iteration", lambda w: functional.power_iteration(w, _U, n_iter=2)[0], [(2, 3)],
                   symbolic=False, kind="norm", attrs="n_iter=2 u=(0.6,0.8)")


_register()
