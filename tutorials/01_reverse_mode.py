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
# # 1. Reverse mode from scratch
#
# A gradient is a bookkeeping exercise. Every operation knows two things: how to compute
# its output from its inputs, and how a small change of its output is *caused* by small
# changes of its inputs (its local derivatives). Reverse mode walks the computation once
# forward, remembering what each operation saw, then once backward, multiplying local
# derivatives together from the output towards the inputs.
#
# This notebook does that by hand on a tiny scalar example, then lets minigrad do it, then
# states the one rule that trips everybody up: how broadcasting changes gradients.

# %%
import math

import numpy as np

import minigrad as mg

# %% [markdown]
# ## A graph by hand
#
# Take $f(a, b, c) = \tanh(a b + c)$ at $a = 0.5$, $b = -1.5$, $c = 0.25$. Name the
# intermediate results: $p = a b$, $s = p + c$, $f = \tanh s$.

# %%
a, b, c = 0.5, -1.5, 0.25
p = a * b
s = p + c
f = math.tanh(s)
print(f"p = {p}, s = {s}, f = {f:.6f}")

# %% [markdown]
# Going backward, start from $\partial f / \partial f = 1$ and multiply by one local
# derivative per step:
#
# * $\partial f / \partial s = 1 - \tanh^2 s$
# * $s = p + c$ passes the gradient unchanged to both $p$ and $c$
# * $p = a b$ sends $b$ times the gradient to $a$, and $a$ times it to $b$

# %%
df_ds = 1 - f**2
df_dp = df_ds  # addition copies the gradient to each input
df_dc = df_ds
df_da = df_dp * b
df_db = df_dp * a
print(f"df/da = {df_da:.6f}, df/db = {df_db:.6f}, df/dc = {df_dc:.6f}")

# %% [markdown]
# ## The same with minigrad
#
# Leaves that should receive a gradient are created with `requires_grad=True`. Every op
# on them records a node; `backward()` runs the walk we just did by hand.

# %%
ta = mg.tensor(a, requires_grad=True)
tb = mg.tensor(b, requires_grad=True)
tc = mg.tensor(c, requires_grad=True)
tf = mg.tanh(ta * tb + tc)
tf.backward()
print(ta.grad, tb.grad, tc.grad)

assert abs(tf.item() - f) < 1e-15
assert abs(ta.grad.item() - df_da) < 1e-15
assert abs(tb.grad.item() - df_db) < 1e-15
assert abs(tc.grad.item() - df_dc) < 1e-15

# %% [markdown]
# The graph is there to inspect: each result knows the op that produced it and that op's
# inputs. `minigrad.viz.show` draws it (the second cell below).

# %%
node = tf.grad_fn
chain = []
while node is not None:
    chain.append(node.op.name)
    node = node.parents[0].grad_fn
print(" <- ".join(chain))
assert chain == ["tanh", "add", "mul"]

# %%
from minigrad.viz import draw_graph, show

source = draw_graph(tf).source  # the DOT text: one box per tensor, one ellipse per op
assert all(source.count(f"<B>{op}</B>") == 1 for op in ("mul", "add", "tanh"))
show(tf)  # the picture in Jupyter (the DOT text when Graphviz's `dot` is not installed)

# %% [markdown]
# ## Vectors: the vector-Jacobian product
#
# For a vector output $y = g(x)$ reverse mode never builds the Jacobian $J$. It computes
# $v^T J$ for a vector $v$ you supply (`gradient=`), one backward pass per $v$. A scalar
# loss is the special case $v = 1$.

# %%
x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
y = x * x  # J = diag(2x)
v = mg.tensor([1.0, 0.5, -1.0])
y.backward(gradient=v)
print(x.grad)
np.testing.assert_allclose(x.grad.data, v.data * 2 * x.data)

