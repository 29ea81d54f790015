"""Norms at the edge: zero, 1e-300- and 1e300-scaled inputs, rank-deficient and repeated
singular values, v = 0, a batch of one. Each gives a finite, documented result or a clear
error (docs/reliability.md lists them). Bad arguments are refused when a norm is built,
and a forward that raises changes no parameter and no buffer."""
import math
import re
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


# ---------------------------------------------------------------------------------------
# Arguments are checked when a norm is built, with messages that name it
# ---------------------------------------------------------------------------------------
def _raises_exactly(error_type, message, call):
    with pytest.raises(error_type, match="^" + re.escape(message) + "$"):
        call()


def _state_bytes(module):
    """Every parameter and buffer as (name, dtype, shape, bytes): bit-identical or not."""
    return [(name, array.dtype.str, array.shape, array.tobytes()) for name, array in module.state_dict().items()]


def _iterations_type_message(value):
    return (
        f"spectral_norm: n_power_iterations must be an int >= 1, got {value!r} "
        f"({type(value).__name__}); pass a whole number of power-iteration steps per training "
        f"forward, such as 1."
    )


def _eps_value_message(value):
    return (
        f"spectral_norm: eps must be finite and > 0, got {value!r}; it is the floor in "
        f"x / max(||x||, eps), so pass a small positive number such as 1e-12."
    )


SPECTRAL_ARGUMENTS = [
    ({"n_power_iterations": 1.5}, TypeError, _iterations_type_message(1.5)),
    ({"n_power_iterations": "2"}, TypeError, _iterations_type_message("2")),
    ({"n_power_iterations": True}, TypeError, _iterations_type_message(True)),
    ({"n_power_iterations": 0}, ValueError, "Expected n_power_iterations to be positive, but got n_power_iterations=0"),
    ({"n_power_iterations": -3}, ValueError,
     "Expected n_power_iterations to be positive, but got n_power_iterations=-3"),
    ({"eps": 0}, ValueError, _eps_value_message(0)),
    ({"eps": -1.0}, ValueError, _eps_value_message(-1.0)),
    ({"eps": math.nan}, ValueError, _eps_value_message(math.nan)),
    ({"eps": math.inf}, ValueError, _eps_value_message(math.inf)),
    ({"eps": "1e-12"}, TypeError,
     "spectral_norm: eps must be a float > 0, got '1e-12' (str); pass a small positive number such as 1e-12."),
    ({"dim": 2}, IndexError,
     "spectral_norm: dim 2 is out of range for parameter 'weight' of shape (2, 3) with 2 dimension(s); "
     "use a dim in [-2, 1]."),
    ({"grad_through_power_iteration": "yes"}, TypeError,
     "spectral_norm: grad_through_power_iteration must be True or False, got 'yes'"),
]


@pytest.mark.parametrize("kwargs, error_type, message", SPECTRAL_ARGUMENTS, ids=lambda x: repr(x)[:40])
def test_spectral_norm_refuses_bad_arguments_at_registration_and_leaves_the_layer_alone(kwargs, error_type, message):
    layer = nn.Linear(3, 2)
    before = _state_bytes(layer)
    _raises_exactly(error_type, message, lambda: norms.spectral_norm(layer, **kwargs))
    assert _state_bytes(layer) == before
    assert list(layer._parameters) == ["weight", "bias"] and not layer._forward_pre_hooks


@pytest.mark.parametrize("shape", [(3, 0), (0, 3)])
def test_spectral_norm_of_an_empty_weight_is_refused_at_registration(shape):
    layer = nn.Linear(3, 2)
    layer.weight = nn.Parameter(np.zeros(shape))
    _raises_exactly(
        ValueError,
        f"spectral_norm: parameter 'weight' of shape {shape} has no entries, so it has no singular "
        f"values to normalise by; give the layer at least one input and one output feature.",
        lambda: norms.spectral_norm(layer),
    )
    assert "weight" in layer._parameters and not layer._forward_pre_hooks


