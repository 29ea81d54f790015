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
# # 5. Activation norms: PixelNorm, LayerNorm, RMSNorm, BatchNorm
#
# Weight norm and spectral norm rescale *parameters*. The four norms here rescale
# *activations*: the numbers flowing through the network. They look like four different
# inventions, but they are one operation with two switches:
#
# $$ \hat x = \frac{x - \bar x}{r}, \qquad r = \sqrt{\operatorname{mean}\big((x - \bar x)^2\big) + \epsilon}, $$
#
# where the mean is taken over a **group** of entries, and the centring $\bar x$ is either
# the group mean or nothing. An optional per-feature scale (and shift) follows.
#
# | norm | group (for an `(N, C)` input) | centred? | learnt affine |
# |---|---|---|---|
# | PixelNorm (ProGAN) | the channels of one example (or one pixel of an image) | no | none |
# | RMSNorm | the features of one example | no | scale |
# | LayerNorm | the features of one example | yes | scale and shift |
# | BatchNorm (training) | one feature across the batch | yes | scale and shift |
#
# So their gradients are also one formula with two switches. We derive it, check all four
# against it side by side, look at what the group choice does to the Jacobian, and then
# take BatchNorm's backward pass apart one step at a time.

# %%
import matplotlib.pyplot as plt
import numpy as np

import minigrad as mg
from minigrad.verification.gradcheck import gradcheck
from norms import BatchNorm1d, LayerNorm, PixelNorm, RMSNorm, batch_norm, layer_norm, pixel_norm, rms_norm
from norms.activation import batch_norm_composed
from tutorial_setup import show, start

start(seed=0)


# %% [markdown]
# ## 1. The forwards, and what each one guarantees
#
# One batch of 4 examples with 6 features, deliberately off-centre and badly scaled.

# %%
x = mg.randn(4, 6) * 3.0 + 2.0

y_layer = layer_norm(x, 6)          # over the 6 features of each example
y_rms = rms_norm(x, 6)              # the same group, no centring
y_batch = batch_norm(x, training=True)  # over the 4 examples, per feature
y_pixel = pixel_norm(x, axis=1)     # over axis 1, the "channels"

print("LayerNorm  row means", y_layer.data.mean(axis=1), " row vars", y_layer.data.var(axis=1))
print("RMSNorm    row RMS  ", np.sqrt((y_rms.data**2).mean(axis=1)))
print("BatchNorm  col means", y_batch.data.mean(axis=0), "\n           col vars ", y_batch.data.var(axis=0))
np.testing.assert_allclose(y_layer.data.mean(axis=1), 0, atol=1e-12)
# Not exactly 1: eps = 1e-5 sits under the root, so the variance is s / (s + eps).
row_var = x.data.var(axis=1)
np.testing.assert_allclose(y_layer.data.var(axis=1), row_var / (row_var + 1e-5), rtol=1e-12)
np.testing.assert_allclose(np.sqrt((y_rms.data**2).mean(axis=1)), 1, atol=1e-10)
np.testing.assert_allclose(y_batch.data.mean(axis=0), 0, atol=1e-12)
column_var = x.data.var(axis=0)
np.testing.assert_allclose(y_batch.data.var(axis=0), column_var / (column_var + 1e-5), rtol=1e-12)
# On a 2-D input, PixelNorm over axis 1 is RMSNorm without its scale (different eps).
np.testing.assert_allclose(y_pixel.data, y_rms.data, atol=1e-7)

# %% [markdown]
# PixelNorm earns its name on images: for an `(N, C, H, W)` feature map it normalises,
# at every pixel, the vector of the `C` channel values (Karras et al., 2018, use it in the
# generator of progressive GANs instead of BatchNorm).

# %%
image = mg.randn(2, 8, 5, 5) * 4.0
normed = PixelNorm()(image)
pixel_rms = np.sqrt((normed.data**2).mean(axis=1))  # one value per (example, row, column)
print("RMS over channels at each pixel: shape", pixel_rms.shape, "range", pixel_rms.min(), pixel_rms.max())
np.testing.assert_allclose(pixel_rms, 1, atol=1e-8)

