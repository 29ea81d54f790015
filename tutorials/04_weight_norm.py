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
# # 4. Weight norm
#
# A row $w$ of a weight matrix mixes two things: how *long* it is and which *way* it
# points. Gradient descent moves both at once, and the two usually want very different
# step sizes. Weight normalisation (Salimans & Kingma, 2016) stores them apart,
#
# $$ w = g\,\frac{v}{\|v\|}, $$
#
# so the scalar $g$ is the length and the unconstrained vector $v$ only supplies the
# direction. Nothing about the function the layer can compute changes; what changes is
# the geometry that gradient descent sees.
#
# This notebook covers
#
# 1. the reparametrisation on the reference post's `Linear(2, 4)` weight,
# 2. its gradient, and why it is a *projection away from* $w$,
# 3. two consequences for training: $\|v\|$ only grows, and the step shrinks as it does,
# 4. the data-dependent initialisation, and why weight norm then behaves like batch norm
#    with its statistics frozen,
# 5. `remove_weight_norm`, which gives back a plain weight.

# %%
import numpy as np

import minigrad as mg
from minigrad import nn
from minigrad.verification.gradcheck import gradcheck
from norms import (
    BatchNorm1d, remove_weight_norm, weight_norm, weight_norm_init, weight_normalize,
    weight_normalize_composed,
)
from tutorial_setup import start

start(seed=0)

# %% [markdown]
# ## 1. The reparametrisation
#
# `weight_norm(module)` replaces the parameter `weight` by two parameters: `weight_v`,
# initialised to the weight itself, and `weight_g`, initialised to the length of each
# output unit's row (`dim=0`, the default). Before every forward a hook rebuilds
# `module.weight = g * v / ||v||`, so right after registration the layer computes exactly
# what it computed before.
#
# The reference post prints a `Linear(2, 4)` whose weight has the rows below; its `g`
# is then $(0.5694, 0.6682, 0.3360, 0.7280)$.

# %%
POST_WEIGHT = np.array([[0.5569, 0.1186], [-0.6304, -0.2217], [0.1165, -0.3152], [0.5837, 0.4351]])
POST_BIAS = np.array([-0.0917, 0.4735, -0.4258, -0.3572])

layer = nn.Linear(2, 4)
layer.weight.data = POST_WEIGHT.copy()
layer.bias.data = POST_BIAS.copy()
x = mg.ones(2)
out_before = layer(x).data.copy()

weight_norm(layer, name="weight")
print("state_dict keys:", list(layer.state_dict()))
print("weight_g:", layer.weight_g.data.ravel())
print("row lengths by hand:", np.sqrt((POST_WEIGHT**2).sum(axis=1)))

assert list(layer.state_dict()) == ["bias", "weight_g", "weight_v"]
assert layer.weight_g.shape == (4, 1)
np.testing.assert_allclose(layer.weight_g.data.ravel(), [0.5694, 0.6682, 0.3360, 0.7280], atol=2e-4)
np.testing.assert_array_equal(layer.weight_v.data, POST_WEIGHT)
np.testing.assert_allclose(layer(x).data, out_before, rtol=1e-14)

# %% [markdown]
# `dim` says which axis keeps its own length. `dim=0` (one length per output unit) is
# what the paper does; `dim=1` gives one per input column, and `dim=None` one length for
# the whole matrix (then $g$ is the Frobenius norm). $g$ always has the weight's number
# of axes with 1 on the reduced ones (a 0-d array for `None`), so it broadcasts against $v$.

# %%
for dim, expected in ((0, (4, 1)), (1, (1, 2)), (None, ())):
    probe = nn.Linear(2, 4)
    probe.weight.data = POST_WEIGHT.copy()
    weight_norm(probe, dim=dim)
    print(f"dim={dim!s:5}  weight_g shape {probe.weight_g.shape}")
    assert probe.weight_g.shape == expected
assert abs(probe.weight_g.item() - np.linalg.norm(POST_WEIGHT)) < 1e-14

