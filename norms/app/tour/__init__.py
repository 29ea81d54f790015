"""`minigrad tour`: the reference post reproduced, every norm's gradient proved, a model trained.

What a new user runs first (``make tour``). In a couple of minutes it
    1. reproduces the post's numbers with minigrad: spectral norm (singular values before,
       after the first and the second forward; u and v), weight norm (g and v, output
       unchanged, removal), the Frobenius norm of arange(9), and the PixelNorm section the
       post left empty;
    2. checks every norm's gradient three ways (finite differences, SymPy, the closed form)
       and prints one table;
    3. prints two gradients as formulas from the symbolic engine;
    4. trains a small MLP with and without spectral norm on a toy 2-D problem;
    5. trains a small GAN on a ring of 8 Gaussians with and without spectral norm on its
       discriminator, over seeds (norms.app.gan; `minigrad gan` runs the full comparison);
    6. writes graphs (SVG), plots (PNG) and ``report.html`` into ``--out``.
It exits 1 if any check fails or a number of the post is not reproduced.

The post's printed values are rounded to four decimals, so they are compared at 2e-4.

The package's modules, in the order the tour runs them: ``post`` (section 1), ``proofs``
(2 and 3), ``training`` (4 and 5), ``page`` (6); ``findings`` holds what they record.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from norms.app.tour.findings import TOLERANCE, Comparison, TourReport, fmt, say
from norms.app.tour.page import write_graphs, write_html, write_plots
from norms.app.tour.post import (
    POST, fill_pixel_norm, reproduce_frobenius, reproduce_spectral_norm, reproduce_weight_norm,
)
from norms.app.tour.proofs import norm_checks, print_formulas, run_norm_checks
from norms.app.tour.training import TRAINING_RUNS, train_gan, train_models, train_one, training_meaning, two_moons

__all__ = [
    "POST", "TOLERANCE", "TRAINING_RUNS", "Comparison", "TourReport", "fill_pixel_norm", "norm_checks",
    "print_formulas", "reproduce_frobenius", "reproduce_spectral_norm", "reproduce_weight_norm", "run",
    "run_norm_checks", "run_train", "train_gan", "train_models", "train_one", "training_meaning", "two_moons",
    "write_graphs", "write_html", "write_plots",
]


def _prepare_out(out: Path, option: str = "--out") -> None:
    from norms.app.cli import prepare_out_folder

    prepare_out_folder(out, option)


def run(args) -> int:
    """``minigrad tour [--quick] [--out DIR]``: returns 0 when every number and check holds, else 1."""
    quick = bool(getattr(args, "quick", False))
    out = Path(getattr(args, "out", None) or "minigrad-tour")
    _prepare_out(out)
    started = time.perf_counter()
    report = TourReport()
    say(f"minigrad tour{' (quick)' if quick else ''}\n")
    spectral = reproduce_spectral_norm(report)
    say()
    reproduce_weight_norm(report)
    say()
    reproduce_frobenius(report)
    say()
    fill_pixel_norm(report)
    say()
    run_norm_checks(report, quick)
    say()
    print_formulas(report)
    say()
    train_models(report, 40 if quick else 300)
    say()
    train_gan(report, quick, out)
    say()
    write_graphs(report, out)
    write_plots(report, spectral, out)
    page = write_html(report, out)
    failed = [c for c in report.comparisons if not c.ok]
    failed_checks = [row for row in report.checks if not row["ok"]]
    say(f"Wrote {len(report.files)} graphs and plots, and the report: {os.path.abspath(page)}")
    for note in report.notes:
        say(f"  note: {note}")
    if failed or failed_checks:
        for c in failed:
            expected = c.post_text() if c.post is not None else fmt(c.expected)
            say(f"MISMATCH {c.section}: {c.quantity}: expected {expected}"
                f", minigrad {c.ours_text()} (tolerance {c.tolerance_text()})")
        for row in failed_checks:
            say(f"FAILED check: {row['norm']}")
        return 1
    say(f"Every number of the post reproduced and every check passed ({time.perf_counter() - started:.1f} s).")
    return 0


def run_train(args) -> int:
    """``minigrad train [--steps N] [--out DIR]``: the tour's training runs alone, with their plots."""
    from norms.app.cli import CommandError

    steps = int(getattr(args, "steps", 300))
    if steps < 1:
        raise CommandError(f"--steps must be a positive number of training steps, got {steps}; try --steps 300")
    out = Path(args.out) if getattr(args, "out", None) else None
    if out is not None:
        _prepare_out(out)
    report = TourReport()
    train_models(report, steps)
    if out is not None:
        write_plots(report, None, out)
    return 0
