"""`minigrad tour` (placeholder until the tour lands)."""
from __future__ import annotations

import sys


def run(args) -> int:
    print(
        "minigrad tour\n"
        "  The tour will reproduce the reference post with minigrad (spectral norm's singular\n"
        "  values, weight norm's g and v, the Frobenius norm of arange(9)), check every norm's\n"
        "  gradient three ways, print a gradient as a formula, train a small MLP with and\n"
        "  without spectral norm, and write graphs, plots and report.html."
    )
    import minigrad as mg

    x = mg.arange(9, dtype="float64").reshape(3, 3)
    x.requires_grad_()
    norm = (x * x).sum().sqrt()
    norm.backward()
    print(f"  Frobenius norm of arange(9) = {norm.item():.4f} (sqrt(204) = {204 ** 0.5:.4f})")
    return 0


def run_train(args) -> int:
    print("minigrad train: not implemented yet", file=sys.stderr)
    return 2
