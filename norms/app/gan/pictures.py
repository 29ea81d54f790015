"""The GAN experiment's pictures (PNG, with matplotlib): samples, sigmas and the Lipschitz bound over training."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from norms.app.gan.ring import ring_centres


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


ARM_TITLES = {"with_spectral_norm": "with spectral norm", "without_spectral_norm": "without spectral norm"}


def plot_ring_samples(runs: dict, path: Path, columns: int = 5) -> Path:
    """Generated samples of the first seed at evenly spaced evaluation steps; one row per arm."""
    plt = pyplot()
    first = {arm: next(h for h in histories if h["samples"]) for arm, histories in runs.items()}
    steps = first["with_spectral_norm"]["eval_steps"]
    picks = sorted(set(np.linspace(0, len(steps) - 1, min(columns, len(steps))).round().astype(int)))
    figure, axes = plt.subplots(2, len(picks), figsize=(2.3 * len(picks), 4.9), squeeze=False)
    centres = ring_centres()
    for row, (arm, history) in enumerate(first.items()):
        for column, index in enumerate(picks):
            axis = axes[row, column]
            samples = history["samples"][index]
            axis.scatter(samples[:, 0], samples[:, 1], s=1, alpha=0.3, color="tab:blue" if row == 0 else "tab:red")
            axis.scatter(centres[:, 0], centres[:, 1], s=12, marker="x", color="black")
            axis.set_xlim(-3, 3)
            axis.set_ylim(-3, 3)
            axis.set_xticks([])
            axis.set_yticks([])
            axis.set_aspect("equal")
            axis.set_title(f"step {history['eval_steps'][index]}: {history['modes'][index]}/8 modes", fontsize=8)
        axes[row, 0].set_ylabel(ARM_TITLES[arm], fontsize=8)
    figure.suptitle(f"Generator samples over training (seed {first['with_spectral_norm']['seed']}; x: centres)",
                    fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def plot_ring_sigmas(runs: dict, path: Path) -> Path:
    """Each discriminator layer's largest singular value over training, every seed (thin lines).

    Step 0 is left out: before the first training forward spectral norm's u and v are still
    random (PyTorch's old API iterates only in training forwards), so W / (u^T W v) is
    meaningless there and would swamp the scale.
    """
    plt = pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.3), sharey=True)
    for axis, (arm, histories) in zip(axes, runs.items()):
        for history in histories:
            sigmas = np.array(history["sigmas"][1:])
            for layer in range(sigmas.shape[1]):
                axis.plot(history["eval_steps"][1:], sigmas[:, layer], color=f"C{layer}", linewidth=0.8, alpha=0.7,
                          label=f"layer {layer + 1}" if history is histories[0] else None)
        axis.axhline(1.0, color="grey", linestyle="--", linewidth=0.8)
        axis.set_yscale("log")
        axis.set_title(ARM_TITLES[arm], fontsize=9)
        axis.set_xlabel("step")
    axes[0].set_ylabel("largest singular value of W")
    axes[0].legend(fontsize=7)
    figure.suptitle("Discriminator: sigma_max per layer (one line per seed)", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def plot_ring_lipschitz(runs: dict, path: Path) -> Path:
    """The measured Lipschitz constant (steepest input gradient) and the product bound, per arm.

    Drawn from the first evaluation after step 0, as :func:`plot_ring_sigmas` is.
    """
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(6, 3.6))
    for arm, colour in (("with_spectral_norm", "tab:blue"), ("without_spectral_norm", "tab:red")):
        for history in runs[arm]:
            first = history is runs[arm][0]
            axis.plot(history["eval_steps"][1:], history["bound"][1:], color=colour, linestyle="--", linewidth=0.8,
                      label=f"{ARM_TITLES[arm]}: product of sigmas" if first else None)
            axis.plot(history["eval_steps"][1:], history["lipschitz"][1:], color=colour, linewidth=0.8,
                      label=f"{ARM_TITLES[arm]}: measured max ||grad D||" if first else None)
    axis.set_yscale("log")
    axis.set_xlabel("step")
    axis.set_ylabel("Lipschitz constant of D")
    axis.set_title("Measured (solid) never exceeds the bound (dashed); one line per seed", fontsize=9)
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def plot_digits(runs: dict, path: Path) -> Path:
    """A 4x4 grid of samples from fixed noise at each snapshot step; one row per arm."""
    plt = pyplot()
    steps = sorted(next(iter(runs.values()))["snapshots"])
    figure, axes = plt.subplots(2, len(steps), figsize=(1.9 * len(steps), 4.6), squeeze=False)
    for row, (arm, history) in enumerate(runs.items()):
        for column, step in enumerate(steps):
            images = history["snapshots"][step]
            grid = np.ones((4 * 9 - 1, 4 * 9 - 1))
            for index, image in enumerate(images[:16]):
                top, left = 9 * (index // 4), 9 * (index % 4)
                grid[top:top + 8, left:left + 8] = (image + 1) / 2
            axis = axes[row, column]
            axis.imshow(grid, cmap="gray_r", vmin=0, vmax=1)
            axis.set_xticks([])
            axis.set_yticks([])
            axis.set_title(f"step {step}", fontsize=8)
        axes[row, 0].set_ylabel(ARM_TITLES[arm], fontsize=8)
    figure.suptitle("8x8 digits GAN: samples from the same 16 noise vectors", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
