"""Timing helpers shared by the benchmark cases: warm-up, repeats, medians, ratios."""
from __future__ import annotations

import time
from typing import Callable

import numpy as np


def median_seconds(fn: Callable, repeat: int = 15, number: int = 20, warmup: int = 3) -> float:
    """Median over ``repeat`` rounds of the mean time of ``number`` calls, in seconds."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - start) / number)
    return float(np.median(samples))


def interleaved_medians(fns: dict, repeat: int = 15, number: int = 20, warmup: int = 3) -> dict:
    """Time several functions in alternating rounds so machine noise hits them alike.

    Returns the median seconds per call of each. (PyTorch is never passed here: its
    OpenMP threads spin after a call and would slow whichever function runs next.)
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(number):
                fn()
            samples[name].append((time.perf_counter() - start) / number)
    return {name: float(np.median(values)) for name, values in samples.items()}


def torch_or_none():
    """PyTorch if it is installed (an optional oracle), else None."""
    try:
        import torch
    except ImportError:
        return None
    return torch
