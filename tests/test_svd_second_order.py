"""Second derivatives through the SVD: svdvals, the singular-vector primitives and the SVD norms.

The gradient of the singular values is U diag(g) V^T; differentiating it again needs the
derivative of U and V (the F-matrix F_ij = 1 / (s_j^2 - s_i^2)). Checked against central
differences (gradgradcheck), exact closed forms, and PyTorch's Hessian-vector products.
"""
import numpy as np
import pytest

import minigrad as mg
from minigrad.verification.gradcheck import check_second_derivatives, gradgradcheck
from minigrad.ops.linalg import svd_u, svd_v
from norms.functional import matrix_norm, matrix_norm_composed

SHAPES = [(3, 2), (2, 3), (4, 4), (2, 3, 3), (2, 4, 3), (3, 2, 5)]


def _input(shape, seed=0):
    return mg.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def _hvp(fn, data, direction):
    """H v for the scalar fn at data: grad of <grad fn, v>, the first grad with create_graph."""
    x = mg.tensor(data, requires_grad=True)
    (first,) = mg.grad([fn(x)], [x], create_graph=True)
    (second,) = mg.grad([(first * mg.tensor(direction)).sum()], [x])
    return first.data, second.data


@pytest.mark.parametrize("shape", SHAPES)
def test_gradgradcheck_passes_on_svdvals(shape):
    result = check_second_derivatives(mg.svdvals, [_input(shape)], atol=1e-7, rtol=1e-6, seed=0)
    assert result.ok, result.report
    assert result.max_rel_error < 1e-6


@pytest.mark.parametrize("fn", [matrix_norm, matrix_norm_composed], ids=["fused", "composed"])
@pytest.mark.parametrize("ord", ["nuc", 2, -2])
@pytest.mark.parametrize("shape", SHAPES)
def test_gradgradcheck_passes_on_the_svd_matrix_norms(fn, ord, shape):
    assert gradgradcheck(lambda a: fn(a, ord), [_input(shape, seed=1)], atol=1e-7, rtol=1e-6, seed=0)


@pytest.mark.parametrize("vectors", [svd_u, svd_v], ids=["svd_u", "svd_v"])
@pytest.mark.parametrize("shape", [(3, 2), (2, 3), (2, 3, 3)])
def test_singular_vectors_have_second_derivatives_too(vectors, shape):
    # their VJPs are built from svd_u, svdvals and svd_v again, so the third derivative of
    # svdvals is differentiated the same way; the sign of each column is LAPACK's, and it
    # does not flip within the finite-difference step at these inputs
    result = check_second_derivatives(vectors, [_input(shape, seed=2)], atol=1e-6, rtol=1e-5, seed=0)
    assert result.ok, result.report


