"""Spectral norm: the post's numbers, gradients three ways, PyTorch's behaviour and errors."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import minigrad as mg
from minigrad import nn
from minigrad.verification.symbolic import symbolic_check
from norms.functional import _power_steps
from norms.spectral import remove_spectral_norm, spectral_norm, spectral_normalize, spectral_normalize_composed

from tests._norms_helpers import (
    check_second_order, check_three_ways, match_at_rational_point, prove_symbolic, rational_array,
)

# The reference post's example (rounded to four decimals there, so compared to 2e-4).
POST_WEIGHT = np.array([[-0.4318, 0.1616, -0.1790], [-0.1238, 0.4865, -0.2384]])
POST_U_FIRST = np.array([-0.7308, -0.6826])
POST_V_FIRST = np.array([0.7406, -0.5292, 0.4142])


def svals(array: np.ndarray) -> np.ndarray:
    return np.linalg.svd(np.asarray(array, dtype=np.float64), compute_uv=False)


def post_linear() -> nn.Linear:
    layer = nn.Linear(3, 2)
    layer.weight.data = POST_WEIGHT.copy()
    return layer


class Holder(nn.Module):
    """A generic module with one parameter of any shape (stands in for a conv layer)."""

    def __init__(self, weight: np.ndarray):
        super().__init__()
        self.weight = nn.Parameter(weight)

    def forward(self, x):
        return mg.sum(mg.mul(self.weight, x))


# ---------------------------------------------------------------------------------------
# 1. The post's numbers
# ---------------------------------------------------------------------------------------
def test_post_singular_values_before_and_after_one_more_iteration():
    layer = post_linear()
    np.testing.assert_allclose(svals(layer.weight.data), [0.6741, 0.3147], atol=2e-4)
    spectral_norm(layer, n_power_iterations=1)
    layer.weight_u.data = POST_U_FIRST.copy()       # the post's u after its first forward
    layer(mg.ones(3))                               # the second training forward
    np.testing.assert_allclose(svals(layer.weight.data), [1.0013, 0.4675], atol=2e-4)
    np.testing.assert_allclose(layer.weight_u.data, [-0.6609, -0.7505], atol=2e-4)
    np.testing.assert_allclose(layer.weight_v.data, [0.5971, -0.6719, 0.4382], atol=2e-4)


def test_post_first_forward_state_gives_its_singular_values():
    # The post's u, v after the first forward give its sigma 0.6561 and s = (1.0274, 0.4797).
    layer = spectral_norm(post_linear()).eval()
    layer.weight_u.data = POST_U_FIRST.copy()
    layer.weight_v.data = POST_V_FIRST.copy()
    layer(mg.ones(3))
    sigma = POST_U_FIRST @ POST_WEIGHT @ POST_V_FIRST
    assert abs(sigma - 0.6561) < 2e-4
    np.testing.assert_allclose(svals(layer.weight.data), [1.0274, 0.4797], atol=2e-4)


# ---------------------------------------------------------------------------------------
# Registration
# ---------------------------------------------------------------------------------------
def test_registration_state_keys_shapes_and_no_iteration():
    mg.manual_seed(7)
    layer = nn.Linear(3, 2)
    weight = layer.weight
    expected_u = mg.random.generator().standard_normal(2)
    mg.manual_seed(7)
    layer = nn.Linear(3, 2)
    weight = layer.weight
    spectral_norm(layer)
    assert list(layer.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    assert layer.weight_orig is weight                       # the same Parameter object
    assert [name for name, _ in layer.named_parameters()] == ["bias", "weight_orig"]
    assert layer.weight_u.shape == (2,) and layer.weight_v.shape == (3,)
    # u is the normalised normal draw itself: no power iteration at registration
    np.testing.assert_allclose(layer.weight_u.data, expected_u / np.linalg.norm(expected_u), rtol=1e-15)
    assert abs(np.linalg.norm(layer.weight_v.data) - 1) < 1e-15
    # Until the first forward, module.weight is the plain values, not a Parameter
    assert not isinstance(layer.weight, nn.Parameter) and not layer.weight.requires_grad
    np.testing.assert_array_equal(layer.weight.data, weight.data)


def test_4d_weight_buffer_sizes_for_dim_0_and_1():
    # Conv2d(3, 4, (5, 6)) in PyTorch: u (4,), v (90,); dim=1 moves the 3 first.
    first = spectral_norm(Holder(np.ones((4, 3, 5, 6))))
    assert first.weight_u.shape == (4,) and first.weight_v.shape == (90,)
    second = spectral_norm(Holder(np.ones((4, 3, 5, 6))), dim=1)
    assert second.weight_u.shape == (3,) and second.weight_v.shape == (120,)


# ---------------------------------------------------------------------------------------
# 2. Gradients: fused VJP = composed autodiff = finite differences; SymPy
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, dim", [((2, 3), 0), ((3, 2), 0), ((3, 3), 1), ((2, 3, 2, 2), 0), ((2, 3, 2, 2), 1)])
def test_fused_vjp_matches_composed_and_finite_differences(shape, dim):
    rng = np.random.default_rng(1)
    weight = rng.standard_normal(shape)
    rows = shape[dim]
    u = rng.standard_normal(rows)
    v = rng.standard_normal(weight.size // rows)
    worst = check_three_ways(
        lambda w, a, b: spectral_normalize(w, a, b, dim),
        lambda w, a, b: spectral_normalize_composed(w, a, b, dim),
        [weight, u, v], wrt=(0, 1, 2), rng=rng,
    )
    assert worst[1] < 1e-6


def test_closed_form_gradient_formula():
    # dL/dW = G/sigma - (<G, W>/sigma^2) u v^T, checked entry by entry
    rng = np.random.default_rng(2)
    weight, u, v = rng.standard_normal((2, 3)), rng.standard_normal(2), rng.standard_normal(3)
    G = rng.standard_normal((2, 3))
    w = mg.tensor(weight, requires_grad=True)
    (spectral_normalize(w, u, v) * mg.tensor(G)).sum().backward()
    sigma = u @ weight @ v
    expected = G / sigma - (np.sum(G * weight) / sigma**2) * np.outer(u, v)
    np.testing.assert_allclose(w.grad.data, expected, rtol=1e-13)


@pytest.mark.parametrize("dim", [0, 1])
def test_second_derivatives_fused_equal_composed(dim):
    rng = np.random.default_rng(3)
    weight = rng.standard_normal((2, 3, 2))
    u, v = rng.standard_normal(weight.shape[dim]), rng.standard_normal(weight.size // weight.shape[dim])
    check_second_order(
        lambda w, a, b: spectral_normalize(w, a, b, dim),
        lambda w, a, b: spectral_normalize_composed(w, a, b, dim),
        [weight, u, v], wrt=(0, 1, 2), rng=rng,
    )


def test_symbolic_check_proves_fused_vjp_2x2():
    # minigrad.verification.symbolic.symbolic_check: the whole Jacobian w.r.t. W, u and v, simplified to 0.
    result = symbolic_check(spectral_normalize, [(2, 2), (2,), (2,)], seed=0)
    assert result.ok and result.method == "proved", result.report


@pytest.mark.parametrize("shape", [(2, 3), (3, 2)])
def test_symbolic_proof_of_fused_vjp(shape):
    # The VJP w.r.t. W for a symbolic cotangent c (so for every cotangent), proved entry by
    # entry, with u and v symbols held constant (PyTorch's gradient).
    inputs = [mg.symbols("w", shape), mg.symbols("u", (shape[0],), requires_grad=False),
              mg.symbols("v", (shape[1],), requires_grad=False)]
    assert prove_symbolic(spectral_normalize, inputs, wrt=(0,)) == "proved"


@pytest.mark.parametrize("steps, entries", [
    (1, [(0, 0), (0, 1), (1, 0), (1, 1)]),
    pytest.param(2, [(1, 0)], marks=pytest.mark.slow),
])
def test_gradient_through_power_iteration_matches_sympy_at_a_rational_point(steps, entries):
    # u, v from 1 and 2 recorded power-iteration steps. Two steps on a 2x2 are ~90,000 SymPy
    # operations: no proof is in reach, so the engine's exact gradient is matched against
    # sympy.diff at a rational point, to 60 digits (every entry for 1 step; one entry for
    # 2 steps, where each sympy.diff takes ~5 s).
    rng = np.random.default_rng(10 + steps)
    start = mg.tensor(np.array([sp.Rational(3, 5), sp.Rational(4, 5)], dtype=object))

    def normalised(w):
        u, v = _power_steps(w, start, steps, 1e-12)
        return spectral_normalize(w, u, v)

    point = rational_array(rng, (2, 2), positive=True)
    cotangent = rational_array(rng, (2, 2))
    assert match_at_rational_point(normalised, point, cotangent, entries) < 1e-50


def test_gradient_through_power_iteration_differs_and_is_exact():
    # Option True is the exact gradient of the computed function (finite differences of the
    # whole forward, iteration included); option False is PyTorch's, with u, v frozen.
    rng = np.random.default_rng(6)
    weight = rng.standard_normal((3, 4))
    u0 = rng.standard_normal(3)
    u0 /= np.linalg.norm(u0)
    G = rng.standard_normal((3, 4))

    def through(w):
        u, v = _power_steps(w, mg.tensor(u0), 2, 1e-12)
        return spectral_normalize(w, u, v)

    def loss_value(w):
        with mg.no_grad():
            return float(np.sum(through(mg.tensor(w)).data * G))

    grads = {}
    for option in (False, True):
        layer = Holder(weight.copy())
        spectral_norm(layer, n_power_iterations=2, grad_through_power_iteration=option)
        layer.weight_u.data = u0.copy()
        layer(mg.tensor(G)).backward()
        grads[option] = layer.weight_orig.grad.data
    numeric = np.zeros_like(weight)
    for index in np.ndindex(*weight.shape):
        plus, minus = weight.copy(), weight.copy()
        plus[index] += 1e-6
        minus[index] -= 1e-6
        numeric[index] = (loss_value(plus) - loss_value(minus)) / 2e-6
    assert np.linalg.norm(grads[True] - numeric) / np.linalg.norm(numeric) < 1e-6
    assert np.linalg.norm(grads[False] - numeric) / np.linalg.norm(numeric) > 1e-3


# ---------------------------------------------------------------------------------------
# 3. PyTorch as the oracle
# ---------------------------------------------------------------------------------------
def _torch_pair(weight: np.ndarray, dim):
    torch = pytest.importorskip("torch")

    class TorchHolder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.tensor(weight, dtype=torch.float64))

        def forward(self, x):
            return (self.weight * x).sum()

    theirs = torch.nn.utils.spectral_norm(TorchHolder(), dim=dim)
    ours = spectral_norm(Holder(weight.copy()), dim=dim)
    with torch.no_grad():   # the same u, v in both
        theirs.weight_u.copy_(torch.tensor(ours.weight_u.data))
        theirs.weight_v.copy_(torch.tensor(ours.weight_v.data))
    return torch, ours, theirs


@pytest.mark.parametrize("shape, dim", [((2, 3), None), ((5, 4), None), ((4, 3, 2, 2), 0), ((4, 3, 2, 2), 1)])
def test_matches_torch_spectral_norm_train_and_eval(shape, dim):
    rng = np.random.default_rng(7)
    weight = rng.standard_normal(shape)
    torch, ours, theirs = _torch_pair(weight, dim)
    for mode in ("train", "train", "eval"):
        ours.train(mode == "train")
        theirs.train(mode == "train")
        G = rng.standard_normal(shape)
        ours.weight_orig.grad = None
        theirs.weight_orig.grad = None
        ours(mg.tensor(G)).backward()
        theirs(torch.tensor(G)).backward()
        np.testing.assert_allclose(ours.weight.data, theirs.weight.detach().numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(ours.weight_u.data, theirs.weight_u.numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(ours.weight_v.data, theirs.weight_v.numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(ours.weight_orig.grad.data, theirs.weight_orig.grad.numpy(), rtol=0, atol=1e-10)


def test_linear_matches_torch_after_several_steps():
    torch = pytest.importorskip("torch")
    theirs = torch.nn.utils.spectral_norm(torch.nn.Linear(3, 2).double(), n_power_iterations=2)
    ours = spectral_norm(nn.Linear(3, 2), n_power_iterations=2)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(8).standard_normal((4, 3))
    for _ in range(3):
        out_ours = ours(mg.tensor(x))
        out_theirs = theirs(torch.tensor(x))
        mg.sum(mg.mul(out_ours, out_ours)).backward()
        (out_theirs * out_theirs).sum().backward()
    np.testing.assert_allclose(out_ours.data, out_theirs.detach().numpy(), atol=1e-10, rtol=0)
    np.testing.assert_allclose(ours.weight_orig.grad.data, theirs.weight_orig.grad.numpy(), atol=1e-10, rtol=0)
    np.testing.assert_allclose(ours.weight_u.data, theirs.weight_u.numpy(), atol=1e-10, rtol=0)


# ---------------------------------------------------------------------------------------
# 4. PyTorch's behaviours
# ---------------------------------------------------------------------------------------
def test_eval_leaves_u_v_unchanged_and_repeats_output():
    layer = spectral_norm(nn.Linear(4, 3))
    x = mg.randn(5, 4)
    layer(x)
    layer.eval()
    u, v = layer.weight_u.data.copy(), layer.weight_v.data.copy()
    first, second = layer(x).data, layer(x).data
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(layer.weight_u.data, u)
    np.testing.assert_array_equal(layer.weight_v.data, v)
    layer.train()
    layer(x)
    assert not np.array_equal(layer.weight_u.data, u)     # training iterates again


def test_output_before_remove_equals_output_after():
    layer = spectral_norm(nn.Linear(4, 3))
    x = mg.randn(5, 4)
    layer(x)
    before = layer(x).data           # a training forward (one more iteration)
    remove_spectral_norm(layer)
    after = layer(x).data
    np.testing.assert_allclose(after, before, rtol=0, atol=1e-15)
    assert isinstance(layer.weight, nn.Parameter)
    assert list(layer.state_dict()) == ["bias", "weight"]
    assert layer._forward_pre_hooks == {}


def test_state_dict_round_trip_through_save_and_load(tmp_path):
    layer = spectral_norm(nn.Linear(4, 3))
    x = mg.randn(5, 4)
    for _ in range(3):
        layer(x)
    mg.save(layer.state_dict(), tmp_path / "sn.safetensors")
    fresh = spectral_norm(nn.Linear(4, 3)).eval()
    fresh.load_state_dict(mg.load(tmp_path / "sn.safetensors"))
    layer.eval()
    np.testing.assert_array_equal(fresh(x).data, layer(x).data)
    for key, value in layer.state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[key], value)


def test_strict_loading_reports_unexpected_and_missing_keys():
    layer = spectral_norm(nn.Linear(4, 3))
    plain = nn.Linear(4, 3).state_dict()     # keys weight, bias
    with pytest.raises(RuntimeError) as error:
        layer.load_state_dict(plain)
    message = str(error.value)
    assert 'Unexpected key(s) in state_dict: "weight"' in message
    assert 'Missing key(s) in state_dict: "weight_orig", "weight_u", "weight_v"' in message
    missing, unexpected = layer.load_state_dict(plain, strict=False)
    assert unexpected == ["weight"] and missing == ["weight_orig", "weight_u", "weight_v"]


def test_many_iterations_make_top_singular_value_one():
    layer = spectral_norm(nn.Linear(6, 4), n_power_iterations=200)
    layer(mg.randn(2, 6))
    assert abs(svals(layer.weight.data)[0] - 1) < 1e-6


def test_registering_twice_and_bad_iterations_are_errors():
    layer = spectral_norm(nn.Linear(3, 2))
    with pytest.raises(RuntimeError, match="^Cannot register two spectral_norm hooks on the same parameter weight$"):
        spectral_norm(layer)
    with pytest.raises(ValueError, match="^Expected n_power_iterations to be positive, but got n_power_iterations=0$"):
        spectral_norm(nn.Linear(3, 2), n_power_iterations=0)
    with pytest.raises(ValueError, match="got n_power_iterations=-2"):
        spectral_norm(nn.Linear(3, 2), n_power_iterations=-2)


def test_remove_when_absent_is_an_error():
    layer = nn.Linear(3, 2)
    with pytest.raises(ValueError, match=r"^spectral_norm of 'weight' not found in Linear\(in_features=3"):
        remove_spectral_norm(layer)
    spectral_norm(layer)
    remove_spectral_norm(layer)
    with pytest.raises(ValueError, match="spectral_norm of 'weight' not found in"):
        remove_spectral_norm(layer)


# ---------------------------------------------------------------------------------------
# 5. Training keeps every layer's spectral norm at 1
# ---------------------------------------------------------------------------------------
def test_mlp_with_spectral_norm_trains_and_stays_normalised():
    mg.manual_seed(3)
    model = nn.Sequential(
        spectral_norm(nn.Linear(2, 16)), nn.Tanh(),
        spectral_norm(nn.Linear(16, 16)), nn.Tanh(),
        spectral_norm(nn.Linear(16, 1)),
    )
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, (64, 2))
    y = (0.5 * np.sin(2 * x[:, :1]) + 0.3 * x[:, 1:])          # a smooth, 1-Lipschitz-ish target
    x_t, y_t = mg.tensor(x), mg.tensor(y)
    # Warm-up forwards (no step): u, v start random, and one iteration per forward only
    # tracks the top singular vectors once it is near them (PyTorch's behaviour too).
    with mg.no_grad():
        for _ in range(30):
            model(x_t)
    optimiser = mg.optim.SGD(model.parameters(), lr=0.1)
    losses, worst = [], 0.0
    for step in range(150):
        optimiser.zero_grad()
        loss = mg.mse_loss(model(x_t), y_t)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
        for layer in (model[0], model[2], model[4]):
            worst = max(worst, abs(svals(layer.weight.data)[0] - 1))
        assert worst < 0.05, f"step {step}: a layer's top singular value is {worst:.3f} away from 1"
    assert losses[-1] < 0.2 * losses[0], (losses[0], losses[-1])


# ---------------------------------------------------------------------------------------
# 6. Bad input
# ---------------------------------------------------------------------------------------
def test_zero_weight_is_a_clear_error():
    layer = spectral_norm(Holder(np.zeros((2, 3))))
    with pytest.raises(ValueError, match=r"spectral_normalize: sigma = u\^T W v is 0.0 for a weight of shape \(2, 3\)"):
        layer(mg.ones(2, 3))


def test_nan_weight_is_an_error_before_the_buffers_are_touched():
    layer = spectral_norm(nn.Linear(3, 2))
    u = layer.weight_u.data.copy()
    layer.weight_orig.data = np.array([[1.0, np.nan, 0.0], [0.0, 1.0, 2.0]])
    with pytest.raises(ValueError, match=r"parameter 'weight_orig' of shape \(2, 3\) contains NaN or Inf"):
        layer(mg.ones(3))
    np.testing.assert_array_equal(layer.weight_u.data, u)


def test_nan_input_propagates_to_the_output_only():
    layer = spectral_norm(nn.Linear(3, 2))
    out = layer(mg.tensor([[np.nan, 1.0, 2.0], [1.0, 2.0, 3.0]]))
    assert np.isnan(out.data[0]).all() and np.isfinite(out.data[1]).all()
    assert np.isfinite(layer.weight_u.data).all()           # the weight path never saw the NaN


def test_dim_out_of_range_and_bad_vectors():
    with pytest.raises(IndexError, match=r"spectral_norm: dim 2 is out of range for parameter 'weight' of shape "
                                         r"\(2, 3\) with 2 dimension\(s\); use a dim in \[-2, 1\]"):
        spectral_norm(nn.Linear(3, 2), dim=2)
    with pytest.raises(ValueError, match=r"u must have shape \(2,\) and v shape \(3,\); got u \(3,\) and v \(3,\)"):
        spectral_normalize(np.ones((2, 3)), np.ones(3), np.ones(3))
    with pytest.raises(AttributeError, match="has no parameter 'kernel'"):
        spectral_norm(nn.Linear(3, 2), name="kernel")


def test_negative_dim_counts_from_the_end():
    layer = spectral_norm(Holder(np.ones((4, 3, 2))), dim=-2)
    assert layer.weight_u.shape == (3,) and layer.weight_v.shape == (8,)
