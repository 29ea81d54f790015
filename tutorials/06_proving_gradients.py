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
# # 6. Proving gradients
#
# Every gradient in minigrad and `norms` is checked by three independent witnesses:
#
# 1. **finite differences**: nudge each input a little and watch the output
#    (`minigrad.verification.gradcheck`). Works for anything, but only samples, and only to a tolerance;
# 2. **SymPy**: run the *same engine code* on symbols instead of numbers, and ask SymPy to
#    prove that the engine's gradient equals `sympy.diff` of the forward expression
#    (`minigrad.verification.symbolic`). Exact, but only for small shapes;
# 3. **closed forms**: the textbook formula, written in SymPy and proved equal to
#    `sympy.diff` (`norms.derivations`). This ties the code to the formula in its docstring.
#
# This notebook shows how each works, what its limits are, and, most usefully, what each
# says when a gradient is *wrong*: we plant the three bugs that students write most often
# and read the reports.

# %%
import contextlib
import warnings

import matplotlib.pyplot as plt
import numpy as np

import minigrad as mg
from minigrad.verification.gradcheck import GradcheckError, check_gradients, gradcheck
from minigrad.ops import getitem, matmul, mul, transpose
from minigrad.ops.registry import Primitive, apply, register, unregister
from minigrad.verification import derive, derive_textbook, symbolic_check
from norms import frobenius_norm, layer_norm, rms_norm, weight_normalize
from norms.derivations import derivation
from tutorial_setup import show, start

start(seed=0)


# %% [markdown]
# ## 1. Finite differences
#
# For a function $F$ and an input entry $x_j$, the **central difference**
#
# $$ \frac{\partial F}{\partial x_j} \approx \frac{F(x + \epsilon e_j) - F(x - \epsilon e_j)}{2 \epsilon} $$
#
# has two errors pulling in opposite directions. Taylor's theorem leaves a *truncation*
# error of order $\epsilon^2$ (the $\epsilon^1$ terms cancel between the two sides, which is
# why central beats one-sided differences). And each evaluation of $F$ is rounded to about
# machine precision $u$ times $|F|$, which the division by $2\epsilon$ blows up into a
# *rounding* error of order $u |F| / \epsilon$. The sum is smallest near
# $\epsilon \approx u^{1/3}$: about $10^{-5}$ in float64, but about $5 \cdot 10^{-3}$ in float32,
# where even the best $\epsilon$ leaves an error around $10^{-5}$. Measured on the derivative
# of $\|x\|$ along $x_0$:

# %%
point = np.array([0.3, -1.2, 0.8])
exact = point[0] / np.linalg.norm(point)
epsilons = np.logspace(-13, -1, 49)
curves = {}
for dtype in (np.float64, np.float32):
    errors = []
    for eps in epsilons:
        step = np.array([eps, 0.0, 0.0])
        plus = frobenius_norm(mg.tensor((point + step).astype(dtype))).item()
        minus = frobenius_norm(mg.tensor((point - step).astype(dtype))).item()
        errors.append(abs((plus - minus) / (2 * eps) - exact))
    curves[np.dtype(dtype).name] = np.maximum(np.array(errors), 1e-17)

fig, axis = plt.subplots(figsize=(6, 3.5))
for name, errors in curves.items():
    axis.loglog(epsilons, errors, ".-", label=name)
axis.axvline(1e-6, color="grey", linestyle="--", linewidth=0.8)
axis.set_xlabel("eps")
axis.set_ylabel("|central difference - exact|")
axis.legend()
axis.set_title("Truncation (right) against rounding (left)")
show(fig)

best64 = epsilons[np.argmin(curves["float64"])]
print(f"float64: best eps {best64:.0e}, error {curves['float64'].min():.1e}; at eps = 1e-6: "
      f"{curves['float64'][np.argmin(abs(epsilons - 1e-6))]:.1e}")
print(f"float32: best error {curves['float32'].min():.1e}")
assert 1e-8 <= best64 <= 1e-3 and curves["float64"].min() < 1e-9
assert curves["float32"].min() > 1e-7

