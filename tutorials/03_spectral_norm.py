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
# # 3. Spectral norm
#
# The spectral norm of a matrix $W$ is its largest singular value,
#
# $$ \sigma_1(W) = \max_{x \ne 0} \frac{\|W x\|}{\|x\|}, $$
#
# the most that $W$ can stretch any vector. Spectral normalisation (Miyato et al., 2018)
# replaces a layer's weight by $W / \sigma_1(W)$ so that no input direction is stretched
# by more than 1. It was introduced to keep a GAN's discriminator smooth; the same idea
# bounds how fast any network's output can change with its input.
#
# Computing $\sigma_1$ exactly (an SVD) at every training step would be expensive. The
# trick that makes spectral norm practical is that it does not need to: **one step of
# power iteration per gradient step is enough**, because the vectors it iterates are kept
# from one step to the next. This notebook shows
#
# 1. why $\sigma_1$ is a Lipschitz constant,
# 2. power iteration and how fast it converges,
# 3. the reference post's numbers, reproduced,
# 4. why one step per training step is enough (warm starts),
# 5. the gradient: PyTorch's "u and v are constants" rule, and what changes when you
#    differentiate through the power iteration instead.

# %%
import matplotlib.pyplot as plt
import numpy as np

import minigrad as mg
from minigrad import nn
from minigrad.verification.gradcheck import check_gradients, gradcheck
from norms import power_iteration, remove_spectral_norm, spectral_norm, spectral_normalize
from tutorial_setup import show, start

start(seed=0)


def singular_values(matrix):
    return np.linalg.svd(np.asarray(matrix, dtype=np.float64), compute_uv=False)


# %% [markdown]
# ## 1. The largest singular value is a Lipschitz constant
#
# We use the weight of the `Linear(3, 2)` printed in the reference post. Its singular
# values are $0.6741$ and $0.3147$.

# %%
POST_WEIGHT = np.array([[-0.4318, 0.1616, -0.1790], [-0.1238, 0.4865, -0.2384]])
s = singular_values(POST_WEIGHT)
print("singular values:", s)
np.testing.assert_allclose(s, [0.6741, 0.3147], atol=2e-4)
np.testing.assert_allclose(mg.svdvals(mg.tensor(POST_WEIGHT)).data, s, rtol=1e-12)

# %% [markdown]
# A function $f$ is $K$-Lipschitz when $\|f(a) - f(b)\| \le K \|a - b\|$ for all inputs.
# For $f(x) = W x + b$ the difference is $W(a - b)$, so the best $K$ is exactly
# $\sigma_1(W)$. Sampling many directions, no ratio exceeds it, and the top right singular
# vector $v_1$ attains it:

# %%
rng = np.random.default_rng(0)
directions = rng.standard_normal((3, 10_000))
ratios = np.linalg.norm(POST_WEIGHT @ directions, axis=0) / np.linalg.norm(directions, axis=0)
_, _, vt = np.linalg.svd(POST_WEIGHT)
print(f"largest sampled stretch {ratios.max():.6f} <= sigma_1 = {s[0]:.6f}")
assert ratios.max() <= s[0] + 1e-12
assert abs(np.linalg.norm(POST_WEIGHT @ vt[0]) - s[0]) < 1e-12

# %% [markdown]
# Layers compose: for $f = f_L \circ \dots \circ f_1$ the Lipschitz constants multiply,
# $K(f) \le \prod_l K(f_l)$, and ReLU, leaky ReLU and tanh are 1-Lipschitz. So a
# network whose weights all have $\sigma_1 \le 1$ is at most 1-Lipschitz, whatever its
# depth. That is the promise spectral normalisation makes; tutorial 7 puts it to work.
#
# ## 2. Power iteration
#
# Start from any unit vector $u$ (with $m$ entries for an $m \times n$ weight) and repeat
#
# $$ v \leftarrow \frac{W^\top u}{\|W^\top u\|}, \qquad u \leftarrow \frac{W v}{\|W v\|},
#    \qquad \sigma \approx u^\top W v . $$
#
# Two half-steps make one step of the classic power method on $W W^\top$: each step
# multiplies the component of $u$ along the $k$-th left singular vector by $\sigma_k^2$
# before renormalising, so the top one wins, and the angle to it shrinks by a factor
# $(\sigma_2/\sigma_1)^2$ per step. The estimate $\sigma$ converges even faster,
# by $(\sigma_2/\sigma_1)^4$ per step: it is a maximum over unit vectors, so its error is
# *quadratic* in the error of $u$ and $v$. (Remember this; it comes back in section 5.)
#
# `norms.power_iteration(W, u, n_iter)` returns $(\sigma, u, v)$.

