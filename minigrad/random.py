"""One NumPy Generator behind every random draw in minigrad and the packages built on it.

``manual_seed(n)`` replaces it, so a seeded program is reproducible end to end: layer
initialisation, dropout masks, ``randn``, the checkers' random directions, and any draw a
package on top makes through ``generator()``.
"""
from __future__ import annotations

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Seed the library's generator; returns it."""
    global _generator
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative int, got {seed!r}")
    _generator = np.random.default_rng(int(seed))
    return _generator


def generator() -> np.random.Generator:
    """The generator in use (read it at call time: manual_seed replaces it)."""
    return _generator
