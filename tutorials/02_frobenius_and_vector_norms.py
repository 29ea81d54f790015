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
# # 2. Frobenius and vector norms
#
# The Euclidean length of a vector, and its twin for matrices, the Frobenius norm, are the
# simplest norms there are:
#
# $$ \|x\| = \sqrt{\textstyle\sum_i x_i^2}, \qquad \|A\|_F = \sqrt{\textstyle\sum_{ij} A_{ij}^2}. $$
#
# (The Frobenius norm *is* the Euclidean norm of the matrix's entries laid out in a row.)
# Their gradient is a one-liner. And yet the obvious way to program them has a trap at
# exactly one point, the origin, where the gradient becomes NaN and silently wrecks a
# training run. This notebook
#
# 1. computes the Frobenius norm of the reference post's example,
# 2. derives the gradient $x / \|x\|$,
# 3. shows the NaN of the naive `sqrt(sum(x*x))` at zero, explains it with the chain rule,
#    and shows the fix (and one "fix" that does not work),
# 4. moves on to the other vector norms (ord 1, inf, any p) and how their gradients behave,
#    ties included.

# %%
import matplotlib.pyplot as plt
import numpy as np

import minigrad as mg
from minigrad.verification.gradcheck import gradcheck
from norms import frobenius_norm, frobenius_norm_composed, matrix_norm, norm, vector_norm, vector_norm_composed
from tutorial_setup import show, start

start(seed=0)


# %% [markdown]
# ## 1. The Frobenius norm of `arange(9)`
#
# The post's example: the numbers 0 to 8 as a $3 \times 3$ matrix. The squares add up to
# $0 + 1 + 4 + \dots + 64 = 204$, so the norm is $\sqrt{204} \approx 14.2829$.

# %%
total = 0
for value in range(9):
    total += value * value
print("sum of squares:", total, " square root:", total**0.5)

A = mg.arange(9, dtype=np.float64).reshape(3, 3)
print(A)
print("frobenius_norm(A) =", frobenius_norm(A).item())
assert total == 204
assert abs(frobenius_norm(A).item() - 14.2829) < 1e-4
assert abs(frobenius_norm(A).item() - np.sqrt(204)) < 1e-12
# The same number four ways: the matrix's Frobenius norm, the vector's 2-norm, the
# general dispatcher on either, and the matrix_norm with ord 'fro'.
for value in (norm(A), vector_norm(A.reshape(9)), norm(A.reshape(9)), matrix_norm(A, "fro")):
    assert abs(value.item() - np.sqrt(204)) < 1e-12

# %% [markdown]
# ## 2. The gradient: $x / \|x\|$
#
# Differentiate the square first, which has no square root in it:
# $d(\|x\|^2) = d\big(\sum_i x_i^2\big) = 2 \sum_i x_i\, dx_i$. On the other hand
# $d(\|x\|^2) = 2 \|x\|\, d\|x\|$. Equate and divide by $2\|x\|$ (fine while $x \ne 0$):
#
# $$ \frac{\partial \|x\|}{\partial x} = \frac{x}{\|x\|}. $$
#
# The gradient is the **unit vector pointing along $x$**: the norm grows fastest when you
# move straight away from the origin, at rate exactly 1. For a matrix, read $x$ as the
# matrix: $\partial \|A\|_F / \partial A = A / \|A\|_F$.

# %%
A.requires_grad_()
frobenius_norm(A).backward()
print(A.grad)
np.testing.assert_allclose(A.grad.data, A.data / np.sqrt(204), rtol=1e-14)
assert abs(np.linalg.norm(A.grad.data) - 1) < 1e-14  # a unit "vector"
assert gradcheck(frobenius_norm, (mg.randn(3, 4, requires_grad=True),))