# %% [markdown]
# ## 2. One gradient for all four
#
# Work in one group of $m$ entries, and let $G = \partial L / \partial \hat x$ be the
# gradient reaching the normalised values (with an affine scale $\gamma$, it is
# $\gamma$ times the gradient reaching the output).
#
# **Not centred** ($\hat x = x / r$, $r^2 = \operatorname{mean}(x^2) + \epsilon$). From
# $\partial r / \partial x_j = x_j / (m r)$ and the quotient rule,
# $$ \frac{\partial \hat x_i}{\partial x_j} = \frac{\delta_{ij}}{r} - \frac{x_i x_j}{m r^3}
#    = \frac{1}{r}\Big(\delta_{ij} - \frac{\hat x_i \hat x_j}{m}\Big), $$
# and contracting with $G$:
# $$ \nabla_x L = \frac{1}{r}\Big(G - \hat x\, \operatorname{mean}(G \hat x)\Big). $$
#
# **Centred.** Centring is the linear map $x \mapsto x - \bar x$, whose transpose removes
# the mean again. Applying it after the formula above (with $x - \bar x$ in place of $x$)
# gives one extra term:
# $$ \nabla_x L = \frac{1}{r}\Big(G - \operatorname{mean}(G) - \hat x\, \operatorname{mean}(G \hat x)\Big). $$
#
# Both formulas have a geometric reading. Without centring the output does not change when
# $x$ is scaled (for $\epsilon \to 0$), so the gradient has no component along $x$. With
# centring the output also ignores adding a constant to the group, so the gradient
# additionally sums to zero over the group. The engine shows both, with $\epsilon = 0$:

# %%
probe = mg.randn(4, 6, requires_grad=True)
upstream = mg.randn(4, 6)

(grad_ln,) = mg.grad((layer_norm(probe, 6, eps=0.0) * upstream).sum(), [probe])
(grad_rms,) = mg.grad((rms_norm(probe, 6, eps=0.0) * upstream).sum(), [probe])
(grad_bn,) = mg.grad((batch_norm(probe, training=True, eps=0.0) * upstream).sum(), [probe])

print("RMSNorm   <grad, x> per example:", (grad_rms.data * probe.data).sum(axis=1))
print("LayerNorm sum of grad per example:", grad_ln.data.sum(axis=1))
print("BatchNorm sum of grad per feature:", grad_bn.data.sum(axis=0))
assert np.abs((grad_rms.data * probe.data).sum(axis=1)).max() < 1e-12
assert np.abs(grad_ln.data.sum(axis=1)).max() < 1e-12
assert np.abs((grad_ln.data * probe.data).sum(axis=1)).max() < 1e-12
assert np.abs(grad_bn.data.sum(axis=0)).max() < 1e-12

# %% [markdown]
# Now the side-by-side check. One function implements the two formulas for any group and
# either switch; each norm's engine gradient (its fused op, whose VJP is written in closed
# form in `norms/activation.py`) must match it. We include the learnt scales, set to
# random values, so the $G = \gamma \cdot$ (upstream) step is exercised too.


# %%
def closed_form_grad(x, upstream, axes, centred, eps, scale=1.0):
    """The one formula: (G - [mean(G)] - xhat * mean(G * xhat)) / r over ``axes``."""
    centre = x - x.mean(axis=axes, keepdims=True) if centred else x
    r = np.sqrt((centre**2).mean(axis=axes, keepdims=True) + eps)
    xhat = centre / r
    G = upstream * scale
    inner = G - xhat * (G * xhat).mean(axis=axes, keepdims=True)
    if centred:
        inner = inner - G.mean(axis=axes, keepdims=True)
    return inner / r


gamma = mg.randn(6) * 0.5 + 1.0
beta = mg.randn(6)
cases = {
    #  name       (function of x,                                                group, centred, eps, scale)
    "PixelNorm": (lambda t: pixel_norm(t, axis=1),                               (1,), False, 1e-8, 1.0),
    "RMSNorm":   (lambda t: rms_norm(t, 6, weight=gamma, eps=1e-6),             (1,), False, 1e-6, gamma.data),
    "LayerNorm": (lambda t: layer_norm(t, 6, weight=gamma, bias=beta),          (1,), True, 1e-5, gamma.data),
    "BatchNorm": (lambda t: batch_norm(t, weight=gamma, bias=beta, training=True), (0,), True, 1e-5, gamma.data),
}
print(f"{'norm':<10} {'group':<8} {'centred':<8} {'max |engine - formula|':>24}")
for name, (fn, axes, centred, eps, scale) in cases.items():
    (engine,) = mg.grad((fn(probe) * upstream).sum(), [probe])
    formula = closed_form_grad(probe.data, upstream.data, axes, centred, eps, scale)
    error = np.abs(engine.data - formula).max()
    print(f"{name:<10} {str(axes):<8} {str(centred):<8} {error:>24.2e}")
    assert error < 1e-12