@pytest.mark.parametrize("shape", [(3, 0), (0, 3)])
def test_weight_norm_of_an_empty_weight_is_refused_at_registration(shape):
    layer = nn.Linear(3, 2)
    layer.weight = nn.Parameter(np.zeros(shape))
    _raises_exactly(
        ValueError,
        f"weight_norm: parameter 'weight' of shape {shape} has no entries, so there is no direction "
        f"to normalise; give the layer at least one input and one output feature.",
        lambda: norms.weight_norm(layer),
    )
    assert list(layer._parameters) == ["weight", "bias"] and not layer._forward_pre_hooks


@pytest.mark.parametrize("eps, error_type, message", [
    (0.0, ValueError, "weight_norm: eps must be finite and > 0, got 0.0; it is the floor in max(||v||, eps), "
                      "so pass a small positive number such as 1e-12."),
    (math.nan, ValueError, "weight_norm: eps must be finite and > 0, got nan; it is the floor in max(||v||, eps), "
                           "so pass a small positive number such as 1e-12."),
    (None, TypeError, "weight_norm: eps must be a float > 0, got None (NoneType); pass a small positive number "
                      "such as 1e-12."),
])
def test_weight_norm_hook_refuses_bad_eps_and_leaves_the_layer_alone(eps, error_type, message):
    from norms.weight import WeightNorm

    layer = nn.Linear(3, 2)
    before = _state_bytes(layer)
    _raises_exactly(error_type, message, lambda: WeightNorm.register(layer, "weight", 0, eps))
    assert _state_bytes(layer) == before and list(layer._parameters) == ["weight", "bias"]


def test_weight_norm_dim_out_of_range_leaves_the_layer_alone():
    layer = nn.Linear(3, 2)
    before = _state_bytes(layer)
    _raises_exactly(
        IndexError,
        "weight_norm: dim 3 is out of range for a weight with 2 dimension(s); use a dim in [-2, 1], "
        "or None (or -1) for the norm of the whole tensor.",
        lambda: norms.weight_norm(layer, dim=3),
    )
    assert _state_bytes(layer) == before


def _eps_message(owner, value, kind="value"):
    if kind == "type":
        return (f"{owner}: eps must be a float > 0, got {value!r} ({type(value).__name__}); pass a small "
                f"positive number such as 1e-5.")
    return (f"{owner}: eps must be finite and > 0, got {value!r}; it is added to the mean square before "
            f"the square root, so pass a small positive number such as 1e-5.")


def _momentum_message(value):
    return (f"BatchNorm1d: momentum must be in [0, 1] (the weight of the new batch in the running averages), "
            f"got {value!r}; PyTorch's default is 0.1, and None means a cumulative average.")


def _num_features_message(value):
    return (f"BatchNorm1d: num_features must be a positive int (the number of channels, axis 1 of the input), "
            f"got {value!r}")


def _shape_message(owner, value):
    return (f"{owner}: normalized_shape must be a positive int or a non-empty sequence of positive ints "
            f"(the trailing axes to normalise), got {value!r}")


