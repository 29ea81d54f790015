"""gradcheck, gradgradcheck and fast mode: PyTorch's rule, readable failure reports,
planted bugs caught, a 100k-parameter MLP checked in a handful of passes, PyTorch agreement."""
import re
import time
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad.verification.gradcheck import (
    GradcheckError, GradcheckWarning, check_gradients, check_second_derivatives, gradcheck,
    gradgradcheck,
)
from minigrad.nn import functional as F
from minigrad.ops import apply, mul
from minigrad.ops.registry import Primitive
from minigrad.tensor import Tensor

from tests._planted import PLANTED, function_of, inputs_for, planted


def _leaf(shape, seed=0, dtype=np.float64, low=None):
    rng = np.random.default_rng(seed)
    data = rng.standard_normal(shape) if low is None else rng.uniform(low, 2.0, size=shape)
    return mg.tensor(data.astype(dtype), requires_grad=True)


# -- passing checks and the structured result ------------------------------------------------
def test_gradcheck_passes_on_a_function_of_several_inputs():
    a, b = _leaf((3, 4), 0), _leaf((4, 2), 1)
    assert gradcheck(lambda a, b: mg.tanh(a @ b), (a, b)) is True
    result = check_gradients(lambda a, b: mg.tanh(a @ b), (a, b))
    assert result.ok and result.mode == "full"
    assert result.max_rel_error < 1e-7 and result.max_abs_error < 1e-8
    # one forward for the graph, two per input entry; one backward per output entry
    assert result.forward_passes == 1 + 2 * (12 + 8)
    assert result.backward_passes == 3 * 2
    assert [(p.output, p.input) for p in result.pairs] == [(0, 0), (0, 1)]


def test_gradcheck_handles_several_outputs_and_constant_inputs():
    x, w = _leaf((2, 3), 0), _leaf((3,), 1)
    target = mg.tensor(np.ones((2, 3)))  # no requires_grad: passed through, not checked

    def two_outputs(x, w, target):
        return (x * w - target).sum(), mg.exp(x) * w

    result = check_gradients(two_outputs, (x, w, target))
    assert result.ok
    assert sorted((p.output, p.input) for p in result.pairs) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert result.max_rel_error < 1e-7


def test_tolerance_rule_is_pytorchs():
    """|a - n| <= atol + rtol*|n|: an analytic gradient 1e-4 too big passes rtol=1e-3, not 1e-5."""

    class SlightlyOff(Primitive):
        name = "slightly_off"

        @staticmethod
        def forward(ctx, a):
            return 3.0 * a

        @staticmethod
        def vjp(ctx, grad):
            return (mul(grad, 3.0 * (1 + 1e-4)),)

    x = _leaf((4,), 0)
    fn = lambda x: apply(SlightlyOff, x)  # noqa: E731 - not registered: apply() needs no registry
    assert gradcheck(fn, (x,), atol=0.0, rtol=1e-3)
    assert not gradcheck(fn, (x,), atol=1e-8, rtol=1e-5, raise_exception=False)
    result = check_gradients(fn, (x,), atol=1e-8, rtol=1e-5)
    assert result.max_rel_error == pytest.approx(1e-4 / (1 + 1e-4), rel=1e-3)
    assert "analytic = 1.0001 x numeric" in result.report


def test_failure_raises_gradcheck_error_or_returns_false():
    with planted(PLANTED["double"][0]):
        x = inputs_for([(2, 3)], "nonzero")[0]
        fn = function_of(PLANTED["double"][0])
        with pytest.raises(GradcheckError) as caught:
            gradcheck(fn, (x,))
        assert isinstance(caught.value, RuntimeError)
        assert caught.value.result is not None and not caught.value.result.ok
        assert gradcheck(fn, (x,), raise_exception=False) is False


def test_float32_inputs_warn_and_say_why():
    x = _leaf((3,), 0, dtype=np.float32)
    with pytest.warns(GradcheckWarning, match=r"float32, not float64.*machine epsilon 1\.2e-07.*x.double\(\)"):
        result = check_gradients(lambda x: mg.tanh(x).sum(), (x,))
    # and it is right to warn: float32 central differences with eps=1e-6 are noise
    assert not result.ok and result.max_rel_error > 1e-3


def test_no_input_requiring_grad_is_a_clear_error():
    with pytest.raises(ValueError, match="none of the 1 inputs requires grad"):
        gradcheck(lambda x: x * 2, (mg.tensor([1.0, 2.0]),))


def test_backward_error_is_reported_with_the_broadcast_hint():
    from tests._planted import ForgetsUnbroadcast

    a, b = _leaf((3, 4), 0), _leaf((1, 4), 1)
    result = check_gradients(lambda a, b: apply(ForgetsUnbroadcast, a, b), (a, b))
    assert not result.ok
    assert ("forgets_unbroadcast: the VJP returned a gradient of shape (3, 4) for an input of shape (1, 4)"
            in result.report)
    assert "a broadcast sum is missing" in result.report