# %%
u_start = rng.standard_normal(2)
u_start /= np.linalg.norm(u_start)
errors = []
for n in range(1, 9):
    sigma, u, v = power_iteration(mg.tensor(POST_WEIGHT), mg.tensor(u_start), n_iter=n)
    errors.append(s[0] - sigma.item())
    print(f"{n} iteration(s): sigma = {sigma.item():.10f}, error {errors[-1]:.2e}")
errors = np.array(errors)
rates = errors[1:] / errors[:-1]
predicted = (s[1] / s[0]) ** 4
print(f"error ratio per step (late): {rates[-3:]}, predicted (s2/s1)^4 = {predicted:.4f}")
assert np.all(errors >= 0)  # u^T W v <= sigma_1 for unit u, v: always an underestimate
assert errors[-1] < 1e-9
np.testing.assert_allclose(rates[-3:], predicted, rtol=0.05)

# %% [markdown]
# The estimate is always *below* $\sigma_1$ (by Cauchy-Schwarz, $u^\top W v \le \sigma_1$
# for unit vectors). So after dividing, the normalised weight has $\sigma_1$ slightly
# **above** 1 until the iteration has converged: you will see exactly that in the post's
# numbers.
#
# ## 3. The post's numbers
#
# `spectral_norm(module)` follows PyTorch's original implementation:
#
# * registering draws random unit vectors `weight_u`, `weight_v` (buffers) and renames the
#   parameter to `weight_orig`; **no** iteration happens yet;
# * each forward in training mode first runs `n_power_iterations` steps (default 1) from
#   the stored `weight_u`, writes the new $u, v$ back, then sets
#   `weight = weight_orig / (u^T weight_orig v)`;
# * in eval mode the stored $u, v$ are reused unchanged.

