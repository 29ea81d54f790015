"""Property tests over random expression graphs.

`make test` runs the short hypothesis profile; `HYPOTHESIS_PROFILE=long` runs thousands of
graphs (see docs/reliability.md for the last long run's count and time).
"""
import numpy as np
from hypothesis import given, settings, strategies as st

import minigrad as mg
from tests.strategies import OPS, broadcastable_pairs, build, expression_graphs


def _central_differences(fn, arrays, eps=1e-6):
    grads = []
    for k, array in enumerate(arrays):
        grad = np.zeros_like(array)
        for index in np.ndindex(*array.shape):
            plus = [a.copy() for a in arrays]
            minus = [a.copy() for a in arrays]
            plus[k][index] += eps
            minus[k][index] -= eps
            with mg.no_grad():
                grad[index] = (fn(*map(mg.tensor, plus)).item() - fn(*map(mg.tensor, minus)).item()) / (2 * eps)
        grads.append(grad)
    return grads


@given(expression_graphs())
def test_random_graph_gradients_equal_finite_differences(description):
    arrays, fn = build(description)
    tensors = [mg.tensor(a, requires_grad=True) for a in arrays]
    fn(*tensors).backward()
    numeric = _central_differences(fn, arrays)
    for tensor, expected in zip(tensors, numeric):
        analytic = tensor.grad.data if tensor.grad is not None else np.zeros_like(expected)
        scale = max(1.0, float(np.max(np.abs(expected))))
        assert np.max(np.abs(analytic - expected)) <= 1e-6 * scale, (description, analytic, expected)


@given(expression_graphs(max_depth=5))
def test_float32_agrees_with_float64_within_float32_tolerance(description):
    arrays, fn = build(description)
    wide = [mg.tensor(a, requires_grad=True) for a in arrays]
    narrow = [mg.tensor(a.astype(np.float32), requires_grad=True) for a in arrays]
    out64, out32 = fn(*wide), fn(*narrow)
    assert out32.dtype == np.float32
    out64.backward()
    out32.backward()
    scale = max(1.0, abs(out64.item()))
    assert abs(out32.item() - out64.item()) <= 1e-3 * scale
    for t64, t32 in zip(wide, narrow):
        if t64.grad is None:
            continue
        assert t32.grad.dtype == np.float32
        grad_scale = max(1.0, float(np.max(np.abs(t64.grad.data))))
        assert np.max(np.abs(t32.grad.data - t64.grad.data)) <= 1e-3 * grad_scale


@given(expression_graphs(max_depth=4))
def test_no_grad_and_detach_build_no_graph(description):
    arrays, fn = build(description)
    tensors = [mg.tensor(a, requires_grad=True) for a in arrays]
    with mg.no_grad():
        out = fn(*tensors)
    assert out.grad_fn is None and not out.requires_grad
    detached = fn(*[t.detach() for t in tensors])
    assert detached.grad_fn is None and not detached.requires_grad


