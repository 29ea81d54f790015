"""Assertions for tests of gradients, shared by the coursework's released test files.

``assert_close`` says which entries are wrong (got against expected) instead of only that
something is; ``gradients`` runs one VJP through the engine for a given upstream gradient.
"""
from __future__ import annotations

import numpy as np

from minigrad.autograd import grad
from minigrad.tensor import Tensor, tensor


def assert_close(actual, expected, what: str, rtol: float = 1e-6, atol: float = 1e-9) -> None:
    """Assert equal values and name the first wrong entries (got vs expected) when not."""
    if actual is None:
        raise AssertionError(f"{what}: the VJP returned None")
    actual = np.asarray(actual.data if isinstance(actual, Tensor) else actual, dtype=float)
    expected = np.asarray(expected, dtype=float)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, expected {expected.shape}"
    wrong = ~np.isclose(actual, expected, rtol=rtol, atol=atol)  # NaN is always wrong
    if wrong.any():
        where = [tuple(int(i) for i in index) for index in np.argwhere(wrong)[:3]]
        details = "; ".join(f"{w}: got {actual[w]:.6g}, expected {expected[w]:.6g}" for w in where)
        raise AssertionError(f"{what}: {int(wrong.sum())} of {wrong.size} entries wrong ({details})")


def gradients(fn, arrays, upstream):
    """The gradients of fn(*arrays) for the upstream gradient ``upstream`` (one per input)."""
    inputs = [tensor(a, requires_grad=True) for a in arrays]
    return grad(fn(*inputs), inputs, grad_outputs=tensor(upstream))
