"""The autograder: full marks for the solutions, zero for the student version, and planted
mistakes that each cost exactly their own task, with a report that names the mistake.

Grading runs every task in its own process, so each fixture grades a whole folder once per
module (a few seconds on two CPUs) and the tests read its results.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from minigrad import cli
from minigrad.assignment import load_spec, release
from minigrad.grading import as_json, format_table, grade

ASSIGNMENTS = Path(__file__).resolve().parent.parent / "tutorials" / "assignments"
POINTS = {t["id"]: t["points"] for p in ASSIGNMENTS.glob("*/assignment.json") for t in load_spec(p.parent)["tasks"]}

# Each plant: (folder name, assignment, task it breaks, solution line, wrong line).
PLANTS = [
    ("transposed", "hw2_matmul_reductions", "2.1",
     "grad_b = transpose(a, (1, 0)) @ grad if need_b else None",
     "grad_b = transpose(grad, (1, 0)) @ a if need_b else None"),
    ("no_broadcast_sum", "hw1_elementwise", "1.1",
     "grad_a = unbroadcast(grad * b, a.shape) if need_a else None",
     "grad_a = grad * b if need_a else None"),
    ("batchnorm_term", "hw6_batch_norm", "6.2",
     "through_sigma = xhat * sum_(grad * xhat, axis=0, keepdims=True)",
     "through_sigma = xhat * sum_(grad, axis=0, keepdims=True)"),
    ("infinite_loop", "hw5_spectral_norm", "5.1",
     "for _ in range(n_iterations):",
     "while True:"),
    ("exception", "hw2_matmul_reductions", "2.2",
     "grad_kept = grad if keepdims else reshape(grad, kept_shape(a.shape, axis))",
     "grad_kept = grad if keepdims else reshape(grad, kept_shape(a.shape, ctx.attrs[\"axes\"]))"),
    ("nan", "hw3_frobenius", "3.2",
     "if is_exact_zero(norm.data):",
     "if False:  # the zero case, forgotten"),
    ("crash", "hw4_weight_norm", "4.2",
     "along_v = sum_(grad_w * v, axis=1, keepdims=True)",
     "import os; os._exit(3)"),
]


def _by_task(results, folder: str) -> dict:
    return {r.id: r for r in results if r.assignment == folder}


@pytest.fixture(scope="module")
def solutions():
    return grade(ASSIGNMENTS, timeout=60)


@pytest.fixture(scope="module")
def student_version(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    release(ASSIGNMENTS, out)
    return grade(out, timeout=60)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = tmp_path_factory.mktemp("planted")
    for folder, assignment, _, right, wrong in PLANTS:
        shutil.copytree(ASSIGNMENTS / assignment, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
        module = root / folder / f"{assignment}.py"
        source = module.read_text()
        assert source.count(right) == 1, f"plant {folder}: the solution line {right!r} changed"
        module.write_text(source.replace(right, wrong))
    return grade(root, timeout=6)


# ---------------------------------------------------------------------------------------
# Solutions and the student version
# ---------------------------------------------------------------------------------------
def test_solutions_get_full_points(solutions):
    assert [(r.assignment, r.id, r.status, r.score) for r in solutions if r.status != "passed"] == []
    assert sum(r.score for r in solutions) == sum(POINTS.values()) == 48
    assert len(solutions) == 16


def test_every_vjp_is_gradchecked_and_proved_symbolically(solutions):
    by_id = {r.id: r for r in solutions}
    for task_id in ("1.1", "1.2", "1.3", "2.1", "2.2", "3.2", "4.2", "4.3", "5.3", "6.1", "6.2"):
        kinds = [c["kind"] for c in by_id[task_id].checks]
        assert "gradcheck" in kinds and "symbolic_check" in kinds, task_id
        assert all(c["ok"] for c in by_id[task_id].checks), task_id
        assert [c["method"] for c in by_id[task_id].checks if c["kind"] == "symbolic_check"] == ["proved"], task_id
    # max has no SymPy form: finite differences only, on each of its four examples
    assert [c["kind"] for c in by_id["2.3"].checks] == ["gradcheck"] * 4
    # 1.1 is checked on the four broadcasting cases students get wrong
    assert [c["case"] for c in by_id["1.1"].checks if c["kind"] == "gradcheck"] == [
        "example 1: shapes (3, 4), (3, 4); gradient w.r.t. input(s) 0, 1",
        "example 2: shapes (), (3, 4); gradient w.r.t. input(s) 0, 1",
        "example 3: shapes (1, 4), (3, 1); gradient w.r.t. input(s) 0, 1",
        "example 4: shapes (5, 4, 1), (4, 3); gradient w.r.t. input(s) 0, 1",
    ]


def test_solution_table_and_json(solutions):
    table = format_table(solutions, ASSIGNMENTS)
    assert "  5.3   VJP with u, v constant" in table and table.rstrip().endswith(
        "Total: 48/48 points (16 of 16 tasks passed)")
    report = as_json(solutions, ASSIGNMENTS)
    assert (report["score"], report["max_score"]) == (48, 48)
    assert [(a["name"], a["score"], a["max_score"]) for a in report["assignments"]] == [
        ("hw1_elementwise", 8, 8), ("hw2_matmul_reductions", 10, 10), ("hw3_frobenius", 6, 6),
        ("hw4_weight_norm", 8, 8), ("hw5_spectral_norm", 9, 9), ("hw6_batch_norm", 7, 7)]
    json.dumps(report)  # an LMS reads it: it must serialise


def test_student_version_gets_zero_with_not_implemented_per_task(student_version):
    assert len(student_version) == 16
    for r in student_version:
        assert (r.score, r.status) == (0, "not implemented"), (r.id, r.status, r.summary)
    by_id = {r.id: r.summary for r in student_version}
    assert by_id["1.1"] == ("not implemented: Task 1.1: the VJP of a * b: return (grad_a, grad_b), "
                            "each of its input's shape")
    # A task whose tests need an earlier task says so, naming both.
    assert by_id["3.2"] == ("not implemented: needs Task 3.1 first (Task 3.1: the forward: return "
                            "sqrt(sum of a^2) as a 0-d array (use backend.sqrt))")
    assert by_id["4.2"] == "not implemented: Task 4.2: grad_g, of shape (out, 1) (its tests also need Task 4.1)"
    assert by_id["5.3"].startswith("not implemented: needs Task 5.2 first (Task 5.2: the forward")
    own = [i for i, summary in by_id.items() if summary.startswith(f"not implemented: Task {i}: ")]
    assert own == ["1.1", "1.2", "1.3", "2.1", "2.2", "2.3", "3.1", "4.1", "4.2", "4.3", "5.1", "5.2",
                   "6.1", "6.2"]
    table = format_table(student_version, ".")
    assert "Total: 0/48 points (0 of 16 tasks passed)" in table
    assert table.count("not implemented: ") == 16


# ---------------------------------------------------------------------------------------
# Planted mistakes: each costs exactly its task
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("folder, assignment, task_id", [(p[0], p[1], p[2]) for p in PLANTS])
def test_a_planted_mistake_costs_exactly_its_task(planted, folder, assignment, task_id):
    tasks = _by_task(planted, folder)
    assert set(tasks) == {t["id"] for t in load_spec(ASSIGNMENTS / assignment)["tasks"]}
    lost = {i: r.points - r.score for i, r in tasks.items() if r.score < r.points}
    assert lost == {task_id: POINTS[task_id]}, {i: (r.status, r.summary) for i, r in tasks.items()}
    assert all(r.status == "passed" for i, r in tasks.items() if i != task_id)


def _report(planted, folder: str, task_id: str) -> str:
    result = _by_task(planted, folder)[task_id]
    table = format_table([result], ".")
    return table


def test_transposed_gradient_is_named(planted):
    result = _by_task(planted, "transposed")["2.1"]
    assert result.status == "failed"
    failing = {t["name"]: t["message"] for t in result.tests if t["outcome"] == "failed"}
    # square matrices: wrong values, entry by entry; others: the wrong shape
    assert failing["test_matmul_by_hand"] == (
        "AssertionError: grad_b of a@b (square, by hand): 2 of 4 entries wrong "
        "((0, 1): got 2, expected 0; (1, 0): got 0, expected 2)")
    assert "hw2_matmul: the VJP returned a gradient of shape (2, 4) for an input of shape (4, 2)" in \
        failing["test_matmul_shapes_and_values[3-4-2]"]
    square = [c for c in result.checks if c["kind"] == "gradcheck" and "(3, 3), (3, 3)" in c["case"]][0]
    assert not square["ok"] and "Jacobian mismatch" in square["report"]
    assert "hint: the gradient is transposed" in square["report"]
    table = _report(planted, "transposed", "2.1")
    assert "0/4  failed" in table and "test test_matmul_by_hand: AssertionError: grad_b of a@b" in table
    # the table shows the value-comparing report (with its hint) before the shape errors
    assert table.index("hint: the gradient is transposed") < table.index("The backward pass raised an error")


def test_missing_broadcast_sum_is_named(planted):
    result = _by_task(planted, "no_broadcast_sum")["1.1"]
    assert result.status == "failed"
    messages = " ".join(t["message"] for t in result.tests)
    assert ("hw1_mul: the VJP returned a gradient of shape (3, 4) for an input of shape (1, 4); every "
            "gradient must have its input's shape (reduce broadcast axes with unbroadcast)") in messages
    broadcast = [c for c in result.checks if "(1, 4), (3, 1)" in c["case"] and c["kind"] == "gradcheck"][0]
    assert not broadcast["ok"] and "a broadcast sum is missing" in broadcast["report"]
    # the cases without broadcasting still pass: the report points at the broadcast ones
    assert [c["ok"] for c in result.checks if c["kind"] == "gradcheck"] == [True, False, False, False]


def test_wrong_batchnorm_term_is_named(planted):
    result = _by_task(planted, "batchnorm_term")["6.2"]
    assert result.status == "failed"
    failing = {t["name"]: t["message"] for t in result.tests if t["outcome"] == "failed"}
    assert failing["test_input_grad_through_backward[shape0]"].startswith(
        "AssertionError: grad_x of batch norm (5, 3): 15 of 15 entries wrong ((0, 0): got")
    assert failing["test_input_grad_sums_to_zero_and_is_orthogonal_to_xhat"].startswith(
        "AssertionError: <grad_x, xhat> per column (the sigma term): 3 of 3 entries wrong")
    assert "sum of grad_x over the batch" not in " ".join(failing.values())  # the mean term is right
    kinds = {c["kind"]: c for c in result.checks if not c["ok"]}
    assert "Jacobian mismatch" in kinds["gradcheck"]["report"]
    assert "symbolic_check FAILED for hw6_batch_norm" in kinds["symbolic_check"]["report"]


def test_infinite_loop_costs_its_task_only(planted):
    result = _by_task(planted, "infinite_loop")["5.1"]
    assert result.status == "timeout"
    assert result.summary == ("stopped after the time limit of 6 s while running test test_one_step_by_hand: "
                              "an infinite loop, or far too slow")
    assert 6 <= result.seconds < 20


def test_exception_is_named(planted):
    result = _by_task(planted, "exception")["2.2"]
    assert result.status == "failed"
    assert {t["message"] for t in result.tests if t["outcome"] == "failed"} == {"KeyError: 'axes'"}
    assert [t["outcome"] for t in result.tests].count("passed") == 1  # keepdims=True never reads it
    assert all(c["report"] == "KeyError: 'axes'" or "KeyError: 'axes'" in c["report"]
               for c in result.checks if not c["ok"])


def test_nan_at_zero_is_named(planted):
    result = _by_task(planted, "nan")["3.2"]
    assert result.status == "failed"
    failing = [t for t in result.tests if t["outcome"] == "failed"]
    assert [t["name"] for t in failing] == [
        "test_zero_subgradient_at_zero[shape0]", "test_zero_subgradient_at_zero[shape1]",
        "test_zero_subgradient_at_zero[shape2]", "test_training_step_through_zero_stays_finite"]
    assert failing[0]["message"].startswith(
        "AssertionError: the gradient at A = 0 (shape (3, 4)) contains NaN or Inf: [nan nan nan nan]")
    assert "got nan, expected 1" in failing[3]["message"]
    # away from zero the formula is right, so finite differences and SymPy agree with it
    assert all(c["ok"] for c in result.checks)


def test_crash_costs_its_task_only(planted):
    result = _by_task(planted, "crash")["4.2"]
    assert result.status == "crashed"
    assert result.summary.startswith("the task's process ended without finishing (exit code 3)")


# ---------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------
def test_cli_grade_json_and_exit_codes(tmp_path, capsys):
    release(ASSIGNMENTS / "hw3_frobenius", tmp_path / "hw3")
    assert cli.main(["grade", str(tmp_path / "hw3"), "--json", "--timeout", "30"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["score"], report["max_score"]) == (0, 6)
    assert [(t["id"], t["status"], t["score"], t["points"]) for t in report["assignments"][0]["tasks"]] == [
        ("3.1", "not implemented", 0, 2), ("3.2", "not implemented", 0, 4)]
    (tmp_path / "empty").mkdir()
    assert cli.main(["grade", str(tmp_path / "empty")]) == 2
    assert "has no assignment.json" in capsys.readouterr().err


def test_a_syntax_error_is_reported_with_file_and_line(tmp_path):
    release(ASSIGNMENTS / "hw3_frobenius", tmp_path / "hw3")
    module = tmp_path / "hw3" / "hw3_frobenius.py"
    module.write_text(module.read_text().replace('        raise NotImplementedError("Task 3.1',
                                                 '        return (((\n        raise NotImplementedError("Task 3.1'))
    results = grade(tmp_path / "hw3", timeout=30)
    assert [(r.id, r.status, r.score) for r in results] == [("3.1", "error", 0), ("3.2", "error", 0)]
    assert results[0].summary == (f'the tests could not be collected: File "{module}", line 52 | return ((( | '
                                  f"SyntaxError: '(' was never closed")
    # grading leaves the submission as it was: no caches written into it
    assert sorted(p.name for p in (tmp_path / "hw3").iterdir()) == [
        "README.md", "assignment.json", "hw3_frobenius.py", "test_hw3_frobenius.py"]