# %% [markdown]
# ## The broadcast rule
#
# NumPy broadcasting lets `(3, 1) + (1, 4)` produce a `(3, 4)` result. The gradient of
# each input must still have **that input's shape**, and this is the rule that gets it:
#
# > When an input was broadcast, (1) sum the output's gradient over the leading axes that
# > were added to it, then (2) sum, keeping the axis, over every axis where the input had
# > length 1 and the output did not.
#
# Each entry of a broadcast input was used once per position it was stretched over, so its
# gradient collects one contribution from each. minigrad applies the rule in exactly one
# place, `minigrad.unbroadcast`, and checks every gradient's shape after every VJP.

# %%
column = mg.tensor([[1.0], [2.0], [3.0]], requires_grad=True)  # (3, 1)
row = mg.tensor([[10.0, 20.0, 30.0, 40.0]], requires_grad=True)  # (1, 4)
weights = mg.tensor(np.arange(12.0).reshape(3, 4))
((column + row) * weights).sum().backward()
print("column.grad", column.grad.shape, column.grad.data.ravel())
print("row.grad", row.grad.shape, row.grad.data.ravel())
assert column.grad.shape == (3, 1) and row.grad.shape == (1, 4)
np.testing.assert_allclose(column.grad.data.ravel(), weights.data.sum(axis=1))
np.testing.assert_allclose(row.grad.data.ravel(), weights.data.sum(axis=0))

# %% [markdown]
# A bias vector of shape `(4,)` added to a batch `(5, 4)` is the everyday case: step (1)
# sums over the batch axis.

# %%
bias = mg.zeros(4, requires_grad=True)
batch = mg.randn(5, 4)
(batch + bias).sum().backward()
assert bias.grad.shape == (4,)
np.testing.assert_allclose(bias.grad.data, [5.0, 5.0, 5.0, 5.0])

# %% [markdown]
# ## Gradients accumulate
#
# `.grad` is *added to* by every backward pass (that is what lets a parameter used twice
# get both contributions). Training loops therefore clear it before each step.

# %%
w = mg.tensor(2.0, requires_grad=True)
(w * 3).backward()
(w * 3).backward()
print(w.grad)
assert w.grad.item() == 6.0
w.grad = None  # what optimiser.zero_grad() does

# %% [markdown]
# ## Exercises
#
# 1. Compute by hand, then with minigrad, the gradient of $f(x) = \sum_i x_i e^{x_i}$ at
#    $x = (0, 1, -1)$.
# 2. A tensor of shape `(5, 1, 3)` is multiplied by one of shape `(4, 3)`. Which axes does
#    the broadcast rule sum for each input? Check with minigrad.
# 3. Why does `y.backward()` fail for `y = x * x` with `x` of shape `(3,)`, and what are two
#    ways to fix it?
#
# The answers are in the next cell, collapsed.

# %% jupyter={"source_hidden": true}
# Answer 1: d/dx_i x_i e^{x_i} = e^{x_i} (1 + x_i)
x = mg.tensor([0.0, 1.0, -1.0], requires_grad=True)
(x * mg.exp(x)).sum().backward()
np.testing.assert_allclose(x.grad.data, np.exp(x.data) * (1 + x.data))
# Answer 2: the (5, 1, 3) input is summed over axis 1 (length 1 -> 4), keeping it;
# the (4, 3) input is summed over the leading axis of length 5 that it did not have.
left = mg.randn(5, 1, 3, requires_grad=True)
right = mg.randn(4, 3, requires_grad=True)
(left * right).sum().backward()
np.testing.assert_allclose(left.grad.data, np.broadcast_to(right.data.sum(axis=0), (5, 1, 3)))
np.testing.assert_allclose(right.grad.data, np.broadcast_to(left.data.sum(axis=0), (4, 3)))
# Answer 3: backward() seeds 1 only for a scalar; either reduce first (y.sum().backward())
# or pass the vector of the vector-Jacobian product (y.backward(gradient=mg.ones(3))).
