"""A small convolutional GAN on scikit-learn's bundled 8x8 digits, with and without spectral norm.

The discriminator has spectral norm on its Conv2d and Linear weights (dim 0) or not; the
generator upsamples with ConvTranspose2d. Both arms share one seed.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

import minigrad as mg
from minigrad import nn, optim
from norms.app.gan.ring import layer_sigmas, linear_layers
from norms.app.gan.training import ARMS, one_blas_thread, ring_step
from norms.spectral import spectral_norm


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
    with one_blas_thread():
        for index, (arm, spectral) in enumerate(ARMS):
            label = f"digits, {arm.replace('_', ' ')}"

            def report(step, label=label, base=index * config.steps):
                if progress is not None:
                    progress(label, (base + step) / (2 * config.steps))

            runs[arm] = train_digits(seed, spectral, config, progress=report)
    return runs