ACTIVATION_ARGUMENTS = [
    (lambda: norms.BatchNorm1d(0), ValueError, _num_features_message(0)),
    (lambda: norms.BatchNorm1d(2.5), ValueError, _num_features_message(2.5)),
    (lambda: norms.BatchNorm1d(True), ValueError, _num_features_message(True)),
    (lambda: norms.BatchNorm1d(3, eps=0), ValueError, _eps_message("BatchNorm1d", 0)),
    (lambda: norms.BatchNorm1d(3, eps=-1e-5), ValueError, _eps_message("BatchNorm1d", -1e-5)),
    (lambda: norms.BatchNorm1d(3, eps=math.nan), ValueError, _eps_message("BatchNorm1d", math.nan)),
    (lambda: norms.BatchNorm1d(3, eps="1e-5"), TypeError, _eps_message("BatchNorm1d", "1e-5", "type")),
    (lambda: norms.BatchNorm1d(3, momentum=-0.1), ValueError, _momentum_message(-0.1)),
    (lambda: norms.BatchNorm1d(3, momentum=1.5), ValueError, _momentum_message(1.5)),
    (lambda: norms.BatchNorm1d(3, momentum=math.nan), ValueError, _momentum_message(math.nan)),
    (lambda: norms.BatchNorm1d(3, momentum=True), TypeError,
     "BatchNorm1d: momentum must be a float in [0, 1] or None, got True (bool)"),
    (lambda: norms.BatchNorm1d(3, affine="yes"), TypeError, "BatchNorm1d: affine must be True or False, got 'yes'"),
    (lambda: norms.BatchNorm1d(3, track_running_stats=1), TypeError,
     "BatchNorm1d: track_running_stats must be True or False, got 1"),
    (lambda: norms.LayerNorm(()), ValueError, _shape_message("LayerNorm", ())),
    (lambda: norms.LayerNorm(0), ValueError, _shape_message("LayerNorm", 0)),
    (lambda: norms.LayerNorm((3, -1)), ValueError, _shape_message("LayerNorm", (3, -1))),
    (lambda: norms.LayerNorm(3, eps=0.0), ValueError, _eps_message("LayerNorm", 0.0)),
    (lambda: norms.LayerNorm(3, eps=math.inf), ValueError, _eps_message("LayerNorm", math.inf)),
    (lambda: norms.RMSNorm(3, eps=-1.0), ValueError, _eps_message("RMSNorm", -1.0)),
    (lambda: norms.RMSNorm([2.5]), ValueError, _shape_message("RMSNorm", [2.5])),
    (lambda: norms.PixelNorm(eps=math.nan), ValueError, _eps_message("PixelNorm", math.nan)),
    (lambda: norms.PixelNorm(axis=1.0), TypeError, "PixelNorm: axis must be an int (the channel axis), got 1.0"),
]


@pytest.mark.parametrize("build, error_type, message", ACTIVATION_ARGUMENTS)
def test_activation_norm_modules_refuse_bad_arguments_at_construction(build, error_type, message):
    _raises_exactly(error_type, message, build)


def test_activation_norm_modules_accept_their_defaults_and_rms_eps_none():
    assert norms.BatchNorm1d(3, momentum=None).momentum is None
    assert norms.RMSNorm(4).eps is None
    assert norms.LayerNorm([2, 3]).normalized_shape == (2, 3)


# ---------------------------------------------------------------------------------------
# A forward that raises changes no parameter and no buffer
# ---------------------------------------------------------------------------------------
def _spectral_pair(**kwargs):
    """Two identical spectral-norm layers (same u, v, weight, bias)."""
    first = nn.Linear(3, 2)
    norms.spectral_norm(first, **kwargs)
    second = nn.Linear(3, 2)
    norms.spectral_norm(second, **kwargs)
    second.load_state_dict(first.state_dict())
    return first, second


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("kwargs", [
    {}, {"n_power_iterations": 3}, {"grad_through_power_iteration": True},
])
@pytest.mark.parametrize("bad, message", [
    (np.zeros((2, 3)), "sigma = u^T W v is 0.0"),
    (np.full((2, 3), np.nan), "parameter 'weight_orig' of shape (2, 3) contains NaN or Inf"),
])
def test_spectral_norm_forward_that_raises_changes_nothing_and_a_restored_weight_works(training, kwargs, bad, message):
    layer, twin = _spectral_pair(**kwargs)
    good = layer.weight_orig.data.copy()
    layer.train(training)
    twin.train(training)
    layer.weight_orig.data = bad.copy()
    before = _state_bytes(layer)
    for _ in range(2):          # every later forward fails the same way, and changes nothing
        with pytest.raises(ValueError, match=re.escape(message)):
            layer(mg.ones(3))
        assert _state_bytes(layer) == before
    # Restoring the good weight brings the layer back exactly where its twin (which never
    # saw the bad weight) is: same output, same u and v after the forward.
    layer.weight_orig.data = good
    x = mg.tensor([0.5, -1.0, 2.0])
    out, expected = layer(x), twin(x)
    np.testing.assert_array_equal(out.data, expected.data)
    assert _state_bytes(layer) == _state_bytes(twin)
    sigma = layer.weight_u.data @ good @ layer.weight_v.data     # from the buffers it committed
    np.testing.assert_allclose(layer.weight.data, good / sigma, rtol=1e-13)
    assert np.all(np.isfinite(out.data)) and sigma > 0


