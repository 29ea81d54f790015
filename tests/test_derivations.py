"""norms.derivations: every closed form is proved equal to sympy.diff, a planted wrong one is
not, and each closed form agrees with the engine's fused VJP (and, for the singular-value
norms, with NumPy's SVD) at a point. ``minigrad derive NAME`` prints the engine's gradient
beside the textbook form and proves them equal; bad input is one line on stderr."""
import math
import re

import numpy as np
import pytest
import sympy as sp

import minigrad as mg
import norms
from norms.app.cli import main as cli_main
from minigrad.verification import (
    derivations as textbook_entries, derive_textbook, register_derivation, unregister_derivation,
)
from norms import derivations

FUNCTIONAL = ["frobenius", "vector_2", "vector_1", "vector_p", "vector_p_any", "vector_inf", "normalize",
              "matrix_1", "matrix_inf", "nuclear", "matrix_2", "matrix_-2", "power_iteration"]


@pytest.mark.parametrize("name", list(derivations.DERIVATIONS))
def test_closed_form_is_proved_equal_to_sympy_diff(name):
    entry = derivations.derivation(name)
    assert len(entry.closed_form) == len(entry.variables) >= 3
    assert entry.proved(), f"{name}: {[sp.simplify(d) for d in entry.differences()]}"
    assert derivations.prove(name)


@pytest.mark.parametrize("name", list(derivations.DERIVATIONS))
def test_each_derivation_prints_as_latex_and_text(name):
    entry = derivations.derivation(name)
    latex = entry.latex()
    assert latex.count("\\") >= 2 and latex.count("{") == latex.count("}")
    assert entry._repr_latex_() == f"$${latex}$$"
    text = str(entry)
    assert text.startswith(f"{name}: {entry.statement}") and entry.reference in text
    assert ("[on " in text) == bool(entry.region)


def _planted(entry, closed):
    return derivations.Derivation(entry.name, "planted", entry.forward, entry.variables, closed, "planted",
                                  entry.region, entry.region_note)


@pytest.mark.parametrize("name", FUNCTIONAL)
def test_a_closed_form_off_by_a_factor_two_is_not_proved(name):
    entry = derivations.derivation(name)
    assert not _planted(entry, [2 * c for c in entry.closed_form]).proved()


def test_the_constant_u_v_gradient_is_not_the_gradient_through_power_iteration():
    """u v^T alone (PyTorch's default, u and v detached) differs from the gradient that
    flows through the iteration: the second term of the closed form is needed."""
    entry = derivations.derivation("power_iteration")
    w = sp.Matrix(2, 2, entry.variables)
    u0 = sp.Matrix([sp.Rational(3, 5), sp.Rational(4, 5)])
    a, b = w.T * u0, w * (w.T * u0)
    u, v = b / sp.sqrt((b.T * b)[0]), a / sp.sqrt((a.T * a)[0])
    assert not _planted(entry, list(u * v.T)).proved()


def test_the_1_norm_gradient_on_the_wrong_column_is_not_proved():
    entry = derivations.derivation("matrix_1")
    closed = sp.Matrix(2, 2, entry.closed_form)
    assert not _planted(entry, list(closed[:, ::-1])).proved()


def test_a_transposed_spectral_gradient_is_not_proved():
    entry = derivations.derivation("matrix_2")
    assert not _planted(entry, list(sp.Matrix(2, 2, entry.closed_form).T)).proved()


def test_unknown_derivation_names_the_choices():
    with pytest.raises(KeyError, match="derivation: unknown norm 'spectrum'; choose one of frobenius, vector_2"):
        derivations.derivation("spectrum")


def test_is_zero_accepts_zero_and_rejects_a_non_zero():
    x = sp.Symbol("x", positive=True)
    assert derivations.is_zero(sp.sqrt(x) ** 2 / x - 1)
    assert not derivations.is_zero(sp.sqrt(x) - x)


# -- closed form = engine's fused VJP (and = NumPy's SVD) at a point -------------------------
def _at(expressions, variables, values):
    """The closed form evaluated at float ``values`` (one per variable)."""
    point = dict(zip(variables, values))
    return np.array([float(sp.N(sp.sympify(e).subs(point))) for e in expressions])


def _engine_grad(fn, data):
    x = mg.tensor(data, requires_grad=True)
    fn(x).backward()
    return x.grad.data.ravel()