# -- planted bugs: the report names the op, the input and the worst index -------------------
@pytest.mark.parametrize("kind", sorted(PLANTED))
def test_planted_bug_is_caught_with_an_actionable_report(kind):
    op, shapes, domain, wrong_input, hint = PLANTED[kind]
    with planted(op):
        inputs = inputs_for(shapes, domain)
        result = check_gradients(function_of(op), inputs)
        assert not result.ok
        failing = [p for p in result.pairs if not p.ok]
        assert [p.input for p in failing] == [wrong_input]
        report = result.report
        assert f"gradcheck FAILED for {op.name}" in report
        assert (f"Jacobian mismatch for output 0 (shape {failing[0].output_shape}) with respect to input "
                f"{wrong_input}") in report
        worst = failing[0].worst[0]
        # the worst entry's index, analytic, numeric and relative error are printed in a row
        row = f"  {str(worst['output_index']):<14}{str(worst['input_index']):<14}{worst['analytic']:>14.6g}"
        assert row in report
        assert hint in failing[0].hint and hint in report
        # each op checked on its own points at the planted one, and the input that is wrong
        assert len(result.culprits) == 1
        assert result.culprits[0].startswith(f"op '{op.name}' (node 1 of 1), input {wrong_input}")
        with pytest.raises(GradcheckError, match=f"input {wrong_input}"):
            gradcheck(function_of(op), inputs)


def test_planted_bug_inside_a_bigger_function_is_located():
    op = PLANTED["sign"][0]
    with planted(op):
        a, b = _leaf((2, 3), 0), _leaf((2, 3), 1)
        result = check_gradients(lambda a, b: mg.tanh(apply(op, mg.exp(a), b * 2.0)).sum(), (a, b))
        assert not result.ok and [p.input for p in result.pairs if not p.ok] == [1]
        assert len(result.culprits) == 1 and result.culprits[0].startswith("op 'planted_sign' (node 3 of 5), input 1")


def test_broadcast_hint_names_the_shapes():
    op = PLANTED["broadcast"][0]
    with planted(op):
        result = check_gradients(function_of(op), inputs_for([(3, 4), (1, 4)], "real"))
        pair = [p for p in result.pairs if not p.ok][0]
        assert pair.failing == 8 and pair.total == 48  # rows 1 and 2 of the output never reach b
        assert "is 0 at 8 entries where the numeric one is not (first at output (1, 0), input (0, 0))" in pair.hint
        assert "broadcast ((1, 4) -> (3, 4))" in pair.hint and "unbroadcast" in pair.hint


# -- fast mode -------------------------------------------------------------------------------
def test_fast_mode_costs_two_forwards_per_input_and_one_backward_per_output():
    a, b = _leaf((30, 40), 0), _leaf((40, 20), 1)
    result = check_gradients(lambda a, b: mg.tanh(a @ b), (a, b), fast_mode=True, seed=0)
    assert result.ok and result.mode == "fast"
    assert result.forward_passes == 1 + 2 * 2 and result.backward_passes == 1
    assert result.max_rel_error < 1e-7


@pytest.mark.parametrize("kind", sorted(PLANTED))
def test_fast_mode_catches_planted_bugs(kind):
    op, shapes, domain, wrong_input, hint = PLANTED[kind]
    with planted(op):
        result = check_gradients(function_of(op), inputs_for(shapes, domain), fast_mode=True, seed=0)
        assert not result.ok
        assert [p.input for p in result.pairs if not p.ok] == [wrong_input]
        shown = shapes[0] if kind != 'transposed' else (3, 3)
        assert f"Projection mismatch for output 0 (shape {shown}) with respect to input {wrong_input}" in result.report
        assert f"op '{op.name}'" in result.report


class OneEntryFlipped(Primitive):
    """a * b whose VJP for a flips the sign of entry (0, 0) only: no pattern over the whole block."""

    name = "one_entry_flipped"

    @staticmethod
    def forward(ctx, a, b):
        return a * b

    @staticmethod
    def vjp(ctx, grad):
        a, b = ctx.parents
        signs = np.ones(a.shape)
        signs[0, 0] = -1.0
        return mul(mul(grad, b), Tensor._constant(signs)), mul(grad, a)


def _fast_hint(fn, inputs):
    result = check_gradients(fn, inputs, fast_mode=True, seed=0)
    failing = [p for p in result.pairs if not p.ok]
    assert not result.ok and [p.input for p in failing] == [0]
    return failing[0].hint, result