# %%
layer = nn.Linear(3, 2)
layer.weight.data = POST_WEIGHT.copy()
spectral_norm(layer)
print("state_dict keys:", list(layer.state_dict()))
print("parameters:", [name for name, _ in layer.named_parameters()])
assert list(layer.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
assert layer.weight_u.shape == (2,) and layer.weight_v.shape == (3,)

# %% [markdown]
# The post's first forward started from a random $u$ that we cannot know, but it prints
# the $u$ and $v$ that forward stored: $u = (-0.7308, -0.6826)$,
# $v = (0.7406, -0.5292, 0.4142)$. Loading them and running an **eval** forward (which
# does not iterate) gives the weight the post saw after its first forward: $\sigma = 0.6561$
# and singular values $(1.0274, 0.4797)$, the first above 1 as promised.

# %%
POST_U = np.array([-0.7308, -0.6826])
POST_V = np.array([0.7406, -0.5292, 0.4142])
layer.weight_u.data = POST_U.copy()
layer.weight_v.data = POST_V.copy()
layer.eval()
layer(mg.ones(3))
sigma_first = POST_U @ POST_WEIGHT @ POST_V
print(f"sigma = {sigma_first:.4f}, singular values after the 1st forward: {singular_values(layer.weight.data)}")
assert abs(sigma_first - 0.6561) < 2e-4
np.testing.assert_allclose(singular_values(layer.weight.data), [1.0274, 0.4797], atol=2e-4)
np.testing.assert_array_equal(layer.weight_u.data, POST_U)  # eval mode: u untouched

# %% [markdown]
# The post's second forward is a training forward: one power-iteration step from that $u$.

# %%
layer.train()
layer(mg.ones(3))
second = singular_values(layer.weight.data)
print("weight_u:", layer.weight_u.data, " weight_v:", layer.weight_v.data)
print("singular values after the 2nd forward:", second)
np.testing.assert_allclose(layer.weight_u.data, [-0.6609, -0.7505], atol=2e-4)
np.testing.assert_allclose(layer.weight_v.data, [0.5971, -0.6719, 0.4382], atol=2e-4)
np.testing.assert_allclose(second, [1.0013, 0.4675], atol=2e-4)

# %% [markdown]
# One more step took the top singular value from $1.0274$ to $1.0013$. The ratio of the
# two singular values never changes ($0.3147 / 0.6741 = 0.4675 / 1.0013$): spectral
# normalisation rescales the whole matrix, it does not reshape it.

# %%
assert abs(second[1] / second[0] - s[1] / s[0]) < 1e-12

# %% [markdown]
# ## 4. Why one step per training step is enough
#
# Power iteration from a random start needs several steps (section 2). But during
# training the weight changes only a little between two optimiser steps, so the $u$
# left behind by the previous forward is already almost the top singular vector of the
# *new* weight. One more step from there restores the accuracy, and the error settles at
# a level set by how fast the weight moves, not by how many iterations we run.
#
# To see it, we train a spectral-normalised `Linear(8, 16)` on a random regression task
# and record, at every step, the relative error of the $\sigma$ that the forward used.
# For contrast we also record what *one* step from a *fresh* random $u$ would have given
# on the same weight (a "cold start").

# %%
mg.manual_seed(1)
model = spectral_norm(nn.Linear(8, 16))
inputs, targets = mg.randn(64, 8), mg.randn(64, 16)
optimiser = mg.optim.SGD(model.parameters(), lr=0.1)
cold_rng = np.random.default_rng(2)
warm_error, cold_error, top_after = [], [], []
for _ in range(200):
    optimiser.zero_grad()
    out = model(inputs)  # one power-iteration step, from the u of the previous step
    weight = model.weight_orig.data
    exact = singular_values(weight)[0]
    used = model.weight_u.data @ weight @ model.weight_v.data
    fresh = cold_rng.standard_normal(16)
    fresh /= np.linalg.norm(fresh)
    warm_error.append(1 - used / exact)
    cold_error.append(1 - np.linalg.norm(weight.T @ fresh) / exact)
    top_after.append(singular_values(model.weight.data)[0])
    mg.mse_loss(out, targets).backward()
    optimiser.step()
warm_error, cold_error = np.array(warm_error), np.array(cold_error)
print(f"relative error of sigma, warm start: step 1 {warm_error[0]:.2e}, step 20 {warm_error[19]:.2e}, "
      f"step 200 {warm_error[-1]:.2e}")
print(f"relative error of sigma, cold start (median): {np.median(cold_error):.2e}")
print(f"sigma_1 of the normalised weight: step 1 {top_after[0]:.4f}, step 200 {top_after[-1]:.8f}")
assert warm_error[-1] < 1e-5 and np.all(warm_error[-100:] < 1e-5)
assert np.median(cold_error) > 0.1
assert abs(top_after[-1] - 1) < 1e-5

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.5))
left.semilogy(warm_error, label="one step per training step, u carried over")
left.semilogy(cold_error, ".", markersize=2, alpha=0.5, label="one step from a fresh random u")
left.set_xlabel("training step")
left.set_ylabel("relative error of sigma")
left.legend()
right.plot(top_after)
right.axhline(1.0, color="grey", linestyle="--")
right.set_xlabel("training step")
right.set_ylabel("sigma_1(weight_orig / sigma)")
right.set_ylim(0.95, max(top_after) + 0.05)
fig.suptitle("Warm-started power iteration tracks sigma_1 as the weight trains")
show(fig)

