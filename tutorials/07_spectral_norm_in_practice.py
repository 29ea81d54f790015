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
# # 7. Spectral norm in practice: a Lipschitz-constrained classifier
#
# Tutorial 3 showed what spectral normalisation does to one weight matrix: its largest
# singular value is pushed to 1, so the layer cannot stretch any input direction by more
# than 1. Here we put it in a network and ask what that buys.
#
# We train two small classifiers on a 2-D toy problem (two interleaving half-moons), one
# plain and one with spectral norm on every layer, and compare
#
# * the training loss and the test accuracy,
# * the largest singular value of every layer during training,
# * the decision function (how steep is it?),
# * the Lipschitz bound of the whole network and what it certifies: a radius around
#   each test point inside which *no* perturbation can change the prediction.
#
# Everything runs in a few seconds.

# %%
import matplotlib.pyplot as plt
import numpy as np

import minigrad as mg
from minigrad import nn
from norms import spectral_norm
from tutorial_setup import show, start

rng = start(seed=0)  # the library's generator: data, initial weights, spectral norm's u and v


# %% [markdown]
# ## The data
#
# Two half-circles, one shifted into the other, with a little Gaussian noise. Labels are
# $\pm 1$.


# %%
def two_moons(count, noise, generator):
    angle = generator.uniform(0.0, np.pi, count)
    label = generator.integers(0, 2, count)
    upper = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    lower = np.stack([1.0 - np.cos(angle), 0.5 - np.sin(angle)], axis=1)
    points = np.where(label[:, None] == 0, upper, lower) + noise * generator.standard_normal((count, 2))
    return points - np.array([0.5, 0.25]), 2.0 * label - 1.0


train_x, train_y = two_moons(300, 0.1, rng)
test_x, test_y = two_moons(300, 0.1, rng)

fig, axis = plt.subplots(figsize=(4.5, 3.5))
axis.scatter(*train_x[train_y > 0].T, s=8, label="+1")
axis.scatter(*train_x[train_y < 0].T, s=8, label="-1")
axis.set_aspect("equal")
axis.legend()
axis.set_title("training data")
show(fig)
assert train_x.shape == (300, 2) and set(np.unique(train_y)) == {-1.0, 1.0}

# %% [markdown]
# ## The models
#
# An MLP $2 \to 32 \to 32 \to 1$ with ReLU. The output $f(x)$ is a score: predict
# $\operatorname{sign} f(x)$. The loss is the logistic loss $\log(1 + e^{-y\, T f(x)})$,
# written with a numerically safe softplus.
#
# The factor $T = 10$ needs a word. With spectral norm, $f$ is (about) 1-Lipschitz, so
# $f$ can only rise by $0.2$ over a distance of $0.2$: near the boundary between the moons
# its scores are necessarily small, and without $T$ the logistic loss would keep pushing
# them up in vain. Multiplying by $T$ says "a score of $1/T$ is already a confident
# answer", which is the same as asking for a margin of $1/T$ in input units. The plain
# model gets the same loss, so the comparison is fair.

# %%
SCALE = 10.0


def softplus(t):
    """log(1 + exp(t)) without overflow: max(t, 0) + log(1 + exp(-|t|))."""
    return mg.maximum(t, 0.0) + mg.log(1.0 + mg.exp(-mg.abs(t)))


def make_model(use_spectral_norm):
    layers = [nn.Linear(2, 32), nn.Linear(32, 32), nn.Linear(32, 1)]
    if use_spectral_norm:
        layers = [spectral_norm(layer) for layer in layers]
    return nn.Sequential(layers[0], nn.ReLU(), layers[1], nn.ReLU(), layers[2])


def linear_layers(model):
    return [module for module in model if isinstance(module, nn.Linear)]


def top_singular_values(model):
    """sigma_1 of the weight each Linear actually uses (W / sigma for spectral norm)."""
    return [np.linalg.svd(layer.weight.data, compute_uv=False)[0] for layer in linear_layers(model)]


def gap_ratios(model):
    """sigma_2 / sigma_1 of each weight_orig (0 for a single-row weight): how close the top two are."""
    ratios = []
    for layer in linear_layers(model):
        values = np.linalg.svd(layer.weight_orig.data, compute_uv=False)
        ratios.append(values[1] / values[0] if len(values) > 1 else 0.0)
    return ratios