# %% [markdown]
# ## 2. The gradient
#
# Take one row, $w = g\,v/n$ with $n = \|v\|$, and let $G = \partial L/\partial w$ be the
# gradient arriving from the rest of the network.
#
# **With respect to $g$.** $w$ is linear in $g$, so
# $$ \frac{\partial L}{\partial g} = \Big\langle G, \frac{v}{n} \Big\rangle = \frac{\langle G, v\rangle}{n}. $$
# It is the part of $G$ that lies along the row's direction: the "make it longer" signal.
#
# **With respect to $v$.** The only new ingredient is the derivative of a unit vector,
# $$ \frac{\partial}{\partial v}\Big(\frac{v}{n}\Big) = \frac{1}{n}\Big(I - \frac{v v^\top}{n^2}\Big), $$
# (differentiate $v \cdot n^{-1}$ with the product rule, using $\partial n/\partial v = v^\top/n$).
# The bracket is the projector $P$ onto the directions perpendicular to $v$. So
# $$ \frac{\partial L}{\partial v} = \frac{g}{n}\, P\, G
#    = \frac{g}{n}\Big(G - \frac{\langle G, v\rangle}{n^2}\, v\Big). $$
#
# Read it as: take the incoming gradient, **remove its component along $w$** (which $g$
# already takes care of), and scale by $g/n$. The direction parameters only ever hear
# about rotations.
#
# Let us check it on the post's layer with a small regression loss.

# %%
inputs = mg.randn(6, 2)
targets = mg.randn(6, 4)
layer.zero_grad()
loss = mg.mse_loss(layer(inputs), targets)
loss.backward()

# The gradient with respect to w itself, taken on a plain copy of the layer.
plain = nn.Linear(2, 4)
plain.weight.data = layer.weight.data.copy()
plain.bias.data = layer.bias.data.copy()
mg.mse_loss(plain(inputs), targets).backward()
G = plain.weight.grad.data

v = layer.weight_v.data
g = layer.weight_g.data
n = np.linalg.norm(v, axis=1, keepdims=True)
s = np.sum(G * v, axis=1, keepdims=True)  # <G, v> per row
grad_g_by_hand = s / n
grad_v_by_hand = (g / n) * (G - v * s / n**2)

print("grad g  engine:", layer.weight_g.grad.data.ravel(), " by hand:", grad_g_by_hand.ravel())
np.testing.assert_allclose(layer.weight_g.grad.data, grad_g_by_hand, rtol=1e-12)
np.testing.assert_allclose(layer.weight_v.grad.data, grad_v_by_hand, rtol=1e-12)

# %% [markdown]
# The projection is visible directly: every row of `grad_v` is perpendicular to its row of
# $v$ (so also to $w$).

# %%
along = np.sum(layer.weight_v.grad.data * v, axis=1)
print("<grad_v, v> per row:", along)
assert np.all(np.abs(along) < 1e-12)

# %% [markdown]
# `weight_normalize` is the fused op behind the hook: its VJP is the closed form above.
# `weight_normalize_composed` builds the same $g v / \max(\|v\|, \epsilon)$ from
# multiplications, a sum, a square root and a division, and lets the engine differentiate
# it. The two must agree, and both must agree with central finite differences.

# %%
g0 = mg.tensor(np.array([[0.7], [1.3], [0.4]]), requires_grad=True)
v0 = mg.randn(3, 5, requires_grad=True)
upstream = mg.randn(3, 5)

fused_grads = mg.grad((weight_normalize(g0, v0) * upstream).sum(), [g0, v0])
composed_grads = mg.grad((weight_normalize_composed(g0, v0) * upstream).sum(), [g0, v0])
for fused, composed in zip(fused_grads, composed_grads):
    np.testing.assert_allclose(fused.data, composed.data, rtol=1e-12, atol=1e-15)

assert gradcheck(lambda a, b: weight_normalize(a, b), (g0, v0))
print("fused VJP = composed autodiff = finite differences")

