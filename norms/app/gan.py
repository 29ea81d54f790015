"""What spectral norm is for: a GAN trained with and without it, measured over seeds.

Spectral normalisation was introduced to keep a GAN's discriminator close to 1-Lipschitz
(Miyato et al., 2018). This module runs that experiment at a size two CPU cores can afford:

1. The ring of 8 Gaussians, the usual 2-D mode-collapse test (VEEGAN, Srivastava et al.
   2017; Unrolled GAN, Metz et al. 2017): centres on a circle of radius 2, standard
   deviation 0.02. A small MLP generator and discriminator train with the non-saturating
   loss and Adam, with spectral norm on every discriminator layer or on none (same seeds,
   same steps, same learning rates). Measured every ``eval_every`` steps, never per step:
   modes covered, the share of high-quality samples, each discriminator layer's largest
   singular value, and the discriminator's steepest input gradient against the product of
   its layers' singular values (the Lipschitz bound).
2. The 8x8 digits of scikit-learn (bundled, no download): a small convolutional GAN whose
   discriminator has spectral norm on its Conv2d weights (dim 0) or not; the generator
   upsamples with ConvTranspose2d.

Definitions (stated once, used everywhere)
    high quality   a sample within 3 standard deviations (3 * 0.02 = 0.06) of a centre;
    mode covered   at least ``MODE_MIN_SAMPLES`` = 20 of the 2500 evaluation samples are
                   high quality at that centre. A generator that spread its samples evenly
                   would put about 312 at each; 20 (0.8 %) is far above what a stray sample
                   or two passing through a centre gives, yet low enough that a mode the
                   generator does cover, even unevenly, counts.
    Lipschitz      for D(x) = W_L a(... a(W_1 x + b_1) ...) + b_L with a 1-Lipschitz activation
                   (LeakyReLU), ||grad_x D(x)|| <= prod_i sigma_max(W_i) at every x. The
                   measured constant is the largest ||grad_x D(x)|| over real, generated and
                   interpolated samples; it is a lower bound of the true constant, the
                   product an upper bound.

References
    T. Miyato, T. Kataoka, M. Koyama, Y. Yoshida, "Spectral Normalization for Generative
    Adversarial Networks", ICLR 2018, arXiv:1802.05957.
    I. Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014 (the non-saturating
    generator loss, section 3).
    A. Srivastava et al., "VEEGAN", NeurIPS 2017 (the ring, high-quality samples, modes).
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

import minigrad as mg
from minigrad import nn, optim
from minigrad.nn import functional as NF
from norms.spectral import spectral_norm

__all__ = [
    "MODE_MIN_SAMPLES",
    "RING_MODES",
    "RING_RADIUS",
    "RING_STD",
    "DigitsConfig",
    "RingConfig",
    "layer_sigmas",
    "lipschitz_check",
    "make_ring_discriminator",
    "make_ring_generator",
    "ring_centres",
    "ring_metrics",
    "run_cli",
    "run_digits",
    "run_ring",
    "sample_ring",
    "summarise",
    "train_digits",
    "train_ring",
    "write_json",
]

RING_MODES = 8
RING_RADIUS = 2.0
RING_STD = 0.02
HIGH_QUALITY_STDS = 3.0
MODE_MIN_SAMPLES = 20
EVAL_SAMPLES = 2500


# ---------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RingConfig:
    """Every hyperparameter of the ring experiment; both arms use the same values."""

    steps: int = 1500
    batch: int = 256
    noise_dim: int = 2
    hidden: int = 64
    lr_discriminator: float = 2e-3
    lr_generator: float = 2e-3
    betas: tuple = (0.5, 0.999)
    negative_slope: float = 0.2
    n_power_iterations: int = 1
    eval_every: int = 250
    eval_samples: int = EVAL_SAMPLES
    lipschitz_samples: int = 256


QUICK_RING = RingConfig()
FULL_RING = RingConfig(steps=4000, eval_every=500)


@dataclass(frozen=True)
class DigitsConfig:
    """The digits conv GAN's hyperparameters (both arms the same)."""

    steps: int = 1500
    batch: int = 32
    noise_dim: int = 16
    channels: int = 12
    lr_discriminator: float = 1e-3
    lr_generator: float = 1e-3
    betas: tuple = (0.5, 0.999)
    negative_slope: float = 0.2
    snapshot_steps: tuple = (0, 250, 500, 1000, 1500)


