"""minigrad.testing: the assertions the coursework's released tests share."""
import numpy as np
import pytest

import minigrad as mg
from minigrad.testing import assert_close, gradients


def test_assert_close_accepts_tensors_and_arrays_within_tolerance():
    assert_close(mg.tensor([1.0, 2.0]), np.array([1.0, 2.0 + 1e-9]), "x")


def test_assert_close_names_the_wrong_entries():
    with pytest.raises(AssertionError) as info:
        assert_close(np.array([[1.0, 2.0], [3.0, np.nan]]), np.array([[1.0, 2.5], [3.0, 4.0]]), "grad_w")
    assert str(info.value) == (
        "grad_w: 2 of 4 entries wrong ((0, 1): got 2, expected 2.5; (1, 1): got nan, expected 4)"
    )


def test_assert_close_reports_shape_and_missing_gradient():
    with pytest.raises(AssertionError, match=r"grad_x: shape \(2,\), expected \(2, 1\)"):
        assert_close(np.zeros(2), np.zeros((2, 1)), "grad_x")
    with pytest.raises(AssertionError, match="grad_b: the VJP returned None"):
        assert_close(None, np.zeros(2), "grad_b")


def test_gradients_runs_one_vjp_per_input():
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    b = np.array([[0.5, -1.0], [2.0, 0.25]])
    upstream = np.array([[1.0, -2.0], [0.5, 3.0]])
    ga, gb = gradients(lambda x, y: x @ y, [a, b], upstream)
    np.testing.assert_allclose(ga.data, upstream @ b.T, rtol=1e-12)
    np.testing.assert_allclose(gb.data, a.T @ upstream, rtol=1e-12)
