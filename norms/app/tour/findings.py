"""What the tour finds: each quantity against the post (or what it must equal), and the whole report.

Also the few helpers every section prints with.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: the post prints four decimals, so its numbers are matched to within half a unit of the last
TOLERANCE = 2e-4
NOT_IN_POST = "not in the post"


@dataclass
class Comparison:
    """One quantity: minigrad's value against the post's, or against what it must equal.

    ``post`` is the post's printed value, None when the post does not print this quantity;
    then ``expected`` is what ``ours`` must equal (a closed form, the value before a
    reparametrisation). ``ours`` may be a bool: a SymPy proof, which has no tolerance.
    """

    section: str
    quantity: str
    ours: object
    post: object = None
    expected: object = None
    tolerance: float = TOLERANCE  # absolute, per entry

    @property
    def reference(self):
        return self.post if self.post is not None else self.expected

    @property
    def ok(self) -> bool:
        if isinstance(self.ours, bool):
            return self.ours
        return bool(np.allclose(self.ours, self.reference, rtol=0, atol=self.tolerance))

    def post_text(self) -> str:
        return fmt(self.post) if self.post is not None else NOT_IN_POST

    def ours_text(self) -> str:
        if isinstance(self.ours, bool):
            return "proved by SymPy" if self.ours else "not proved"
        values = np.ravel(np.asarray(self.ours, dtype=float))
        difference = float(np.max(np.abs(values - np.ravel(np.asarray(self.reference, dtype=float)))))
        if (self.post is not None and values.size <= 8) or not np.any(self.reference):
            return fmt(values)  # the post's own numbers, or a deviation (its reference is 0)
        shown = fmt(values) if values.size <= 4 else f"{values.size} entries"
        return f"{shown}; largest difference {difference:.1e}"

    def tolerance_text(self) -> str:
        return "exact (symbolic)" if isinstance(self.ours, bool) else f"{self.tolerance:.0e}"

    def verdict(self) -> str:
        return "ok" if self.ok else "MISMATCH"


@dataclass
class TourReport:
    """Everything the tour found, for the terminal and for report.html."""

    comparisons: list = field(default_factory=list)
    checks: list = field(default_factory=list)
    formulas: list = field(default_factory=list)
    training: dict = field(default_factory=dict)
    training_baseline: dict = field(default_factory=dict)
    pixel_norm: dict = field(default_factory=dict)
    gan: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    #: one or two sentences per section on what its numbers mean
    meaning: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.comparisons) and all(row["ok"] for row in self.checks)


def fmt(values) -> str:
    array = np.atleast_1d(np.asarray(values, dtype=float))
    return "(" + ", ".join(f"{v:.4f}" for v in array) + ")"


def within(error: float) -> str:
    """'exactly' for 0, else 'to within 1e-16': how closely two computations agree."""
    return "exactly" if error == 0 else f"to within {error:.0e}"


def say(text: str = "") -> None:
    print(text, flush=True)
