"""``minigrad gan``: both arms over seeds, the table, gan.json and the pictures; and the tour's short run."""
from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from norms.app.gan.digits import DigitsConfig, run_digits
from norms.app.gan.pictures import (
    ARM_TITLES, plot_digits, plot_ring_lipschitz, plot_ring_samples, plot_ring_sigmas, pyplot,
)
from norms.app.gan.ring import (
    FULL_RING, HIGH_QUALITY_STDS, MODE_MIN_SAMPLES, QUICK_RING, RING_MODES, RING_RADIUS, RING_STD,
)
from norms.app.gan.training import ARMS, config_dict, run_ring, summarise


# ---------------------------------------------------------------------------------------
# gan.json, the table, and `minigrad gan`
# ---------------------------------------------------------------------------------------
def write_json(result: dict, path: Path) -> Path:
    """Write ``result`` (the ring summary, the digits summary if run, seconds) as indented JSON."""
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return path


def ring_table(summary: dict) -> str:
    """The terminal table: per arm modes (median, range), high-quality share, final sigma per layer, seconds."""
    header = f"{'discriminator':24s} {'modes (median, range)':>22s} {'high quality (median)':>22s} " \
             f"{'sigma per layer (median)':>26s} {'max grad / bound':>17s} {'seconds':>8s}"
    lines = [header, "-" * len(header)]
    for arm, _ in ARMS:
        row = summary[arm]
        low, high = row["modes_range"]
        sigmas = ", ".join(f"{s:.2f}" for s in row["sigmas_median"])
        modes = f"{row['modes_median']:g}/8 ({low}-{high})"
        lines.append(f"{ARM_TITLES[arm]:24s} {modes:>22s} "
                     f"{row['high_quality_median']:>22.1%} {sigmas:>26s} {row['lipschitz_worst_ratio']:>17.3f} "
                     f"{row['seconds']:>8.1f}")
    return "\n".join(lines)


class ProgressBar:
    """A one-line text progress bar on stderr: redrawn in place on a terminal, a line per label otherwise."""

    def __init__(self, stream=None, width: int = 30):
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.label = None

    def __call__(self, label: str, fraction: float) -> None:
        interactive = getattr(self.stream, "isatty", lambda: False)()
        if not interactive and label == self.label and fraction < 1:
            return
        if self.label is not None and label != self.label and interactive:
            self.stream.write("\n")
        self.label = label
        filled = round(self.width * min(max(fraction, 0.0), 1.0))
        start, end = ("\r", "") if interactive else ("", "\n")
        self.stream.write(f"{start}[{'#' * filled}{'.' * (self.width - filled)}] {fraction:4.0%}  {label}{end}")
        self.stream.flush()

    def close(self) -> None:
        if getattr(self.stream, "isatty", lambda: False)() and self.label is not None:
            self.stream.write("\n")
            self.stream.flush()


def _command_error(message: str) -> Exception:
    from norms.app.cli import CommandError

    return CommandError(message)


def _prepare_out(out: Path) -> None:
    from norms.app.cli import prepare_out_folder

    prepare_out_folder(out, "--out")


def run_cli(args) -> int:
    """``minigrad gan [--quick] [--seeds N] [--steps N] [--out DIR]``; returns the exit code.

    Trains the ring GAN with and without spectral norm over the seeds, prints the table,
    writes gan.json and the PNGs; without ``--quick`` also the digits conv GAN.
    """
    quick = bool(getattr(args, "quick", False))
    seeds = getattr(args, "seeds", None)
    seeds = 5 if seeds is None else seeds
    if seeds < 1 or seeds > 100:
        raise _command_error(f"--seeds must be a number of seeds from 1 to 100, got {seeds}; try --seeds 5")
    config = QUICK_RING if quick else FULL_RING
    steps = getattr(args, "steps", None)
    if steps is not None:
        if steps < 1:
            raise _command_error(f"--steps must be a positive number of training steps, got {steps}; "
                                 f"try --steps {config.steps}")
        config = replace(config, steps=steps, eval_every=min(config.eval_every, steps))
    out = Path(getattr(args, "out", None) or "minigrad-gan")
    _prepare_out(out)
    started = time.perf_counter()
    print(f"minigrad gan{' --quick' if quick else ''}: the ring of {RING_MODES} Gaussians (radius {RING_RADIUS:g}, "
          f"std {RING_STD:g}), {seeds} seed(s), with and without spectral norm on every discriminator layer")
    print(f"  G: {config.noise_dim}-d noise -> {config.hidden} -> {config.hidden} -> 2 (ReLU); "
          f"D: 2 -> {config.hidden} -> {config.hidden} -> 1 (LeakyReLU {config.negative_slope:g}); "
          f"non-saturating loss, Adam lr D {config.lr_discriminator:g} / G {config.lr_generator:g}, "
          f"betas {tuple(config.betas)}, batch {config.batch}, {config.steps} steps, "
          f"{config.n_power_iterations} power iteration(s) per forward", flush=True)
    jobs = getattr(args, "jobs", None)
    jobs = 1 if jobs is None else jobs
    if jobs < 1 or jobs > 64:
        raise _command_error(f"--jobs must be a number of worker processes from 1 to 64, got {jobs}; try --jobs 2")
    bar = ProgressBar()
    try:
        runs = run_ring(seeds, config, progress=bar, jobs=jobs)
    finally:
        bar.close()
    summary = summarise(runs, config)
    result = {"quick": quick, "ring": summary}
    print(ring_table(summary))
    print(f"  a mode is covered when >= {MODE_MIN_SAMPLES} of {config.eval_samples} samples lie within "
          f"{HIGH_QUALITY_STDS:g} std of its centre; 'max grad / bound' is the largest measured "
          f"||grad_x D|| over the product of D's layer sigmas, over every evaluation (<= 1: the bound holds); "
          f"seconds: training time summed over the seeds")
    files = {}
    try:
        pyplot()
        have_matplotlib = True
    except ImportError:
        have_matplotlib = False
        print("  note: matplotlib is not installed (pip install minigrad[dev]): no pictures")
    if have_matplotlib:
        files["ring_samples"] = plot_ring_samples(runs, out / "gan-ring-samples.png").name
        files["ring_sigmas"] = plot_ring_sigmas(runs, out / "gan-ring-sigmas.png").name
        files["ring_lipschitz"] = plot_ring_lipschitz(runs, out / "gan-ring-lipschitz.png").name
    if not quick:
        digits_config = DigitsConfig()
        bar = ProgressBar()
        try:
            digits = run_digits(digits_config, progress=bar)
        finally:
            bar.close()
        result["digits"] = {
            "config": config_dict(digits_config),
            **{arm: {"sigmas": history["sigmas"], "final_d_loss": history["d_losses"][-1],
                     "final_g_loss": history["g_losses"][-1], "seconds": history["seconds"]}
               for arm, history in digits.items()},
        }
        for arm, history in digits.items():
            sigmas = ", ".join(f"{s:.2f}" for s in history["sigmas"])
            print(f"digits, {ARM_TITLES[arm]:22s} D sigma per layer {sigmas}; {history['seconds']:.0f} s")
        if have_matplotlib:
            files["digits_samples"] = plot_digits(digits, out / "gan-digits-samples.png").name
    result["files"] = files
    result["seconds"] = time.perf_counter() - started
    path = write_json(result, out / "gan.json")
    print(f"Wrote {path} and {len(files)} picture(s) in {result['seconds']:.0f} s")
    return 0


