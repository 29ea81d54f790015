"""PyTorch's conventions at the edges: 0-d reductions, logsumexp of infinities, NaN through
relu, and relu / leaky_relu / max on SymPy symbols with the float world's kink convention.

Each case has exact numbers; where PyTorch is installed the same case is compared with it.
"""
import math

import numpy as np
import pytest
import sympy as sp

import minigrad as mg
from minigrad.functional import leaky_relu, log_softmax, logsumexp, relu, softmax
from minigrad.verification.symbolic import symbolic_check

NAN, INF = math.nan, math.inf

# name -> (minigrad function, torch function, value at x = 3, d/dx at x = 3)
ZERO_D = {
    "sum(0)": (lambda x: x.sum(0), lambda x: x.sum(0), 3.0, 1.0),
    "sum(-1)": (lambda x: x.sum(-1), lambda x: x.sum(-1), 3.0, 1.0),
    "sum(0, keepdims)": (lambda x: x.sum(0, keepdims=True), lambda x: x.sum(0, keepdim=True), 3.0, 1.0),
    "mean(0)": (lambda x: x.mean(0), lambda x: x.mean(0), 3.0, 1.0),
    "mean(-1)": (lambda x: mg.mean(x, -1), lambda x: x.mean(-1), 3.0, 1.0),
    "max(0)": (lambda x: x.max(axis=0), lambda x: x.amax(0), 3.0, 1.0),
    "max(-1)": (lambda x: mg.max(x, -1), lambda x: x.amax(-1), 3.0, 1.0),
    "logsumexp(0)": (lambda x: logsumexp(x, 0), lambda x: x.logsumexp(0), 3.0, 1.0),
    "log_softmax(-1)": (lambda x: log_softmax(x, -1), lambda x: x.log_softmax(-1), 0.0, 0.0),
    "log_softmax(0)": (lambda x: log_softmax(x, 0), lambda x: x.log_softmax(0), 0.0, 0.0),
    "softmax(-1)": (lambda x: softmax(x, -1), lambda x: x.softmax(-1), 1.0, 0.0),
}


@pytest.mark.parametrize("case", list(ZERO_D))
def test_zero_d_tensors_take_axis_zero_and_minus_one(case):
    fn, _, value, slope = ZERO_D[case]
    x = mg.tensor(3.0, requires_grad=True)
    out = fn(x)
    assert out.shape == () and out.data == value
    (out * 2.5).backward()
    assert x.grad.shape == () and x.grad.data == 2.5 * slope


@pytest.mark.parametrize("case", list(ZERO_D))
def test_zero_d_reductions_match_torch(case):
    torch = pytest.importorskip("torch")
    fn, torch_fn, _, _ = ZERO_D[case]
    x = mg.tensor(-1.25, requires_grad=True)
    out = fn(x)
    (out * 2.5).backward()
    tx = torch.tensor(-1.25, dtype=torch.float64, requires_grad=True)
    tout = torch_fn(tx)
    (tout * 2.5).backward()
    assert out.shape == tuple(tout.shape)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-15)
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-15)


def test_zero_d_softmax_backward_through_a_loss():
    x = mg.tensor(0.7, requires_grad=True)
    (softmax(x, -1) * 4.0 + log_softmax(x, 0)).backward()
    assert x.grad.data == 0.0


@pytest.mark.parametrize("call, error, message", [
    (lambda x: x.sum(1), IndexError,
     r"sum: axis 1 is out of range for a tensor of 0 dimension\(s\); use an axis in \[-1, 0\]\."),
    (lambda x: x.mean(-2), IndexError,
     r"mean: axis -2 is out of range for a tensor of 0 dimension\(s\); use an axis in \[-1, 0\]\."),
    (lambda x: x.sum((0, -1)), ValueError, r"sum: axis \(0, -1\) repeats an axis"),
    (lambda x: log_softmax(x, 1), IndexError, r"log_softmax: axis 1 is out of range"),
])
def test_zero_d_tensors_refuse_other_axes(call, error, message):
    with pytest.raises(error, match=message):
        call(mg.tensor(3.0))