# %% [markdown]
# ## 3. The trap at zero
#
# Now program the norm the way the formula reads, `sqrt(sum(x * x))`, from three engine
# primitives. (`frobenius_norm_composed` is exactly that; it is kept naive on purpose.)
# Away from the origin it is fine. At the origin (NumPy's RuntimeWarnings, if shown, are
# the hardware telling the same story):

# %%
origin = mg.zeros(3, requires_grad=True)
naive = frobenius_norm_composed(origin)
naive.backward()
print("value:", naive.item(), " gradient:", origin.grad)
assert naive.item() == 0.0
assert np.all(np.isnan(origin.grad.data))

# %% [markdown]
# Follow the chain rule backwards, one local derivative at a time, with the intermediate
# results kept (`retain_grad`):
#
# * $r = \sqrt{s}$: $\;\partial r / \partial s = \dfrac{1}{2\sqrt s} = \dfrac{1}{0} = \infty$ at $s = 0$;
# * $s = \sum_i x_i^2$: $\;\partial s / \partial x_i = 2 x_i = 0$ at $x = 0$;
# * together: $\;\partial r / \partial x_i = \infty \cdot 0$, which IEEE arithmetic defines as **NaN**.
#
# Mathematically the first factor is going to infinity while the second goes to zero;
# their product has a limit only along particular paths, and the floating-point unit
# does not take limits.

# %%
origin = mg.zeros(3, requires_grad=True)
squares = origin * origin
s = squares.sum()
r = mg.sqrt(s)
for t in (squares, s, r):
    t.retain_grad()
r.backward()
print("dr/dr =", r.grad.item(), "  dr/ds =", s.grad.item(), "  dr/d(x*x) =", squares.grad.data,
      "  dr/dx =", origin.grad.data)
assert s.grad.item() == np.inf and np.all(np.isnan(origin.grad.data))

# %% [markdown]
# `mg.detect_anomaly()` finds such a NaN for you: it checks every op's output and every
# VJP's result, and stops at the first NaN or infinity, naming the op.

# %%
origin = mg.zeros(3, requires_grad=True)
try:
    with mg.detect_anomaly():
        frobenius_norm_composed(origin).backward()
except FloatingPointError as error:
    message = str(error)
print(message.splitlines()[0])
assert "'sqrt'" in message

# %% [markdown]
# ### Why it matters
#
# A zero vector is not exotic: the distance between two embeddings that happen to be equal,
# a gradient penalty at a point where the gradient vanishes, a row of weights that starts at
# zero. One NaN gradient is enough; after one optimiser step the parameter *is* NaN, and
# everything downstream follows.

# %%
anchor = mg.tensor([1.0, 2.0, 3.0])
point = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)  # starts exactly at the anchor
optimiser = mg.optim.SGD([point], lr=0.1)
loss = frobenius_norm_composed(point - anchor) + ((point - 4.0) ** 2).sum()
loss.backward()
optimiser.step()
print("after one step with the naive norm:", point)
assert np.all(np.isnan(point.data))

# %% [markdown]
# ### The fix: choose a subgradient
#
# At the origin the norm has a kink (think of $|x|$ in one dimension), so it has no
# gradient there. What it has is a set of **subgradients**: every $g$ with $\|g\| \le 1$
# satisfies $\|y\| \ge \|0\| + g \cdot y$ for all $y$. Any of them is a valid choice, and
# the natural one is the smallest, $g = 0$ (PyTorch's choice too). The fused
# `frobenius_norm` computes $x / \|x\|$ where $\|x\| > 0$ and $0$ where it is $0$, without
# ever forming $0/0$.

# %%
origin = mg.zeros(3, requires_grad=True)
frobenius_norm(origin).backward()
print("fused norm's gradient at 0:", origin.grad)
np.testing.assert_array_equal(origin.grad.data, 0.0)

point = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
optimiser = mg.optim.SGD([point], lr=0.1)
(frobenius_norm(point - anchor) + ((point - 4.0) ** 2).sum()).backward()
optimiser.step()
print("after one step with the fused norm:", point)
np.testing.assert_allclose(point.data, [1.6, 2.4, 3.2])

