"""The SymPy bridge: symbolic runs, proofs against sympy.diff, the rational-point fallback,
the four verdicts and the wall-time budget, derive() as text and LaTeX, exact rationals for
Python floats, numeric comparison, and planted bugs caught."""
import time

import numpy as np
import pytest
import sympy as sp

import minigrad as mg
import norms.checks  # noqa: F401  (the norms' rows join the check table)
from minigrad.verification import checks
from minigrad.ops import REGISTRY, apply
from minigrad.verification import (
    VERDICTS, SymbolicTooLarge, derive, numeric_check, run_symbolic, substitute, symbolic_check,
)

from tests._planted import PLANTED, function_of, planted


def _smallest(op):
    """The example with the fewest Jacobian entries: proofs on tiny shapes."""
    def cost(example):
        shapes = example[0]
        return sum(int(np.prod(s)) for s in shapes) ** 2

    return min(op.examples, key=cost)


# Proofs that take seconds even on the smallest example (thousands of cancel steps).
SLOW_PROOFS = {"spectral_normalize", "batch_norm"}
SYMBOLIC = [pytest.param(op, marks=pytest.mark.slow) if op.name in SLOW_PROOFS else op
            for op in REGISTRY.values() if op.symbolic]


@pytest.mark.parametrize("op", SYMBOLIC, ids=lambda op: op.name)
def test_every_symbolic_primitive_is_proved(op):
    shapes, attrs = _smallest(op)
    result = symbolic_check(lambda *xs: apply(op, *xs, **attrs), shapes, domain=op.domain, budget=60,
                            seed=0, name=op.name)
    assert result.ok, result.report
    assert result.method == "proved", result.report
    assert result.proved == result.entries > 0


def test_ops_without_a_symbolic_form_say_so():
    x = mg.symbols("x", (2, 2))
    with pytest.raises(TypeError, match="svdvals: has no symbolic form"):
        mg.svdvals(x)
    result = symbolic_check(lambda a: mg.svdvals(a).sum(), [(2, 2)], name="svdvals")
    # not checked is not passed: a caller reading .ok must not take it for a proof
    assert not result.ok and (result.verdict, result.method) == ("not checkable", "not symbolic")
    assert result.report.startswith(
        "symbolic_check could not check svdvals: not symbolic (svdvals: has no symbolic form")
    assert {op.name for op in REGISTRY.values() if not op.symbolic} >= {"svdvals", "svd_u", "svd_v", "cast"}


def test_run_symbolic_gives_forward_and_gradient_matrices():
    run = run_symbolic(lambda a, b: (a @ b).sum(), [(2, 2), (2,)])
    a = run.inputs[0].data
    b = run.inputs[1].data
    assert run.forward_matrix() == a[0, 0] * b[0] + a[0, 1] * b[1] + a[1, 0] * b[0] + a[1, 1] * b[1]
    assert run.gradient(0) == sp.Matrix([[b[0], b[1]], [b[0], b[1]]])
    assert run.gradient(1) == sp.Matrix([a[0, 0] + a[1, 0], a[0, 1] + a[1, 1]])
    with pytest.raises(ValueError, match="not a scalar"):
        run_symbolic(lambda a: a * 2, [(2,)]).gradient(0)


def test_composed_functions_are_proved():
    for name in ("softmax", "var", "sigmoid", "mse_loss", "logsumexp"):
        entry = checks.find(name)[0]
        result = symbolic_check(entry.fn, entry.shapes, domain=entry.domain, seed=0, name=name)
        assert (result.ok, result.method) == (True, "proved"), result.report