def test_weight_norm_forward_that_raises_changes_no_parameter():
    layer = nn.Linear(3, 2)
    norms.weight_norm(layer)
    good_g = layer.weight_g
    layer.weight_g = nn.Parameter(np.ones((3, 1)))   # a wrong shape for a (2, 3) weight
    before = _state_bytes(layer)
    _raises_exactly(
        ValueError,
        "weight_normalize: for v of shape (2, 3) and dim=0, g must have shape (2, 1) (the norm over every "
        "axis but dim, keepdims), got (3, 1).",
        lambda: layer(mg.ones(3)),
    )
    assert _state_bytes(layer) == before
    layer.weight_g = good_g
    expected = layer.weight_v.data / np.linalg.norm(layer.weight_v.data, axis=1, keepdims=True) * good_g.data
    np.testing.assert_allclose(layer(mg.ones(3)).data, expected.sum(axis=1) + layer.bias.data, rtol=1e-14)


def _batch_norm_with_state():
    layer = norms.BatchNorm1d(3)
    rng = np.random.default_rng(5)
    for _ in range(2):
        layer(mg.tensor(rng.standard_normal((4, 3))))
    return layer


@pytest.mark.parametrize("spoil, error_type, message", [
    (lambda layer: setattr(layer, "weight", nn.Parameter(np.ones(4))), ValueError,
     "batch_norm: weight must have shape (3,), got (4,) (input (4, 3))"),
    (lambda layer: setattr(layer, "momentum", 2.0), ValueError,
     "batch_norm: momentum must be in [0, 1] (the weight of the new batch in the running averages), got 2.0; "
     "PyTorch's default is 0.1."),
    (lambda layer: setattr(layer, "bias", nn.Parameter(np.zeros((3, 1)))), ValueError,
     "batch_norm: bias must have shape (3,), got (3, 1) (input (4, 3))"),
])
def test_batch_norm_forward_that_raises_leaves_running_stats_and_counter_alone(spoil, error_type, message):
    layer = _batch_norm_with_state()
    spoil(layer)
    before = _state_bytes(layer)
    assert int(layer.num_batches_tracked.data) == 2
    _raises_exactly(error_type, message, lambda: layer(mg.tensor(np.random.default_rng(6).standard_normal((4, 3)))))
    assert _state_bytes(layer) == before


def test_batch_norm_training_forward_commits_the_pytorch_running_update():
    layer = norms.BatchNorm1d(3, momentum=0.25)
    data = np.random.default_rng(7).standard_normal((5, 3))
    layer(mg.tensor(data))
    np.testing.assert_allclose(layer.running_mean.data, 0.25 * data.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(layer.running_var.data, 0.75 + 0.25 * data.var(axis=0, ddof=1), rtol=1e-14)
    assert int(layer.num_batches_tracked.data) == 1
    cumulative = norms.BatchNorm1d(3, momentum=None)
    cumulative(mg.tensor(data))
    cumulative(mg.tensor(2 * data))
    np.testing.assert_allclose(cumulative.running_mean.data, 1.5 * data.mean(axis=0), rtol=1e-14)  # mean of 1x and 2x


def test_weight_norm_init_that_raises_at_a_later_layer_restores_the_earlier_ones():
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 2))
    norms.weight_norm(model[0])
    norms.weight_norm(model[2])
    model[2].weight_v.data = np.zeros((2, 3))      # every unit of the second layer is constant
    before = _state_bytes(model)
    batch = mg.tensor(np.random.default_rng(8).standard_normal((6, 2)))
    _raises_exactly(
        ValueError,
        "weight_norm_init: unit(s) [0, 1] of layer '2' have zero spread on this batch of shape (6, 3) "
        "(std 0 cannot be scaled to 1); use a batch with more than one distinct input.",
        lambda: norms.weight_norm_init(model, batch),
    )
    assert _state_bytes(model) == before