# %% [markdown]
# That is why every gradient check runs in **float64** with $\epsilon = 10^{-6}$, and why
# `gradcheck` warns about anything else. Its pass rule and defaults are PyTorch's: every
# Jacobian entry must satisfy $|a - n| \le \text{atol} + \text{rtol}\,|n|$ with
# atol $= 10^{-5}$, rtol $= 10^{-3}$, where $a$ is the reverse-mode (analytic) value and $n$
# the numeric one.

# %%
x64 = mg.randn(4, 5, requires_grad=True)
assert gradcheck(lambda t: layer_norm(t, 5), (x64,))
print("layer_norm passes in float64")

x32 = mg.tensor(x64.data.astype(np.float32), requires_grad=True)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    result32 = check_gradients(lambda t: layer_norm(t, 5), (x32,))
print("float32:", "passes" if result32.ok else "fails", "| warning:", str(caught[0].message)[:110], "...")
assert caught and "float64" in str(caught[0].message)

# %% [markdown]
# ### The cost, and fast mode
#
# The full check builds the whole Jacobian: two forward passes per input entry (for the
# numeric side) and one backward pass per output entry (reverse mode gives one row of the
# Jacobian per pass). For a layer with a $16 \times 32$ weight that is over a thousand
# forward passes.
#
# `fast_mode=True` checks one random projection instead: for random $v$ (shaped like the
# input) and $u$ (like the output) it compares $\langle u, J v\rangle$ computed two ways,
# by one backward pass ($\langle J^\top u, v\rangle$) and by one central difference along
# $v$. A wrong gradient almost surely changes that number, at the cost of three forward
# passes and one backward pass, whatever the sizes.

# %%
weight = mg.randn(16, 32, requires_grad=True)
batch = mg.randn(8, 32)


def layer(w):
    return layer_norm(mg.tanh(batch @ w.T), 16)


full = check_gradients(layer, (weight,))
fast = check_gradients(layer, (weight,), fast_mode=True)
for label, result in (("full", full), ("fast", fast)):
    print(f"{label}: ok={result.ok}, forward passes {result.forward_passes}, backward passes "
          f"{result.backward_passes}, max rel error {result.max_rel_error:.1e}")
assert full.ok and fast.ok
assert full.forward_passes == 2 * weight.size + 1 and full.backward_passes == 8 * 16
assert fast.forward_passes <= 3 and fast.backward_passes == 1

# %% [markdown]
# ## 2. SymPy: from sampling to proof
#
# Finite differences can only say "agrees to 6 digits at these points". minigrad's
# arrays can also hold SymPy expressions, and every primitive runs on them unchanged. So
# the same `frobenius_norm` code, fed a matrix of symbols, produces the forward *formula*
# and, through the same backward pass, the engine's gradient *as a formula*. `derive`
# prints it:

# %%
formula = derive(frobenius_norm, [(2, 2)], names=["X"], name="n")
print(formula.text())
assert "sqrt" in formula.text()

# %% [markdown]
# `symbolic_check` goes one step further. It also computes `sympy.diff` of the forward
# formula (SymPy's own differentiation, which knows nothing about our VJPs) and asks SymPy
# to simplify each difference, engine minus `sympy.diff`, to zero. When every entry
# simplifies, the gradient is **proved** for that shape, for all real inputs. (It first
# evaluates the difference at a random rational point, so a wrong gradient fails fast,
# with a counterexample, and never waits for a proof.)

# %%
checks = {
    "frobenius_norm (2x3)": symbolic_check(frobenius_norm, [(2, 3)]),
    "weight_normalize (2x1, 2x3)": symbolic_check(lambda g, v: weight_normalize(g, v), [(2, 1), (2, 3)]),
    "rms_norm (1x3)": symbolic_check(lambda t: rms_norm(t, 3, eps=1e-6), [(1, 3)]),
    "layer_norm (1x3)": symbolic_check(lambda t: layer_norm(t, 3), [(1, 3)]),
}
for label, result in checks.items():
    print(f"{label:<30} {result.method:<8} ({result.entries} entries, {result.seconds:.2f} s)")
    assert result.ok and result.method == "proved"