def train(use_spectral_norm, steps=300, seed=1):
    mg.manual_seed(seed)  # the same initial weights for both models
    model = make_model(use_spectral_norm)
    optimiser = mg.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    inputs, labels = mg.tensor(train_x), mg.tensor(train_y[:, None])
    history = {"loss": [], "sigma": [], "gap": []}
    for _ in range(steps):
        optimiser.zero_grad()
        scores = model(inputs)  # with spectral norm: one power-iteration step per layer
        loss = softplus(-labels * scores * SCALE).mean()
        loss.backward()
        optimiser.step()
        history["loss"].append(loss.item())
        history["sigma"].append(top_singular_values(model))
        if use_spectral_norm:
            history["gap"].append(gap_ratios(model))
    model.eval()  # from now on spectral norm reuses its u, v: no more iteration
    history["sigma"] = np.array(history["sigma"])
    history["gap"] = np.array(history["gap"])
    return model, history


plain, plain_history = train(use_spectral_norm=False)
constrained, constrained_history = train(use_spectral_norm=True)


def accuracy(model, x, y):
    return float(np.mean(np.sign(model(mg.tensor(x)).data.ravel()) == y))


for label, model, history in (("plain", plain, plain_history), ("spectral norm", constrained, constrained_history)):
    print(f"{label:>14}: loss {history['loss'][0]:.3f} -> {history['loss'][-1]:.4f}, "
          f"test accuracy {accuracy(model, test_x, test_y):.3f}, "
          f"sigma_1 per layer {np.round(top_singular_values(model), 4)}")

# %% [markdown]
# Both losses fall. The plain network drives its training loss almost to zero; the
# constrained one stops higher, and pays a few points of test accuracy: a 1-Lipschitz
# network is a smaller family of functions. The singular values tell the story.

# %%
for history in (plain_history, constrained_history):
    assert history["loss"][-1] < 0.25 * history["loss"][0]  # the loss falls
assert accuracy(plain, test_x, test_y) > 0.97
assert accuracy(constrained, test_x, test_y) > 0.9
settled = constrained_history["sigma"][20:]
assert np.all(settled >= 1 - 1e-9)  # never below 1: the estimate u^T W v is at most sigma_1
assert np.all(settled < 1.25)  # every layer stays near 1 ...
assert np.all(np.abs(constrained_history["sigma"][-1] - 1) < 0.05)  # ... and ends near 1
assert np.all(plain_history["sigma"][-1] > 1.5)  # the plain layers grew well past 1

fig, (left, middle, right) = plt.subplots(1, 3, figsize=(14, 3.5))
left.semilogy(plain_history["loss"], label="plain")
left.semilogy(constrained_history["loss"], label="spectral norm")
left.set_xlabel("SGD step")
left.set_ylabel("training loss")
left.legend()
for index in range(3):
    middle.plot(plain_history["sigma"][:, index], label=f"layer {index + 1}")
    right.plot(constrained_history["sigma"][:, index], label=f"layer {index + 1}")
middle.set_title("plain: sigma_1 of each weight")
right.set_title("spectral norm: sigma_1 of each W / sigma")
right.set_ylim(0.9, 1.3)
for axis in (middle, right):
    axis.set_xlabel("SGD step")
    axis.legend()
show(fig)

# %% [markdown]
# In the constrained model every layer is pulled to $\sigma_1 \approx 1$ within a handful of
# steps (the warm-started power iteration catching up, as in tutorial 3), and the plain
# layers grow to 2 or 3. Zoom in on the right panel, though, and you see bumps of a few
# per cent, up to about 10 %, in the first two layers. They are always *above* 1: the
# estimate $u^\top W v$ can only fall short of $\sigma_1$.
#
# Where do they come from? One power-iteration step per SGD step keeps up as long as the
# top singular vector of $W$ turns slowly. It turns fast when the top two singular values
# are close: a small change of $W$ can then swap which direction is "top", and $u$ needs
# several steps to follow. The first two weights of this network have
# $\sigma_2/\sigma_1$ of roughly 0.85 to 0.95, close enough for that to happen:

# %%
worst_step, worst_layer = np.unravel_index(np.argmax(settled), settled.shape)
worst_step += 20
print(f"largest bump: layer {worst_layer + 1} at step {worst_step + 1}, "
      f"sigma_1(W / sigma) = {constrained_history['sigma'][worst_step, worst_layer]:.4f}, "
      f"sigma_2 / sigma_1 of its W_orig = {constrained_history['gap'][worst_step, worst_layer]:.3f}")
print("sigma_2 / sigma_1 of each W_orig at the end:", constrained_history["gap"][-1])

# %% [markdown]
# More iterations per step (`n_power_iterations=3`) shrink the bumps, at the price of more
# work per step; a certificate (below) must in any case use a true upper bound, which is
# why we measure $\sigma_1$ with an exact SVD there.
#
# ## The decision functions
#
# The plain network has grown a steep score: it changes quickly across the boundary. The
# constrained one cannot: its score changes by at most $\|x - x'\|$ between any two points.

