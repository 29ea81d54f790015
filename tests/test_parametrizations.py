"""minigrad.nn.utils.parametrize and norms.parametrizations against PyTorch 2.13."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.nn.utils import parametrize
from norms import parametrizations as P

ORACLE = "PyTorch (the optional oracle) is not installed"


class Double(nn.Module):
    def forward(self, x):
        return x * 2.0

    def right_inverse(self, x):
        return x * 0.5


def test_register_access_assign_and_remove():
    layer = nn.Linear(3, 2)
    weight = layer.weight.data.copy()
    parametrize.register_parametrization(layer, "weight", Double())
    assert parametrize.is_parametrized(layer) and parametrize.is_parametrized(layer, "weight")
    assert not parametrize.is_parametrized(layer, "bias")
    assert type(layer).__name__ == "ParametrizedLinear" and isinstance(layer, nn.Linear)
    assert list(layer.state_dict()) == ["bias", "parametrizations.weight.original"]
    np.testing.assert_allclose(layer.parametrizations.weight.original.data, weight / 2, rtol=0)
    np.testing.assert_allclose(layer.weight.data, weight, rtol=0)
    layer.weight = mg.tensor(np.ones((2, 3)))  # stored through right_inverse
    np.testing.assert_allclose(layer.parametrizations.weight.original.data, 0.5, rtol=0)
    out = layer(mg.ones(1, 3)).sum()
    out.backward()
    np.testing.assert_allclose(layer.parametrizations.weight.original.grad.data, 2.0, rtol=0)
    parametrize.remove_parametrizations(layer, "weight")
    assert type(layer) is nn.Linear and not parametrize.is_parametrized(layer)
    assert list(layer.state_dict()) == ["bias", "weight"]  # re-registered last, as in PyTorch
    np.testing.assert_allclose(layer.weight.data, 1.0, rtol=0)


def test_cached_computes_once():
    calls = []

    class Counting(nn.Module):
        def forward(self, x):
            calls.append(1)
            return x

    layer = nn.Linear(2, 2)
    parametrize.register_parametrization(layer, "weight", Counting())
    calls.clear()
    with parametrize.cached():
        first, second = layer.weight, layer.weight
    assert first is second and len(calls) == 1
    for _ in range(2):  # outside the context, each access computes again
        _ = layer.weight
    assert len(calls) == 3


def test_remove_without_leaving_parametrized_gives_the_original_back():
    layer = nn.Linear(3, 2)
    parametrize.register_parametrization(layer, "weight", Double())
    original = layer.parametrizations.weight.original.data.copy()
    parametrize.remove_parametrizations(layer, "weight", leave_parametrized=False)
    np.testing.assert_allclose(layer.weight.data, original, rtol=0)


def test_errors():
    layer = nn.Linear(3, 2)
    with pytest.raises(ValueError, match="Module Linear does not have a parametrization on weight"):
        parametrize.remove_parametrizations(layer, "weight")
    with pytest.raises(ValueError, match="register_parametrization: Linear has no parameter or buffer 'nope'"):
        parametrize.register_parametrization(layer, "nope", Double())

    class Shrink(nn.Module):
        def forward(self, x):
            return x[0]

    with pytest.raises(ValueError, match="changes the tensor's shape or dtype"):
        parametrize.register_parametrization(layer, "weight", Shrink())
    assert list(layer.state_dict()) == ["weight", "bias"] and type(layer) is nn.Linear
    with pytest.raises(ValueError, match="Expected n_power_iterations to be positive, but got n_power_iterations=0"):
        P.spectral_norm(nn.Linear(2, 2), n_power_iterations=0)


@pytest.mark.parametrize("make", ["Linear", "Conv2d", "ConvTranspose2d"])
def test_spectral_norm_matches_pytorch(make):
    torch = pytest.importorskip("torch", reason=ORACLE)
    build = {"Linear": lambda m: m.Linear(5, 4), "Conv2d": lambda m: m.Conv2d(3, 4, (2, 3)),
             "ConvTranspose2d": lambda m: m.ConvTranspose2d(3, 4, (2, 3))}[make]
    shape = (2, 5) if make == "Linear" else (2, 3, 5, 6)
    torch.manual_seed(0)
    theirs, ours = build(torch.nn).double(), build(nn)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    weight = theirs.weight.detach().numpy().copy()
    torch.nn.utils.parametrizations.spectral_norm(theirs)
    P.spectral_norm(ours)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == [
        "bias", "parametrizations.weight.original", "parametrizations.weight.0._u", "parametrizations.weight.0._v"]
    np.testing.assert_allclose(ours.parametrizations.weight.original.data, weight, rtol=0)
    # 15 iterations at registration from each library's own random start: the same top
    # singular vectors (up to sign) to within the iteration's convergence
    dim = 1 if make == "ConvTranspose2d" else 0
    matrix = np.moveaxis(weight, dim, 0).reshape(weight.shape[dim], -1)
    top_u = np.linalg.svd(matrix)[0][:, 0]
    for u in (ours.parametrizations.weight[0]._u.data, theirs.parametrizations.weight[0]._u.numpy()):
        assert abs(abs(u @ top_u) - 1) < 1e-3
    # from the same u and v, everything else matches to rounding
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal(shape)
    ours_x, theirs_x = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    for _ in range(2):
        out, expected = ours(ours_x), theirs(theirs_x)
        np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-10, atol=1e-13)
        (out * out).sum().backward()
        (expected * expected).sum().backward()
    np.testing.assert_allclose(ours_x.grad.data, theirs_x.grad.numpy(), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(ours.parametrizations.weight.original.grad.data,
                               theirs.parametrizations.weight.original.grad.numpy(), rtol=1e-10, atol=1e-13)
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key], value.numpy(), rtol=1e-10, atol=1e-13, err_msg=key)
    ours.eval(), theirs.eval()
    np.testing.assert_allclose(ours(ours_x).data, theirs(theirs_x).detach().numpy(), rtol=1e-10, atol=1e-13)
    torch.nn.utils.parametrize.remove_parametrizations(theirs, "weight")
    parametrize.remove_parametrizations(ours, "weight")
    assert list(ours.state_dict()) == list(theirs.state_dict())
    np.testing.assert_allclose(ours.weight.data, theirs.weight.detach().numpy(), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("dim", [0, 1, None, -1])
def test_weight_norm_matches_pytorch(dim):
    torch = pytest.importorskip("torch", reason=ORACLE)
    torch.manual_seed(0)
    theirs, ours = torch.nn.Conv2d(3, 4, 2).double(), nn.Conv2d(3, 4, 2)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    torch.nn.utils.parametrizations.weight_norm(theirs, dim=dim)
    P.weight_norm(ours, dim=dim)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key], value.numpy(), rtol=1e-13, err_msg=key)
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4))
    out, expected = ours(mg.tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-10, atol=1e-13)
    (out * out).sum().backward()
    (expected * expected).sum().backward()
    for index in (0, 1):
        np.testing.assert_allclose(getattr(ours.parametrizations.weight, f"original{index}").grad.data,
                                   getattr(theirs.parametrizations.weight, f"original{index}").grad.numpy(),
                                   rtol=1e-10, atol=1e-13)