VECTOR_POINT = np.array([0.7, -1.9, 1.3])


@pytest.mark.parametrize("name, fn", [
    ("vector_2", lambda x: norms.vector_norm(x, 2)),
    ("vector_1", lambda x: norms.vector_norm(x, 1)),
    ("vector_p", lambda x: norms.vector_norm(x, 3)),
    ("vector_inf", lambda x: norms.vector_norm(x, math.inf)),
])
def test_vector_closed_forms_equal_the_fused_vjp(name, fn):
    entry = derivations.derivation(name)
    # the inf-norm's closed form is stated on its region |x_0| > |x_1| > |x_2|
    point = np.array([-2.5, 1.0, -0.3]) if name == "vector_inf" else VECTOR_POINT
    closed = _at(entry.closed_form, entry.variables, point)
    np.testing.assert_allclose(closed, _engine_grad(fn, point), rtol=1e-13)
    forward = float(entry.forward.subs(dict(zip(entry.variables, point))))
    assert forward == pytest.approx(fn(mg.tensor(point)).item(), rel=1e-14)


def test_vector_p_for_symbolic_p_equals_the_fused_vjp_at_p_2_5():
    entry = derivations.derivation("vector_p_any")
    closed = [c.subs(sp.Symbol("p", positive=True), sp.Rational(5, 2)) for c in entry.closed_form]
    np.testing.assert_allclose(_at(closed, entry.variables, VECTOR_POINT),
                               _engine_grad(lambda x: norms.vector_norm(x, 2.5), VECTOR_POINT), rtol=1e-13)


def test_frobenius_and_normalize_closed_forms_equal_the_fused_vjp():
    entry = derivations.derivation("frobenius")
    data = np.array([[0.3, -1.2, 2.0], [0.5, 0.9, -0.4]])
    np.testing.assert_allclose(_at(entry.closed_form, entry.variables, data.ravel()),
                               _engine_grad(norms.frobenius_norm, data), rtol=1e-13)
    entry = derivations.derivation("normalize")
    cotangent = np.array([0.2, -0.7, 1.1])
    values = np.concatenate([VECTOR_POINT, cotangent])
    variables = entry.variables + [sp.Symbol(f"G_{i}", real=True) for i in range(3)]
    closed = _at(entry.closed_form, variables, values)
    engine = _engine_grad(lambda x: (norms.normalize(x, axis=0) * mg.tensor(cotangent)).sum(), VECTOR_POINT)
    np.testing.assert_allclose(closed, engine, rtol=1e-13)


MATRIX_POINT = np.array([[1.3, -0.4], [0.6, 2.1]])  # det > 0, distinct singular values


@pytest.mark.parametrize("name, ord", [("matrix_1", 1), ("matrix_inf", math.inf), ("nuclear", "nuc"),
                                       ("matrix_2", 2), ("matrix_-2", -2)])
def test_matrix_closed_forms_equal_the_fused_vjp(name, ord):
    entry = derivations.derivation(name)
    # the 1- and inf-norm closed forms are stated on the region where column / row 0 wins
    data = MATRIX_POINT if name not in ("matrix_1", "matrix_inf") else np.array([[-2.5, 0.4], [0.6, -0.3]])
    closed = _at(entry.closed_form, entry.variables, data.ravel())
    np.testing.assert_allclose(closed, _engine_grad(lambda x: norms.matrix_norm(x, ord), data), rtol=1e-13)
    forward = float(entry.forward.subs(dict(zip(entry.variables, data.ravel()))))
    assert forward == pytest.approx(np.linalg.norm(data, ord), rel=1e-14)


@pytest.mark.parametrize("data", [MATRIX_POINT, np.array([[0.2, 1.5], [1.1, -0.7]])], ids=["det>0", "det<0"])
def test_the_2x2_closed_forms_are_the_svd_textbook_forms(data):
    """(A + sign(det A) cof A)/||A||_* is U V^T, and A P / sigma_1 is u_1 v_1^T."""
    left, _, right = np.linalg.svd(data)
    flat = data.ravel()
    nuclear = derivations.derivation("nuclear")
    np.testing.assert_allclose(_at(nuclear.closed_form, nuclear.variables, flat), (left @ right).ravel(), rtol=1e-13)
    top = derivations.derivation("matrix_2")
    np.testing.assert_allclose(_at(top.closed_form, top.variables, flat), np.outer(left[:, 0], right[0]).ravel(),
                               rtol=1e-12, atol=1e-15)
    bottom = derivations.derivation("matrix_-2")
    np.testing.assert_allclose(_at(bottom.closed_form, bottom.variables, flat), np.outer(left[:, 1], right[1]).ravel(),
                               rtol=1e-12, atol=1e-15)