# %%
grid_axis = np.linspace(-2.0, 2.0, 81)
grid = np.stack(np.meshgrid(grid_axis, grid_axis), axis=-1).reshape(-1, 2)

fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
for axis, (label, model) in zip(axes, (("plain", plain), ("spectral norm", constrained))):
    scores = model(mg.tensor(grid)).data.reshape(81, 81)
    limit = np.abs(scores).max()
    image = axis.contourf(grid_axis, grid_axis, scores, levels=21, cmap="RdBu", vmin=-limit, vmax=limit)
    axis.contour(grid_axis, grid_axis, scores, levels=[0.0], colors="k")
    axis.scatter(*test_x[test_y > 0].T, s=5, c="navy")
    axis.scatter(*test_x[test_y < 0].T, s=5, c="darkred")
    axis.set_title(f"{label}: f(x) ranges over [{scores.min():.1f}, {scores.max():.1f}]")
    axis.set_aspect("equal")
    fig.colorbar(image, ax=axis)
show(fig)

# %% [markdown]
# ## Lipschitz bound, measured and guaranteed
#
# Two numbers for each network:
#
# * **the bound** $L = \prod_l \sigma_1(W_l)$, valid everywhere (ReLU is 1-Lipschitz),
# * **the largest gradient norm** $\|\nabla_x f(x)\|$ seen on the grid, a lower estimate
#   of the true Lipschitz constant.
#
# The gradient at all 6561 grid points takes *one* backward pass: each score depends
# only on its own input row, so the gradient of the *sum* of the scores with respect to
# the input batch has, in row $i$, exactly $\nabla_x f(x_i)$.

# %%
def gradient_norms(model, points):
    x = mg.tensor(points, requires_grad=True)
    model(x).sum().backward()
    return np.linalg.norm(x.grad.data, axis=1)


bounds, measured = {}, {}
for label, model in (("plain", plain), ("spectral norm", constrained)):
    bounds[label] = float(np.prod(top_singular_values(model)))
    measured[label] = float(gradient_norms(model, grid).max())
    print(f"{label:>14}: bound L = {bounds[label]:8.4f}, largest gradient norm on the grid {measured[label]:.4f}")

for label in bounds:
    assert measured[label] <= bounds[label] + 1e-9
assert bounds["spectral norm"] < 1.05
assert bounds["plain"] > 5 * bounds["spectral norm"]

# %% [markdown]
# For the plain network the bound is loose (products of per-layer worst cases rarely line
# up), but it is the only thing we can *prove* without searching the whole input space.
# For the constrained network it is about 1 and tight enough to use. Its measured
# gradients are even smaller than 1: ReLU zeroes some directions and the layers' top
# singular vectors do not line up, so the network uses less than its Lipschitz budget.
# That is one reason it fits the data less well.
#
# ## What a Lipschitz bound certifies
#
# If $|f(x) - f(x')| \le L \|x - x'\|$ and $f(x) > 0$, then $f(x') > 0$ for every $x'$ with
# $\|x' - x\| < f(x)/L$. So each correctly classified test point comes with a
# **certified radius** $|f(x)|/L$: no perturbation smaller than that, however cleverly
# chosen, can flip the prediction. Certified accuracy at radius $r$ is the fraction of test
# points that are classified correctly *and* certified to at least $r$.

# %%
radii = np.linspace(0.0, 0.3, 61)
certified = {}
for label, model in (("plain", plain), ("spectral norm", constrained)):
    scores = model(mg.tensor(test_x)).data.ravel()
    correct = np.sign(scores) == test_y
    radius = np.abs(scores) / bounds[label]
    certified[label] = np.array([np.mean(correct & (radius >= r)) for r in radii])
    print(f"{label:>14}: certified accuracy at radius 0.05: {certified[label][10]:.3f}, "
          f"at 0.1: {certified[label][20]:.3f}")

fig, axis = plt.subplots(figsize=(5, 3.5))
for label, curve in certified.items():
    axis.plot(radii, curve, label=label)
axis.set_xlabel("radius r (input units)")
axis.set_ylabel("certified test accuracy")
axis.legend()
show(fig)
assert certified["spectral norm"][20] > 0.7 > 0.5 > certified["plain"][20]
assert certified["spectral norm"][0] == accuracy(constrained, test_x, test_y)

# %% [markdown]
# The certificate is a guarantee, not a measurement, but a random spot check does not hurt:
# perturb a few certified points by random vectors just inside their radius; none flips.