# %% [markdown]
# ## 3. Two consequences for training
#
# **$\|v\|$ only grows under plain gradient descent.** The step $-\eta\,\nabla_v L$ is
# perpendicular to $v$, so by Pythagoras
# $$ \|v - \eta \nabla_v L\|^2 = \|v\|^2 + \eta^2 \|\nabla_v L\|^2 \ \ge\ \|v\|^2 . $$
#
# **Large steps damp themselves.** $\nabla_v L$ carries the factor $1/\|v\|$. Whenever
# the steps are large (a too-high learning rate, noisy gradients), $\|v\|$ grows quickly,
# and that shrinks the effective step size on the direction. Salimans and Kingma call
# this a built-in stabiliser. Watch it on a few steps of plain SGD:

# %%
mg.manual_seed(1)
net = weight_norm(nn.Linear(3, 2))
data_x = mg.randn(32, 3)
data_y = mg.randn(32, 2)
optimiser = mg.optim.SGD(net.parameters(), lr=0.5)
lengths = []
for _ in range(40):
    optimiser.zero_grad()
    mg.mse_loss(net(data_x), data_y).backward()
    optimiser.step()
    lengths.append(np.linalg.norm(net.weight_v.data, axis=1))
lengths = np.array(lengths)
print("||v|| per row, first and last step:", lengths[0], lengths[-1])
assert np.all(np.diff(lengths, axis=0) >= -1e-12)  # never shrinks

# %% [markdown]
# A second, related fact: $w$ does not change when $v$ is multiplied by a constant $c > 0$,
# but $\nabla_v L$ is divided by $c$. The loss surface in $v$ is the same everywhere along
# a ray, only stretched.

# %%
def grad_v_for(scale):
    gg = mg.tensor(np.array([[1.5]]), requires_grad=True)
    vv = mg.tensor(scale * np.array([[0.6, -0.8]]), requires_grad=True)
    probe_loss = (weight_normalize(gg, vv) * mg.tensor([[2.0, 1.0]])).sum()
    return mg.grad(probe_loss, [vv])[0].data

print("grad_v at v:", grad_v_for(1.0), " at 10 v:", grad_v_for(10.0))
np.testing.assert_allclose(grad_v_for(10.0), grad_v_for(1.0) / 10, rtol=1e-12)

# %% [markdown]
# ## 4. Data-dependent initialisation
#
# Section 3 of the paper adds one more trick. Take a batch of real inputs $x$ and look
# at a unit's pre-activation
# $$ t = \frac{g}{\|v\|}\, v \cdot x + b . $$
# Measure its mean $\mu$ and standard deviation $\sigma$ over the batch, then set
# $$ g \leftarrow \frac{g}{\sigma}, \qquad b \leftarrow \frac{b - \mu}{\sigma}. $$
# The new pre-activation is $(t - \mu)/\sigma$: mean 0 and standard deviation 1 on that
# batch. Do this for the first layer, pass the batch on through the rescaled layer and
# its non-linearity, and repeat layer by layer: every unit of the network starts with
# well-scaled inputs, whatever the scale of the data.
#
# First by hand, for one layer, on data that is far from standardised:

# %%
mg.manual_seed(2)
batch = mg.randn(256, 2) * mg.tensor([4.0, 0.5]) + mg.tensor([3.0, -1.0])
first = weight_norm(nn.Linear(2, 5))
t = first(batch).data
mu, sigma = t.mean(axis=0), t.std(axis=0)
first.weight_g.data = first.weight_g.data / sigma.reshape(5, 1)
first.bias.data = (first.bias.data - mu) / sigma
t_new = first(batch).data
print("means:", t_new.mean(axis=0), "\nstds: ", t_new.std(axis=0))
np.testing.assert_allclose(t_new.mean(axis=0), 0, atol=1e-12)
np.testing.assert_allclose(t_new.std(axis=0), 1, rtol=1e-12)

# %% [markdown]
# `weight_norm_init(model, batch)` does the same for every `Linear` with weight norm in a
# `Sequential`, in order, so each layer is measured on what the previous (already
# rescaled) layers pass it.

