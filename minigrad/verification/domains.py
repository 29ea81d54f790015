"""Where a check draws its inputs: the domains real, positive, nonzero and distinct.

A function is checked where its gradient exists: |x| and 1/x away from 0, max away from
ties. A check names a domain (one for all inputs, or one per input); ``draw_inputs``
turns it into float64 arrays, and ``symbolic_domain`` into SymPy assumptions.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["draw_inputs", "symbolic_domain"]


def draw_inputs(shapes: Sequence[tuple], domain, rng: np.random.Generator) -> list:
    """Float64 arrays for the given shapes, from the domain (one for all, or one per input).

    real: standard normal. positive: uniform on [0.5, 2]. nonzero: +-uniform on [0.5, 2]
    (away from the kink of |x| and the pole of 1/x). distinct: all entries of all inputs
    different by at least 0.2, so max and maximum never meet a tie within eps.
    """
    shapes = [tuple(s) for s in shapes]
    domains = [domain] * len(shapes) if isinstance(domain, str) else list(domain)
    if "distinct" in domains:
        total = sum(int(np.prod(s)) for s in shapes)
        pool = (rng.permutation(total) - total / 2) * 0.3 + rng.uniform(-0.05, 0.05, size=total)
        arrays, start = [], 0
        for shape in shapes:
            size = int(np.prod(shape))
            arrays.append(pool[start: start + size].reshape(shape))
            start += size
        return arrays
    arrays = []
    for shape, kind in zip(shapes, domains):
        if kind == "positive":
            arrays.append(rng.uniform(0.5, 2.0, size=shape))
        elif kind == "nonzero":
            arrays.append(rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape))
        else:
            arrays.append(rng.standard_normal(shape))
    return arrays


def symbolic_domain(domain):
    """Symbols need assumptions, not draws: "distinct" is just "real" for SymPy."""
    if isinstance(domain, str):
        return "real" if domain == "distinct" else domain
    return ["real" if d == "distinct" else d for d in domain]
