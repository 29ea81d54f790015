"""Shared test set-up: float64 everywhere, a fixed seed per test, hypothesis profiles."""
import os

import numpy as np
import pytest

import minigrad

try:
    from hypothesis import settings

    settings.register_profile("short", max_examples=60, deadline=None)
    settings.register_profile("long", max_examples=10_000, deadline=None)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "short"))
except ImportError:  # pragma: no cover - hypothesis is a dev dependency
    pass


@pytest.fixture(autouse=True)
def _seed():
    minigrad.manual_seed(0)
    np.random.seed(0)
    yield