def test_fallback_to_exact_rational_points_when_proof_is_not_affordable():
    # proof_budget=0: no time to simplify, so only the points are left, and the result says so
    rational = lambda a, b: (a * b / (a + b)).sum() * (a + b).sum()  # noqa: E731
    result = symbolic_check(rational, [(2,), (2,)], domain="positive", proof_budget=0, points=4, seed=0)
    assert result.ok and result.method == "matched at 4 points" and result.proved == 0
    assert result.verdict == "matched at points"
    assert result.exact_points  # a rational function at rational points: exact arithmetic
    assert "agree at 4 random rational points (exactly)" in result.report
    transcendental = lambda a: mg.tanh(mg.exp(a) / (1 + mg.exp(a))).sum()  # noqa: E731
    result = symbolic_check(transcendental, [(2,)], proof_budget=0, seed=0)
    assert result.method == "matched at 3 points" and not result.exact_points
    assert "to 60 digits" in result.report
    # given time, the same functions are proved
    assert symbolic_check(rational, [(2,), (2,)], domain="positive", seed=0).method == "proved"
    assert symbolic_check(transcendental, [(2,)], seed=0).method == "proved"


def test_points_are_deterministic_under_a_seed():
    op = PLANTED["double"][0]
    with planted(op):
        first = symbolic_check(function_of(op), [(2, 3)], domain="nonzero", seed=7).report
        second = symbolic_check(function_of(op), [(2, 3)], domain="nonzero", seed=7).report
        mg.manual_seed(3)
        third = symbolic_check(function_of(op), [(2, 3)], domain="nonzero").report
        mg.manual_seed(3)
        fourth = symbolic_check(function_of(op), [(2, 3)], domain="nonzero").report
    assert first == second and third == fourth


@pytest.mark.parametrize("kind", sorted(PLANTED))
def test_planted_bugs_fail_symbolic_check_naming_op_input_and_index(kind):
    op, shapes, domain, wrong_input, hint = PLANTED[kind]
    with planted(op):
        result = symbolic_check(function_of(op), shapes, domain=domain, seed=0)
    assert not result.ok and result.method == result.verdict == "failed"
    assert [m["input"] for m in result.mismatches] == [wrong_input]
    bad = result.mismatches[0]
    name = "ab"[wrong_input]
    assert f"with respect to input {wrong_input} ('{name}', shape {shapes[wrong_input]})" in result.report
    assert f"Worst at output index {bad['output_index']}, input index {bad['input_index']}" in result.report
    assert bad["engine_value"] != pytest.approx(bad["reference_value"])
    assert hint in result.report
    assert any(c.startswith(f"op '{op.name}'") and f"input {wrong_input}" in c for c in result.culprits)


def test_planted_transpose_report_shows_both_expressions():
    op = PLANTED["transposed"][0]
    with planted(op):
        result = symbolic_check(function_of(op), [(3, 3), (3, 3)], seed=0)
    bad = result.mismatches[0]
    # per output entry (p, q): 3 entries in row p should be set, 3 in column p are; (p, p) agrees
    assert bad["count"] == 9 * 4 and bad["total"] == 81
    assert f"engine      {bad['engine']}" in result.report
    assert f"sympy.diff  {bad['reference']}" in result.report


def test_derive_prints_text_and_latex():
    formula = derive(lambda a: mg.sqrt((a * a).sum()), [(2, 2)], name="n")
    a = formula.inputs[0].data
    norm = sp.sqrt(sum(e**2 for e in a.ravel()))
    assert formula.simplified
    assert sp.simplify(formula.forward - norm) == 0
    assert all(sp.simplify(formula.gradients["a"][i, j] - a[i, j] / norm) == 0 for i in range(2) for j in range(2))
    text = str(formula)
    assert text.startswith("n = sqrt(a_0_0**2 + a_0_1**2 + a_1_0**2 + a_1_1**2)")
    assert "dn/da = Matrix([\n[a_0_0/sqrt(a_0_0**2 + a_0_1**2 + a_1_0**2 + a_1_1**2), a_0_1/sqrt(" in text
    latex = formula._repr_latex_()
    assert latex.startswith("$\\displaystyle \\begin{aligned}")
    assert "\\frac{\\partial n}{\\partial a} &= \\left[\\begin{matrix}" in latex


def test_numeric_check_lambdifies_sympy_diff():
    result = numeric_check(lambda a, b: mg.tanh(a @ b), [(2, 3), (3, 2)], seed=0)
    assert result.ok and result.method == "numeric at 3 points" and result.entries == 3 * (24 + 24)
    op = PLANTED["sign"][0]
    with planted(op):
        result = numeric_check(function_of(op), [(2, 3), (2, 3)], seed=0)
    assert not result.ok and "w.r.t. input 1" in result.report