# %%
mg.manual_seed(3)
model = nn.Sequential(
    weight_norm(nn.Linear(2, 16)), nn.Tanh(),
    weight_norm(nn.Linear(16, 16)), nn.Tanh(),
    weight_norm(nn.Linear(16, 3)),
)
weight_norm_init(model, batch)

signal = batch
for index, module in enumerate(model):
    signal = module(signal)
    if isinstance(module, nn.Linear):
        t = signal.data
        print(f"layer {index}: pre-activation mean {np.abs(t.mean(axis=0)).max():.1e} (max |.|), "
              f"std in [{t.std(axis=0).min():.6f}, {t.std(axis=0).max():.6f}]")
        np.testing.assert_allclose(t.mean(axis=0), 0, atol=1e-12)
        np.testing.assert_allclose(t.std(axis=0), 1, rtol=1e-10)

# %% [markdown]
# ### Batch norm for fixed parameters
#
# Compare with batch normalisation. In training mode, `BatchNorm1d` takes every unit's
# pre-activation and standardises it with the mean and standard deviation **of the
# current batch**, on every forward. The initialisation above computed the same
# standardisation **once** and folded it into $g$ and $b$. So on the initialisation batch a
# freshly initialised weight-norm layer and (plain layer + batch norm) produce the same
# numbers, up to batch norm's $\epsilon = 10^{-5}$ under the square root:

# %%
mg.manual_seed(4)
plain_layer = nn.Linear(2, 5)
weight_normed = nn.Linear(2, 5)
weight_normed.weight.data = plain_layer.weight.data.copy()
weight_normed.bias.data = plain_layer.bias.data.copy()
weight_norm_init(weight_norm(weight_normed), batch)

batch_normed = BatchNorm1d(5, affine=False)
via_batch_norm = batch_normed(plain_layer(batch)).data
via_weight_norm = weight_normed(batch).data
gap = np.abs(via_batch_norm - via_weight_norm).max()
print(f"largest difference on the initialisation batch: {gap:.2e}")
assert gap < 1e-4

# %% [markdown]
# On a different batch the two part ways. Batch norm re-standardises whatever it is given
# (its output depends on the other examples in the batch); the weight-norm layer is a
# fixed function of each example, so a new batch from the same distribution comes out
# only *approximately* standardised. That is the sense in which data-dependent
# initialisation is "batch norm for a fixed set of parameters": the statistics are taken
# once, and then gradient descent is free to move away from them.

# %%
other = mg.randn(256, 2) * mg.tensor([4.0, 0.5]) + mg.tensor([3.0, -1.0])
t_bn = batch_normed(plain_layer(other)).data
t_wn = weight_normed(other).data
print("batch norm  std per unit:", t_bn.std(axis=0))
print("weight norm std per unit:", t_wn.std(axis=0))
np.testing.assert_allclose(t_bn.std(axis=0), 1, atol=1e-4)
assert np.abs(t_wn.std(axis=0) - 1).max() > 1e-3  # not exact any more ...
assert np.abs(t_wn.std(axis=0) - 1).max() < 0.3  # ... but close: same distribution

# %% [markdown]
# ## 5. Removing weight norm
#
# `remove_weight_norm` computes $g\,v/\|v\|$ one last time and stores it as an ordinary
# parameter `weight`. On the post's layer that is its original weight again (we have not
# trained it), and the `state_dict` goes back to `weight` and `bias`.

# %%
remove_weight_norm(layer)
print(layer.state_dict())
assert list(layer.state_dict()) == ["bias", "weight"]
np.testing.assert_allclose(layer.weight.data, POST_WEIGHT, rtol=1e-14)
assert isinstance(layer.weight, nn.Parameter)

# %% [markdown]
# On a layer that *has* changed (the initialised `weight_normed`), removal keeps the
# function: the output before and after is the same.

# %%
out_with = weight_normed(other).data
remove_weight_norm(weight_normed)
np.testing.assert_allclose(weight_normed(other).data, out_with, rtol=1e-12)

