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
# # 8. Watching backpropagation happen: the backward stepper
#
# Tutorial 1 ran reverse mode by hand on a tiny graph. On paper the hard part is always the
# same moment: an op receives the gradient of its output, and has to turn it into one
# gradient per input (its vector-Jacobian product, VJP). When a tensor feeds two ops, its
# gradient is the *sum* of what both send back, and it is only complete once both have
# run. That is why the engine visits the ops in reverse creation order.
#
# `minigrad.viz.backward_stepper(loss)` runs `loss.backward()` and records every VJP call
# the engine makes, in the order it makes them. The result is one HTML page (no network,
# no framework: the graph, the script and the styles are all inside) that you step
# through with the arrow keys:
#
# * the forward pass, op by op, then
# * the backward pass, one VJP per step: the incoming gradient `g`, the op's formula, and
#   the gradient sent to each input, with "contribution 1 of 2" and the running sum where
#   a tensor is used twice;
# * a table of the leaves' gradients so far, which ends equal to `.grad`.
#
# In a notebook the page shows inline (click into it, then use ← and →).

# %%
import tempfile
from pathlib import Path

import numpy as np

import minigrad as mg
from minigrad import nn
from minigrad.viz import backward_stepper
from norms import spectral_norm

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## A graph where a tensor is used twice
#
# `loss = sum(y * y)` with `y = tanh(x * w)`: `y` is both inputs of the `mul`, so its
# gradient arrives in two pieces.

# %%
x = mg.tensor([0.5, -1.0, 2.0], name="x")
w = mg.tensor([1.5, 0.3, -0.7], requires_grad=True, name="w")
y = mg.tanh(x * w)
loss = mg.sum(y * y)
loss.name = "loss"

page = backward_stepper(loss, params={"w": w})
page

# %% [markdown]
# The page's steps are plain data too (the page exposes the same list to its script as
# `window.minigradSteps`). The backward ones come in the engine's order: the op created
# last runs first.

# %%
backward = [s for s in page.steps if s["phase"] == "backward" and s["path"] == "both"]
for step in backward:
    sends = ", ".join(f"{send['name']} ({send['count']} of {send['of']})" for send in step["sends"])
    print(f"{step['op']:>5}: g = {np.array(step['grad'])}  ->  {sends or '(the seed)'}")
assert [s["op"] for s in backward] == ["seed", "sum", "mul", "tanh", "mul"]

# %% [markdown]
# ## Accumulation, step by step
#
# The `mul` of `y * y` sends `g * y` to each of its two inputs. Both land on the same
# tensor `y`, so the engine adds them: the gradient that reaches `tanh` at the next step
# is the sum, `2 y` (the seed of `sum` is 1 everywhere).

# %%
square = backward[2]
first, second = (np.array(send["grad"]) for send in square["sends"])
print("contribution 1:", first, " contribution 2:", second)
print("sum so far after both:", np.array(square["sends"][1]["accumulated"]))
assert [(send["count"], send["of"]) for send in square["sends"]] == [(1, 2), (2, 2)]
np.testing.assert_allclose(first + second, 2 * y.data, rtol=1e-15)
np.testing.assert_allclose(np.array(backward[3]["grad"]), 2 * y.data, rtol=1e-15)

# %% [markdown]
# ## The last step ends on `.grad`
#
# After the last step the leaves' table holds exactly what `backward()` left in `w.grad`.
# By hand: d loss / d w = 2 y (1 - y²) x.

# %%
last = [send for step in backward for send in step["sends"] if send["leaf"]][-1]
by_hand = 2 * y.data * (1 - y.data**2) * x.data
print("stepper:", np.array(last["accumulated"]), " w.grad:", w.grad.data, " by hand:", by_hand)
np.testing.assert_allclose(np.array(last["accumulated"]), w.grad.data, rtol=0, atol=1e-12)
np.testing.assert_allclose(w.grad.data, by_hand, rtol=1e-12)

# %% [markdown]
# Each elementwise op also shows its VJP as a formula, derived by running the engine on
# SymPy symbols (tutorial 6) and printed by SymPy as MathML, which browsers draw natively:

# %%
tanh_step = backward[3]
print(tanh_step["formula"])
assert "tanh" in tanh_step["mathml"] and tanh_step["formula"].startswith("d(tanh a)")

# %% [markdown]
# ## A norm: step over the fused VJP, or into its ops
#
# `spectral_norm` computes `weight = weight_orig / sigma` with one fused op,
# `spectral_normalize`, whose VJP is the closed form of tutorial 3. The engine runs that
# one VJP, and the page says so. The button "Step into norms" (key I) inserts the ops of
# the same norm written with engine ops (`matmul`, `mul`, `sum`, `div`, drawn dashed in the
# cluster), run backward by the engine from the same incoming gradient: the chain rule,
# op by op, reaches the same gradient.