# %% [markdown]
# ## 5. The gradient
#
# The forward is $\hat W = W / \sigma$ with $\sigma = u^\top W v$. Let
# $G = \partial L / \partial \hat W$. PyTorch treats $u$ and $v$ as **constants**: they
# were computed without gradient tracking. Then $\sigma$ is linear in $W$, with
# $\partial \sigma / \partial W = u v^\top$ (since $u^\top W v = \sum_{ij} u_i W_{ij} v_j$),
# and the quotient rule gives
#
# $$ \frac{\partial L}{\partial W} = \frac{G}{\sigma} - \frac{\langle G, W \rangle}{\sigma^2}\, u v^\top, $$
#
# with $\langle G, W\rangle = \sum_{ij} G_{ij} W_{ij}$. The first term is what an
# unnormalised layer would get, scaled by $1/\sigma$. The second removes the part of it
# that would only change the overall scale of $W$, which the division undoes anyway.
# Indeed, taking the inner product with $W$ and using $u^\top W v = \sigma$:
# $\langle \partial L/\partial W, W \rangle = \langle G, W\rangle/\sigma - \langle G, W\rangle/\sigma = 0$.
# (Weight norm's gradient had the same property, for the same reason.)
#
# Let us check it on the post's layer, starting again from the post's $u$.


# %%
def post_layer(**options):
    """The post's Linear(3, 2) with spectral norm, its u as stored after the post's first forward."""
    mg.manual_seed(0)
    module = nn.Linear(3, 2)
    module.weight.data = POST_WEIGHT.copy()
    spectral_norm(module, **options)
    module.weight_u.data = POST_U.copy()
    return module


batch = mg.tensor([[1.0, 2.0, -1.0], [0.5, -1.0, 2.0]])
upstream = mg.tensor([[1.0, -2.0], [0.5, 1.0]])

constant_uv = post_layer()
out = constant_uv(batch)
constant_uv.weight.retain_grad()  # keep G = dL/dW_hat, the gradient at the normalised weight
(out * upstream).sum().backward()

G = constant_uv.weight.grad.data
u, v = constant_uv.weight_u.data, constant_uv.weight_v.data  # the u, v this forward used
sigma = u @ POST_WEIGHT @ v
by_hand = G / sigma - (np.sum(G * POST_WEIGHT) / sigma**2) * np.outer(u, v)
print("engine:\n", constant_uv.weight_orig.grad.data, "\nby hand:\n", by_hand)
np.testing.assert_allclose(constant_uv.weight_orig.grad.data, by_hand, rtol=1e-12)
assert abs(np.sum(constant_uv.weight_orig.grad.data * POST_WEIGHT)) < 1e-12  # orthogonal to W

# %% [markdown]
# The fused op `spectral_normalize(W, u, v)` that the module uses has this closed form as
# its VJP; with $u, v$ held fixed it passes a finite-difference check:

# %%
fixed_u, fixed_v = mg.tensor(u), mg.tensor(v)
W_leaf = mg.tensor(POST_WEIGHT, requires_grad=True)
assert gradcheck(lambda w: spectral_normalize(w, fixed_u, fixed_v), (W_leaf,))

# %% [markdown]
# ### Differentiating through the power iteration
#
# But $u$ and $v$ are not really constants: this forward computed them *from $W$*. The
# function the forward actually evaluated is
#
# $$ W \ \mapsto\ \frac{W}{u(W)^\top W\, v(W)}, \qquad (u(W), v(W)) = \text{power iteration from the stored } u, $$
#
# and its exact gradient has extra terms through $u(W)$ and $v(W)$. Passing
# `grad_through_power_iteration=True` records the iteration in the graph and
# differentiates it too. Finite differences of that whole function side with it, not with
# the constant-$u,v$ rule:

# %%
def normalised_through(w, n_iter):
    """W / sigma with sigma from power iteration from POST_U, all of it differentiable."""
    sigma_, _, _ = power_iteration(w, mg.tensor(POST_U), n_iter=n_iter)
    return w / sigma_