# %% [markdown]
# ## 3. What the group does to the Jacobian
#
# The group decides *which inputs can influence which outputs*. For a `(3, 4)` input we
# build the full $12 \times 12$ Jacobian of each norm (one backward pass per output entry)
# and plot where it is non-zero. LayerNorm, RMSNorm and PixelNorm mix the features of one
# example and never two examples: block diagonal. BatchNorm mixes the examples of one
# feature: in training mode **every example's output depends on the other examples in the
# batch**, which is both its regularising noise and the reason it needs batches.


# %%
def jacobian(fn, x):
    """d vec(fn(x)) / d vec(x), one reverse pass per output entry."""
    x = mg.tensor(x, requires_grad=True)
    y = fn(x)
    rows = []
    for index in range(y.size):
        seed = np.zeros(y.shape)
        seed.flat[index] = 1.0
        (row,) = mg.grad(y, [x], grad_outputs=[mg.tensor(seed)], retain_graph=True)
        rows.append(row.data.ravel())
    return np.array(rows)


small = np.random.default_rng(0).standard_normal((3, 4))
jacobians = {
    "PixelNorm": jacobian(lambda t: pixel_norm(t, axis=1), small),
    "RMSNorm": jacobian(lambda t: rms_norm(t, 4), small),
    "LayerNorm": jacobian(lambda t: layer_norm(t, 4), small),
    "BatchNorm": jacobian(lambda t: batch_norm(t, training=True), small),
}
fig, axes_grid = plt.subplots(1, 4, figsize=(12, 3.2))
for axis, (name, J) in zip(axes_grid, jacobians.items()):
    axis.imshow(np.abs(J) > 1e-12, cmap="Greys")
    axis.set_title(name)
    axis.set_xlabel("input entry (row-major)")
axes_grid[0].set_ylabel("output entry")
fig.suptitle("Non-zero pattern of d y / d x for a (3 examples, 4 features) input")
show(fig)

example_of = np.repeat(np.arange(3), 4)  # which example each flattened entry belongs to
feature_of = np.tile(np.arange(4), 3)
same_example = example_of[:, None] == example_of[None, :]
same_feature = feature_of[:, None] == feature_of[None, :]
for name in ("PixelNorm", "RMSNorm", "LayerNorm"):
    assert np.all(jacobians[name][~same_example] == 0)
assert np.all(jacobians["BatchNorm"][~same_feature] == 0)
assert np.all(np.abs(jacobians["BatchNorm"][same_feature]) > 1e-12)  # all examples coupled

# %% [markdown]
# ## 4. BatchNorm's backward pass, one step at a time
#
# The compact formula is easy to state and hard to believe. Here is where it comes from.
# Write the training-mode forward of one feature column (length $m$) as a chain of small
# steps, each with an obvious derivative:
#
# | step | forward | backward (what flows to the inputs of the step) |
# |---|---|---|
# | 1 | $\mu = \frac1m \sum_i x_i$ | $\partial x_i \mathrel{+}= \partial\mu / m$ |
# | 2 | $c = x - \mu$ | $\partial x \mathrel{+}= \partial c$, $\ \partial \mu = -\sum_i \partial c_i$ |
# | 3 | $s = \frac1m \sum_i c_i^2$ | $\partial c \mathrel{+}= \frac{2c}{m}\,\partial s$ |
# | 4 | $r = \sqrt{s + \epsilon}$ | $\partial s = \partial r / (2r)$ |
# | 5 | $\hat x = c/r$ | $\partial c \mathrel{+}= \partial\hat x/r$, $\partial r = -\sum_i \partial\hat x_i c_i/r^2$ |
# | 6 | $y = \gamma\hat x + \beta$ | $\partial\hat x = \gamma\,\partial y$ ($\partial\gamma$, $\partial\beta$ below) |
#
# Step 6 also gives the gradients of the affine parameters, $\partial\gamma = \sum_i \partial y_i \hat x_i$
# and $\partial\beta = \sum_i \partial y_i$.
#
# Note that $c$ is used twice (by step 3 and step 5) and $x$ twice (by steps 1 and 2), so
# their gradients are sums of two contributions (the "+=" in the table). Running the
# table bottom-up in NumPy:

# %%
m, channels, eps = 8, 3, 1e-5
rng = np.random.default_rng(1)
xb = rng.standard_normal((m, channels)) * 2 + 1
gamma_b = rng.standard_normal(channels)
beta_b = rng.standard_normal(channels)
dy = rng.standard_normal((m, channels))  # the gradient arriving from above