# %% [markdown]
# One difference from PyTorch, on purpose: PyTorch divides by $\|v\|$ with no floor, so a
# row of zeros gives $0/0 = $ NaN, and the NaN then spreads through every later gradient.
# minigrad divides by $\max(\|v\|, \epsilon)$ with $\epsilon = 10^{-12}$, so a zero row gives
# a zero weight row and finite gradients. Finite is not the same as sensible: a zero
# vector has no direction, and `grad_v` is $g\,G/\epsilon$, enormous. The floor only
# keeps one dead row from turning the whole network into NaN.

# %%
zero_g = mg.tensor(np.array([[2.0]]), requires_grad=True)
zero_v = mg.zeros(1, 3, requires_grad=True)
w_zero = weight_normalize(zero_g, zero_v)
(w_zero * mg.tensor([[1.0, 2.0, 3.0]])).sum().backward()
print(w_zero, zero_g.grad, zero_v.grad)
assert np.all(w_zero.data == 0) and np.all(np.isfinite(zero_v.grad.data))
np.testing.assert_allclose(zero_v.grad.data, 2.0 * np.array([[1.0, 2.0, 3.0]]) / 1e-12)

# %% [markdown]
# ## Exercises
#
# 1. Show that $\partial L/\partial g = \langle G, w\rangle / g$ (for $g \ne 0$), and check it
#    numerically on a small example of your own.
# 2. Apply `weight_norm(..., dim=1)` to the post's weight. What are the entries of `weight_g`?
# 3. Repeat the SGD experiment of section 3 with `weight_decay=0.5`. Does $\|v\|$ still
#    never shrink? Why?
# 4. Apply $P = I - v v^\top/\|v\|^2$ twice. What do you get, and what does that say about
#    the gradient of a loss that only depends on $w$?
#
# The answers are in the next cell, collapsed.

# %% jupyter={"source_hidden": true}
# Answer 1: w = g v/||v||, so v/||v|| = w/g and dL/dg = <G, v/||v||> = <G, w>/g.
ex_g = mg.tensor(np.array([[0.9], [-1.2]]), requires_grad=True)
ex_v = mg.randn(2, 3, requires_grad=True)
ex_G = mg.randn(2, 3)
ex_w = weight_normalize(ex_g, ex_v)
(ex_w * ex_G).sum().backward()
np.testing.assert_allclose(ex_g.grad.data, (ex_G.data * ex_w.data).sum(axis=1, keepdims=True) / ex_g.data)

# Answer 2: with dim=1 each *column* keeps its length: g = column norms, shape (1, 2).
ex_layer = nn.Linear(2, 4)
ex_layer.weight.data = POST_WEIGHT.copy()
weight_norm(ex_layer, dim=1)
np.testing.assert_allclose(ex_layer.weight_g.data, np.linalg.norm(POST_WEIGHT, axis=0, keepdims=True))
print("column lengths:", ex_layer.weight_g.data)

# Answer 3: no. Weight decay adds lambda * v to the step, a component *along* v that
# pulls it towards 0; Pythagoras no longer applies. (It is a common way to keep ||v||
# from growing and the effective learning rate from decaying.)
mg.manual_seed(1)
ex_net = weight_norm(nn.Linear(3, 2))
ex_opt = mg.optim.SGD(ex_net.parameters(), lr=0.5, weight_decay=0.5)
ex_lengths = []
for _ in range(40):
    ex_opt.zero_grad()
    mg.mse_loss(ex_net(data_x), data_y).backward()
    ex_opt.step()
    ex_lengths.append(np.linalg.norm(ex_net.weight_v.data, axis=1))
assert np.any(np.diff(np.array(ex_lengths), axis=0) < 0)

# Answer 4: P P = P (a projector). The gradient already has no component along v,
# projecting again changes nothing: only rotations of v affect a loss of w.
ex_vec = np.array([1.0, 2.0, -2.0])
P = np.eye(3) - np.outer(ex_vec, ex_vec) / (ex_vec @ ex_vec)
np.testing.assert_allclose(P @ P, P, atol=1e-15)
