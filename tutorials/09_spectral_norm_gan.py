# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 9. Spectral norm in a GAN
#
# Tutorials 3 and 7 showed what spectral normalisation does: every layer's largest singular
# value is held at 1, so the network cannot stretch any input direction by more than 1. This
# tutorial is about why people use it. Its best-known use (Miyato et al., 2018, "Spectral
# Normalization for Generative Adversarial Networks") is the *discriminator* of a GAN.
#
# We train the same small GAN twice per seed, with spectral norm on every discriminator
# layer and without, on the standard mode-collapse test: a ring of 8 Gaussians. We measure
#
# * how many of the 8 modes the generator covers, and the share of its samples that land
#   on a mode ("high quality"),
# * each discriminator layer's largest singular value during training,
# * the discriminator's Lipschitz constant, measured, against the bound the layers give.
#
# The experiment here is a shortened version of `minigrad gan --quick` (fewer seeds and
# steps) so that the notebook runs in well under a minute. The code lives in `norms/app/gan/`.

# %%
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np

import minigrad as mg
from minigrad import nn
from norms import spectral_norm
from norms.app import gan
from tutorial_setup import show, start

start(seed=None)


# %% [markdown]
# ## Why a GAN's discriminator should be Lipschitz
#
# A GAN has two networks. The generator G turns noise z into samples G(z); the discriminator
# D scores a point x, high for "real", low for "generated". D is trained to tell the two
# apart; G is trained to raise D's score of its own samples. With the *non-saturating* loss
# (Goodfellow et al., 2014),
#
#     loss_D = mean softplus(-D(x_real)) + mean softplus(D(G(z)))
#     loss_G = mean softplus(-D(G(z)))
#
# The only thing G ever learns from is the gradient of D with respect to its *input*,
# dD/dx, evaluated at G's samples. So the shape of D as a function of x is what matters.
#
# Nothing in the loss limits how steep D may become. If D can separate the current fake
# samples from the real ones with a cliff, the cliff is what G sees: near it the gradient is
# huge, away from it nearly zero, and it points towards whatever region D rewards *right
# now*. G moves its samples wholesale towards that region; D redraws the cliff; G moves
# again. The samples hop from mode to mode and pile up on a few of them: mode collapse.
#
# A bound on D's slope is a bound on how sharp that cliff can be. Write Lip(f) for the
# smallest L with ||f(x) - f(y)|| <= L ||x - y|| for all x, y. Three facts give the bound:
#
# 1. Composition multiplies: Lip(f o g) <= Lip(f) Lip(g), because f can stretch at most
#    by Lip(f) whatever g has already stretched.
# 2. A linear map x -> W x + b stretches at most along its top singular direction:
#    Lip = sigma_max(W) (the bias only shifts).
# 3. LeakyReLU (and ReLU) have slope at most 1: Lip = 1.
#
# So for D = W_3 a(W_2 a(W_1 x + b_1) + b_2) + b_3,
#
#     ||dD/dx|| <= Lip(D) <= sigma_max(W_1) sigma_max(W_2) sigma_max(W_3).
#
# Spectral norm divides each W_i by (an estimate of) its sigma_max before every forward, so
# the product is 1: D can never be steeper than slope 1, however long it trains. Its
# gradients stay informative away from the data and cannot blow up near it.

# %% [markdown]
# ## The data: a ring of 8 Gaussians
#
# Centres on a circle of radius 2, standard deviation 0.02 (VEEGAN, 2017; Unrolled GAN,
# 2017). A generated sample is *high quality* when it lies within 3 standard deviations
# (0.06) of a centre; a mode is *covered* when at least 20 of 2500 generated samples are
# high quality at it. A perfect sampler covers all 8 with about 99 % high quality (a 3-std
# disc holds 1 - exp(-9/2) = 98.9 % of a 2-D Gaussian).

# %%
perfect = gan.ring_metrics(gan.sample_ring(2500, np.random.default_rng(0)))
print("a perfect sampler:", perfect)
assert perfect["modes"] == 8 and abs(perfect["high_quality"] - (1 - np.exp(-4.5))) < 0.007

fig, ax = plt.subplots(figsize=(3.2, 3.2))
points = gan.sample_ring(2500, np.random.default_rng(0))
ax.scatter(points[:, 0], points[:, 1], s=1)
ax.set_aspect("equal")
ax.set_title("2500 samples of the ring")
show(fig)

# %% [markdown]
# ## The two networks
#
# G maps 2-D noise through two hidden layers of 64 ReLU units to a point in the plane; D maps
# a point through two hidden layers of 64 LeakyReLU(0.2) units to one logit. With
# `spectral=True` every Linear of D gets `spectral_norm` (one power-iteration step per
# forward, PyTorch's default): its parameter becomes `weight_orig`, and `weight` is
# recomputed as `weight_orig / sigma` before every forward.

