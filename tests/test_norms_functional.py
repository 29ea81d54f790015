"""Functional norms (norms.functional): the post's number,
fused VJP = composed autodiff = finite differences for every ord, SymPy proofs, PyTorch's
numbers and gradients for every ord (at zero and at ties too), the edges and the errors."""
import math

import numpy as np
import pytest
import sympy as sp

import minigrad as mg
import norms
from minigrad.verification.gradcheck import check_gradients, gradgradcheck
from minigrad.verification.symbolic import symbolic_check
from norms.functional import MATRIX_ORDS, VECTOR_ORDS

FD = dict(atol=1e-7, rtol=1e-6)  # DESIGN.md: float64, about 1e-6 relative
# The post's weight, and weight_u after its first forward (REFERENCE.md, ../shared/seed/)
POST_WEIGHT = np.array([[-0.4318, 0.1616, -0.1790], [-0.1238, 0.4865, -0.2384]])
POST_U = np.array([-0.7308, -0.6826])


def _grad(fn, data, cotangent=None):
    """(value, gradient of <cotangent, fn(x)>) at float64 ``data``."""
    x = mg.tensor(data, requires_grad=True)
    out = fn(x)
    weights = np.ones(out.shape) if cotangent is None else cotangent
    (out * mg.tensor(weights)).sum().backward()
    return out.data, (x.grad.data if x.grad is not None else np.zeros_like(data))