def test_one_axis_tensors_keep_their_range():
    with pytest.raises(IndexError, match=r"sum: axis -2 is out of range for a tensor of 1 dimension\(s\); "
                                         r"use an axis in \[-1, 0\]\."):
        mg.tensor([1.0, 2.0]).sum(-2)
    with pytest.raises(TypeError, match=r"log_softmax: axis must be one int, got None for shape \(2, 2\)"):
        log_softmax(mg.tensor(np.eye(2)), None)


# logsumexp at infinities: (input, value, gradient), PyTorch 2.13's numbers
LOGSUMEXP_EDGES = {
    "all -inf": ([-INF, -INF], -INF, [NAN, NAN]),
    "one -inf": ([-INF, 1.0], 1.0, [0.0, 1.0]),
    "all +inf": ([INF, INF], INF, [NAN, NAN]),
    "one +inf": ([INF, 1.0], INF, [NAN, 0.0]),
    "nan": ([NAN, 1.0], NAN, [NAN, NAN]),
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("case", list(LOGSUMEXP_EDGES))
def test_logsumexp_at_infinities(case):
    data, value, gradient = LOGSUMEXP_EDGES[case]
    x = mg.tensor(data, requires_grad=True)
    out = logsumexp(x, 0)
    out.backward()
    np.testing.assert_array_equal(out.data, value)  # (NaN equals NaN here)
    np.testing.assert_array_equal(x.grad.data, gradient)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("keepdims", [False, True])
def test_logsumexp_rows_of_infinities_match_torch(keepdims):
    torch = pytest.importorskip("torch")
    data = np.array([[-INF, -INF, -INF], [0.5, -INF, 2.0], [INF, 1.0, 0.0], [0.1, 0.2, 0.3]])
    cotangent = np.array([1.5, -2.0, 0.5, 3.0]).reshape((4, 1) if keepdims else (4,))
    x = mg.tensor(data, requires_grad=True)
    out = logsumexp(x, 1, keepdims)
    (out * mg.tensor(cotangent)).sum().backward()
    tx = torch.tensor(data, requires_grad=True)
    tout = torch.logsumexp(tx, 1, keepdim=keepdims)
    (tout * torch.tensor(cotangent)).sum().backward()
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-15)
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-15, atol=1e-300)
    # the finite rows are untouched by the infinite ones
    assert out.data.ravel()[0] == -INF and np.isnan(x.grad.data[0]).all()
    np.testing.assert_allclose(x.grad.data[3], 3.0 * np.exp(data[3]) / np.exp(data[3]).sum(), rtol=1e-15)


RELU_INPUT = [NAN, 1.0, -1.0, 0.0, -INF, INF, -0.0]


def test_relu_propagates_nan_with_gradient_one():
    x = mg.tensor(RELU_INPUT, requires_grad=True)
    out = relu(x)
    out.backward(mg.tensor(np.ones(7)))
    np.testing.assert_array_equal(out.data, [NAN, 1.0, 0.0, 0.0, 0.0, INF, 0.0])
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0])


def test_leaky_relu_propagates_nan_with_the_negative_slope():
    x = mg.tensor(RELU_INPUT, requires_grad=True)
    out = leaky_relu(x, 0.25)
    out.backward(mg.tensor(np.ones(7)))
    np.testing.assert_array_equal(out.data, [NAN, 1.0, -0.25, 0.0, -INF, INF, -0.0])
    np.testing.assert_array_equal(x.grad.data, [0.25, 1.0, 0.25, 0.25, 0.25, 1.0, 0.25])