# %% [markdown]
# A check ends in one of four verdicts, and only the first two count as a pass (`.ok`):
# **proved**; **matched at points** (simplify ran out of time, and every entry agreed
# exactly at a few random rational points: strong evidence, not a proof); **failed** (a
# counterexample); **not checkable** (the function has no SymPy form, like the SVD, or the
# work did not fit in the wall-time `budget`, default 10 s, which covers everything from the
# symbolic run to the last point). "Not checkable" is never a pass: finite differences are
# all we have there.

# %%
svd_based = symbolic_check(lambda a: mg.svdvals(a).sum(), [(2, 2)], name="svdvals")
print(svd_based.verdict, "|", svd_based.method, "| ok =", svd_based.ok)
assert (svd_based.verdict, svd_based.ok) == ("not checkable", False)

# %% [markdown]
# ### Closed forms
#
# The third witness is the formula a textbook (and each op's docstring) states.
# `norms.derivations` writes each one in SymPy, independently of the engine, and proves it
# equal to `sympy.diff`. Together with `symbolic_check`, that closes the triangle: closed
# form = `sympy.diff` = engine.

# %%
for name in ("frobenius", "spectral", "weight_norm", "batch_norm", "pixel_norm"):
    entry = derivation(name)
    proved = entry.proved()
    print(f"{name:<12} {'proved' if proved else 'NOT PROVED':<7}  {entry.statement}")
    assert proved

# %% [markdown]
# `minigrad derive NAME` (or `derive_textbook` in Python) puts the engine and the textbook
# side by side: it runs the engine's norm on symbols, writes the textbook's closed form in
# the same symbols, and proves the two equal entry by entry. Here weight norm, whose
# gradient the textbook writes as a projection: $\nabla_v = \frac{g}{\|v\|}\big(I -
# \frac{v v^\top}{\|v\|^2}\big)\nabla_w$ (G below is the incoming gradient $\nabla_w$).
# From a shell: `minigrad derive weight-norm --shape 1x1 --shape 1x3`.

# %%
side_by_side = derive_textbook("weight-norm", [(1, 1), (1, 3)])
print(side_by_side.text())
assert side_by_side.verdicts == {"g": "proved", "v": "proved"}

# %% [markdown]
# ## 3. Planted bugs, and how the reports point at them
#
# To see what the witnesses say about a wrong gradient, we register a few deliberately
# broken primitives. Each is a correct forward with a VJP containing one classic mistake.
# (The context manager makes sure they leave the registry when we are done.)


# %%
class TransposedMatmul(Primitive):
    """a @ b, but grad_a is returned transposed: (G b^T)^T instead of G b^T."""

    name = "tutorial_transposed_matmul"

    @staticmethod
    def forward(ctx, a, b):
        return a @ b

    @staticmethod
    def vjp(ctx, grad):
        a, b = ctx.parents
        grad_a = transpose(matmul(grad, transpose(b, (1, 0))), (1, 0))  # the bug: one transpose too many
        return grad_a, matmul(transpose(a, (1, 0)), grad)


class BiasAddNoSum(Primitive):
    """x + bias with bias broadcast over rows, but the bias gradient is not summed over them."""

    name = "tutorial_bias_add_no_sum"

    @staticmethod
    def forward(ctx, x, bias):
        return x + bias

    @staticmethod
    def vjp(ctx, grad):
        return grad, grad  # the bug: grad has x's shape, bias needs unbroadcast(grad, bias.shape)


class BiasAddOneRow(Primitive):
    """x + bias, but the bias gradient keeps only the first row's contribution."""

    name = "tutorial_bias_add_one_row"

    @staticmethod
    def forward(ctx, x, bias):
        return x + bias

    @staticmethod
    def vjp(ctx, grad):
        return grad, getitem(grad, (slice(0, 1),))  # the bug: right shape, one copy only