def _distinct(shape, seed):
    """Entries with distinct magnitudes in [0.5, ...) and random signs: no ties, no kinks."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    magnitudes = rng.permutation(size) * 0.37 + 0.5 + rng.uniform(0, 0.01, size)
    return (magnitudes * rng.choice([-1.0, 1.0], size=size)).reshape(shape)


# -- item 1: the post's number -------------------------------------------------------------
def test_frobenius_norm_of_arange9_is_the_posts_14_2829():
    x = mg.arange(9, dtype=np.float64).reshape(3, 3)
    value = norms.frobenius_norm(x).item()
    assert value == pytest.approx(math.sqrt(204), rel=1e-15)
    assert round(value, 4) == 14.2829
    for same in (norms.norm(x), norms.vector_norm(x), norms.matrix_norm(x), norms.frobenius_norm_composed(x)):
        assert same.item() == pytest.approx(math.sqrt(204), rel=1e-15)


def test_power_iteration_reproduces_the_posts_second_step():
    sigma, u, v = norms.power_iteration(mg.tensor(POST_WEIGHT), mg.tensor(POST_U), n_iter=1)
    np.testing.assert_allclose(u.data, [-0.6609, -0.7505], atol=2e-4)
    np.testing.assert_allclose(v.data, [0.5971, -0.6719, 0.4382], atol=2e-4)
    assert sigma.item() == pytest.approx(0.6732, abs=2e-4)
    np.testing.assert_allclose(norms.matrix_norm(mg.tensor(POST_WEIGHT), 2).item(), 0.6741, atol=2e-4)
    np.testing.assert_allclose(norms.matrix_norm(mg.tensor(POST_WEIGHT), -2).item(), 0.3147, atol=2e-4)


# -- values against NumPy ---------------------------------------------------------------------
@pytest.mark.parametrize("ord", VECTOR_ORDS)
def test_vector_norm_values_equal_numpy(ord):
    data = np.random.default_rng(1).standard_normal((3, 5))
    data[0, 2] = 0.0
    # numpy's own norm warns on 0 ** -1.5; ours does not
    with np.errstate(divide="ignore"):
        expected = np.linalg.norm(data, ord, axis=1)
    np.testing.assert_allclose(norms.vector_norm(data, ord, axis=1).data, expected, rtol=1e-13)
    np.testing.assert_allclose(norms.vector_norm(data, ord, axis=1, keepdims=True).data, expected[:, None], rtol=1e-13)


@pytest.mark.parametrize("ord", MATRIX_ORDS)
def test_matrix_norm_values_equal_numpy_batched_and_on_other_axes(ord):
    data = np.random.default_rng(2).standard_normal((2, 3, 4))
    expected = np.stack([np.linalg.norm(m, ord) for m in data])
    np.testing.assert_allclose(norms.matrix_norm(data, ord).data, expected, rtol=1e-13)
    np.testing.assert_allclose(norms.matrix_norm_composed(data, ord).data, expected, rtol=1e-13)
    # axes (2, 0): the matrix is data[:, i, :].T, batched over the middle axis
    moved = np.stack([np.linalg.norm(data[:, i, :].T, ord) for i in range(3)])
    np.testing.assert_allclose(norms.matrix_norm(data, ord, axis=(2, 0)).data, moved, rtol=1e-13)
    kept = norms.matrix_norm(data, ord, keepdims=True)
    assert kept.shape == (2, 1, 1)


# -- item 2: fused VJP = composed autodiff = finite differences --------------------------------
@pytest.mark.parametrize("ord", VECTOR_ORDS)
@pytest.mark.parametrize("shape, axis, keepdims", [((5,), None, False), ((3, 4), 1, True), ((2, 3, 2), (0, 2), False)])
def test_vector_norm_fused_equals_composed_equals_finite_differences(ord, shape, axis, keepdims):
    data = _distinct(shape, seed=len(shape))
    cotangent = np.random.default_rng(0).standard_normal(norms.vector_norm(data, ord, axis, keepdims).shape)
    fused_value, fused = _grad(lambda t: norms.vector_norm(t, ord, axis, keepdims), data, cotangent)
    composed_value, composed = _grad(lambda t: norms.vector_norm_composed(t, ord, axis, keepdims), data, cotangent)
    np.testing.assert_allclose(fused_value, composed_value, rtol=1e-12)
    np.testing.assert_allclose(fused, composed, rtol=1e-10, atol=1e-12)
    leaf = mg.tensor(data, requires_grad=True)
    result = check_gradients(lambda t: norms.vector_norm(t, ord, axis, keepdims), (leaf,), **FD)
    assert result.ok, result.report
    assert result.max_rel_error < 1e-6


@pytest.mark.parametrize("ord", MATRIX_ORDS)
@pytest.mark.parametrize("shape", [(2, 3, 4), (3, 2), (2, 2)])
def test_matrix_norm_fused_equals_composed_equals_finite_differences(ord, shape):
    if ord in ("fro", "nuc", 2, -2):
        data = np.random.default_rng(3).standard_normal(shape)
    else:
        data = _distinct(shape, seed=7)
    cotangent = np.random.default_rng(4).standard_normal(shape[:-2])
    fused_value, fused = _grad(lambda t: norms.matrix_norm(t, ord), data, cotangent)
    composed_value, composed = _grad(lambda t: norms.matrix_norm_composed(t, ord), data, cotangent)
    np.testing.assert_allclose(fused_value, composed_value, rtol=1e-12)
    np.testing.assert_allclose(fused, composed, rtol=1e-10, atol=1e-12)
    result = check_gradients(lambda t: norms.matrix_norm(t, ord), (mg.tensor(data, requires_grad=True),), **FD)
    assert result.ok, result.report


@pytest.mark.parametrize("fn", [
    lambda t: norms.frobenius_norm(t),
    lambda t: norms.vector_norm(t, 3, axis=1),
    lambda t: norms.vector_norm(t, 1.5, axis=0, keepdims=True),
    lambda t: norms.vector_norm(t, -1.5),
    lambda t: norms.normalize(t, axis=1),
    lambda t: norms.power_iteration(t, mg.tensor([0.6, 0.8]), n_iter=2)[0],
], ids=["frobenius", "p=3", "p=1.5", "p=-1.5", "normalize", "power_iteration_2"])
def test_second_derivatives_of_the_smooth_norms(fn):
    data = _distinct((2, 3), seed=5)
    assert gradgradcheck(fn, (mg.tensor(data, requires_grad=True),), **FD)


def test_exact_spectral_norm_gradient_is_u1_v1_transpose():
    data = np.random.default_rng(8).standard_normal((4, 3))
    _, grad = _grad(lambda t: norms.matrix_norm(t, 2), data)
    left, _, right = np.linalg.svd(data)
    np.testing.assert_allclose(grad, np.outer(left[:, 0], right[0]), rtol=1e-12, atol=1e-14)
    _, grad = _grad(lambda t: norms.matrix_norm(t, "nuc"), data)
    left, _, right = np.linalg.svd(data, full_matrices=False)
    np.testing.assert_allclose(grad, left @ right, rtol=1e-12, atol=1e-14)


def test_converged_power_iteration_gives_the_spectral_norm_and_its_singular_vectors():
    data = np.random.default_rng(1).standard_normal((4, 3))
    sigma, u, v = norms.power_iteration(mg.tensor(data), mg.tensor(np.ones(4) / 2), n_iter=60)
    left, values, right = np.linalg.svd(data)
    assert sigma.item() == pytest.approx(values[0], rel=1e-12)
    assert abs(u.data @ left[:, 0]) == pytest.approx(1.0, rel=1e-12)
    assert abs(v.data @ right[0]) == pytest.approx(1.0, rel=1e-12)
    assert norms.matrix_norm(data, 2).item() == pytest.approx(values[0], rel=1e-14)


# -- item 2: SymPy ----------------------------------------------------------------------------
SYMBOLIC_NORMS = {
    "frobenius": (lambda x: norms.frobenius_norm(x), "real"),
    "frobenius axis=1": (lambda x: norms.frobenius_norm(x, axis=1), "real"),
    "vector ord=2": (lambda x: norms.vector_norm(x, 2), "real"),
    "vector ord=1": (lambda x: norms.vector_norm(x, 1), "nonzero"),
    "vector ord=3": (lambda x: norms.vector_norm(x, 3), "nonzero"),
    "vector ord=0.5": (lambda x: norms.vector_norm(x, 0.5, axis=0), "positive"),
    "vector ord=-1.5": (lambda x: norms.vector_norm(x, -1.5, axis=1), "positive"),
    "matrix fro": (lambda x: norms.matrix_norm(x, "fro"), "real"),
    "normalize": (lambda x: norms.normalize(x, axis=1), "real"),
}


@pytest.mark.parametrize("name", SYMBOLIC_NORMS)
@pytest.mark.parametrize("shape", [(2, 2), (2, 3), (3, 2)])
def test_symbolic_check_proves_the_fused_vjps(name, shape):
    fn, domain = SYMBOLIC_NORMS[name]
    result = symbolic_check(fn, [shape], domain=domain, budget=20, seed=0, name=name)
    assert result.ok, result.report
    assert result.method == "proved", f"{name} {shape}: {result.method}"


@pytest.mark.parametrize("ord", [math.inf, -math.inf, 0])
def test_max_type_vector_norms_say_they_are_not_symbolic(ord):
    result = symbolic_check(lambda x: norms.vector_norm(x, ord), [(2, 2)], budget=1, seed=0)
    assert not result.ok and result.method == "not symbolic"
    assert "has no symbolic form" in result.report


@pytest.mark.parametrize("ord", ["nuc", 2, -2, 1, -1, math.inf, -math.inf])
def test_svd_and_max_matrix_norms_say_they_are_not_symbolic(ord):
    result = symbolic_check(lambda x: norms.matrix_norm(x, ord), [(2, 2)], budget=1, seed=0)
    assert not result.ok and result.method == "not symbolic"


RATIONAL_U = np.array([sp.Rational(3, 5), sp.Rational(4, 5)], dtype=object)


def test_power_iteration_one_step_matches_sympy_at_rational_points_and_says_so():
    """Simplifying the nested radicals does not finish in budget, so symbolic_check says
    it matched sympy.diff at random rational points instead of claiming a proof. (The
    one-step closed form *is* proved: tests/test_derivations.py, "power_iteration".)"""
    u = mg.tensor(RATIONAL_U)
    result = symbolic_check(lambda w: norms.power_iteration(w, u, n_iter=1)[0], [(2, 3)],
                            budget=60, proof_budget=0.5, points=3, seed=1, name="power_iteration n_iter=1")
    assert result.ok, result.report
    assert result.method in ("proved", "matched at 3 points")
    assert result.entries == 6
    print(f"power_iteration n_iter=1 (2x3): {result.method}")


@pytest.mark.slow
def test_power_iteration_two_steps_matches_sympy_diff_at_rational_points():
    """Two steps: the engine's *symbolic* gradient grows to millions of operations (a minute
    to build), so the engine runs on exact rationals instead (its gradient is then an exact
    algebraic number) and is compared with sympy.diff of the symbolic forward at the same
    point, to 60 significant digits."""
    u = mg.tensor(RATIONAL_U)
    weight = mg.symbols("w", (2, 2))
    symbols = list(weight.data.ravel())
    sigma = norms.power_iteration(weight, u, n_iter=2)[0].data.item()
    reference = [sp.diff(sigma, s) for s in symbols]
    rng = np.random.default_rng(2)
    for _ in range(2):
        point = [sp.Rational(int(rng.integers(1, 13)), int(rng.integers(1, 8))) * int(rng.choice([-1, 1]))
                 for _ in symbols]
        exact = mg.tensor(np.array(point, dtype=object).reshape(2, 2), requires_grad=True)
        norms.power_iteration(exact, u, n_iter=2)[0].backward()
        at_point = {s: sp.Float(v, 80) for s, v in zip(symbols, point)}
        for engine, diff in zip(exact.grad.data.ravel(), reference):
            expected = diff.xreplace(at_point)
            assert abs(sp.N(engine, 60) - expected) <= sp.Float(10) ** -50 * max(1, abs(expected))
    print("power_iteration n_iter=2 (2x2): matched sympy.diff at 2 rational points to 50 digits")


def test_symbolic_data_for_an_svd_norm_is_a_clear_error():
    with pytest.raises(TypeError,
                       match=r"matrix_norm\(ord='nuc'\): has no symbolic form; it got SymPy data of shape \(2, 2\)"):
        norms.matrix_norm(mg.symbols("a", (2, 2)), "nuc")


# -- item 3: PyTorch as the oracle ------------------------------------------------------------
TORCH_VECTOR_DATA = {
    "generic": np.random.default_rng(5).standard_normal((3, 4)),
    "zero": np.zeros((3, 4)),
    "ties": np.array([[1.0, -1.0, 0.5, 1.0], [2.0, 2.0, -2.0, 0.0], [0.0, 0.0, 0.0, 0.0]]),
}


@pytest.mark.parametrize("ord", VECTOR_ORDS + (1.5, 4))
@pytest.mark.parametrize("where", TORCH_VECTOR_DATA)
@pytest.mark.parametrize("axis, keepdims", [(1, False), (None, False), ((0, 1), True)])
def test_vector_norm_and_gradient_match_torch(ord, where, axis, keepdims):
    torch = pytest.importorskip("torch")
    data = TORCH_VECTOR_DATA[where]
    cotangent = np.random.default_rng(9).standard_normal(np.linalg.norm(data, 2, axis=axis, keepdims=keepdims).shape
                                                         if axis != (0, 1) else (1, 1))
    value, grad = _grad(lambda t: norms.vector_norm(t, ord, axis, keepdims), data, cotangent)
    tx = torch.tensor(data, requires_grad=True)
    tout = torch.linalg.vector_norm(tx, ord, dim=axis, keepdim=keepdims)
    (tout * torch.tensor(cotangent)).sum().backward()
    torch_grad = tx.grad.numpy() if tx.grad is not None else np.zeros_like(data)
    np.testing.assert_allclose(value, tout.detach().numpy(), rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(grad, torch_grad, rtol=1e-10, atol=1e-12)
    assert np.all(np.isfinite(grad))


TORCH_MATRIX_DATA = {
    "generic": np.random.default_rng(6).standard_normal((2, 3, 4)),
    "zero": np.zeros((2, 2)),
    "eye": np.eye(2),
    "rank_one": np.array([[3.0, 0.0], [0.0, 0.0]]),
    "tied_columns": np.array([[1.0, -2.0, 0.5], [-2.0, 1.0, 0.5]]),
}


@pytest.mark.parametrize("ord", MATRIX_ORDS)
@pytest.mark.parametrize("where", TORCH_MATRIX_DATA)
def test_matrix_norm_and_gradient_match_torch(ord, where):
    torch = pytest.importorskip("torch")
    data = TORCH_MATRIX_DATA[where]
    cotangent = np.random.default_rng(10).standard_normal(data.shape[:-2])
    value, grad = _grad(lambda t: norms.matrix_norm(t, ord), data, cotangent)
    tx = torch.tensor(data, requires_grad=True)
    (torch.linalg.matrix_norm(tx, ord) * torch.tensor(cotangent)).sum().backward()
    np.testing.assert_allclose(value, torch.linalg.matrix_norm(torch.tensor(data), ord).numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(grad, tx.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_matrix_2_norm_at_identity_splits_the_gradient():
    _, grad = _grad(lambda t: norms.matrix_norm(t, 2), np.eye(2))
    np.testing.assert_array_equal(grad, 0.5 * np.eye(2))
    _, grad = _grad(lambda t: norms.matrix_norm(t, 1), np.eye(2))
    np.testing.assert_array_equal(grad, 0.5 * np.eye(2))


@pytest.mark.parametrize(
    "ord, axis, shape",
    [(None, None, (2, 3, 4)), (None, (0, 2), (2, 3, 4)), (None, 1, (2, 3)), (2, 0, (3, 4)), ("fro", None, (3, 4)),
     ("nuc", (0, 1), (3, 4)), (1, None, (5,)), (math.inf, None, (3, 4)), (-2, None, (3, 4)), (0, None, (5,)),
     (3, (1,), (2, 3)), (-1, (2, 0), (2, 3, 4))],
)
def test_norm_dispatch_and_gradient_match_torch(ord, axis, shape):
    torch = pytest.importorskip("torch")
    data = np.random.default_rng(7).standard_normal(shape)
    value, grad = _grad(lambda t: norms.norm(t, ord, axis), data)
    tx = torch.tensor(data, requires_grad=True)
    tout = torch.linalg.norm(tx, ord, dim=axis)
    tout.sum().backward()
    np.testing.assert_allclose(value, tout.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(grad, tx.grad.numpy() if tx.grad is not None else 0 * data, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("steps", [1, 2])
def test_power_iteration_gradient_matches_torch_autograd(steps):
    torch = pytest.importorskip("torch")
    u0 = np.array([0.6, 0.8])
    _, grad = _grad(lambda w: norms.power_iteration(w, mg.tensor(u0), n_iter=steps)[0], POST_WEIGHT)
    tw = torch.tensor(POST_WEIGHT, requires_grad=True)
    u = torch.tensor(u0)
    for _ in range(steps):
        v = torch.nn.functional.normalize(tw.T @ u, dim=0, eps=1e-12)
        u = torch.nn.functional.normalize(tw @ v, dim=0, eps=1e-12)
    (u @ tw @ v).backward()
    np.testing.assert_allclose(grad, tw.grad.numpy(), rtol=1e-10, atol=1e-12)


# -- item 6: edges ----------------------------------------------------------------------------
@pytest.mark.parametrize("ord", VECTOR_ORDS)
def test_zero_vector_has_norm_zero_and_gradient_zero_never_nan(ord):
    value, grad = _grad(lambda t: norms.vector_norm(t, ord), np.zeros(4))
    assert value == 0.0
    np.testing.assert_array_equal(grad, np.zeros(4))


@pytest.mark.parametrize("ord", MATRIX_ORDS)
def test_zero_matrices_have_finite_norms_and_gradients(ord):
    value, grad = _grad(lambda t: norms.matrix_norm(t, ord), np.zeros((2, 3, 2)))
    np.testing.assert_array_equal(value, np.zeros(2))
    assert np.all(np.isfinite(grad))
    if ord not in ("nuc", 2, -2):  # the SVD's U V^T at 0 is one subgradient among many
        np.testing.assert_array_equal(grad, np.zeros((2, 3, 2)))


def test_naive_composed_frobenius_is_nan_at_zero_on_purpose():
    with np.errstate(invalid="ignore", divide="ignore"):
        _, grad = _grad(norms.frobenius_norm_composed, np.zeros(3))
    assert np.all(np.isnan(grad))
    _, grad = _grad(norms.frobenius_norm, np.zeros(3))
    np.testing.assert_array_equal(grad, np.zeros(3))


@pytest.mark.parametrize("scale", [1e300, 1e-300])
@pytest.mark.parametrize("ord", VECTOR_ORDS)
def test_huge_and_tiny_vectors_neither_overflow_nor_underflow(scale, ord):
    data = np.array([3.0, -4.0, 1.0, 2.0])
    value, grad = _grad(lambda t: norms.vector_norm(t, ord), data * scale)
    expected = np.linalg.norm(data, ord) * (1 if ord == 0 else scale)
    assert np.isfinite(value) and value == pytest.approx(expected, rel=1e-13)
    # Norms are homogeneous of degree 1, so the gradient does not depend on the scale.
    np.testing.assert_allclose(grad, _grad(lambda t: norms.vector_norm(t, ord), data)[1], rtol=1e-12)


@pytest.mark.parametrize("scale", [1e300, 1e-300])
@pytest.mark.parametrize("ord", MATRIX_ORDS)
def test_huge_and_tiny_matrices_neither_overflow_nor_underflow(scale, ord):
    data = np.array([[3.0, -4.0, 1.0], [2.0, 0.5, -1.5]])
    value, grad = _grad(lambda t: norms.matrix_norm(t, ord), data * scale)
    assert np.isfinite(value) and value == pytest.approx(np.linalg.norm(data, ord) * scale, rel=1e-13)
    np.testing.assert_allclose(grad, _grad(lambda t: norms.matrix_norm(t, ord), data)[1], rtol=1e-12)


@pytest.mark.parametrize("ord", [2, 1, 3, 0.5, math.inf, -math.inf])
def test_nan_input_propagates_to_its_own_slice_only(ord):
    data = np.array([[1.0, np.nan, 2.0], [3.0, 4.0, 0.0]])
    value, grad = _grad(lambda t: norms.vector_norm(t, ord, axis=1), data)
    assert np.isnan(value[0])
    assert value[1] == pytest.approx(np.linalg.norm([3.0, 4.0, 0.0], ord), rel=1e-14)
    assert np.isnan(grad[0, 1]), "the NaN entry must not get a silent gradient"
    if ord != 1:  # the 1-norm's gradient sign(x_i) does not involve the other entries
        assert np.all(np.isnan(grad[0])), "a NaN slice must not get a silent gradient"
    assert np.all(np.isfinite(grad[1]))


def test_nan_in_the_count_of_non_zeros_counts_as_non_zero_with_gradient_zero():
    value, grad = _grad(lambda t: norms.vector_norm(t, 0), np.array([np.nan, 0.0, 2.0]))
    assert value == 2.0  # as torch.linalg.vector_norm(ord=0): NaN != 0
    np.testing.assert_array_equal(grad, np.zeros(3))


@pytest.mark.parametrize("ord", ["fro", 1, -1, math.inf, -math.inf])
def test_nan_matrix_gives_nan_norm_and_nan_gradient_in_its_batch_entry_only(ord):
    data = np.stack([np.eye(2) * 2.0, np.array([[1.0, np.nan], [3.0, 4.0]])])
    value, grad = _grad(lambda t: norms.matrix_norm(t, ord), data)
    assert np.isfinite(value[0]) and np.isnan(value[1])
    assert np.all(np.isfinite(grad[0]))
    assert np.isnan(grad[1]).any()


@pytest.mark.parametrize("ord, shown", [("nuc", "'nuc'"), (2, "2"), (-2, "-2")])
def test_nan_matrix_for_an_svd_norm_is_a_clear_error(ord, shown):
    data = np.stack([np.eye(2), np.array([[1.0, np.nan], [3.0, 4.0]])])
    with pytest.raises(np.linalg.LinAlgError,
                       match=rf"matrix_norm\(ord={shown}\): the input of shape \(2, 2, 2\) holds NaN or inf "
                             rf"\(first at batch index \(1,\)\); the SVD is not defined"):
        norms.matrix_norm(data, ord)


@pytest.mark.parametrize("ord, expected", [
    (2, np.inf), (3, np.inf), (1, np.inf), (math.inf, np.inf), (0, 2.0), (-1.5, 1.0),
])
def test_infinite_entries_give_the_right_limit(ord, expected):
    """inf / inf inside the scaling would be NaN; the unscaled sum gives the right limit
    (and matches torch.linalg.vector_norm)."""
    assert norms.vector_norm(np.array([np.inf, 1.0]), ord).item() == expected


def test_normalize_is_finite_at_zero_and_has_gradient_one_over_eps_there():
    y = norms.normalize(np.array([[3.0, 4.0], [0.0, 0.0]]), axis=1)
    np.testing.assert_allclose(y.data, [[0.6, 0.8], [0.0, 0.0]])
    _, grad = _grad(lambda t: norms.normalize(t, axis=1, eps=1e-3), np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(grad[1], [1e3, 1e3])  # x / eps: slope 1/eps, finite
    # (G - y <G, y>) / ||x|| with G = 1 on the first row
    np.testing.assert_allclose(grad[0], (np.ones(2) - np.array([0.6, 0.8]) * 1.4) / 5, rtol=1e-14)


def test_power_iteration_on_a_zero_weight_stays_finite():
    sigma, u, v = norms.power_iteration(np.zeros((2, 3)), np.array([0.6, 0.8]), n_iter=2)
    assert sigma.item() == 0.0 and not u.data.any() and not v.data.any()


# -- item 6: errors, each by its message ----------------------------------------------------------
@pytest.mark.parametrize("call, error, message", [
    (lambda: norms.norm(mg.zeros(2, 2, 2), ord=2), ValueError,
     "linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got 3D."),
    (lambda: norms.norm(mg.zeros(2, 2, 2), None, (0, 1, 2)), ValueError,
     r"linalg.norm: If dim is specified, it must be of length 1 or 2. Got \[0, 1, 2\]"),
    (lambda: norms.norm(mg.zeros(3), "fro"), ValueError,
     r"linalg.matrix_norm: The input tensor A must have at least 2 dimensions: ord='fro' is a matrix norm, "
     r"but the input has shape \(3,\)"),
    (lambda: norms.matrix_norm(mg.zeros(3), "fro"), ValueError,
     r"linalg.matrix_norm: The input tensor A must have at least 2 dimensions; got shape \(3,\). Use vector_norm"),
    (lambda: norms.matrix_norm(mg.zeros(2, 2), 3), ValueError, "linalg.matrix_norm: Order 3 not supported."),
    (lambda: norms.matrix_norm(mg.zeros(2, 2), 3.0), ValueError, "linalg.matrix_norm: Order 3 not supported."),
    (lambda: norms.matrix_norm(mg.zeros(2, 2), "foo"), ValueError, "linalg.matrix_norm: Order foo not supported."),
    (lambda: norms.norm(mg.zeros(2, 2), 0), ValueError, "linalg.matrix_norm: Order 0 not supported."),
    (lambda: norms.matrix_norm(mg.zeros(2, 2), "fro", axis=(0, 0)), ValueError,
     r"linalg.matrix_norm: dims must be different. Got \(0, 0\)"),
    (lambda: norms.matrix_norm(mg.zeros(2, 2), "fro", axis=0), ValueError,
     "linalg.matrix_norm: dim must be a 2-tuple. Got 0"),
    (lambda: norms.matrix_norm(mg.zeros(2, 2), "fro", axis=(0, 5)), IndexError,
     r"matrix_norm: axis 5 is out of range for a tensor of 2 dimension\(s\); use an axis in \[-2, 1\]."),
    (lambda: norms.vector_norm(mg.zeros(2, 2), 2, axis=3), IndexError,
     r"vector_norm: axis 3 is out of range for a tensor of 2 dimension\(s\); use an axis in \[-2, 1\]."),
    (lambda: norms.norm(mg.zeros(2, 2), None, -3), IndexError, "vector_norm: axis -3 is out of range"),
    (lambda: norms.frobenius_norm(mg.zeros(2, 2), axis=2), IndexError, "frobenius_norm: axis 2 is out of range"),
    (lambda: norms.vector_norm(mg.zeros(2), "fro"), TypeError,
     "vector_norm: ord must be a number .* 'fro' and 'nuc' are matrix norms"),
    (lambda: norms.vector_norm(mg.zeros(2), float("nan")), ValueError, "vector_norm: ord must be a number, got NaN"),
    (lambda: norms.vector_norm(mg.zeros(0), math.inf), ValueError,
     "linalg.vector_norm cannot compute the inf norm on an empty tensor because the operation does not have an "
     "identity"),
    (lambda: norms.vector_norm(mg.zeros(2, 0), -math.inf, axis=1), ValueError,
     "cannot compute the -inf norm on an empty tensor"),
    (lambda: norms.matrix_norm(mg.zeros(3, 0), 1), ValueError,
     r"matrix_norm: the max column sum of a matrix with no columns \(shape \(3, 0\)\) is undefined"),
    (lambda: norms.matrix_norm(mg.zeros(0, 3), "nuc"), ValueError, r"matrix_norm\(ord='nuc'\): the matrices are empty"),
    (lambda: norms.frobenius_norm(mg.tensor([1, 2])), TypeError,
     "frobenius_norm: expected a floating-point tensor, got dtype int64"),
    (lambda: norms.vector_norm(np.array([1 + 1j, 2.0])), TypeError, "vector_norm: complex tensors are not supported"),
    (lambda: norms.power_iteration(mg.zeros(2, 3), mg.zeros(3)), ValueError,
     r"power_iteration: u must have shape \(2,\) for a weight of shape \(2, 3\), got \(3,\)"),
    (lambda: norms.power_iteration(mg.zeros(2, 3, 4), mg.zeros(2)), ValueError,
     r"power_iteration: the weight must be 2-D, got shape \(2, 3, 4\); reshape it to \(out, -1\)"),
    (lambda: norms.power_iteration(mg.zeros(2, 3), mg.zeros(2), n_iter=0), ValueError,
     "power_iteration: n_iter must be a positive int, got 0"),
    (lambda: norms.normalize(mg.zeros(2), eps=0), ValueError, "normalize: eps must be > 0, got 0"),
], ids=lambda value: None)
def test_bad_input_is_refused_with_a_clear_message(call, error, message):
    with pytest.raises(error, match=message):
        call()