# forward, keeping every intermediate
mu = xb.mean(axis=0)                  # 1
c = xb - mu                           # 2
s = (c**2).mean(axis=0)               # 3
r = np.sqrt(s + eps)                  # 4
xhat = c / r                          # 5
yb = gamma_b * xhat + beta_b          # 6

# backward, in reverse order
dbeta = dy.sum(axis=0)                # 6
dgamma = (dy * xhat).sum(axis=0)      # 6
dxhat = gamma_b * dy                  # 6
dc = dxhat / r                        # 5, first use of c
dr = -(dxhat * c).sum(axis=0) / r**2  # 5
ds = dr / (2 * r)                     # 4
dc = dc + 2 * c / m * ds              # 3, second use of c
dx = dc.copy()                        # 2, first use of x
dmu = -dc.sum(axis=0)                 # 2
dx = dx + dmu / m                     # 1, second use of x
print("dx (step by step), first row:", dx[0])

# %% [markdown]
# Now simplify. Two facts do all the work: $\sum_i c_i = 0$ (the centred column sums to
# zero), and $c = r \hat x$.
#
# * Step 3 adds $\frac{2c}{m}\partial s = \frac{2c}{m}\cdot\frac{-\sum_i \partial\hat x_i c_i}{2 r^3}
#   = -\frac{\hat x}{r}\operatorname{mean}(\partial\hat x\, \hat x)$.
# * So $\partial c = \frac{1}{r}\big(\partial \hat x - \hat x \operatorname{mean}(\partial \hat x\,\hat x)\big)$,
#   and its sum is $\frac1r\big(\sum \partial\hat x - \sum\hat x \cdot \ldots\big) = \frac1r\sum \partial\hat x$
#   because $\sum_i \hat x_i = 0$.
# * Steps 1 and 2 subtract the mean of $\partial c$:
#   $$ \partial x = \frac{1}{r}\Big(\partial\hat x - \operatorname{mean}(\partial\hat x)
#      - \hat x\,\operatorname{mean}(\partial\hat x\,\hat x)\Big), $$
#   the centred formula of section 2. Multiplying through by $m$ and substituting
#   $\partial\hat x = \gamma\,\partial y$ gives the form in Ioffe & Szegedy (2015):
#   $$ \partial x = \frac{\gamma}{m\, r}\Big(m\,\partial y - \sum_i \partial y_i
#      - \hat x \sum_i \partial y_i\,\hat x_i\Big). $$

# %%
dx_compact = gamma_b / (m * r) * (m * dy - dy.sum(axis=0) - xhat * (dy * xhat).sum(axis=0))
print("largest difference step by step vs compact:", np.abs(dx - dx_compact).max())
np.testing.assert_allclose(dx, dx_compact, rtol=1e-12, atol=1e-14)

# %% [markdown]
# Three independent checks of the same numbers:
#
# 1. the **fused op** (`batch_norm(..., training=True)`, one graph node whose VJP is the
#    compact formula),
# 2. the **composed twin** (`batch_norm_composed`, built from mean, subtraction, square
#    root and division, so the engine runs essentially our six-step table),
# 3. **finite differences** (`gradcheck`).

# %%
tx = mg.tensor(xb, requires_grad=True)
tg = mg.tensor(gamma_b, requires_grad=True)
tb = mg.tensor(beta_b, requires_grad=True)
fused = batch_norm(tx, weight=tg, bias=tb, training=True, eps=eps)
np.testing.assert_allclose(fused.data, yb, rtol=1e-12)
fused_grads = mg.grad((fused * mg.tensor(dy)).sum(), [tx, tg, tb])
composed = batch_norm_composed(tx, tg, tb, eps=eps)
composed_grads = mg.grad((composed * mg.tensor(dy)).sum(), [tx, tg, tb])