@given(expression_graphs(max_depth=4))
def test_backward_twice_with_retain_graph_doubles_grad(description):
    arrays, fn = build(description)
    tensors = [mg.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    out.backward(retain_graph=True)
    first = [None if t.grad is None else t.grad.data.copy() for t in tensors]
    out.backward()
    for tensor, once in zip(tensors, first):
        if once is not None:
            np.testing.assert_allclose(tensor.grad.data, 2 * once, rtol=1e-12, atol=1e-300)


@given(broadcastable_pairs(), st.integers(0, 2**31 - 1))
def test_broadcast_gradients_have_input_shapes_and_sum_correctly(pair, seed):
    rng = np.random.default_rng(seed)
    left_shape, right_shape = pair
    left = mg.tensor(rng.standard_normal(left_shape), requires_grad=True)
    right = mg.tensor(rng.standard_normal(right_shape), requires_grad=True)
    (left * right).sum().backward()
    assert left.grad.shape == left_shape and right.grad.shape == right_shape
    # d/dleft sum(left*right) = right summed over where left was broadcast: compare via NumPy
    out_shape = np.broadcast_shapes(left_shape, right_shape)
    ones = np.ones(out_shape)
    expected_left = (ones * right.data).sum(axis=tuple(range(len(out_shape) - len(left_shape))))
    expected_left = expected_left.sum(
        axis=tuple(i for i, s in enumerate(left_shape) if s == 1 and expected_left.shape[i] != 1), keepdims=True
    ) if left_shape else expected_left.sum()
    np.testing.assert_allclose(left.grad.data, np.reshape(expected_left, left_shape), rtol=1e-12)


def test_every_op_of_the_fuzzer_runs():
    # The strategy's op table must stay runnable (a typo there would hide behind hypothesis).
    rng = np.random.default_rng(0)
    pool = [mg.tensor(rng.standard_normal((3, 4)), requires_grad=True) for _ in range(2)]
    for name, op in OPS.items():
        out = op(pool, 0, 1)
        assert out.shape == (3, 4), name


# -- the SymPy world, the float world and finite differences on the same random graphs ----------
# Ops without a SymPy form (SVD norms, the inf-norm's tie weights) are left out here: there is
# no symbolic gradient to compare; the float tests above cover them.
NOT_SYMBOLIC = {"nuclear", "spectral_2", "vector_inf"}
SYMBOLIC_OPS = sorted(set(OPS) - NOT_SYMBOLIC)


@st.composite
def small_symbolic_graphs(draw):
    """Graphs of 1 to 3 ops over (2, n) inputs with n <= 2: small enough for exact SymPy.

    (Two rows, because batch norm needs more than one value per channel.)"""
    m, n = 2, draw(st.integers(1, 2))
    inputs = draw(st.integers(1, 2))
    depth = draw(st.integers(1, 3))
    steps = draw(st.lists(st.tuples(st.sampled_from(SYMBOLIC_OPS), st.integers(0, 50), st.integers(0, 50)),
                          min_size=depth, max_size=depth))
    return draw(st.integers(0, 2**31 - 1)), (m, n), inputs, steps


@settings(max_examples=200, deadline=None)
@given(small_symbolic_graphs())
def test_sympy_float_and_finite_difference_gradients_agree(description):
    import sympy as sp

    arrays, fn = build(description)
    tensors = [mg.tensor(a, requires_grad=True) for a in arrays]
    fn(*tensors).backward()
    symbols = [mg.symbols(f"x{k}", a.shape) for k, a in enumerate(arrays)]
    fn(*symbols).backward()
    # the point: each symbol at the exact binary value of its float
    point = {s: sp.Rational(float(v)) for t, a in zip(symbols, arrays)
             for s, v in zip(t.data.reshape(-1), a.reshape(-1))}
    numeric = _central_differences(fn, arrays)
    for tensor, symbol_tensor, expected in zip(tensors, symbols, numeric):
        analytic = tensor.grad.data if tensor.grad is not None else np.zeros_like(expected)
        scale = max(1.0, float(np.max(np.abs(expected))))
        assert np.max(np.abs(analytic - expected)) <= 1e-6 * scale, (description, analytic, expected)
        if symbol_tensor.grad is None:
            assert not np.any(analytic), description
            continue
        exact = np.array([float(sp.N(sp.sympify(g).xreplace(point), 30)) for g in symbol_tensor.grad.data.reshape(-1)])
        # A norm evaluated at exactly zero (log_softmax over one entry gives 0) has no
        # derivative there: the exact formula is 0/0. The float world then gives PyTorch's
        # convention, 0, which finite differences confirmed above; the other entries must agree.
        defined = np.isfinite(exact)
        assert np.all(np.isfinite(analytic)), (description, analytic)
        difference = np.abs(exact[defined] - analytic.reshape(-1)[defined])
        assert np.max(difference, initial=0.0) <= 1e-9 * max(1.0, float(np.max(np.abs(exact[defined]), initial=0.0))), (
            description, exact, analytic)
