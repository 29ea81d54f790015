"""The set-up the tutorials share: figures without a screen, a seeded generator, short prints.

A tutorial starts with ``from tutorial_setup import show, start`` and then ``start()``.
The import finds this file both ways a tutorial runs: a Jupyter kernel (the test suite's
included) starts in the notebook's folder, and ``python tutorials/03_spectral_norm.py`` puts
the script's folder first on the import path.
"""
from __future__ import annotations

import io

import matplotlib

# Agg draws into memory: the notebooks also run headless (as scripts and in the test suite),
# and a notebook displays each figure once, as the PNG that show() hands to IPython.
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import minigrad as mg

__all__ = ["show", "start"]


def start(seed: int | None = 0) -> np.random.Generator | None:
    """Seed minigrad's generator with ``seed`` and print arrays to 4 decimals.

    Returns the seeded generator (what ``minigrad.manual_seed`` returns), or None when
    ``seed`` is None and the generator is left as it is.
    """
    np.set_printoptions(precision=4, suppress=True)
    return None if seed is None else mg.manual_seed(seed)


def show(fig) -> None:
    """Show a figure in a notebook (as PNG) and close it; in a plain script, only close it."""
    try:
        from IPython.display import Image, display

        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
        display(Image(buffer.getvalue()))
    finally:
        plt.close(fig)