@pytest.mark.parametrize("which", ["relu", "leaky_relu"])
def test_relu_and_leaky_relu_at_nan_and_infinities_match_torch(which):
    torch = pytest.importorskip("torch")
    ours = relu if which == "relu" else (lambda t: leaky_relu(t, 0.1))
    theirs = torch.relu if which == "relu" else (lambda t: torch.nn.functional.leaky_relu(t, 0.1))
    cotangent = np.arange(1.0, 8.0)
    x = mg.tensor(RELU_INPUT, requires_grad=True)
    out = ours(x)
    out.backward(mg.tensor(cotangent))
    tx = torch.tensor(RELU_INPUT, dtype=torch.float64, requires_grad=True)
    tout = theirs(tx)
    tout.backward(torch.tensor(cotangent))
    np.testing.assert_array_equal(out.data, tout.detach().numpy())
    np.testing.assert_array_equal(x.grad.data, tx.grad.numpy())


# ---------------------------------------------------------------------------------------
# relu, leaky_relu and max on SymPy symbols
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, fn, verdict", [
    ("relu", lambda x: (relu(x) * x).sum(), "proved"),
    ("leaky_relu", lambda x: (leaky_relu(x, 0.1) ** 2).sum(), "proved"),
    # SymPy writes d Max with Heaviside and the engine with Piecewise(Eq): equal away from
    # ties, which exact rational points confirm (simplify cannot match the two forms)
    ("max over an axis", lambda x: (mg.max(x, 1) * x.sum()).sum(), "matched at points"),
    ("max of all", lambda x: mg.max(x) * 2, "matched at points"),
    ("min over an axis", lambda x: mg.min(x, 0).sum(), "matched at points"),
])
def test_piecewise_functions_are_checked_on_symbols(name, fn, verdict):
    result = symbolic_check(fn, [(2, 3)], budget=120, seed=0, name=name)
    assert result.ok, result.report
    assert result.verdict == verdict, result.report


def test_relu_on_symbols_is_a_piecewise_with_gradient_zero_at_the_kink():
    x = mg.symbols("x", ())
    y = relu(x)
    symbol = x.data[()]
    assert sp.simplify(sp.piecewise_fold(y.data[()]) - sp.Piecewise((symbol, symbol > 0), (0, True))) == 0
    y.backward()
    slope = x.grad.data[()]
    assert [slope.subs(symbol, v) for v in (-2, 0, sp.Rational(1, 3))] == [0, 0, 1]
    # the float world takes the same value at the kink
    z = mg.tensor(0.0, requires_grad=True)
    relu(z).backward()
    assert z.grad.data == 0.0


def test_leaky_relu_on_symbols_keeps_the_slope_exact_and_takes_it_at_the_kink():
    x = mg.symbols("x", ())
    leaky_relu(x, 0.01).backward()
    symbol = x.data[()]
    slope = x.grad.data[()]
    assert [slope.subs(symbol, v) for v in (-1, 0, 2)] == [sp.Rational(1, 100), sp.Rational(1, 100), 1]
    z = mg.tensor(0.0, requires_grad=True)
    leaky_relu(z, 0.01).backward()
    assert z.grad.data == 0.01


def test_max_on_symbols_shares_ties_like_the_float_world():
    x = mg.symbols("x", (3,))
    peak = mg.max(x)
    a, b, c = x.data
    assert peak.data[()] == sp.Max(a, b, c)
    peak.backward()
    grads = x.grad.data
    at = {a: 2, b: 2, c: 1}
    assert [g.subs(at) for g in grads] == [sp.Rational(1, 2), sp.Rational(1, 2), 0]
    assert [g.subs({a: 5, b: 5, c: 5}) for g in grads] == [sp.Rational(1, 3)] * 3
    assert [g.subs({a: -1, b: 4, c: 0}) for g in grads] == [0, 1, 0]
    z = mg.tensor([2.0, 2.0, 1.0], requires_grad=True)
    mg.max(z).backward()
    np.testing.assert_array_equal(z.grad.data, [0.5, 0.5, 0.0])


def test_max_over_an_axis_on_symbols_keeps_the_shape():
    x = mg.symbols("x", (2, 3))
    out = mg.max(x, 1, keepdims=True)
    assert out.shape == (2, 1)
    assert out.data[1, 0] == sp.Max(*x.data[1])
    assert mg.max(mg.symbols("s", ()), 0).data[()] == sp.Symbol("s", real=True)