# ---------------------------------------------------------------------------------------
# For the tour: a shortened run and the sentences that say what its numbers mean
# ---------------------------------------------------------------------------------------
TOUR_QUICK_RING = replace(QUICK_RING, steps=100, eval_every=50)


def tour_run(quick: bool, out: Path, jobs: int = 2) -> dict:
    """The ring experiment for `minigrad tour`: 5 seeds of --quick's settings, or 2 short seeds.

    Returns the summary (as in gan.json), the largest excess of a measured Lipschitz
    constant over its bound, the spectral-norm layers' largest final |sigma_max - 1|, and
    the picture's file name in ``out``.
    """
    seeds, config = (2, TOUR_QUICK_RING) if quick else (5, QUICK_RING)
    runs = run_ring(seeds, config, jobs=1 if quick else jobs)
    summary = summarise(runs, config)
    excess = max(max(m - b for m, b in zip(h["lipschitz"], h["bound"])) for hs in runs.values() for h in hs)
    sn_final = [s for h in runs["with_spectral_norm"] for s in h["sigmas"][-1]]
    result = {"summary": summary, "config": config, "excess": max(excess, 0.0),
              "sigma_deviation": float(max(abs(s - 1) for s in sn_final)), "files": {}}
    try:
        pyplot()
    except ImportError:
        return result
    result["files"]["gan-ring-samples"] = plot_ring_samples(runs, out / "gan-ring-samples.png").name
    result["files"]["gan-ring-lipschitz"] = plot_ring_lipschitz(runs, out / "gan-ring-lipschitz.png").name
    return result


def tour_meaning(result: dict) -> str:
    """Two sentences on the tour's GAN numbers: the bound, and the modes of both arms."""
    summary, config = result["summary"], result["config"]
    sn, plain = summary["with_spectral_norm"], summary["without_spectral_norm"]
    first = (
        f"Spectral norm holds every discriminator layer's sigma_max near 1 (final medians "
        f"{', '.join(f'{s:.3f}' for s in sn['sigmas_median'])}; at most {result['sigma_deviation']:.1%} away, as "
        f"one power-iteration step per update lets the estimate lag the moving weights), so the product of the "
        f"layers' sigmas, which bounds "
        f"D's slope because LeakyReLU's slope is at most 1, stays near 1 (median {sn['lipschitz_bound_median']:.2f}; "
        f"steepest measured gradient {sn['lipschitz_measured_median']:.2f}), while without it the layers grew to "
        f"{', '.join(f'{s:.2f}' for s in plain['sigmas_median'])} and the bound to "
        f"{plain['lipschitz_bound_median']:.1f} "
        f"(measured {plain['lipschitz_measured_median']:.2f}); in both arms no measured slope exceeded its bound."
    )
    second = (
        f"Over {summary['seeds']} seeds of {config.steps} steps the generator covered a median of "
        f"{sn['modes_median']:g} of 8 modes (range {sn['modes_range'][0]}-{sn['modes_range'][1]}) with spectral "
        f"norm and {plain['modes_median']:g} (range {plain['modes_range'][0]}-{plain['modes_range'][1]}) without, "
        f"with {sn['high_quality_median']:.1%} and {plain['high_quality_median']:.1%} of samples within 3 std of a "
        f"centre; `minigrad gan` runs the full comparison and tutorial 9 explains it."
    )
    return first + "\n" + second