def test_power_iteration_closed_form_equals_the_engines_gradient_through_the_iteration():
    entry = derivations.derivation("power_iteration")
    closed = _at(entry.closed_form, entry.variables, MATRIX_POINT.ravel())
    engine = _engine_grad(lambda w: norms.power_iteration(w, mg.tensor([0.6, 0.8]), n_iter=1)[0], MATRIX_POINT)
    np.testing.assert_allclose(closed, engine, rtol=1e-13)
    with mg.no_grad():  # PyTorch's convention: u and v constants, gradient u v^T only
        _, u, v = norms.power_iteration(mg.tensor(MATRIX_POINT), mg.tensor([0.6, 0.8]), n_iter=1)
    assert np.abs(closed - np.outer(u.data, v.data).ravel()).max() > 1e-2


# -- minigrad derive: the engine's gradient beside the textbook's, proved equal ----------------

EVERY_NORM = {"frobenius", "spectral", "sigma-min", "nuclear", "vector-2", "vector-1", "vector-p", "vector-inf",
              "matrix-1", "matrix-inf", "normalize", "power-iteration", "spectral-normalize", "weight-norm",
              "layer-norm", "rms-norm", "pixel-norm", "batch-norm"}


def test_derive_knows_every_norm():
    assert set(textbook_entries()) >= EVERY_NORM


@pytest.mark.parametrize("name", ["frobenius", "spectral", "weight-norm", "layer-norm", "rms-norm", "pixel-norm",
                                  "batch-norm", "normalize", "vector-1", "spectral-normalize"])
def test_engine_gradient_is_proved_equal_to_the_textbook_form(name):
    result = derive_textbook(name, budget=30)
    assert result.ok and set(result.verdicts.values()) == {"proved"}, result.text()
    assert set(result.verdicts) == set(result.entry.names) == set(result.textbook)
    assert f"{name}: {result.entry.statement}" in result.text()


def _numbers(matrix, point):
    return np.array(sp.Matrix(matrix).subs(point).evalf(30).tolist(), dtype=float)


def test_the_spectral_textbook_form_is_u1_v1_transposed_of_numpys_svd():
    result = derive_textbook("spectral", budget=30)
    values = np.array([[1.3, -0.4], [0.6, 2.1]])
    point = dict(zip(result.inputs[0].data.ravel(), map(sp.Rational, ["1.3", "-0.4", "0.6", "2.1"])))
    left, _, right = np.linalg.svd(values)
    np.testing.assert_allclose(_numbers(result.textbook["W"], point), np.outer(left[:, 0], right[0]), rtol=1e-13)
    np.testing.assert_allclose(_numbers(result.engine["W"], point), np.outer(left[:, 0], right[0]), rtol=1e-13)


def test_the_weight_norm_textbook_form_is_the_projection_of_grad_w():
    """(g/||v||) (I - v v^T/||v||^2) G: perpendicular to v, and of length g/||v|| times G's part off v."""
    result = derive_textbook("weight-norm", [(1, 1), (1, 3)], budget=60)
    g, v = result.inputs[0].data, result.inputs[1].data
    cotangent = [sp.Symbol(f"G_0_{j}", real=True) for j in range(3)]
    point = {g[0, 0]: sp.Rational(3, 2), **dict(zip(v.ravel(), [1, -2, 2])), **dict(zip(cotangent, [4, 1, -1]))}
    grad_v = _numbers(result.textbook["v"], point).ravel()
    assert abs(grad_v @ np.array([1.0, -2.0, 2.0])) < 1e-14  # projected off v
    off_v = np.array([4.0, 1.0, -1.0]) - (4 - 2 - 2) / 9 * np.array([1.0, -2.0, 2.0])
    np.testing.assert_allclose(grad_v, 1.5 / 3 * off_v, rtol=1e-14)
    assert _numbers(result.textbook["g"], point).ravel() == pytest.approx([(4 - 2 - 2) / 3])