# %%
scores = constrained(mg.tensor(test_x)).data.ravel()
radius = np.abs(scores) / bounds["spectral norm"]
chosen = np.flatnonzero((np.sign(scores) == test_y) & (radius > 0.05))[:20]
directions = rng.standard_normal((len(chosen), 200, 2))
directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
perturbed = test_x[chosen, None, :] + 0.999 * radius[chosen, None, None] * directions
new_scores = constrained(mg.tensor(perturbed.reshape(-1, 2))).data.reshape(len(chosen), 200)
assert np.all(np.sign(new_scores) == np.sign(scores[chosen])[:, None])
print(f"{new_scores.size} perturbed copies of {len(chosen)} certified points: no prediction flipped")

# %% [markdown]
# ## Summary
#
# | | plain | spectral norm |
# |---|---|---|
# | $\sigma_1$ per layer | grows freely | $\approx 1$, held there by one power-iteration step per SGD step |
# | Lipschitz bound of the network | large and loose | about 1 |
# | fit | best | a little worse: a smaller family of functions |
# | guarantees | none useful | a certified radius around every prediction |
#
# This is why spectral norm is used in GAN discriminators (Miyato et al., 2018): a
# discriminator whose output cannot change abruptly gives the generator useful gradients
# everywhere, instead of a cliff.
#
# ## Exercises
#
# 1. Apply spectral norm to the **last layer only**. What is the Lipschitz bound now, and
#    how does the certified accuracy at radius 0.1 compare?
# 2. Train the constrained model with `SCALE = 1`. What happens to the loss and the
#    accuracy, and why?
# 3. Our bound uses $\sigma_1$ of the weight `W_orig / sigma` with the *exact* SVD. Using
#    only what the module stores, how would you compute a bound (hint: tutorial 3, the
#    estimate $u^\top W v$ is never above $\sigma_1$)? Is the stored estimate safe to use
#    for a certificate?
# 4. Why can the gradient norms of section "Lipschitz bound" be computed with one
#    backward pass, but not the Jacobian of a network with 2 outputs?
#
# The answers are in the next cell, collapsed.

# %% jupyter={"source_hidden": true}
# Answer 1: only the last sigma is 1; the bound is sigma_1(W1) * sigma_1(W2) * 1, still
# far above 1, so the certificates stay tiny.
mg.manual_seed(1)
partial = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), spectral_norm(nn.Linear(32, 1)))
partial_opt = mg.optim.SGD(partial.parameters(), lr=0.02, momentum=0.9)
for _ in range(200):  # fewer steps than above, to keep the answers quick
    partial_opt.zero_grad()
    softplus(-mg.tensor(train_y[:, None]) * partial(mg.tensor(train_x)) * SCALE).mean().backward()
    partial_opt.step()
partial.eval()
partial_bound = float(np.prod(top_singular_values(partial)))
partial_scores = partial(mg.tensor(test_x)).data.ravel()
partial_cert = np.mean((np.sign(partial_scores) == test_y) & (np.abs(partial_scores) / partial_bound >= 0.1))
print(f"last layer only: bound {partial_bound:.2f}, certified accuracy at 0.1: {partial_cert:.3f}")
assert partial_bound > 2 and partial_cert < certified["spectral norm"][20]

# Answer 2: with SCALE = 1 a 1-Lipschitz score cannot become large enough near the
# boundary to make the logistic loss small; the loss stays high and the fit is worse.
SCALE, saved_scale = 1.0, SCALE
weak, weak_history = train(use_spectral_norm=True, steps=200)
SCALE = saved_scale
print(f"SCALE = 1: final loss {weak_history['loss'][-1]:.3f}, accuracy {accuracy(weak, test_x, test_y):.3f}")
assert weak_history["loss"][-1] > 0.3

# Answer 3: the module's weight is W_orig / s with s = u^T W_orig v <= sigma_1(W_orig), so
# sigma_1(weight) = sigma_1(W_orig) / s >= 1: using "1" per layer would *understate* the
# bound (by the tiny amount that the power iteration has not converged). For a certificate,
# use an upper bound: e.g. the exact SVD as above, or run more power iterations.
for layer in linear_layers(constrained):
    estimate = layer.weight_u.data @ layer.weight_orig.data @ layer.weight_v.data
    assert estimate <= np.linalg.svd(layer.weight_orig.data, compute_uv=False)[0] + 1e-12

# Answer 4: reverse mode gives one vector-Jacobian product per backward pass. With one
# output per example and examples independent, the VJP with all ones *is* every example's
# gradient. With two outputs per example you need two passes (one per output).