class SquareTwice(Primitive):
    """x * x, but the VJP applies the factor 2 twice: 4 x G instead of 2 x G."""

    name = "tutorial_square_twice"

    @staticmethod
    def forward(ctx, x):
        return x * x

    @staticmethod
    def vjp(ctx, grad):
        (x,) = ctx.parents
        return (mul(mul(grad, x), 4.0),)  # the bug: 4 where 2 belongs


@contextlib.contextmanager
def planted(*primitives):
    for primitive in primitives:
        register(primitive)
    try:
        yield
    finally:
        for primitive in primitives:
            unregister(primitive.name)


def uses(primitive):
    """A plain function applying the primitive, as a student's code would."""

    def call(*tensors):
        return apply(primitive, *tensors)

    call.__qualname__ = primitive.name  # the name the reports print
    return call


# %% [markdown]
# ### A transposed gradient
#
# With square inputs the transpose has the right shape, so the engine's shape check cannot
# see it. `gradcheck` can: it fails, lists the worst entries, and its hint notices that the
# analytic Jacobian is the numeric one with two axes swapped. The last lines come from a
# second search: after a failure, every op of the recorded graph is checked *on its own*,
# which names the guilty op and input, even when it is buried inside a bigger function.

# %%
a = mg.randn(3, 3, requires_grad=True)
b = mg.randn(3, 3, requires_grad=True)
with planted(TransposedMatmul):
    try:
        gradcheck(lambda p, q: mg.tanh(apply(TransposedMatmul, p, q)).sum(), (a, b))
    except GradcheckError as error:
        report = str(error)
print(report)
assert "transposed" in report
assert "op 'tutorial_transposed_matmul'" in report and "input 0" in report

# %% [markdown]
# `symbolic_check` finds the same bug with exact arithmetic: a counterexample at a rational
# point, the two formulas side by side (at the worst entry the engine has one of `b`'s
# symbols where `sympy.diff` says `0`: that entry of the Jacobian belongs elsewhere), the
# same hint, and the same op.

# %%
with planted(TransposedMatmul):
    proof = symbolic_check(uses(TransposedMatmul), [(2, 2), (2, 2)])
print(proof.report)
assert not proof.ok and proof.method == "failed"
assert "transposed" in proof.report and "tutorial_transposed_matmul" in proof.report

# %% [markdown]
# ### A missing broadcast sum
#
# The broadcast rule of tutorial 1: a bias of shape `(1, 3)` added to a batch `(4, 3)` is
# used once per row, so its gradient is the *sum* over rows. Forgetting the sum entirely
# returns a `(4, 3)` gradient for a `(1, 3)` input. The engine refuses that at once (every
# gradient must have its input's shape), and `gradcheck` turns the error into a report with
# the fix.

# %%
x = mg.randn(4, 3, requires_grad=True)
bias = mg.randn(1, 3, requires_grad=True)
with planted(BiasAddNoSum):
    result = check_gradients(lambda p, q: mg.tanh(apply(BiasAddNoSum, p, q)), (x, bias))
print(result.report)
assert not result.ok and "broadcast sum is missing" in result.report
assert "unbroadcast" in result.report

# %% [markdown]
# The sneakier version has the right shape: it keeps the gradient of one row and drops the
# rest. Now only the numbers can tell, and the hint reads the pattern: zeros where the
# numeric gradient is not, on an input that was broadcast.

# %%
with planted(BiasAddOneRow):
    result = check_gradients(lambda p, q: mg.tanh(apply(BiasAddOneRow, p, q)), (x, bias))
    proof = symbolic_check(uses(BiasAddOneRow), [(3, 2), (1, 2)])
print(result.report)
print()
print(proof.report)
assert not result.ok and "broadcast" in result.report and "input 1" in result.report
assert not proof.ok and "broadcast" in proof.report

# %% [markdown]
# ### A factor of 2
#
# $d(x^2)/dx = 2x$, applied twice, gives $4x$. The analytic gradient is then exactly twice
# the numeric one everywhere, and the hint says so.

