"""Every registered primitive and composed function, gradient-checked against finite differences.

One test parametrized over the whole REGISTRY (every primitive x every example in its
``examples``, plus a Python number as either operand of the binary elementwise ops), so a
new op cannot be added without being checked (tests/test_worlds.py runs the same examples
in float32 and SymPy): float64, central
differences, |a - n| <= 1e-7 + 1e-6 |n| on every Jacobian entry. The composed functions come
from ``minigrad.verification.checks``' registry, which ``norms.checks`` extends. Second derivatives are
checked for every primitive whose VJP is smooth.
"""
import numpy as np
import pytest

import norms.checks  # noqa: F401  (the norms' primitives join the registry, deterministically)
from minigrad.verification import checks, worlds
from minigrad.verification.domains import draw_inputs
from minigrad.verification.gradcheck import check_gradients, check_second_derivatives
from minigrad.ops import REGISTRY


PRIMITIVES = checks.primitive_checks(worlds=("float64",))
COMPOSED = list(checks._CHECKS)


def _id(entry):
    shapes = entry.case.label().replace(" ", "").replace(",", "x") if entry.case else "x".join(
        str(s).replace(" ", "") for s in entry.shapes)
    return f"{entry.name}-{shapes}-{entry.attrs.replace(' ', '')[:30]}" if entry.attrs else f"{entry.name}-{shapes}"


def test_every_registered_primitive_has_examples():
    missing = [name for name, op in REGISTRY.items() if not op.examples]
    assert missing == []
    for name, op in REGISTRY.items():
        for shapes, attrs in op.examples:
            assert isinstance(shapes, tuple) and all(isinstance(s, tuple) for s in shapes), name
            assert isinstance(attrs, dict), name
    # and every example is one case of the parametrized test below
    assert len(PRIMITIVES) == sum(len(worlds.cases(op)) for op in REGISTRY.values())
    assert sum(e.case.scalar_at is None for e in PRIMITIVES) == sum(len(op.examples) for op in REGISTRY.values())


def test_binary_ops_are_checked_on_the_broadcasting_cases():
    broadcasting = {((), (3, 4)), ((1, 4), (3, 1)), ((5, 4, 1), (4, 3))}
    for name in ("add", "sub", "mul", "div", "pow", "maximum"):
        assert broadcasting <= {tuple(shapes) for shapes, _ in REGISTRY[name].examples}, name


@pytest.mark.parametrize("entry", PRIMITIVES, ids=_id)
def test_primitive_vjp_matches_central_differences(entry):
    result = check_gradients(entry.fn, checks.entry_inputs(entry), atol=1e-7, rtol=1e-6, name=entry.name)
    assert result.ok, result.report
    assert result.max_rel_error < 1e-6


@pytest.mark.parametrize("entry", COMPOSED, ids=_id)
def test_composed_function_matches_central_differences(entry):
    result = check_gradients(entry.fn, checks.entry_inputs(entry), atol=1e-7, rtol=1e-6, name=entry.name)
    assert result.ok, result.report
    assert result.max_rel_error < 1e-6


SMOOTH = [e for e in PRIMITIVES if e.smooth]


@pytest.mark.parametrize("entry", SMOOTH, ids=_id)
def test_second_derivatives_of_smooth_primitives(entry):
    result = check_second_derivatives(entry.fn, checks.entry_inputs(entry), atol=1e-6, rtol=1e-5, seed=0,
                                      name=entry.name)
    assert result.ok, result.report
    assert result.max_rel_error < 1e-5


def test_composed_checks_cover_the_functional_api():
    names = {e.name for e in COMPOSED}
    assert {"mean", "var", "relu", "leaky_relu", "sigmoid", "softmax", "log_softmax", "logsumexp",
            "mse_loss", "cross_entropy"} <= names


def test_inputs_respect_each_domain():
    rng = np.random.default_rng(0)
    positive, nonzero = draw_inputs([(50,), (50,)], ["positive", "nonzero"], rng)
    assert positive.min() >= 0.5 and np.abs(nonzero).min() >= 0.5 and (nonzero < 0).any()
    a, b = draw_inputs([(3, 4), (3, 4)], "distinct", rng)
    values = np.sort(np.concatenate([a.ravel(), b.ravel()]))
    assert np.diff(values).min() > 0.19  # no ties within any finite-difference step