def normalised_constant(w, n_iter):
    """The same forward, but u and v computed without gradient: PyTorch's rule."""
    with mg.no_grad():
        _, u_, v_ = power_iteration(w, mg.tensor(POST_U), n_iter=n_iter)
    return spectral_normalize(w, u_, v_)


W_leaf = mg.tensor(POST_WEIGHT, requires_grad=True)
through = check_gradients(lambda w: normalised_through(w, 1), (W_leaf,), locate=False)
constant = check_gradients(lambda w: normalised_constant(w, 1), (W_leaf,), locate=False)
print(f"through the iteration: ok={through.ok}, max abs error vs finite differences {through.max_abs_error:.1e}")
print(f"u, v constant:         ok={constant.ok}, max abs error vs finite differences {constant.max_abs_error:.1e}")
assert through.ok and not constant.ok

# %% [markdown]
# The module gives the same two answers. From the same stored $u$:

# %%
through_layer = post_layer(grad_through_power_iteration=True)
(through_layer(batch) * upstream).sum().backward()
difference = np.abs(through_layer.weight_orig.grad.data - constant_uv.weight_orig.grad.data).max()
print("constant u, v:\n", constant_uv.weight_orig.grad.data)
print("through the iteration:\n", through_layer.weight_orig.grad.data)
print(f"largest difference: {difference:.4f}")
np.testing.assert_array_equal(through_layer.weight_u.data, constant_uv.weight_u.data)  # same forward
assert difference > 0.1

# %% [markdown]
# So is PyTorch's gradient wrong? It is the gradient of a slightly different function
# (one where $u$ and $v$ are frozen), and the gap closes as the iteration converges. The
# reason is the one we met in section 2: $\sigma(u, v) = u^\top W v$ is *stationary* at the
# singular vectors. On the unit sphere its derivative in $u$ is the part of $W v$
# perpendicular to $u$, and $W v_1 = \sigma_1 u_1$ has no such part; likewise for $v$.
# So at convergence the chain-rule terms through $u(W)$ and $v(W)$ are multiplied by zero,
# and the two gradients agree. Watch the difference shrink with the number of iterations:

# %%
gaps = []
for n in (1, 2, 4, 8, 16):
    w1 = mg.tensor(POST_WEIGHT, requires_grad=True)
    w2 = mg.tensor(POST_WEIGHT, requires_grad=True)
    (normalised_through(w1, n) * mg.tensor([[1.0, -2.0, 0.5], [0.3, 1.0, -1.0]])).sum().backward()
    (normalised_constant(w2, n) * mg.tensor([[1.0, -2.0, 0.5], [0.3, 1.0, -1.0]])).sum().backward()
    gaps.append(np.abs(w1.grad.data - w2.grad.data).max())
    print(f"{n:2d} iterations: largest gradient difference {gaps[-1]:.2e}")
assert all(later < earlier for earlier, later in zip(gaps, gaps[1:]))
assert gaps[-1] < 1e-8

# %% [markdown]
# In training, the warm start of section 4 keeps $u, v$ close to convergence, so the
# constant rule is a very good approximation, and it is much cheaper: the graph has one
# node for the normalisation instead of the whole iteration. That is why PyTorch uses it.
# Differentiating through the iteration is the exact answer for the forward you ran; it
# matters most right after registration, when $u$ is still random.
#
# ## Eval mode and removal
#
# In eval mode no iteration runs and $u, v$ stay as they are, so a trained model's
# output is deterministic. `remove_spectral_norm` bakes the current $W/\sigma$ into a
# plain `weight` parameter, computed from the stored $u, v$ without another iteration, so
# the output does not change.

# %%
model.eval()
u_before = model.weight_u.data.copy()
before = model(inputs).data
np.testing.assert_array_equal(model.weight_u.data, u_before)  # eval forward: no iteration
remove_spectral_norm(model)
after = model(inputs).data
print("keys after removal:", list(model.state_dict()))
np.testing.assert_allclose(after, before, rtol=1e-12)
assert list(model.state_dict()) == ["bias", "weight"]

