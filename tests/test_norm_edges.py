"""Norms at the edge (issue 9): zero, 1e-300- and 1e300-scaled inputs, rank-deficient and
repeated singular values, v = 0, a batch of one. Each gives a finite, documented result or
a clear error (docs/reliability.md lists them)."""
import warnings

import numpy as np
import pytest

import minigrad as mg
import norms
from minigrad import nn

SCALES = [0.0, 1e-300, 1e300]


def _spectral_layer(weight):
    layer = nn.Linear(weight.shape[1], weight.shape[0])
    layer.weight.data = weight.copy()
    norms.spectral_norm(layer)
    with mg.no_grad():
        for _ in range(30):
            layer(mg.ones(weight.shape[1]))
    out = layer(mg.ones(weight.shape[1]))
    out.sum().backward()
    return layer


@pytest.mark.parametrize("name, weight", [
    ("rank one", np.outer([1.0, 2.0], [3.0, -1.0, 2.0])),
    ("repeated singular values", 2.0 * np.eye(3)[:2]),
    ("entries of 1e300", np.random.default_rng(0).standard_normal((2, 3)) * 1e300),
])
def test_spectral_norm_edges_are_finite_and_normalised(name, weight):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or invalid-value warning on the way
        layer = _spectral_layer(weight)
    singular = np.linalg.svd(layer.weight.data, compute_uv=False)
    assert singular[0] == pytest.approx(1.0, abs=1e-9)
    assert np.all(np.isfinite(layer.weight_orig.grad.data))


@pytest.mark.parametrize("scale, message", [(0.0, "sigma = u\\^T W v is 0.0"), (1e-300, "too small|so small")])
def test_spectral_norm_of_a_zero_or_vanishing_weight_is_a_clear_error(scale, message):
    weight = np.random.default_rng(1).standard_normal((2, 3)) * scale
    with pytest.raises(ValueError, match=message):
        _spectral_layer(weight)


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("name", ["layer_norm", "rms_norm", "pixel_norm", "batch_norm"])
def test_activation_norms_are_finite_at_every_scale(scale, name):
    fns = {
        "layer_norm": lambda x: norms.layer_norm(x, (3,)),
        "rms_norm": lambda x: norms.rms_norm(x, (3,)),
        "pixel_norm": lambda x: norms.pixel_norm(x, axis=1),
        "batch_norm": lambda x: norms.batch_norm(x, training=True),
    }
    data = np.random.default_rng(2).standard_normal((4, 3))
    x = mg.tensor(data * scale, requires_grad=True)
    weights = mg.tensor(np.random.default_rng(3).standard_normal((4, 3)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = fns[name](x)
        (out * weights).sum().backward()
    assert np.all(np.isfinite(out.data)) and np.all(np.isfinite(x.grad.data))
    if scale == 1e300:
        # eps is negligible next to 1e600, so the result is the eps-free standardisation
        # of the unscaled data, and the gradient scales as 1/scale.
        axes = 0 if name == "batch_norm" else 1
        centred = data - data.mean(axis=axes, keepdims=True) if name in ("layer_norm", "batch_norm") else data
        expected = centred / np.sqrt(np.mean(centred**2, axis=axes, keepdims=True))
        np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    if scale == 0.0:
        np.testing.assert_array_equal(out.data, np.zeros_like(data))


@pytest.mark.parametrize("scale", SCALES)
def test_weight_norm_at_every_scale(scale):
    layer = nn.Linear(3, 2)
    layer.weight.data = np.random.default_rng(4).standard_normal((2, 3)) * scale
    norms.weight_norm(layer)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = layer(mg.ones(3))
        out.sum().backward()
    assert np.all(np.isfinite(layer.weight.data))
    assert np.all(np.isfinite(layer.weight_g.grad.data)) and np.all(np.isfinite(layer.weight_v.grad.data))
    if scale == 0.0:
        np.testing.assert_array_equal(layer.weight.data, np.zeros((2, 3)))  # v = 0 gives w = 0, not NaN


def test_batch_norm_batch_of_one_in_training_is_pytorchs_error():
    layer = norms.BatchNorm1d(3)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        layer(mg.randn(1, 3))
    layer.eval()
    assert np.all(np.isfinite(layer(mg.randn(1, 3)).data))


@pytest.mark.parametrize("p", [0.5, -1.5])
def test_vector_norm_below_one_gives_gradient_zero_at_zero_entries(p):
    # A quasi-norm (0 < p < 1) has an infinite derivative at 0; p < 0 makes the norm 0.
    # Both follow PyTorch: gradient 0 at the zero entry, the closed form elsewhere.
    data = np.array([0.0, 1.0, -2.0])
    x = mg.tensor(data, requires_grad=True)
    out = norms.vector_norm(x, p)
    out.backward()
    nonzero = data[1:]
    value = np.sum(np.abs(nonzero) ** p) ** (1 / p) if p > 0 else 0.0
    assert out.item() == pytest.approx(value, rel=1e-12)
    assert x.grad.data[0] == 0.0
    expected = np.sign(nonzero) * np.abs(nonzero) ** (p - 1) * value ** (1 - p) if p > 0 else np.zeros(2)
    np.testing.assert_allclose(x.grad.data[1:], expected, rtol=1e-12)