# %%
config = gan.QUICK_RING
print(config)
print(gan.make_ring_discriminator(config, spectral=True))

# %% [markdown]
# ## The experiment, shortened
#
# Both arms of a seed start from the same generator weights and see the same data and noise
# at every step; only the discriminator's spectral norm differs. `minigrad gan --quick`
# runs 5 seeds for `config.steps` steps; here 2 seeds and fewer steps keep the notebook fast.

# %%
short = replace(config, steps=800, eval_every=100)
runs = gan.run_ring(2, short)
summary = gan.summarise(runs, short)
print(gan.ring_table(summary))

# %% [markdown]
# ### The bound holds, and spectral norm keeps it at about 1
#
# At every evaluation the steepest input gradient we could find (over real, generated and
# interpolated points) is at most the product of the layers' singular values. With spectral
# norm each layer's sigma_max sits just above 1 (the power iteration's estimate u^T W v is
# never larger than the true sigma_max, so W / estimate has sigma_max >= 1); without it the
# layers grow and the bound grows with them.

# %%
for arm, histories in runs.items():
    for history in histories:
        for measured, bound in zip(history["lipschitz"], history["bound"]):
            assert measured <= bound * (1 + 1e-12)
        print(f"{arm:22s} seed {history['seed']}: final bound {history['bound'][-1]:7.3f}, "
              f"measured {history['lipschitz'][-1]:.3f}, sigmas {np.round(history['sigmas'][-1], 3)}")
sn_sigmas = np.array([s for h in runs["with_spectral_norm"] for s in h["sigmas"][1:]])
assert np.all(sn_sigmas >= 1 - 1e-12) and np.all(sn_sigmas < 1.1)
assert all(h["bound"][-1] > 2 for h in runs["without_spectral_norm"])

# %%
import tempfile
from pathlib import Path

from IPython.display import Image, display

folder = Path(tempfile.mkdtemp())
for plot in (gan.plot_ring_samples, gan.plot_ring_sigmas, gan.plot_ring_lipschitz):
    display(Image(str(plot(runs, folder / f"{plot.__name__}.png"))))

# %% [markdown]
# ## What goes wrong without spectral norm, and why
#
# Read the two rows of the sample plot and the Lipschitz plot together.
#
# * Without spectral norm, nothing stops D's layers from growing: the product of their
#   sigma_max climbs well above 1 and keeps climbing, and the measured slope follows it.
#   Nothing in training pulls it back. The theory above says where that leads: a D steep
#   enough to draw a cliff between the current fakes and the data gives G huge gradients
#   near the cliff and none elsewhere, and G's samples move in bulk towards whichever modes
#   D rewards at that moment (mode hopping, then collapse). Long runs and aggressive
#   settings (a high learning rate, a strong D) make it likely; Miyato et al. (2018) found
#   the unnormalised GANs failing at settings where spectral norm kept working.
# * With spectral norm the slope of D is pinned at most at 1, whatever the weights do. G's
#   updates stay bounded, so its samples move gradually.
#
# What we measure at this size is more modest, and worth stating plainly. In runs of a few
# thousand steps on two CPU cores, the plain GAN on this ring did *not* collapse: in
# `minigrad gan --quick` and `minigrad gan` (5 seeds each) it covered as many modes as the
# spectral-norm GAN and put more of its samples on them. The price of spectral norm shows
# first: a D whose slope is capped (and in practice well below the cap, see below) builds a
# sharp bump at a mode only slowly, so the generator sharpens onto the modes more slowly.
# The Lipschitz guarantee is what spectral norm buys at any length of training; better mode
# coverage is what it buys when training runs long enough, or hot enough, for the plain
# discriminator's growing slope to do damage. The cell below prints this notebook's own
# numbers.
#
# Two more things the measurement shows:
#
# * the measured slope is well below the bound even with spectral norm: the bound multiplies
#   worst cases that no single input realises at once (the top singular directions of
#   successive layers do not line up, and LeakyReLU scales the negative side by 0.2);
# * the bound is a property of the weights alone, so it holds everywhere, not just on the
#   points we sampled.

# %%
for arm in ("with_spectral_norm", "without_spectral_norm"):
    row = summary[arm]
    print(f"{arm:22s}: modes per seed {row['modes_per_seed']}, high quality per seed "
          f"{np.round(row['high_quality_per_seed'], 3)}, bound (median) {row['lipschitz_bound_median']:.2f}")
