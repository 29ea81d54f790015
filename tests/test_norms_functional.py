"""Functional norms (issue 4): values, fused VJP = composed = finite differences, SymPy
proofs, PyTorch's numbers for every ord (at zero too), the edges and the errors."""
import math

import numpy as np
import pytest

import minigrad as mg
import norms
from minigrad.gradcheck import gradcheck
from minigrad.symbolic import symbolic_check
from norms import derivations

VECTOR_ORDS = [2, 1, math.inf, -math.inf, 3, 0.5, -1.5, 1.5]
MATRIX_ORDS = ["fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf]


def test_frobenius_norm_of_arange9_is_the_posts_number():
    x = mg.arange(9, dtype=np.float64).reshape(3, 3)
    value = norms.frobenius_norm(x).item()
    assert value == pytest.approx(math.sqrt(204), rel=1e-15)
    assert round(value, 4) == 14.2829
    assert norms.norm(x).item() == pytest.approx(value, rel=1e-15)


@pytest.mark.parametrize("ord", VECTOR_ORDS)
@pytest.mark.parametrize("shape, axis", [((5,), None), ((3, 4), 1), ((2, 3, 2), (0, 2))])
def test_vector_norm_fused_equals_composed_equals_finite_differences(ord, shape, axis):
    rng = np.random.default_rng(abs(hash((str(ord), shape))) % 2**32)
    # distinct magnitudes away from 0: no ties for inf, no kink of |x|
    data = rng.permutation(np.prod(shape)).reshape(shape) * 0.37 + 0.5
    data = data * rng.choice([-1.0, 1.0], size=shape)
    x = mg.tensor(data, requires_grad=True)
    fused = norms.vector_norm(x, ord, axis)
    weights = mg.tensor(rng.standard_normal(fused.shape))
    (fused * weights).sum().backward()
    fused_grad = x.grad.data.copy()
    x.grad = None
    composed = norms.vector_norm_composed(x, ord, axis)
    (composed * weights).sum().backward()
    np.testing.assert_allclose(fused.data, composed.data, rtol=1e-12)
    np.testing.assert_allclose(fused_grad, x.grad.data, rtol=1e-10, atol=1e-12)
    assert gradcheck(lambda t: norms.vector_norm(t, ord, axis), (mg.tensor(data, requires_grad=True),),
                     atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("ord", MATRIX_ORDS)
def test_matrix_norm_gradients_equal_finite_differences_batched(ord):
    rng = np.random.default_rng(3)
    data = rng.standard_normal((2, 3, 4))
    assert gradcheck(lambda t: norms.matrix_norm(t, ord), (mg.tensor(data, requires_grad=True),),
                     atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("shape", [(2, 2), (2, 3), (3, 2)])
def test_symbolic_check_proves_the_fused_vjps(shape):
    result = symbolic_check(lambda x: norms.frobenius_norm(x), [shape], budget=20, seed=0)
    assert result.ok and result.method == "proved", result
    result = symbolic_check(lambda x: norms.vector_norm(x, 3), [shape], domain="positive", budget=20, seed=0)
    assert result.ok and result.method == "proved", result
    result = symbolic_check(lambda x: norms.frobenius_norm(x, axis=1), [shape], budget=20, seed=0)
    assert result.ok and result.method == "proved", result


def test_power_iteration_gradient_matches_sympy_at_rational_points():
    u = mg.tensor(np.array([0.6, 0.8]))

    def sigma(w):
        return norms.power_iteration(w, u, n_iter=1)[0]

    result = symbolic_check(sigma, [(2, 3)], budget=5, seed=1)
    assert result.ok, result
    assert result.method == "proved" or result.method.startswith("matched at")


@pytest.mark.parametrize("name", sorted(derivations.DERIVATIONS))
def test_closed_forms_are_proved_equal_to_sympy_diff(name):
    assert derivations.prove(name)
    assert derivations.derivation(name).latex().count("\\") >= 2


def test_a_wrong_closed_form_is_not_proved():
    right = derivations.derivation("frobenius")
    wrong = derivations.Derivation(
        "frobenius", "off by 2", right.forward, right.variables, [2 * c for c in right.closed_form], "planted"
    )
    assert not wrong.proved()


# -- PyTorch as the oracle --------------------------------------------------------------------
@pytest.mark.parametrize("ord", VECTOR_ORDS + [0])
@pytest.mark.parametrize("where", ["generic", "zero", "ties"])
def test_vector_norm_matches_torch(ord, where):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    data = {"generic": rng.standard_normal((3, 4)), "zero": np.zeros((3, 4)),
            "ties": np.array([[1.0, -1.0, 0.5, 1.0], [2.0, 2.0, -2.0, 0.0], [0.0, 0.0, 0.0, 0.0]])}[where]
    x = mg.tensor(data, requires_grad=True)
    out = norms.vector_norm(x, ord, axis=1)
    out.sum().backward()
    tx = torch.tensor(data, requires_grad=True)
    tout = torch.linalg.vector_norm(tx, ord, dim=1)
    tout.sum().backward()
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-10, atol=1e-300)
    torch_grad = tx.grad.numpy() if tx.grad is not None else np.zeros_like(data)
    np.testing.assert_allclose(x.grad.data, torch_grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("ord", MATRIX_ORDS)
@pytest.mark.parametrize("where", ["generic", "zero", "eye"])
def test_matrix_norm_matches_torch(ord, where):
    torch = pytest.importorskip("torch")
    data = {"generic": np.random.default_rng(6).standard_normal((2, 3, 4)), "zero": np.zeros((2, 2)),
            "eye": np.eye(2)}[where]
    x = mg.tensor(data, requires_grad=True)
    out = norms.matrix_norm(x, ord)
    out.sum().backward()
    tx = torch.tensor(data, requires_grad=True)
    tout = torch.linalg.matrix_norm(tx, ord)
    tout.sum().backward()
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_matrix_2_norm_at_identity_splits_the_gradient():
    x = mg.eye(2, requires_grad=True)
    norms.matrix_norm(x, 2).backward()
    np.testing.assert_allclose(x.grad.data, 0.5 * np.eye(2))


@pytest.mark.parametrize(
    "ord, axis, shape",
    [(None, None, (2, 3, 4)), (2, 0, (3, 4)), ("fro", None, (3, 4)), ("nuc", (0, 1), (3, 4)), (1, None, (5,)), (math.inf, None, (3, 4))],
)
def test_norm_dispatch_matches_torch(ord, axis, shape):
    torch = pytest.importorskip("torch")
    data = np.random.default_rng(7).standard_normal(shape)
    out = norms.norm(mg.tensor(data), ord, axis)
    tout = torch.linalg.norm(torch.tensor(data), ord, dim=axis)
    np.testing.assert_allclose(out.data, tout.numpy(), rtol=1e-12)


# -- edges ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("ord", [2, 1, 3, math.inf])
def test_gradient_at_zero_is_zero_never_nan(ord):
    x = mg.zeros(4, requires_grad=True)
    norms.vector_norm(x, ord).backward()
    np.testing.assert_array_equal(x.grad.data, np.zeros(4))


def test_naive_composed_frobenius_is_nan_at_zero_on_purpose():
    x = mg.zeros(3, requires_grad=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        norms.frobenius_norm_composed(x).backward()
    assert np.all(np.isnan(x.grad.data))


@pytest.mark.parametrize("scale", [1e300, 1e-300])
@pytest.mark.parametrize("ord", [2, 3, 1, math.inf])
def test_huge_and_tiny_values_neither_overflow_nor_underflow(scale, ord):
    data = np.array([3.0, -4.0, 1.0])
    x = mg.tensor(data * scale, requires_grad=True)
    out = norms.vector_norm(x, ord)
    expected = np.linalg.norm(data, ord) * scale
    assert np.isfinite(out.item()) and out.item() == pytest.approx(expected, rel=1e-12)
    out.backward()
    assert np.all(np.isfinite(x.grad.data))
    np.testing.assert_allclose(x.grad.data * (1 if ord in (1, math.inf) else 1), _unit_gradient(data, ord), rtol=1e-12)


def _unit_gradient(data, ord):
    # The gradient of a norm is scale-invariant (homogeneous of degree 0).
    x = mg.tensor(data, requires_grad=True)
    norms.vector_norm(x, ord).backward()
    return x.grad.data


def test_nan_input_propagates_to_its_own_norm_only():
    x = mg.tensor([[1.0, np.nan], [3.0, 4.0]])
    out = norms.vector_norm(x, 2, axis=1)
    assert np.isnan(out.data[0]) and out.data[1] == 5.0


def test_normalize_and_power_iteration():
    x = mg.tensor([[3.0, 4.0], [0.0, 0.0]], requires_grad=True)
    y = norms.normalize(x, axis=1)
    np.testing.assert_allclose(y.data, [[0.6, 0.8], [0.0, 0.0]])
    y.sum().backward()
    assert np.all(np.isfinite(x.grad.data))
    w = mg.tensor(np.random.default_rng(1).standard_normal((4, 3)))
    sigma, u, v = norms.power_iteration(w, mg.tensor(np.ones(4) / 2), n_iter=50)
    assert sigma.item() == pytest.approx(np.linalg.svd(w.data, compute_uv=False)[0], rel=1e-10)
    assert np.linalg.norm(u.data) == pytest.approx(1.0) and np.linalg.norm(v.data) == pytest.approx(1.0)


# -- errors ---------------------------------------------------------------------------------------
def test_errors_use_pytorchs_wording():
    with pytest.raises(ValueError, match="If dim is not specified but ord is, the input must be 1D or 2D. Got 3D."):
        norms.norm(mg.zeros(2, 2, 2), ord=2)
    with pytest.raises(ValueError, match="The input tensor A must have at least 2 dimensions"):
        norms.matrix_norm(mg.zeros(3), "fro")
    with pytest.raises(ValueError, match="The input tensor A must have at least 2 dimensions: ord='fro' is a matrix norm"):
        norms.norm(mg.zeros(3), "fro")
    with pytest.raises(ValueError, match="linalg.matrix_norm: Order 3 not supported."):
        norms.matrix_norm(mg.zeros(2, 2), 3)
    with pytest.raises(TypeError, match="vector_norm: ord must be a number"):
        norms.vector_norm(mg.zeros(2), "fro")
    with pytest.raises(IndexError, match="vector_norm: axis 3 is out of range"):
        norms.vector_norm(mg.zeros(2, 2), 2, axis=3)
    with pytest.raises(TypeError, match="frobenius_norm: expected a floating-point tensor, got dtype int64"):
        norms.frobenius_norm(mg.tensor([1, 2]))
    with pytest.raises(ValueError, match="power_iteration: u must have shape \\(2,\\)"):
        norms.power_iteration(mg.zeros(2, 3), mg.zeros(3))
    with pytest.raises(ValueError, match="normalize: eps must be > 0"):
        norms.normalize(mg.zeros(2), eps=0)