# %% [markdown]
# ### A "fix" that does not work, and one that does
#
# The first idea is to guard the square root: `where(s > 0, sqrt(s), 0)`. The value is
# right, but the gradient is still NaN. `where` sends a zero gradient to the branch it did
# not pick, and that branch's VJP multiplies that zero by $1/(2\sqrt{0}) = \infty$:
# $0 \cdot \infty$ is NaN again. **A guard on the output does not protect the backward pass
# of the guarded op.** The working version also makes sure the unused branch never sees
# $s = 0$ (the "double where"), which is what the fused op's VJP does internally.

# %%
origin = mg.zeros(3, requires_grad=True)
s = (origin * origin).sum()
mg.where(s > 0, mg.sqrt(s), 0.0).backward()
print("single where:", origin.grad)
assert np.all(np.isnan(origin.grad.data))

origin = mg.zeros(3, requires_grad=True)
s = (origin * origin).sum()
safe_s = mg.where(s > 0, s, 1.0)  # the sqrt below never sees 0
mg.where(s > 0, mg.sqrt(safe_s), 0.0).backward()
print("double where:", origin.grad)
np.testing.assert_array_equal(origin.grad.data, 0.0)

# %% [markdown]
# A third common remedy is `sqrt(sum(x*x) + eps)`. It never divides by zero, but it changes
# the function: the "norm" of the zero vector becomes $\sqrt{\epsilon}$, and tiny vectors
# look bigger than they are. Exercise 3 measures that.
#
# ## 4. Other vector norms
#
# The $p$-norm is $\|x\|_p = \big(\sum_i |x_i|^p\big)^{1/p}$ for $p \ge 1$, with the limits
# $\|x\|_\infty = \max_i |x_i|$ and (not a norm, but useful) $\|x\|_0$ = the number of
# non-zero entries. The same differentiation trick as in section 2 (differentiate
# $\|x\|_p^p$ first) gives
#
# $$ \frac{\partial \|x\|_p}{\partial x_i} = \operatorname{sign}(x_i)\,
#    \left(\frac{|x_i|}{\|x\|_p}\right)^{p-1}. $$
#
# * $p = 2$: $x / \|x\|$ again.
# * $p = 1$: $\operatorname{sign}(x)$, every non-zero entry counts the same; at $x_i = 0$
#   the subgradient 0 is picked, as before.
# * $p = \infty$: only the largest $|x_i|$ matters, so the gradient is $\operatorname{sign}(x_k)$
#   at its position $k$ and 0 elsewhere. With **ties** the max is not differentiable; every
#   way of splitting the weight 1 among the tied entries is a subgradient, and minigrad,
#   like PyTorch, splits it **equally**.
# * $p = 0$: a step function, flat wherever it is differentiable, so its gradient is 0.

# %%
x = mg.tensor([3.0, -3.0, 1.0, 0.0])
rows = []
for ord in (1, 2, 3, np.inf, 0):
    leaf = mg.tensor(x.data, requires_grad=True)
    value = vector_norm(leaf, ord=ord)
    value.backward()
    rows.append((ord, value.item(), leaf.grad.data))
    print(f"ord={ord!s:4}  norm = {value.item():8.4f}   gradient = {leaf.grad.data}")

grads = {ord: grad for ord, _, grad in rows}
np.testing.assert_allclose(grads[1], [1.0, -1.0, 1.0, 0.0])
np.testing.assert_allclose(grads[2], x.data / np.sqrt(19))
np.testing.assert_allclose(grads[np.inf], [0.5, -0.5, 0.0, 0.0])  # the tie, split equally
np.testing.assert_allclose(grads[0], 0.0)
p = 3
np.testing.assert_allclose(grads[3], np.sign(x.data) * (np.abs(x.data) / np.cbrt(55)) ** (p - 1), rtol=1e-12)

