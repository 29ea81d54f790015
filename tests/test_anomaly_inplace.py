"""Anomaly mode and in-place safety: stop at the first NaN/Inf and say where;
refuse to backpropagate through a tensor that was changed after it was used."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, optim


def test_anomaly_mode_names_the_forward_op_and_the_user_line():
    x = mg.tensor([1.0, 0.0], requires_grad=True)
    with pytest.raises(FloatingPointError) as error, np.errstate(divide="ignore"):
        with mg.detect_anomaly():
            mg.log(x)  # the line the message must point at
    message = str(error.value)
    assert "op 'log' produced NaN or Inf" in message
    assert "test_anomaly_inplace.py" in message and "mg.log(x)" in message


def test_anomaly_mode_names_the_backward_op():
    x = mg.tensor([4.0, 0.0], requires_grad=True)
    with mg.detect_anomaly():
        y = mg.sqrt(x).sum()  # finite forward, infinite gradient at 0
        with pytest.raises(FloatingPointError) as error, np.errstate(divide="ignore", invalid="ignore"):
            y.backward()
    message = str(error.value)
    assert "the VJP of op 'sqrt' returned NaN or Inf for input 0" in message
    assert "mg.sqrt(x).sum()" in message


def test_without_anomaly_mode_nan_propagates_silently_as_numpy_does():
    x = mg.tensor([4.0, 0.0], requires_grad=True)
    with np.errstate(divide="ignore"):
        mg.sqrt(x).sum().backward()
    assert np.isinf(x.grad.data[1]) and x.grad.data[0] == 0.25


def test_setitem_on_saved_tensor_is_caught():
    x = mg.randn(4, requires_grad=True)
    h = mg.tanh(x)
    y = (h * h).sum()
    with mg.no_grad():
        h[0] = 5.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_data_assignment_on_saved_tensor_is_caught():
    w = mg.randn(3, requires_grad=True)
    x = mg.randn(3)
    y = (w * x).sum()
    x.data = np.zeros(3)
    with pytest.raises(RuntimeError, match=r"input 1 of op 'mul' \(shape \(3,\)\) was changed in place"):
        y.backward()


def test_optimizer_step_between_forward_and_backward_is_caught_but_after_is_fine():
    layer = nn.Linear(3, 2)
    opt = optim.SGD(layer.parameters(), lr=0.1)
    loss = layer(mg.randn(4, 3)).sum()
    loss.backward(retain_graph=True)
    opt.step()  # updates the weight the graph used
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
    opt.zero_grad()
    layer(mg.randn(4, 3)).sum().backward()  # a new graph after the step is fine
    assert layer.weight.grad is not None


def test_inplace_on_unused_tensor_does_not_disturb_backward():
    x = mg.randn(3, requires_grad=True)
    unrelated = mg.randn(3)
    y = (x * 2).sum()
    unrelated += 1
    y.backward()
    np.testing.assert_allclose(x.grad.data, [2.0, 2.0, 2.0])