def test_fast_mode_does_not_call_one_flipped_entry_a_constant_factor():
    inputs = (_leaf((3, 3), 0), _leaf((3, 3), 1))
    hint, result = _fast_hint(lambda a, b: apply(OneEntryFlipped, a, b), inputs)
    # one projection would fit "analytic = c x numeric" for some c; the second one refutes it
    assert hint is None
    assert "constant factor" not in result.report and "x numeric" not in result.report
    assert result.backward_passes == 2 and result.forward_passes == 1 + 2 * 2 * 2


def test_fast_mode_names_a_transposed_gradient_not_a_constant_factor():
    op, shapes, domain, _, _ = PLANTED["transposed"]
    with planted(op):
        hint, result = _fast_hint(function_of(op), inputs_for(shapes, domain))
    assert "constant factor" not in result.report
    assert hint.startswith("the gradient is transposed: swapping the last two axes")
    assert hint.endswith("(seen in two random projections)")


def test_fast_mode_names_a_real_constant_factor():
    op, shapes, domain, _, _ = PLANTED["double"]
    with planted(op):
        hint, _ = _fast_hint(function_of(op), inputs_for(shapes, domain))
    assert hint == ("analytic = 2 x numeric: a factor of 2 in the VJP (e.g. d(x^2)/dx = 2x applied twice, or "
                    "x*x counted as both inputs of mul plus a 2). (seen in two random projections)")


class TimesThree(Primitive):
    """3 a whose VJP forgets the 3: analytic = numeric / 3, a factor no other hint explains."""

    name = "times_three"

    @staticmethod
    def forward(ctx, a):
        return 3.0 * a

    @staticmethod
    def vjp(ctx, grad):
        return (grad,)


def test_fast_mode_states_an_unusual_constant_factor_seen_twice():
    hint, _ = _fast_hint(lambda a: apply(TimesThree, a), (_leaf((2, 3), 0),))
    assert hint == ("analytic = 0.333333 x numeric: a constant factor is wrong in the VJP. "
                    "(seen in two random projections)")


class PlantedLinear(Primitive):
    """y = x W^T + b with grad_W doubled: the bug planted in one layer of the MLP."""

    name = "planted_linear"

    @staticmethod
    def forward(ctx, x, weight, bias):
        return x @ weight.T + bias

    @staticmethod
    def vjp(ctx, grad):
        x, weight, bias = ctx.parents
        return (mg.matmul(grad, weight), mul(mg.matmul(grad.T, x), 2.0), grad.sum(axis=0))


def _mlp_inputs(seed=0):
    """784 -> 120 -> 50 -> 10: 100,760 parameters; a batch of 32."""
    rng = np.random.default_rng(seed)
    sizes = [(784, 120), (120, 50), (50, 10)]
    params = []
    for fan_in, fan_out in sizes:
        params.append(mg.tensor(rng.standard_normal((fan_out, fan_in)) / np.sqrt(fan_in), requires_grad=True))
        params.append(mg.tensor(rng.standard_normal(fan_out) * 0.1, requires_grad=True))
    x = mg.tensor(rng.standard_normal((32, 784)))
    target = rng.integers(0, 10, size=32)
    return x, params, target


def _mlp(second_layer):
    def loss(x, w1, b1, w2, b2, w3, b3, target):
        h1 = mg.tanh(F.linear(x, w1, b1))
        h2 = mg.tanh(second_layer(h1, w2, b2))
        return F.cross_entropy(F.linear(h2, w3, b3), target)

    return loss


def test_fast_mode_on_a_100k_parameter_mlp_catches_a_bug_in_one_layer(capsys):
    x, params, target = _mlp_inputs()
    assert sum(p.size for p in params) == 100_760
    good = _mlp(F.linear)
    started = time.perf_counter()
    result = check_gradients(good, (x, *params, target), fast_mode=True, seed=0)
    seconds = time.perf_counter() - started
    assert result.ok, result.report
    assert result.forward_passes == 1 + 2 * 6 and result.backward_passes == 1
    with capsys.disabled():
        print(f"\n[fast_mode] 3-layer MLP, {sum(p.size for p in params)} parameters: {seconds * 1e3:.1f} ms, "
              f"{result.forward_passes} forward + {result.backward_passes} backward passes, "
              f"max rel error {result.max_rel_error:.1e}")

    bad = _mlp(lambda h, w, b: apply(PlantedLinear, h, w, b))
    result = check_gradients(bad, (x, *params, target), fast_mode=True, seed=0)
    assert not result.ok
    # only the second layer's weight (input 3) is wrong, and the located op is the planted one
    assert [p.input for p in result.pairs if not p.ok] == [3]
    assert "with respect to input 3 (float64, shape (50, 120))" in result.report
    assert "analytic = 2 x numeric" in result.report
    assert any(c.startswith("op 'planted_linear'") and "input 1" in c for c in result.culprits)


