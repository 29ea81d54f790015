"""Timing helpers shared by the benchmark cases: warm-up, repeats, medians, phases, threads.

Importing this module sets ``OMP_WAIT_POLICY=PASSIVE`` (unless it is already set), so that
it is in force before PyTorch is first imported, whether the cases run under the runner
(``python -m benchmarks``) or alone (``python -m benchmarks.mlp_step``). Every case module
imports this one before it can import torch. With the default (ACTIVE) policy, PyTorch's
OpenMP threads keep spinning after each call; on a 2-core machine that made a PyTorch MLP
step 40x slower and the NumPy step timed after it 8x slower.
"""
from __future__ import annotations

import gc
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import time
from typing import Callable

import numpy as np

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY")


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


def phased_samples(phases: list, rounds: int = 3, repeat: int = 5, number: int = 20, warmup: int = 2) -> dict:
    """Seconds-per-call samples of every function, timed in phases, round after round.

    ``phases`` is a list of dicts {name: fn}. Within a phase the functions alternate sample
    by sample (so machine noise hits them alike: minigrad against hand-written NumPy);
    the phases themselves run one after the other, each warmed up again, and the whole
    sequence is repeated ``rounds`` times, so slow drift of a shared machine hits every
    phase. PyTorch (and HIPS autograd) get phases of their own: never interleaved with the
    NumPy side. The garbage collector stays on (its pauses are part of an engine's cost),
    but a collection runs before each sample, untimed, so that no function is charged for
    the garbage of the one timed before it; and the objects alive before timing starts
    (modules: torch alone brings hundreds of thousands) are frozen out of the collector's
    scans, so no side pays for another library having been imported into the same process.
    Returns {name: [rounds * repeat samples]}.
    """
    samples = {name: [] for phase in phases for name in phase}
    gc.collect()
    gc.freeze()
    try:
        _phased_rounds(phases, samples, rounds, repeat, number, warmup)
    finally:
        gc.unfreeze()
    return samples


def _phased_rounds(phases: list, samples: dict, rounds: int, repeat: int, number: int, warmup: int) -> None:
    for _ in range(rounds):
        for phase in phases:
            for fn in phase.values():
                for _ in range(warmup):
                    fn()
            for _ in range(repeat):
                for name, fn in phase.items():
                    gc.collect()
                    start = time.perf_counter()
                    for _ in range(number):
                        fn()
                    samples[name].append((time.perf_counter() - start) / number)


def median(values) -> float:
    return float(np.median(values))


def spread(values) -> float:
    """(max - min) / median of the samples: how noisy a median is (0.05 = within 5 %)."""
    middle = float(np.median(values))
    return float((max(values) - min(values)) / middle) if middle > 0 else float("nan")


def torch_or_none():
    """PyTorch if it is installed (an optional oracle), else None."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def hips_autograd_or_none():
    """HIPS autograd (``autograd.numpy``, ``autograd.grad``) if it is installed, else None."""
    try:
        import autograd
        import autograd.numpy
    except ImportError:
        return None
    return autograd


def thread_settings() -> dict:
    """The thread variables in force in this process, and PyTorch's thread count if loaded."""
    settings = {name: os.environ.get(name, "unset") for name in THREAD_VARIABLES}
    import sys

    if "torch" in sys.modules:
        settings["torch_num_threads"] = sys.modules["torch"].get_num_threads()
    return settings