def test_hessian_of_the_squared_singular_values_is_twice_the_identity():
    # sum s_i^2 = ||A||_F^2, so H v = 2 v exactly, although every term of the F-matrix
    # formula is non-zero on its own
    rng = np.random.default_rng(4)
    data, direction = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 4, 3))
    first, hv = _hvp(lambda a: (mg.svdvals(a) ** 2).sum(), data, direction)
    np.testing.assert_allclose(first, 2 * data, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(hv, 2 * direction, rtol=1e-10, atol=1e-12)


def test_nuclear_norm_is_linear_near_a_symmetric_positive_definite_matrix():
    # for A symmetric positive definite, ||A||_* = trace(A) in a neighbourhood along
    # symmetric directions, so the gradient is I and the Hessian times a symmetric v is 0
    # (U and V treated as constants would give a non-zero answer here)
    rng = np.random.default_rng(5)
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    spd = q @ np.diag([3.0, 2.0, 0.5]) @ q.T
    direction = rng.standard_normal((3, 3))
    direction = direction + direction.T
    first, hv = _hvp(lambda a: matrix_norm(a, "nuc"), spd, direction)
    np.testing.assert_allclose(first, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(hv, np.zeros((3, 3)), atol=1e-12)


def test_the_old_constant_singular_vectors_would_be_caught():
    # f = ||A||_* sum(A) has gradient sum(A) U V^T + ||A||_* 1; with U and V frozen its
    # Hessian times v would be sum(v) U V^T + <U V^T, v> 1, which misses sum(A) d(U V^T)
    rng = np.random.default_rng(3)
    data, direction = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    _, hv = _hvp(lambda a: matrix_norm(a, "nuc") * a.sum(), data, direction)
    u, _, vh = np.linalg.svd(data)
    frozen = (u @ vh) * direction.sum() + np.full((3, 3), (u @ vh * direction).sum())
    assert np.abs(hv - frozen).max() > 0.1


HVP_CASES = {
    "square": (3, 3),
    "tall": (4, 2),
    "wide": (2, 5),
    "batched": (2, 3, 4),
}


@pytest.mark.parametrize("ord", ["nuc", 2, -2])
@pytest.mark.parametrize("case", list(HVP_CASES))
def test_hessian_vector_product_of_matrix_norm_times_sum_matches_torch(case, ord):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    data, direction = rng.standard_normal(HVP_CASES[case]), rng.standard_normal(HVP_CASES[case])
    first, hv = _hvp(lambda a: (matrix_norm(a, ord) * a.sum()).sum(), data, direction)
    x = torch.tensor(data, requires_grad=True)
    (torch_first,) = torch.autograd.grad((torch.linalg.matrix_norm(x, ord) * x.sum()).sum(), x, create_graph=True)
    (torch_hv,) = torch.autograd.grad((torch_first * torch.tensor(direction)).sum(), x)
    np.testing.assert_allclose(first, torch_first.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(hv, torch_hv.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", list(HVP_CASES))
def test_hessian_vector_product_of_svdvals_matches_torch(case):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(12)
    data, direction = rng.standard_normal(HVP_CASES[case]), rng.standard_normal(HVP_CASES[case])
    weights = rng.standard_normal(HVP_CASES[case][:-2] + (min(HVP_CASES[case][-2:]),))
    _, hv = _hvp(lambda a: (mg.svdvals(a) * mg.tensor(weights)).sum() * a.sum(), data, direction)
    x = torch.tensor(data, requires_grad=True)
    value = (torch.linalg.svdvals(x) * torch.tensor(weights)).sum() * x.sum()
    (torch_first,) = torch.autograd.grad(value, x, create_graph=True)
    (torch_hv,) = torch.autograd.grad((torch_first * torch.tensor(direction)).sum(), x)
    np.testing.assert_allclose(hv, torch_hv.numpy(), rtol=1e-10, atol=1e-12)


REPEATED = {
    "svdvals at I": (lambda a: mg.svdvals(a).sum() * a.sum(), np.eye(3)),
    "nuc at I": (lambda a: matrix_norm(a, "nuc") * a.sum(), np.eye(3)),
    "ord 2 at a tied top": (lambda a: matrix_norm(a, 2), np.diag([2.0, 2.0, 1.0])),
    "ord -2 at a tied bottom, batched": (lambda a: matrix_norm(a, -2).sum(),
                                         np.stack([np.diag([3.0, 2.0, 1.0]), np.diag([3.0, 1.0, 1.0])])),
}


@pytest.mark.parametrize("case", list(REPEATED))
def test_second_derivative_at_repeated_singular_values_raises_naming_the_op(case):
    fn, data = REPEATED[case]
    x = mg.tensor(data, requires_grad=True)
    (first,) = mg.grad([fn(x)], [x], create_graph=True)
    # the first derivative itself is still the right number there
    y = mg.tensor(data, requires_grad=True)
    fn(y).backward()
    np.testing.assert_allclose(first.data, y.grad.data, atol=1e-14)
    with pytest.raises(ValueError, match=r"svd_[uv]: .*repeated singular values.*second derivatives of svdvals"):
        mg.grad([(first * first).sum()], [x])


def test_repeated_singular_values_error_names_the_batch_entry():
    data = np.stack([np.diag([3.0, 2.0, 1.0]), np.diag([3.0, 1.0, 1.0])])
    x = mg.tensor(data, requires_grad=True)
    (first,) = mg.grad([mg.svdvals(x).sum()], [x], create_graph=True)
    expected = r"shape \(2, 3, 3\).*repeated singular values \(matrix at batch index \(1,\)\), s = \[3\. 1\. 1\.\]"
    with pytest.raises(ValueError, match=expected):
        first.sum().backward()


def test_second_derivative_of_a_rank_deficient_tall_matrix_raises():
    # a non-square matrix's formula also divides by s itself
    x = mg.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]], requires_grad=True)
    (first,) = mg.grad([matrix_norm(x, "nuc")], [x], create_graph=True)
    # U V^T of the thin SVD, the zero singular value's pair included (PyTorch's choice too)
    np.testing.assert_allclose(first.data, [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]], atol=1e-15)
    with pytest.raises(ValueError, match=r"svd_u: .*zero singular value of a non-square matrix"):
        mg.grad([(first * first).sum()], [x])


def test_first_derivative_at_repeated_singular_values_is_unchanged():
    # the shared-tie rule of the first derivative (PyTorch's 0.5 I at eye(2) for ord 2)
    x = mg.tensor(np.eye(2), requires_grad=True)
    matrix_norm(x, 2).backward()
    np.testing.assert_allclose(x.grad.data, 0.5 * np.eye(2), atol=1e-15)
    z = mg.tensor(np.eye(3), requires_grad=True)
    mg.svdvals(z).sum().backward()
    np.testing.assert_allclose(z.grad.data, np.eye(3), atol=1e-15)