# -- second derivatives ----------------------------------------------------------------------
def test_gradgradcheck_passes_and_checks_hessian_vector_products():
    a, b = _leaf((2, 3), 0), _leaf((3, 2), 1)
    assert gradgradcheck(lambda a, b: mg.tanh(a @ b), (a, b))
    result = check_second_derivatives(lambda a, b: (mg.exp(a) @ b).sum(), (a, b))
    assert result.ok and result.max_rel_error < 1e-6
    # checked function: (a, b, g) -> (grad_a, grad_b): 2 outputs x 3 inputs
    assert len(result.pairs) == 6


def test_gradgradcheck_catches_a_vjp_that_is_not_differentiable():
    """A VJP that reads .data is right to first order and wrong to second: d(a^3) = 3a^2 g."""

    class CubeFromData(Primitive):
        name = "cube_from_data"

        @staticmethod
        def forward(ctx, a):
            return a**3

        @staticmethod
        def vjp(ctx, grad):
            (a,) = ctx.parents
            return (mul(grad, Tensor._constant(3 * a.data**2)),)

    x = _leaf((3,), 0)
    fn = lambda x: apply(CubeFromData, x)  # noqa: E731
    assert gradcheck(fn, (x,))
    result = check_second_derivatives(fn, (x,), seed=0)
    assert not result.ok
    failing = [p for p in result.pairs if not p.ok]
    assert [(p.output, p.input) for p in failing] == [(0, 0)]  # d(grad)/dx; d(grad)/dg is right
    assert "zero everywhere" in failing[0].hint
    with pytest.raises(GradcheckError, match="second derivatives of"):
        gradgradcheck(fn, (x,))


# -- agreement with PyTorch ------------------------------------------------------------------
def _torch_cases(torch):
    class Transposed(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a @ b

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            return (g @ b.T).T, a.T @ g

    class Broadcast(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            return g, g[0:1]

    class Double(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * a

        @staticmethod
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            return g * a * 4.0

    class Sign(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a - b

        @staticmethod
        def backward(ctx, g):
            return g, g

    return {
        "tanh_matmul": (lambda a, b: mg.tanh(a @ b), lambda a, b: torch.tanh(a @ b), [(3, 4), (4, 2)], "real"),
        "broadcast_mul": (lambda a, b: a * b, lambda a, b: a * b, [(5, 4, 1), (4, 3)], "real"),
        "softmax": (lambda a: mg.softmax(a, axis=1), lambda a: torch.softmax(a, dim=1), [(3, 4)], "real"),
        "sqrt_div": (lambda a, b: mg.sqrt(a) / b, lambda a, b: torch.sqrt(a) / b, [(2, 3), (1, 3)], "positive"),
        "transposed": (function_of(PLANTED["transposed"][0]), Transposed.apply, [(3, 3), (3, 3)], "real"),
        "broadcast": (function_of(PLANTED["broadcast"][0]), Broadcast.apply, [(3, 4), (1, 4)], "real"),
        "double": (function_of(PLANTED["double"][0]), Double.apply, [(2, 3)], "nonzero"),
        "sign": (function_of(PLANTED["sign"][0]), Sign.apply, [(2, 3), (2, 3)], "real"),
    }


CASES = ["tanh_matmul", "broadcast_mul", "softmax", "sqrt_div", "transposed", "broadcast", "double", "sign"]


@pytest.mark.parametrize("fast_mode", [False, True], ids=["full", "fast"])
@pytest.mark.parametrize("case", CASES)
def test_agrees_with_torch_gradcheck(case, fast_mode):
    torch = pytest.importorskip("torch")
    ours_fn, torch_fn, shapes, domain = _torch_cases(torch)[case]
    with planted(*[v[0] for v in PLANTED.values()]):
        inputs = inputs_for(shapes, domain, seed=3)
        ours = gradcheck(ours_fn, inputs, raise_exception=False, fast_mode=fast_mode, seed=0)
        torch_inputs = [torch.tensor(t.data, dtype=torch.float64, requires_grad=True) for t in inputs]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = torch.autograd.gradcheck(torch_fn, torch_inputs, raise_exception=False, fast_mode=fast_mode)
    assert ours == theirs
    assert ours is (case not in PLANTED)


def test_failure_wording_matches_torch():
    torch = pytest.importorskip("torch")
    ours_fn, torch_fn, shapes, domain = _torch_cases(torch)["sign"]
    with planted(PLANTED["sign"][0]):
        inputs = inputs_for(shapes, domain)
        with pytest.raises(GradcheckError) as ours:
            gradcheck(ours_fn, inputs)
    torch_inputs = [torch.tensor(t.data, requires_grad=True) for t in inputs]
    with pytest.raises(RuntimeError) as theirs:
        torch.autograd.gradcheck(torch_fn, torch_inputs)
    pattern = r"Jacobian mismatch for output 0 .*with respect to input 1"
    assert re.search(pattern, str(theirs.value)) and re.search(pattern, str(ours.value))