# %%
with planted(SquareTwice):
    result = check_gradients(lambda t: (apply(SquareTwice, t) * 3.0).sum(), (x,))
    proof = symbolic_check(uses(SquareTwice), [(2, 2)], domain="nonzero")
print(result.report)
print()
print(proof.report)
assert "factor of 2" in result.report and "tutorial_square_twice" in result.report
assert "factor of 2" in proof.report and "4*a_0_0" in proof.report

# %%
from minigrad.ops import REGISTRY

assert not any(name.startswith("tutorial_") for name in REGISTRY)  # the planted ops are gone

# %% [markdown]
# ## Summary
#
# | witness | answers | strength | limit |
# |---|---|---|---|
# | `gradcheck` (full) | every Jacobian entry within tolerance? | any function | samples; float64; cost ~ size |
# | `gradcheck(fast_mode=True)` | a random projection | any size, few passes | one direction; hint if 2 agree |
# | `symbolic_check` | engine = `sympy.diff` for all inputs? | a proof | small shapes, a wall-time budget; no SVD |
# | `norms.derivations` | closed form = `sympy.diff`? | ties code to the textbook | one fixed shape per norm |
#
# When a check fails, read the report from the top: *which* output and input, the worst
# entries, the hint (transposed, missing broadcast sum, a constant factor, a flipped sign,
# zeros), and the op that fails on its own.
#
# ## Exercises
#
# 1. Plant a sign bug: `a - b` whose VJP returns `+G` for `b`. What does the hint say?
# 2. Measure the error of the **forward** difference $(F(x + \epsilon) - F(x))/\epsilon$ at
#    $\epsilon = 10^{-4}$ and $10^{-5}$ on the example of section 1. By what factor does it
#    shrink, and what does that tell you about its order?
# 3. At the tie $x = (3, -3, 1, 0)$, `vector_norm(x, ord=inf)` is not differentiable, yet
#    `gradcheck` passes. Why?
# 4. How many forward and backward passes does a full check of a function from a
#    `(10, 10)` input to a `(5,)` output take?
#
# The answers are in the next cell, collapsed.

# %% jupyter={"source_hidden": true}
# Answer 1: "the sign is flipped".
class FlippedSubtract(Primitive):
    name = "tutorial_flipped_subtract"

    @staticmethod
    def forward(ctx, p, q):
        return p - q

    @staticmethod
    def vjp(ctx, grad):
        return grad, grad  # should be -grad for q


with planted(FlippedSubtract):
    ex_result = check_gradients(uses(FlippedSubtract),
                                (mg.randn(2, 3, requires_grad=True), mg.randn(2, 3, requires_grad=True)))
assert "sign is flipped" in ex_result.report

# Answer 2: about 10 times smaller for 10 times smaller eps: the forward difference is first
# order, O(eps), because its eps^1 Taylor term does not cancel.
ex_errors = []
for eps in (1e-4, 1e-5):
    step = np.array([eps, 0.0, 0.0])
    forward_difference = (frobenius_norm(mg.tensor(point + step)).item() - np.linalg.norm(point)) / eps
    ex_errors.append(abs(forward_difference - exact))
print("forward-difference error ratio:", ex_errors[0] / ex_errors[1])
assert 8 < ex_errors[0] / ex_errors[1] < 12

# Answer 3: the central difference averages the two one-sided slopes (1 and 0 for the first
# entry), giving 0.5: exactly the equal split that vector_norm reports at a tie. A different
# valid subgradient, e.g. (1, 0, 0, 0), would "fail" the check although it is not wrong.
from norms import vector_norm

assert gradcheck(lambda t: vector_norm(t, ord=np.inf), (mg.tensor([3.0, -3.0, 1.0, 0.0], requires_grad=True),))

# Answer 4: 2 * 100 + 1 forward passes (two per input entry, plus the one that records the
# graph) and 5 backward passes (one per output entry).
ex_matrix = mg.randn(5, 100)
ex_result = check_gradients(lambda t: ex_matrix @ t.reshape(100), (mg.randn(10, 10, requires_grad=True),))
assert (ex_result.forward_passes, ex_result.backward_passes) == (201, 5)