def test_substitute_evaluates_symbolic_tensors():
    x = mg.symbols("x", (2,))
    y = mg.exp(x) * 2
    np.testing.assert_allclose(substitute(y, {x: [0.0, 1.0]}), [2.0, 2 * np.e])


def test_a_vjp_of_the_wrong_shape_is_a_failed_check_not_an_exception():
    from tests._planted import ForgetsUnbroadcast

    result = symbolic_check(lambda a, b: apply(ForgetsUnbroadcast, a, b), [(2, 2), (1, 2)])
    assert not result.ok and result.method == "failed"
    assert ("forgets_unbroadcast: the VJP returned a gradient of shape (2, 2) for an input "
            "of shape (1, 2)") in result.report
    assert "a broadcast sum is missing" in result.report
    assert result.report.startswith("symbolic_check FAILED for ")


# -- verdicts and the wall-time budget -------------------------------------------------------
def test_each_verdict_sets_ok_only_for_proved_and_matched():
    # engine and sympy.diff write this gradient differently, so the proof has work to do
    quotient = lambda a, b: (a * b / (a + b)).sum() * (a + b).sum()  # noqa: E731
    proved = symbolic_check(quotient, [(2,), (2,)], domain="positive", seed=0)
    matched = symbolic_check(quotient, [(2,), (2,)], domain="positive", seed=0, proof_budget=0)
    not_symbolic = symbolic_check(lambda a: mg.svdvals(a).sum(), [(2, 2)], seed=0)
    with planted(PLANTED["double"][0]):
        failed = symbolic_check(function_of(PLANTED["double"][0]), [(2, 3)], domain="nonzero", seed=0)
    found = [(r.verdict, r.ok) for r in (proved, matched, failed, not_symbolic)]
    assert found == [("proved", True), ("matched at points", True), ("failed", False), ("not checkable", False)]
    assert [r.verdict for r in (proved, matched, failed, not_symbolic)] == list(VERDICTS)
    assert not_symbolic.as_dict()["verdict"] == "not checkable" and not not_symbolic.as_dict()["ok"]


def _two_step_power_iteration(w):
    import norms

    return norms.power_iteration(w, mg.tensor(np.array([0.6, 0.8])), n_iter=2)[0]


def test_the_budget_covers_the_symbolic_run_and_stops_with_a_verdict():
    """Two power-iteration steps on a 2x2 matrix: the engine's symbolic gradient alone takes
    minutes to build and make exact. The budget stops all of it, not only the proofs."""
    started = time.perf_counter()
    result = symbolic_check(_two_step_power_iteration, [(2, 2)], budget=1.5, seed=0, name="power_iteration")
    elapsed = time.perf_counter() - started
    assert elapsed < 1.5 + 1.0, elapsed
    assert (result.ok, result.verdict, result.method) == (False, "not checkable", "too large to prove in 1.5 s")
    assert result.report == ("symbolic_check could not check power_iteration: too large to prove in 1.5 s: "
                             "try a smaller shape (or pass a larger budget=).")


def test_derive_stops_at_its_budget_with_the_same_message():
    started = time.perf_counter()
    with pytest.raises(SymbolicTooLarge, match=r"^derive: sigma: too large to prove in 1 s: try a smaller shape$"):
        derive(_two_step_power_iteration, [(2, 2)], budget=1, name="sigma")
    assert time.perf_counter() - started < 2.0


def test_budget_none_runs_without_a_limit_and_bad_budgets_are_refused():
    result = symbolic_check(lambda a: (a * a).sum(), [(2,)], budget=None, seed=0)
    assert result.verdict == "proved"
    with pytest.raises(ValueError,
                       match=r"symbolic_check: budget must be a number of seconds >= 0 \(or None\), got -1"):
        symbolic_check(lambda a: (a * a).sum(), [(2,)], budget=-1)


