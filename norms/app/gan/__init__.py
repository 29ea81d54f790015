"""What spectral norm is for: a GAN trained with and without it, measured over seeds.

Spectral normalisation was introduced to keep a GAN's discriminator close to 1-Lipschitz
(Miyato et al., 2018). This package runs that experiment at a size two CPU cores can afford:

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

The package's modules: ``ring`` (the ring, its metrics, the two networks and their losses,
the Lipschitz measure), ``training`` (one run, both arms over seeds, their summary),
``digits`` (the convolutional GAN), ``pictures`` (the PNGs) and ``command`` (gan.json, the
table, ``minigrad gan``, and the shortened run of ``minigrad tour``).
"""
from __future__ import annotations

from norms.app.gan.command import TOUR_QUICK_RING, ProgressBar, ring_table, run_cli, tour_meaning, tour_run, write_json
from norms.app.gan.digits import (
    DigitsConfig, Reshape, load_digit_images, make_digits_discriminator, make_digits_generator, run_digits,
    train_digits,
)
from norms.app.gan.pictures import ARM_TITLES, plot_digits, plot_ring_lipschitz, plot_ring_samples, plot_ring_sigmas
from norms.app.gan.ring import (
    EVAL_SAMPLES, FULL_RING, HIGH_QUALITY_STDS, MODE_MIN_SAMPLES, QUICK_RING, RING_MODES, RING_RADIUS, RING_STD,
    RingConfig, discriminator_loss, effective_weight, generator_loss, layer_sigmas, linear_layers, lipschitz_check,
    make_ring_discriminator, make_ring_generator, ring_centres, ring_metrics, sample_ring,
)
from norms.app.gan.training import ARMS, ring_batches, ring_models, ring_step, run_ring, summarise, train_ring

__all__ = [
    "ARMS", "ARM_TITLES", "EVAL_SAMPLES", "FULL_RING", "HIGH_QUALITY_STDS", "MODE_MIN_SAMPLES", "QUICK_RING",
    "RING_MODES", "RING_RADIUS", "RING_STD", "TOUR_QUICK_RING",
    "DigitsConfig", "ProgressBar", "Reshape", "RingConfig",
    "discriminator_loss", "effective_weight", "generator_loss", "layer_sigmas", "linear_layers", "lipschitz_check",
    "load_digit_images", "make_digits_discriminator", "make_digits_generator", "make_ring_discriminator",
    "make_ring_generator", "plot_digits", "plot_ring_lipschitz", "plot_ring_samples", "plot_ring_sigmas",
    "ring_batches", "ring_centres", "ring_metrics", "ring_models", "ring_step", "ring_table", "run_cli",
    "run_digits", "run_ring", "sample_ring", "summarise", "tour_meaning", "tour_run", "train_digits", "train_ring",
    "write_json",
]