# %% [markdown]
# Are the tie-split and the zero subgradient "right"? At those points there is no single
# right answer, and finite differences show it: the one-sided slopes differ. Away from ties
# and zeros, all ords pass the finite-difference check.

# %%
step = 1e-6
bump = np.array([1.0, 0.0, 0.0, 0.0])
up = (vector_norm(mg.tensor(x.data + step * bump), ord=np.inf).item() - 3.0) / step
down = (3.0 - vector_norm(mg.tensor(x.data - step * bump), ord=np.inf).item()) / step
print(f"max-norm at the tie, slope along +e1: {up:.3f}, along -e1: {down:.3f}  (we report 0.5)")
assert abs(up - 1.0) < 1e-6 and abs(down) < 1e-6

generic = mg.tensor([0.7, -1.9, 0.3, 1.2], requires_grad=True)
for ord in (1, 1.5, 2, 3, 7, np.inf):
    assert gradcheck(lambda t, o=ord: vector_norm(t, ord=o), (generic,))
print("gradcheck passes for ord 1, 1.5, 2, 3, 7, inf away from ties and zeros")

# %% [markdown]
# ### From $p = 1$ to $p = \infty$
#
# As $p$ grows, the gradient moves its weight from "every entry equally" (the sign vector)
# to "only the largest entry". Plotting it for one vector makes the family visible.

# %%
v = np.array([0.2, -0.5, 0.9, 1.0, -0.3])
ords = [1, 1.5, 2, 4, 16, np.inf]
fig, axis = plt.subplots(figsize=(8, 3.2))
width = 0.13
for k, ord in enumerate(ords):
    leaf = mg.tensor(v, requires_grad=True)
    vector_norm(leaf, ord=ord).backward()
    axis.bar(np.arange(5) + (k - 2.5) * width, leaf.grad.data, width, label=f"p = {ord}")
axis.set_xticks(range(5), [f"x{i} = {value}" for i, value in enumerate(v)])
axis.axhline(0, color="grey", linewidth=0.5)
axis.set_ylabel("d ||x||_p / dx_i")
axis.legend(ncol=3, fontsize=8)
show(fig)

# %% [markdown]
# One more fact ties the family together. For $1/p + 1/q = 1$ (the "dual" exponent), the
# gradient of the $p$-norm always has **$q$-norm exactly 1**: for $p = 2$ it is a unit
# vector ($q = 2$), for $p = 1$ the sign vector has max-norm 1 ($q = \infty$), for
# $p = \infty$ the gradient's entries add up to 1 in absolute value ($q = 1$), ties or not.
# (It follows from Hölder's inequality; the gradient is the vector that attains it.)

# %%
for ord in (1, 1.5, 2, 3, 16, np.inf):
    leaf = mg.tensor(x.data if ord == np.inf else v, requires_grad=True)
    vector_norm(leaf, ord=ord).backward()
    dual = np.inf if ord == 1 else (1.0 if ord == np.inf else ord / (ord - 1))
    dual_norm = np.linalg.norm(leaf.grad.data, dual)
    print(f"p = {ord!s:4}  q = {dual:6.3f}   ||grad||_q = {dual_norm:.12f}")
    assert abs(dual_norm - 1) < 1e-12

# %% [markdown]
# ### Large and small numbers
#
# `sum(x*x)` also fails at the other end of the number line: with entries of $10^{200}$ the
# squares overflow to infinity. The fused norms divide by the largest $|x_i|$ first and
# multiply it back at the end ($\|x\| = m \,\|x/m\|$), so they give the right finite answer.

# %%
huge = mg.tensor([3e200, 4e200])
with np.errstate(over="ignore"):
    print("naive:", frobenius_norm_composed(huge).item(), "  fused:", frobenius_norm(huge).item())
    assert frobenius_norm_composed(huge).item() == np.inf
assert abs(frobenius_norm(huge).item() / 5e200 - 1) < 1e-15