def test_an_error_inside_the_function_is_raised_to_the_caller():
    def broken(a):
        raise KeyError("no such weight")

    with pytest.raises(KeyError, match="no such weight"):
        symbolic_check(broken, [(2,)], seed=0)



# -- exact arithmetic: Python floats become the rationals they spell ---------------------------
def test_half_the_squared_mean_is_proved_with_exact_rationals():
    result = symbolic_check(lambda x: 0.5 * x.mean() ** 2, [(3,)], seed=0)
    assert (result.ok, result.verdict) == (True, "proved"), result.report


def test_derive_prints_exact_thirds_and_ninths():
    formula = derive(lambda x: 0.5 * x.mean() ** 2, [(3,)], name="f")
    a = formula.inputs[0].data
    assert all(sp.expand(formula.gradients["a"][j] - sum(a) / 9) == 0 for j in range(3))
    assert "a_0/9" in str(formula) and "1111111111111111" not in str(formula)
    assert not any(isinstance(atom, sp.Float) for g in formula.gradients["a"] for atom in sp.preorder_traversal(g))


def test_float_weights_become_exact_fractions_in_a_derived_gradient():
    weights = mg.tensor([[0.1, 0.2]])
    formula = derive(lambda x: (x * weights).sum() ** 2, [(1, 2)], name="f")
    a = formula.inputs[0].data
    expected = sp.Matrix([[a[0, 0] / 50 + a[0, 1] / 25, a[0, 0] / 25 + 2 * a[0, 1] / 25]])
    assert sp.expand(formula.gradients["a"] - expected) == sp.zeros(1, 2), formula


# -- what the check table makes of the verdicts ------------------------------------------------
def test_a_not_checkable_row_of_the_check_table_passes_on_its_finite_differences():
    entry = checks.CheckEntry(name="svdvals_sum", fn=lambda a: mg.svdvals(a).sum(), shapes=((2, 2),))
    record = checks.run_entry(entry, second_order=False)
    assert (record.symbolic, record.symbolic_ok, record.fd_ok, record.ok) == ("not symbolic", True, True, True)


def test_a_sympy_world_row_too_large_for_its_budget_is_shown_not_failed():
    from minigrad.verification.worlds import cases, check_case

    case = [c for c in cases(REGISTRY["matmul"]) if c.shapes == ((3, 4), (4, 2))][0]
    result = check_case(case, "sympy", budget=0.01)
    assert result.ok and result.details["proof"] == "too large to prove in 0.01 s"


def test_a_budget_that_ends_during_the_points_keeps_the_points_already_matched(monkeypatch):
    """The points after the first are made slow (the worker inherits the patched module):
    the budget ends the check there, and the result says how many points every entry passed."""
    import minigrad.verification.symbolic as symbolic

    calls = {"count": 0}
    agree = symbolic.agree

    def slow_after_the_first_point(engine, reference, point):
        calls["count"] += 1
        if calls["count"] > 4:  # the 4 entries of the first point are quick
            time.sleep(30)
        return agree(engine, reference, point)

    monkeypatch.setattr(symbolic, "agree", slow_after_the_first_point)
    rational = lambda a, b: (a * b / (a + b)).sum() * (a + b).sum()  # noqa: E731
    result = symbolic_check(rational, [(2,), (2,)], domain="positive", budget=3, proof_budget=0, seed=0,
                            name="rational")
    assert (result.ok, result.verdict, result.method, result.points) == (
        True, "matched at points", "matched at 1 point", 1)
    assert result.report.startswith("symbolic_check passed for rational: matched at 1 point (0 of 4 entries simplified "
                                    "to 0; the rest agree at 1 random rational point (exactly); ")
    assert result.report.endswith("; the budget of 3 s ended the check there")


def _check_in_a_pool_worker(_):
    result = symbolic_check(lambda a: (a * a).sum(), [(2,)], budget=20, seed=0)
    return result.verdict


def test_symbolic_check_works_inside_a_daemonic_pool_worker():
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.map(_check_in_a_pool_worker, [0]) == ["proved"]