# ---------------------------------------------------------------------------------------
# The ring and its metrics
# ---------------------------------------------------------------------------------------
def ring_centres(modes: int = RING_MODES, radius: float = RING_RADIUS) -> np.ndarray:
    """The (modes, 2) centres radius * (cos 2 pi k / modes, sin 2 pi k / modes)."""
    angles = 2 * np.pi * np.arange(modes) / modes
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def sample_ring(count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` points of the ring: a uniformly chosen centre plus N(0, RING_STD^2 I) noise."""
    centres = ring_centres()
    return centres[rng.integers(0, RING_MODES, count)] + RING_STD * rng.standard_normal((count, 2))


def ring_metrics(samples: np.ndarray) -> dict:
    """Modes covered and the high-quality share of ``samples`` (definitions: module docstring).

    Returns ``modes`` (int), ``high_quality`` (share in [0, 1]) and ``per_mode`` (the count
    of high-quality samples at each centre).
    """
    samples = np.asarray(samples, dtype=float)
    distances = np.linalg.norm(samples[:, None, :] - ring_centres()[None, :, :], axis=2)
    nearest = np.argmin(distances, axis=1)
    good = distances[np.arange(len(samples)), nearest] <= HIGH_QUALITY_STDS * RING_STD
    per_mode = np.bincount(nearest[good], minlength=RING_MODES)
    return {
        "modes": int(np.sum(per_mode >= MODE_MIN_SAMPLES)),
        "high_quality": float(np.mean(good)) if len(samples) else 0.0,
        "per_mode": per_mode.tolist(),
    }


# ---------------------------------------------------------------------------------------
# The two networks
# ---------------------------------------------------------------------------------------
def make_ring_generator(config: RingConfig) -> nn.Sequential:
    """noise (noise_dim) -> hidden -> hidden -> 2, ReLU between (layers drawn from minigrad's generator)."""
    return nn.Sequential(
        nn.Linear(config.noise_dim, config.hidden), nn.ReLU(),
        nn.Linear(config.hidden, config.hidden), nn.ReLU(),
        nn.Linear(config.hidden, 2),
    )


def make_ring_discriminator(config: RingConfig, spectral: bool) -> nn.Sequential:
    """2 -> hidden -> hidden -> 1 logit, LeakyReLU between; spectral norm on every Linear if ``spectral``.

    LeakyReLU has slope at most 1, so the product of the layers' largest singular values
    bounds the network's Lipschitz constant (see :func:`lipschitz_check`).
    """
    model = nn.Sequential(
        nn.Linear(2, config.hidden), nn.LeakyReLU(config.negative_slope),
        nn.Linear(config.hidden, config.hidden), nn.LeakyReLU(config.negative_slope),
        nn.Linear(config.hidden, 1),
    )
    if spectral:
        for layer in linear_layers(model):
            spectral_norm(layer, n_power_iterations=config.n_power_iterations)
    return model


def linear_layers(model: nn.Module) -> list:
    """The layers that carry a weight matrix (Linear, Conv2d, ConvTranspose2d), in order."""
    return [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))]


def effective_weight(layer: nn.Module) -> np.ndarray:
    """The weight the layer's last forward used: W_orig / sigma under spectral norm, else W."""
    return np.asarray(layer.weight.data)


def layer_sigmas(model: nn.Module, dims: list | None = None) -> list:
    """Each layer's largest singular value, from an SVD of its effective weight (no graph).

    A convolution's weight is read as the (shape[dim], rest) matrix that spectral norm
    normalises (dim 0, or 1 for a ConvTranspose2d). That matrix's norm is what spectral norm
    sets to 1; the convolution's own operator norm differs from it by at most a factor
    that depends on the kernel size and stride (Miyato et al., 2018, section 2.1).
    """
    sigmas = []
    for index, layer in enumerate(linear_layers(model)):
        weight = effective_weight(layer)
        dim = (dims[index] if dims else (1 if isinstance(layer, nn.ConvTranspose2d) else 0))
        matrix = np.moveaxis(weight, dim, 0).reshape(weight.shape[dim], -1)
        sigmas.append(float(np.linalg.svd(matrix, compute_uv=False)[0]))
    return sigmas


def lipschitz_check(discriminator: nn.Module, points: np.ndarray) -> dict:
    """The steepest input gradient of D over ``points`` and the bound prod_i sigma_max(W_i).

        measured = max_x ||d D(x) / dx||_2,   bound = prod over layers of sigma_max(W_i)

    D runs in eval mode, so spectral norm does no power iteration and the u, v buffers are
    left as they were; the bound is computed from the very weights that forward used.
    Each D(x) depends on its own row only, so the gradient of sum D(x) holds every row's
    input gradient.
    """
    was_training = discriminator.training
    discriminator.eval()
    try:
        inputs = mg.tensor(np.asarray(points, dtype=float), requires_grad=True)
        (gradient,) = mg.grad(discriminator(inputs).sum(), inputs)
        sigmas = layer_sigmas(discriminator)
    finally:
        discriminator.train(was_training)
    measured = float(np.max(np.linalg.norm(gradient.data, axis=1)))
    return {"measured": measured, "bound": float(np.prod(sigmas)), "sigmas": sigmas}


def discriminator_loss(logits: mg.Tensor, real_count: int) -> mg.Tensor:
    """Non-saturating GAN loss of D on [real; fake] logits: mean softplus(-l_real) + mean softplus(l_fake).

    softplus(-l) = -log sigmoid(l), so this is the cross-entropy of "real" on the real rows
    and of "fake" on the generated rows (Goodfellow et al., 2014).
    """
    signs = np.ones((logits.shape[0], 1))
    signs[real_count:] = -1.0
    fake_count = logits.shape[0] - real_count
    weights = np.where(signs > 0, 1.0 / real_count, 1.0 / fake_count)
    return (NF.softplus(logits * (-signs)) * weights).sum()


def generator_loss(fake_logits: mg.Tensor) -> mg.Tensor:
    """The non-saturating generator loss mean softplus(-D(G(z))) = -mean log sigmoid(D(G(z)))."""
    return NF.softplus(-fake_logits).mean()


# ---------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------
def ring_models(seed: int, spectral: bool, config: RingConfig) -> tuple:
    """G and D for ``seed``: minigrad's generator seeded, G drawn first, then D (and its u, v)."""
    mg.manual_seed(seed)
    generator = make_ring_generator(config)
    discriminator = make_ring_discriminator(config, spectral)
    return generator, discriminator


def ring_batches(seed: int, config: RingConfig):
    """The per-step draws (real batch, noise for D's step, noise for G's step), from their own stream.

    Kept apart from the weights' stream so both arms of a seed see the same data and noise.
    """
    rng = np.random.default_rng([seed, 1])
    while True:
        yield (sample_ring(config.batch, rng), rng.standard_normal((config.batch, config.noise_dim)),
               rng.standard_normal((config.batch, config.noise_dim)))


def ring_step(generator, discriminator, g_optimizer, d_optimizer, real, noise_d, noise_g) -> tuple:
    """One D update on [real; G(noise_d)] then one G update on D(G(noise_g)); returns both losses."""
    with mg.no_grad():
        fake = generator(mg.tensor(noise_d)).data
    d_optimizer.zero_grad()
    d_loss = discriminator_loss(discriminator(mg.tensor(np.concatenate([real, fake]))), len(real))
    d_loss.backward()
    d_optimizer.step()
    g_optimizer.zero_grad()
    g_loss = generator_loss(discriminator(generator(mg.tensor(noise_g))))
    g_loss.backward()
    g_optimizer.step()
    return d_loss.item(), g_loss.item()


def train_ring(seed: int, spectral: bool, config: RingConfig = QUICK_RING, keep_samples: bool = False,
               progress=None) -> dict:
    """Train one ring GAN; measure every ``config.eval_every`` steps (and at step 0).

    Returns the per-step losses, and at each evaluation step: modes, high-quality share,
    D's layer sigmas, the measured Lipschitz constant and its bound; with ``keep_samples``
    also the generator's samples there (for the pictures).
    """
    generator, discriminator = ring_models(seed, spectral, config)
    g_optimizer = optim.Adam(generator.parameters(), lr=config.lr_generator, betas=config.betas)
    d_optimizer = optim.Adam(discriminator.parameters(), lr=config.lr_discriminator, betas=config.betas)
    evaluation_rng = np.random.default_rng([seed, 2])
    evaluation_noise = evaluation_rng.standard_normal((config.eval_samples, config.noise_dim))
    batches = ring_batches(seed, config)
    history = {"seed": seed, "spectral_norm": spectral, "d_losses": [], "g_losses": [], "eval_steps": [],
               "modes": [], "high_quality": [], "sigmas": [], "lipschitz": [], "bound": [], "samples": []}
    started = time.perf_counter()

    def evaluate(step: int) -> None:
        with mg.no_grad():
            samples = generator(mg.tensor(evaluation_noise)).data
        metrics = ring_metrics(samples)
        count = config.lipschitz_samples
        real = sample_ring(count, evaluation_rng)
        fake = samples[:count]
        mix = evaluation_rng.uniform(size=(count, 1))
        check = lipschitz_check(discriminator, np.concatenate([real, fake, mix * real + (1 - mix) * fake]))
        history["eval_steps"].append(step)
        history["modes"].append(metrics["modes"])
        history["high_quality"].append(metrics["high_quality"])
        history["sigmas"].append(check["sigmas"])
        history["lipschitz"].append(check["measured"])
        history["bound"].append(check["bound"])
        if keep_samples:
            history["samples"].append(samples)

    evaluate(0)
    for step in range(1, config.steps + 1):
        d_loss, g_loss = ring_step(generator, discriminator, g_optimizer, d_optimizer, *next(batches))
        history["d_losses"].append(d_loss)
        history["g_losses"].append(g_loss)
        if step % config.eval_every == 0 or step == config.steps:
            evaluate(step)
            if progress is not None:
                progress(step)
    history["seconds"] = time.perf_counter() - started
    history["final_per_mode"] = ring_metrics(history["samples"][-1] if keep_samples else
                                             _final_samples(generator, evaluation_noise))["per_mode"]
    return history


def _final_samples(generator, noise) -> np.ndarray:
    with mg.no_grad():
        return generator(mg.tensor(noise)).data


# ---------------------------------------------------------------------------------------
# Both arms over seeds, and their summary
# ---------------------------------------------------------------------------------------
ARMS = (("with_spectral_norm", True), ("without_spectral_norm", False))


def _one_blas_thread():
    """A context that keeps BLAS on one thread when threadpoolctl is installed.

    These matrices are small (256 x 64): a second BLAS thread only adds hand-over costs,
    and on a shared 2-core machine a spinning thread made a step ten times slower.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: without it the run is only slower
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _train_task(task: tuple) -> tuple:
    """One (arm, seed) run for a worker process; BLAS kept to one thread there too."""
    arm, seed, spectral, config, keep_samples = task
    with _one_blas_thread():
        return arm, seed, train_ring(seed, spectral, config, keep_samples=keep_samples)


def run_ring(seeds: int, config: RingConfig = QUICK_RING, progress=None, keep_samples_seed: int = 0,
             jobs: int = 1) -> dict:
    """Train both arms for seeds 0 .. seeds-1; returns {arm: [history per seed]}.

    ``progress(label, fraction)`` is called as the runs advance; the run of seed
    ``keep_samples_seed`` keeps its samples for the pictures. With ``jobs`` > 1 the runs
    are shared among that many worker processes (each run is independent and seeded, so
    the results are the same as with one process).
    """
    tasks = [(arm, seed, spectral, config, seed == keep_samples_seed) for seed in range(seeds) for arm, spectral in ARMS]
    runs = {arm: [None] * seeds for arm, _ in ARMS}
    if jobs > 1 and len(tasks) > 1:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(min(jobs, len(tasks))) as pool:
            for finished, (arm, seed, history) in enumerate(pool.imap_unordered(_train_task, tasks), 1):
                runs[arm][seed] = history
                if progress is not None:
                    progress(f"ring, {finished}/{len(tasks)} runs ({jobs} processes)", finished / len(tasks))
        return runs
    total = len(tasks) * config.steps
    with _one_blas_thread():
        for index, (arm, seed, spectral, _, keep) in enumerate(tasks):
            label = f"ring, {arm.replace('_', ' ')}, seed {seed + 1}/{seeds}"

            def report(step, label=label, base=index * config.steps):
                if progress is not None:
                    progress(label, (base + step) / total)

            runs[arm][seed] = train_ring(seed, spectral, config, keep_samples=keep, progress=report)
    return runs


def summarise(runs: dict, config: RingConfig) -> dict:
    """The ring part of gan.json: per arm the median and range over seeds of the final metrics.

    ``lipschitz_worst_ratio`` is the largest measured / bound over every evaluation of
    every seed (at most 1 when the bound holds); ``sigmas_median`` is the median over seeds
    of each layer's final largest singular value.
    """
    summary = {"seeds": len(next(iter(runs.values()))), "config": _config_dict(config),
               "definitions": {"high_quality": f"within {HIGH_QUALITY_STDS:g} std ({HIGH_QUALITY_STDS * RING_STD:g}) "
                                               f"of a centre",
                               "mode_covered": f"at least {MODE_MIN_SAMPLES} of {config.eval_samples} samples "
                                               f"high quality at that centre"}}
    for arm, histories in runs.items():
        modes = [h["modes"][-1] for h in histories]
        quality = [h["high_quality"][-1] for h in histories]
        ratios = [m / b for h in histories for m, b in zip(h["lipschitz"], h["bound"])]
        summary[arm] = {
            "modes_median": float(np.median(modes)),
            "modes_range": [int(min(modes)), int(max(modes))],
            "high_quality_median": float(np.median(quality)),
            "high_quality_range": [float(min(quality)), float(max(quality))],
            "modes_per_seed": [int(m) for m in modes],
            "high_quality_per_seed": [float(q) for q in quality],
            "sigmas_median": [float(s) for s in np.median([h["sigmas"][-1] for h in histories], axis=0)],
            "lipschitz_measured_median": float(np.median([h["lipschitz"][-1] for h in histories])),
            "lipschitz_bound_median": float(np.median([h["bound"][-1] for h in histories])),
            "lipschitz_worst_ratio": float(max(ratios)),
            "seconds": float(sum(h["seconds"] for h in histories)),
        }
    return summary


def _config_dict(config) -> dict:
    return {key: (list(value) if isinstance(value, tuple) else value) for key, value in asdict(config).items()}


# ---------------------------------------------------------------------------------------
# Digits: a small convolutional GAN on scikit-learn's bundled 8x8 digits
# ---------------------------------------------------------------------------------------
class Reshape(nn.Module):
    """Reshape each example to ``shape`` (the batch axis is kept)."""

    def __init__(self, *shape: int):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x):
        return x.reshape((x.shape[0],) + self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


def load_digit_images() -> np.ndarray:
    """The 1797 digits of ``sklearn.datasets.load_digits`` as (N, 1, 8, 8) floats in [-1, 1].

    The pixels are integers 0..16; the generator ends in tanh, so they are mapped to tanh's range.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:  # scikit-learn is in the dev extra, not a dependency
        raise ImportError("the digits GAN needs scikit-learn (pip install minigrad[dev]); "
                          "`minigrad gan --quick` runs the ring experiment without it") from error
    images = load_digits().images.astype(np.float64)
    return (images / 8.0 - 1.0)[:, None, :, :]


def make_digits_generator(config: DigitsConfig) -> nn.Sequential:
    """noise -> (2C, 4, 4) -> ConvTranspose2d (stride 2) -> (C, 8, 8) -> Conv2d -> (1, 8, 8), tanh."""
    wide = 2 * config.channels
    return nn.Sequential(
        nn.Linear(config.noise_dim, wide * 16), nn.ReLU(), Reshape(wide, 4, 4),
        nn.ConvTranspose2d(wide, config.channels, 4, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(config.channels, 1, 3, padding=1), nn.Tanh(),
    )


def make_digits_discriminator(config: DigitsConfig, spectral: bool) -> nn.Sequential:
    """(1, 8, 8) -> Conv2d stride 2 -> (C, 4, 4) -> Conv2d stride 2 -> (2C, 2, 2) -> Linear -> 1 logit.

    With ``spectral`` every layer is spectral-normalised; ``spectral_norm`` picks dim 0 for
    the Conv2d and Linear weights (out_channels first), as PyTorch does.
    """
    wide = 2 * config.channels
    model = nn.Sequential(
        nn.Conv2d(1, config.channels, 4, stride=2, padding=1), nn.LeakyReLU(config.negative_slope),
        nn.Conv2d(config.channels, wide, 4, stride=2, padding=1), nn.LeakyReLU(config.negative_slope),
        nn.Flatten(), nn.Linear(wide * 4, 1),
    )
    if spectral:
        for layer in linear_layers(model):
            spectral_norm(layer)
    return model


def train_digits(seed: int, spectral: bool, config: DigitsConfig = DigitsConfig(), progress=None) -> dict:
    """Train the digits GAN once; returns 16 samples from fixed noise at each snapshot step.

    Also each D layer's final largest singular value and the per-step losses.
    """
    images = load_digit_images()
    mg.manual_seed(seed)
    generator = make_digits_generator(config)
    discriminator = make_digits_discriminator(config, spectral)
    g_optimizer = optim.Adam(generator.parameters(), lr=config.lr_generator, betas=config.betas)
    d_optimizer = optim.Adam(discriminator.parameters(), lr=config.lr_discriminator, betas=config.betas)
    rng = np.random.default_rng([seed, 3])
    fixed_noise = rng.standard_normal((16, config.noise_dim))
    history = {"seed": seed, "spectral_norm": spectral, "d_losses": [], "g_losses": [], "snapshots": {}}
    started = time.perf_counter()

    def snapshot(step: int) -> None:
        if step in config.snapshot_steps:
            with mg.no_grad():
                history["snapshots"][step] = generator(mg.tensor(fixed_noise)).data[:, 0]

    snapshot(0)
    for step in range(1, config.steps + 1):
        real = images[rng.integers(0, len(images), config.batch)]
        d_loss, g_loss = ring_step(generator, discriminator, g_optimizer, d_optimizer, real,
                                   rng.standard_normal((config.batch, config.noise_dim)),
                                   rng.standard_normal((config.batch, config.noise_dim)))
        history["d_losses"].append(d_loss)
        history["g_losses"].append(g_loss)
        snapshot(step)
        if progress is not None and (step % 50 == 0 or step == config.steps):
            progress(step)
    discriminator.eval()
    with mg.no_grad():
        discriminator(mg.tensor(images[:1]))
    history["sigmas"] = layer_sigmas(discriminator)
    history["seconds"] = time.perf_counter() - started
    return history


def run_digits(config: DigitsConfig = DigitsConfig(), seed: int = 0, progress=None) -> dict:
    """Both arms of the digits GAN for one seed: {arm: history}."""
    runs = {}
    with _one_blas_thread():
        for index, (arm, spectral) in enumerate(ARMS):
            label = f"digits, {arm.replace('_', ' ')}"

            def report(step, label=label, base=index * config.steps):
                if progress is not None:
                    progress(label, (base + step) / (2 * config.steps))

            runs[arm] = train_digits(seed, spectral, config, progress=report)
    return runs


# ---------------------------------------------------------------------------------------
# Pictures
# ---------------------------------------------------------------------------------------
def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


ARM_TITLES = {"with_spectral_norm": "with spectral norm", "without_spectral_norm": "without spectral norm"}


def plot_ring_samples(runs: dict, path: Path, columns: int = 5) -> Path:
    """Generated samples of the first seed at evenly spaced evaluation steps; one row per arm."""
    plt = _pyplot()
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
    plt = _pyplot()
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
    """The measured Lipschitz constant (steepest input gradient) and the product bound, per arm (from the first evaluation after step 0, as :func:`plot_ring_sigmas`)."""
    plt = _pyplot()
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
    plt = _pyplot()
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
        _pyplot()
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
            "config": _config_dict(digits_config),
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
        _pyplot()
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
        f"{', '.join(f'{s:.2f}' for s in plain['sigmas_median'])} and the bound to {plain['lipschitz_bound_median']:.1f} "
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