def test_a_wrong_closed_form_is_reported_as_differing():
    register_derivation("frobenius-doubled", norms.frobenius_norm, [(2, 2)], names=["W"],
                        statement="planted: 2 W/||W||", reference="planted",
                        closed_form=lambda w: [2 * w / sp.sqrt((w * w).sum())])
    try:
        result = derive_textbook("frobenius-doubled", budget=30)
        assert not result.ok and result.verdicts == {"W": "differs"}
        assert "differs: df/dW (the engine's gradient and the closed form disagree)" in result.text()
        assert re.search(r"at W_0_0 = \S+, .*: engine -?[\d.]+, textbook -?[\d.]+", result.mismatch)
    finally:
        unregister_derivation("frobenius-doubled")
    assert "frobenius-doubled" not in textbook_entries()


def test_max_type_norms_state_their_closed_form_and_its_proof_without_an_engine_formula():
    result = derive_textbook("vector-inf", budget=30)
    assert result.derivation_proved is True and result.ok
    if not result.engine:  # the engine's max has no symbolic form: said, not hidden
        assert "engine: no symbolic form" in result.text()


# -- the command line ----------------------------------------------------------------------------
def _derive(capsys, *argv):
    code = cli_main(["derive", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", ["spectral", "frobenius", "weight-norm"])
def test_the_helps_own_examples_work(capsys, name):
    code, out, err = _derive(capsys, name)
    assert (code, err) == (0, "")
    assert "engine    df/d" in out and "textbook  df/d" in out and "proved: df/d" in out


def test_one_shape_per_input_in_order(capsys):
    code, out, _ = _derive(capsys, "weight-norm", "--shape", "1x1", "--shape", "1x2")
    assert code == 0 and "inputs: g 1x1, v 1x2" in out
    code, out, _ = _derive(capsys, "mul", "--shape", "2", "--shape", "2")
    assert code == 0 and "dmul/da = Matrix([\n[b_0,   0],\n[  0, b_1]])" in out


@pytest.mark.parametrize("argv, message", [
    (["nosuchnorm"], "minigrad derive: no norm or function named 'nosuchnorm'; norms: batch-norm, frobenius,"),
    (["frobenius", "--shape", "2xa"], "minigrad derive: --shape '2xa' is not a shape; write sizes >= 1 joined by x"),
    (["frobenius", "--shape", "0x2"], "minigrad derive: --shape '0x2' is not a shape"),
    (["weight-norm", "--shape", "2x1"], "minigrad derive: weight-norm takes 2 input(s) (g, v), got 1 shape(s)"),
    (["frobenius", "--shape", "2", "--shape", "2"], "minigrad derive: frobenius takes 1 input(s) (W), got 2 shape(s)"),
    (["mul", "--shape", "2"], "minigrad derive: mul takes 2 input(s), got 1 --shape; give one --shape per input"),
    (["spectral", "--shape", "3x3"], "minigrad derive: spectral: this closed form is written for --shape 2x2"),
    (["frobenius", "--budget", "-1"], "minigrad derive: --budget must be a number of seconds > 0, got -1.0"),
])
def test_bad_input_is_one_line_on_stderr_with_exit_2(capsys, argv, message):
    code, out, err = _derive(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith(message) and err.count("\n") == 1 and "Traceback" not in err


def test_a_derivation_too_large_for_its_budget_says_so(capsys):
    code, out, err = _derive(capsys, "softmax", "--shape", "30x30", "--budget", "1")
    assert (code, out) == (1, "")
    assert err == "minigrad derive: softmax: too large to prove in 1 s: try a smaller shape\n"


def test_latex_shows_engine_and_textbook_rows(capsys):
    code, out, _ = _derive(capsys, "frobenius", "--latex")
    assert code == 0 and out.startswith(r"\begin{aligned}f &= \sqrt{W_{0 0}^{2} + W_{0 1}^{2}")
    assert r"\text{engine: } \frac{\partial f}{\partial W} &= \left[\begin{matrix}\frac{W_{0 0}}{\sqrt{" in out
    assert r"\\ \text{textbook: } \frac{\partial f}{\partial W} &= \left[" in out and out.endswith("\\end{aligned}\n")
    result = derive_textbook("vector-inf", budget=30)
    if not result.engine:  # no engine formula: the closed form's own LaTeX
        assert result.latex() == derivations.derivation("vector_inf").latex()