# %% [markdown]
# ### Matrices, briefly
#
# `matrix_norm` offers the matrix norms that are *not* just the entries' 2-norm: the
# spectral norm (`ord=2`, the largest singular value, tutorial 3), the nuclear norm
# (`'nuc'`, the sum of singular values), and the max column / row sums (`ord=1`, `inf`).
# Their gradients follow the same rules as above: the spectral norm's is $u_1 v_1^\top$, and
# tied singular values split it equally, so the identity matrix, whose two singular values
# are both 1, gets $\tfrac12 I$.

# %%
eye = mg.eye(2, requires_grad=True)
matrix_norm(eye, 2).backward()
print(eye.grad)
np.testing.assert_allclose(eye.grad.data, 0.5 * np.eye(2))

M = mg.tensor([[2.0, 0.0], [0.0, 1.0]], requires_grad=True)  # sigma_1 = 2, u_1 = v_1 = e_1
matrix_norm(M, 2).backward()
np.testing.assert_allclose(M.grad.data, [[1.0, 0.0], [0.0, 0.0]], atol=1e-12)

# %% [markdown]
# ## Exercises
#
# 1. The *squared* norm $\|x\|^2$ = `sum(x*x)` has no square root. What is its gradient at
#    $x = 0$, and is it NaN?
# 2. Compute by hand the gradient of the 3-norm at $x = (1, -2, 2)$, then check it.
# 3. The $\epsilon$ remedy: how big is `sqrt(sum(x*x) + 1e-12)` for $x = (10^{-7}, 0, 0)$,
#    compared with the true norm? What is its gradient at 0?
# 4. Using `vector_norm_composed(x, ord=np.inf)` (built from `abs` and `max`), is the
#    gradient at the tie $x = (3, -3, 1, 0)$ also split equally? Why should a composite
#    agree with the fused op here?
#
# The answers are in the next cell, collapsed.

# %% jupyter={"source_hidden": true}
# Answer 1: d/dx sum(x*x) = 2x = 0 at 0: no square root, no infinity, no NaN.
ex = mg.zeros(3, requires_grad=True)
(ex * ex).sum().backward()
np.testing.assert_array_equal(ex.grad.data, 0.0)

# Answer 2: ||x||_3 = (1 + 8 + 8)^(1/3) = 17^(1/3); grad_i = sign(x_i) x_i^2 / 17^(2/3)
# = (1, -4, 4) / 17^(2/3).
ex = mg.tensor([1.0, -2.0, 2.0], requires_grad=True)
vector_norm(ex, ord=3).backward()
np.testing.assert_allclose(ex.grad.data, np.array([1.0, -4.0, 4.0]) / 17 ** (2 / 3), rtol=1e-12)

# Answer 3: sqrt(1e-14 + 1e-12) = 1.005e-6, ten times the true norm 1e-7; at x = 0 the
# gradient is x / sqrt(eps) = 0, finite, but the function is no longer a norm.
ex = mg.tensor([1e-7, 0.0, 0.0], requires_grad=True)
smoothed = mg.sqrt((ex * ex).sum() + 1e-12)
print(smoothed.item(), "vs", frobenius_norm(ex).item())
assert smoothed.item() > 10 * frobenius_norm(ex).item()
ex0 = mg.zeros(3, requires_grad=True)
mg.sqrt((ex0 * ex0).sum() + 1e-12).backward()
np.testing.assert_array_equal(ex0.grad.data, 0.0)

# Answer 4: yes: the engine's max splits its gradient equally among tied entries, and
# abs contributes sign(x). The fused and composed versions must agree wherever the
# composite is well defined, which is what the library's three-way tests rely on.
ex = mg.tensor([3.0, -3.0, 1.0, 0.0], requires_grad=True)
vector_norm_composed(ex, ord=np.inf).backward()
np.testing.assert_allclose(ex.grad.data, [0.5, -0.5, 0.0, 0.0])