growth = [h["bound"][-1] / h["bound"][1] for h in runs["without_spectral_norm"]]
print(f"plain D: the bound grew {np.round(growth, 1)}-fold from step {short.eval_every} to step {short.steps}")

# %% [markdown]
# ## Exercises
#
# 1. **n_power_iterations.** Build the spectral-norm discriminator with
#    `replace(config, n_power_iterations=5)` and compare each layer's sigma_max after the
#    first training forward with the one-step default. Why does one step per optimiser
#    update suffice during training?
# 2. **Spectral norm on the generator too.** Apply `spectral_norm` to every Linear of G as
#    well (as in Zhang et al.'s SAGAN, 2019) and train for 300 steps. What happens to the
#    range of G's outputs, given that the ring has radius 2 and G's noise has standard
#    deviation 1? (Hint: bound ||G(z) - G(0)|| by the product of G's sigmas times ||z||.)
# 3. **A wrong dim on a transposed convolution.** A `ConvTranspose2d(in, out, k)` stores its
#    weight as (in, out, k, k), the transpose of a Conv2d's (out, in, k, k). `spectral_norm`
#    picks `dim=1` for it. Register it with `dim=0` instead and compute the largest singular
#    value of the matrix PyTorch's rule normalises, `weight.moveaxis(1, 0).reshape(out, -1)`.
#    Is it 1? Which matrix did `dim=0` normalise, and why do the two differ?

# %% tags=["hide-cell"]
# Answer 1: after one training forward from random u, v the estimate u^T W v can be far
# below sigma_max, so W / estimate has sigma_max well above 1; five steps bring it close.
# During training u and v carry over from the last step and W moves little per update, so
# one step keeps them aligned (a warm start; tutorial 3).
first_sigmas = {}
for iterations in (1, 5):
    mg.manual_seed(0)
    discriminator = gan.make_ring_discriminator(replace(config, n_power_iterations=iterations), spectral=True)
    discriminator(mg.tensor(np.zeros((1, 2))))   # one training forward
    first_sigmas[iterations] = gan.layer_sigmas(discriminator)
    print(f"n_power_iterations={iterations}: sigma_max per layer after one forward "
          f"{np.round(first_sigmas[iterations], 4)}")
assert max(first_sigmas[5]) - 1 < max(first_sigmas[1]) - 1
assert max(first_sigmas[5]) < 1.1

# Answer 2: a G whose layers all have sigma_max 1 is 1-Lipschitz: ||G(z) - G(z')|| <= ||z - z'||.
# Its samples can spread no further than its noise does (checked below at initialisation).
# That is enough to reach radius 2, but to put the samples into 8 tight clusters G must jump
# between clusters over short distances in noise space, and the bound limits how steep those
# jumps can be: expect more samples between the modes (a lower high-quality share).
mg.manual_seed(0)
generator = gan.make_ring_generator(config)
for layer in gan.linear_layers(generator):
    spectral_norm(layer)
noise = np.random.default_rng(0).standard_normal((2500, config.noise_dim))
with mg.no_grad():
    samples = generator(mg.tensor(noise)).data
spread = np.linalg.norm(samples - samples.mean(axis=0), axis=1)
noise_spread = np.linalg.norm(noise - noise.mean(axis=0), axis=1)
print(f"SN generator at initialisation: largest distance from the mean {spread.max():.2f}, "
      f"noise's {noise_spread.max():.2f}")
assert spread.max() <= np.prod(gan.layer_sigmas(generator)) * noise_spread.max() + 1e-9

# Answer 3: with dim=0 the (in, out*k*k) matrix is normalised: its sigma_max is 1, but the
# transposed convolution's own layout (out, in*k*k) has a different largest singular value,
# so the layer is not the 1-Lipschitz map it was meant to be. dim=1 normalises the right one.
for dim in (1, 0):
    mg.manual_seed(0)
    layer = spectral_norm(nn.ConvTranspose2d(8, 4, 3), dim=dim)
    layer(mg.tensor(np.zeros((1, 8, 5, 5))))
    for _ in range(30):  # converge the power iteration
        layer(mg.tensor(np.zeros((1, 8, 5, 5))))
    weight = layer.weight.data
    right = np.linalg.svd(np.moveaxis(weight, 1, 0).reshape(4, -1), compute_uv=False)[0]
    normalised = np.linalg.svd(np.moveaxis(weight, dim, 0).reshape(weight.shape[dim], -1), compute_uv=False)[0]
    print(f"dim={dim}: sigma_max of the matrix it normalised {normalised:.4f}, "
          f"of the (out, in*k*k) matrix {right:.4f}")
    assert abs(normalised - 1) < 1e-6
    if dim == 0:
        assert abs(right - 1) > 0.05
