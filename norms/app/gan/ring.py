"""The ring of 8 Gaussians: its settings, samples and metrics, the two networks and their losses.

Also what is measured on a discriminator: each layer's largest singular value and the
steepest input gradient against their product (the Lipschitz bound). The definitions of a
high-quality sample, a covered mode and the bound are in the package docstring
(norms/app/gan/__init__.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import minigrad as mg
from minigrad import nn
from minigrad.nn import functional as NF
from norms.spectral import spectral_norm

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
    """Modes covered and the high-quality share of ``samples`` (definitions: the package docstring).

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
