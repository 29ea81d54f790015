"""Anomaly mode: stop at the first NaN or Inf and say which op made it, and where."""
from __future__ import annotations

import contextlib

from minigrad.modes import AnomalyMode


class detect_anomaly(contextlib.ContextDecorator):
    """Inside this context every op's output and every VJP's result is checked for NaN/Inf.

    The first one raises ``FloatingPointError`` naming the op and showing the lines of user
    code that created it. Slow (it records a stack per op): for debugging only.
    """

    def __enter__(self):
        self._previous = AnomalyMode.enabled
        AnomalyMode.enabled = True
        return self

    def __exit__(self, *exc_info):
        AnomalyMode.enabled = self._previous
        return False