for label, ours, fused_grad, composed_grad in zip(
    ("x", "gamma", "beta"), (dx, dgamma, dbeta), fused_grads, composed_grads
):
    np.testing.assert_allclose(fused_grad.data, ours, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(composed_grad.data, ours, rtol=1e-10, atol=1e-13)
    print(f"d{label:<6} step by step = fused = composed")

assert gradcheck(lambda a, g_, b_: batch_norm(a, weight=g_, bias=b_, training=True, eps=eps), (tx, tg, tb))
print("... = central finite differences")

# %% [markdown]
# ## 5. Training mode versus eval mode
#
# Everything above is **training mode**, where the statistics are functions of the batch
# and therefore part of the graph. In **eval mode** `BatchNorm1d` uses its running
# averages instead: constants, so the norm is just a per-feature affine map and its
# gradient is $\gamma / \sqrt{\text{running\_var} + \epsilon}$, with no coupling between
# examples. LayerNorm, RMSNorm and PixelNorm have no such split: their group lives inside
# one example, so they behave the same at training and test time.

# %%
bn = BatchNorm1d(3)
for _ in range(20):
    bn(mg.tensor(rng.standard_normal((16, 3)) * 2 + 1))  # training mode updates running stats
bn.eval()
tx_eval = mg.tensor(xb, requires_grad=True)
(bn(tx_eval) * mg.tensor(dy)).sum().backward()
expected = dy * bn.weight.data / np.sqrt(bn.running_var.data + bn.eps)
np.testing.assert_allclose(tx_eval.grad.data, expected, rtol=1e-12)
print("running mean", bn.running_mean.data, "running var", bn.running_var.data)

# %% [markdown]
# The modules `LayerNorm(6)` and `RMSNorm(6)` wrap the functions with learnt parameters
# (scale ones, shift zeros at first), exactly like PyTorch's.

# %%
ln, rms = LayerNorm(6), RMSNorm(6)
print([name for name, _ in ln.named_parameters()], [name for name, _ in rms.named_parameters()])
np.testing.assert_allclose(ln(x).data, y_layer.data)
assert [name for name, _ in rms.named_parameters()] == ["weight"]

# %% [markdown]
# ## Exercises
#
# 1. Use the table of section 4 to derive the backward of the **non-centred** norm
#    (drop steps 1 and 2) and check it against `rms_norm`.
# 2. With $\epsilon = 0$ and a batch of only $m = 2$ examples, what does training-mode
#    BatchNorm output, whatever the input? What is then its gradient with respect to $x$?
# 3. LayerNorm's gradient sums to zero over each example's features (section 2). Which
#    property of the *forward* makes that inevitable?
# 4. For the `(3, 4)` input of section 3, how many non-zero entries does each Jacobian
#    have? Predict, then count.
#
# The answers are in the next cell, collapsed.

# %% jupyter={"source_hidden": true}
# Answer 1: without centring, c = x; steps 3-6 remain:
# dx = dxhat / r - x/(m r^3) * sum(dxhat * x) = (dxhat - xhat * mean(dxhat * xhat)) / r.
ex_x = mg.randn(5, 4, requires_grad=True)
ex_w = mg.randn(4)
ex_dy = mg.randn(5, 4)
(rms_norm(ex_x, 4, weight=ex_w, eps=1e-6) * ex_dy).sum().backward()
ex_r = np.sqrt((ex_x.data**2).mean(axis=1, keepdims=True) + 1e-6)
ex_hat = ex_x.data / ex_r
ex_dhat = ex_dy.data * ex_w.data
np.testing.assert_allclose(ex_x.grad.data, (ex_dhat - ex_hat * (ex_dhat * ex_hat).mean(axis=1, keepdims=True)) / ex_r)

# Answer 2: each centred column is (+d, -d), and its RMS is |d|, so the output is +1 and -1
# (in some order) for every feature: a constant, so the gradient with respect to x is 0.
pair = mg.tensor([[0.3, 5.0], [-2.0, 1.0]], requires_grad=True)
out = batch_norm(pair, training=True, eps=0.0)
print(out)
np.testing.assert_allclose(np.abs(out.data), 1.0)
(out * mg.randn(2, 2)).sum().backward()
assert np.abs(pair.grad.data).max() < 1e-12

# Answer 3: translation invariance: layer_norm(x + t) = layer_norm(x) for a constant t added
# to a whole example, so the directional derivative along (1, 1, ..., 1) is 0, and that
# derivative is exactly the sum of the gradient's entries.
shifted = layer_norm(ex_x.data + 7.0, 4)
np.testing.assert_allclose(shifted.data, layer_norm(ex_x.data, 4).data, atol=1e-10)

# Answer 4: a (3, 4) input has 3 groups of 4 for the per-example norms (3 * 4 * 4 = 48
# non-zeros) and 4 groups of 3 for BatchNorm (4 * 3 * 3 = 36).
counts = {name: int(np.sum(np.abs(J) > 1e-12)) for name, J in jacobians.items()}
print(counts)
assert counts == {"PixelNorm": 48, "RMSNorm": 48, "LayerNorm": 48, "BatchNorm": 36}