# %%
mg.manual_seed(0)
layer = spectral_norm(nn.Linear(3, 2))
inputs = mg.tensor(np.random.default_rng(1).standard_normal((4, 3)), name="x")
layer_loss = mg.mean(layer(inputs) ** 2)
layer_page = backward_stepper(layer_loss, params=layer, title="spectral_norm(Linear(3, 2)): loss = mean(y^2)")
layer_page

# %%
fused = next(s for s in layer_page.steps if s["op"] == "spectral_normalize" and s["phase"] == "backward")
inside = [s for s in layer_page.steps if s["phase"] == "backward" and s["path"] == "into"]
print(fused["text"])
print("inside the cluster:", [s["op"] for s in inside])
composite = sum(np.array(send["grad"]) for s in inside for send in s["sends"] if send["to"] == fused["sends"][0]["to"])
print("largest difference, composite vs fused:", np.max(np.abs(composite - layer.weight_orig.grad.data)))
np.testing.assert_allclose(composite, layer.weight_orig.grad.data, rtol=0, atol=1e-12)
assert [s["op"] for s in inside] == ["div", "sum", "mul", "matmul"]

# %% [markdown]
# ## Saving the page
#
# `page.save("backward.html")` writes the one file; it opens from disk in any current
# browser, offline. From the command line, `minigrad graph mlp --out mlp.html` writes one
# for any of the graph examples.

# %%
folder = Path(tempfile.mkdtemp())
saved = Path(layer_page.save(folder / "spectral-norm.html"))
size = saved.stat().st_size
print(f"{saved.name}: {size / 1024:.0f} kB")
text = saved.read_text(encoding="utf-8")
assert size < 1_000_000 and " src=" not in text and "<link" not in text   # nothing to fetch

# %% [markdown]
# ## Exercises
#
# 1. Build `loss = sum(x * x * x)` with `x` requiring grad. How many contributions does
#    `x` receive, and from which steps? Check with the page's steps.
# 2. Why must the engine wait for *both* contributions of `y` above before running
#    `tanh`'s VJP? What would go wrong if it visited ops depth-first from the loss?
# 3. Put `norms.weight_norm` on a `Linear(3, 2)` and step into its cluster. From how many
#    composite steps does a gradient reach `weight_v`, and what do they add up to?
#
# The answers are in the next cell, collapsed.

# %% jupyter={"source_hidden": true}
# Answer 1: x * x * x is mul(mul(x, x), x). The outer mul sends one gradient to x, the
# inner mul two: three contributions, whose sum is 3 x^2.
cube_x = mg.tensor([1.0, -2.0], requires_grad=True)
cube_page = backward_stepper(mg.sum(cube_x * cube_x * cube_x))
to_x = [send for s in cube_page.steps if s["phase"] == "backward" for send in s["sends"] if send["leaf"]]
assert [send["count"] for send in to_x] == [1, 2, 3] and to_x[0]["of"] == 3
np.testing.assert_allclose(np.array(to_x[-1]["accumulated"]), 3 * cube_x.data**2, rtol=1e-15)

# Answer 2: tanh's VJP multiplies the *whole* incoming gradient by (1 - y^2). Run after
# only one contribution, it would pass on half of the gradient (and running it again for
# the second half would double the work). Reverse creation order is a topological order,
# so every consumer of y has run before tanh.

# Answer 3: the composite is g * (v / max(sqrt(sum(v * v)), eps)). v is used three times:
# once by div (v / n) and twice by mul (v * v, inside the norm). The three contributions add
# up to the fused VJP's g/n * (G - v s/n^2): the projection appears only in the sum.
from norms import weight_norm

mg.manual_seed(0)
wn_layer = weight_norm(nn.Linear(3, 2))
wn_page = backward_stepper(mg.mean(wn_layer(inputs) ** 2), params=wn_layer)
wn_fused = next(s for s in wn_page.steps if s["op"] == "weight_norm" and s["phase"] == "backward")
v_id = wn_fused["sends"][1]["to"]
to_v = [(s["op"], np.array(send["grad"])) for s in wn_page.steps if s["path"] == "into" and s["phase"] == "backward"
        for send in s["sends"] if send["to"] == v_id]
print([op for op, _ in to_v])
assert [op for op, _ in to_v] == ["div", "mul", "mul"]
np.testing.assert_allclose(sum(grad for _, grad in to_v), wn_layer.weight_v.grad.data, rtol=0, atol=1e-12)
