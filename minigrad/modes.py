"""The switches every op reads: recording on or off, anomaly checks, and the in-place clock.

They sit below ``tensor.py`` and the tape (``autograd.py``) because both read them; they know
nothing about tensors beyond the two fields ``bump_version`` sets.
"""
from __future__ import annotations

import contextlib


class GradMode:
    """Whether ops record themselves on the tape. A class attribute, read on every op."""

    enabled: bool = True


class _GradModeContext(contextlib.ContextDecorator):
    """Shared body of no_grad and enable_grad: set the mode, restore it on exit."""

    mode: bool = True

    def __enter__(self):
        self._previous = GradMode.enabled
        GradMode.enabled = self.mode
        return self

    def __exit__(self, *exc_info):
        GradMode.enabled = self._previous
        return False


class no_grad(_GradModeContext):
    """Context manager (and decorator) under which no op records a graph.

    Use it for evaluation and for optimiser updates: results have ``requires_grad=False``.
    """

    mode = False


class enable_grad(_GradModeContext):
    """Context manager (and decorator) that switches recording back on inside ``no_grad``."""

    mode = True


def is_grad_enabled() -> bool:
    return GradMode.enabled


class AnomalyMode:
    """Set by ``minigrad.detect_anomaly()``: check every result for NaN/Inf (slow path)."""

    enabled: bool = False


class InplaceClock:
    """Counts in-place changes across the whole program.

    Every in-place change (``x += y``, ``x[i] = v``, ``x.data = ...``, an optimiser step)
    ticks the clock and stamps the changed tensor's ``_version`` with the new time. A node
    remembers the time it was created, so "was an input changed after this op ran?" is
    ``input._version > node.stamp``: one int per node instead of a tuple of versions, and
    when the clock has not moved since the node was made, no check at all.
    """

    now: int = 0


def bump_version(tensor) -> None:
    """Record an in-place change of ``tensor`` (see InplaceClock)."""
    InplaceClock.now += 1
    tensor._version = InplaceClock.now
    node = tensor._node
    if node is not None:
        node.stamp = -1  # the op's own output changed: its VJP may not reuse it