# %% [markdown]
# ## Exercises
#
# 1. Prove that $u^\top W v \le \sigma_1(W)$ for any unit vectors $u, v$, and check it on
#    a thousand random pairs for the post's weight. What does this imply for the top
#    singular value of the normalised weight?
# 2. Under plain SGD with PyTorch's gradient, does $\|W_{\text{orig}}\|_F$ grow, shrink or
#    stay? (Hint: section 5 showed the gradient is orthogonal to $W$.) Check it on the
#    training loop of section 4.
# 3. A weight has singular values $(2.0, 1.8, 0.5)$. Using the rate of section 2, about
#    how many iterations from the start $u = (1, 1, 1)/\sqrt 3$ (equal parts along the
#    singular vectors) does the $\sigma$ estimate need to reach a relative error of
#    $10^{-8}$? Check with `power_iteration` on `diag(2.0, 1.8, 0.5)`.
# 4. Run a training-mode forward on the post's layer with `n_power_iterations=20`. What
#    are the singular values of the normalised weight now?
#
# The answers are in the next cell, collapsed.

# %% jupyter={"source_hidden": true}
# Answer 1: u^T W v <= ||u|| ||W v|| <= sigma_1 ||v|| = sigma_1 (Cauchy-Schwarz, then the
# definition of sigma_1). So sigma_1(W / sigma_estimate) = sigma_1 / sigma_estimate >= 1.
ex_rng = np.random.default_rng(3)
ex_u = ex_rng.standard_normal((1000, 2))
ex_v = ex_rng.standard_normal((1000, 3))
ex_u /= np.linalg.norm(ex_u, axis=1, keepdims=True)
ex_v /= np.linalg.norm(ex_v, axis=1, keepdims=True)
assert np.all(np.einsum("ki,ij,kj->k", ex_u, POST_WEIGHT, ex_v) <= s[0] + 1e-12)

# Answer 2: it grows: the step is orthogonal to W, so ||W - lr g||^2 = ||W||^2 + lr^2 ||g||^2.
mg.manual_seed(1)
ex_model = spectral_norm(nn.Linear(8, 16))
ex_opt = mg.optim.SGD(ex_model.parameters(), lr=0.1)
ex_norms = []
for _ in range(30):
    ex_opt.zero_grad()
    mg.mse_loss(ex_model(inputs), targets).backward()
    ex_opt.step()
    ex_norms.append(np.linalg.norm(ex_model.weight_orig.data))
assert np.all(np.diff(ex_norms) >= -1e-12)

# Answer 3: the estimate's error shrinks by (1.8/2.0)^4 = 0.656 per iteration. From a
# start with equal parts along the singular vectors it begins near (1 - 0.81)/2 = 0.1, so
# it needs about log(1e-7)/log(0.656) = 38 iterations. A diagonal matrix has exactly these
# singular values, with the coordinate axes as singular vectors:
ex_W = np.diag([2.0, 1.8, 0.5])
ex_start = mg.tensor(np.ones(3) / np.sqrt(3))
print("predicted:", np.log(1e-8 / 0.095) / np.log(0.9**4))
ex_errors = {n: 1 - power_iteration(mg.tensor(ex_W), ex_start, n)[0].item() / 2.0 for n in (30, 35, 40, 45)}
print("relative errors:", ex_errors)
assert ex_errors[35] > 1e-8 > ex_errors[40]

# Answer 4: (1, 0.4669): sigma is now sigma_1 to many digits, so the top value is 1 and
# the second is the ratio 0.3147 / 0.6741.
ex_layer = post_layer(n_power_iterations=20)
ex_layer(mg.ones(3))
np.testing.assert_allclose(singular_values(ex_layer.weight.data), [1.0, s[1] / s[0]], rtol=1e-10)
