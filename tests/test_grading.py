"""The autograder: full marks for the solutions, zero for the student version, and planted
mistakes that each cost exactly their own task, with a report that names the mistake.

Grading runs every task in a sandboxed worker, and the grading process compares the
worker's answers with the instructor's solution. The fixtures grade once per module (a few
seconds on two CPUs) and the tests read the results.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from norms.app import cli
from minigrad.coursework.assignment import load_spec, release
from minigrad.coursework.grading import grade, grade_submissions
from minigrad.coursework.results import as_gradescope, as_json, clean, format_table

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
def solutions_and_student_version(tmp_path_factory):
    """The solutions (graded as a submission) and the released handout, in one run."""
    out = tmp_path_factory.mktemp("student")
    release(ASSIGNMENTS, out)
    started = time.monotonic()
    solutions, student = grade_submissions([ASSIGNMENTS, out], ASSIGNMENTS, timeout=60)
    return solutions, time.monotonic() - started, student


@pytest.fixture(scope="module")
def solutions(solutions_and_student_version):
    return solutions_and_student_version[0]


@pytest.fixture(scope="module")
def student_version(solutions_and_student_version):
    return solutions_and_student_version[2]


# Honest mistakes with misleading symptoms: (name, assignment, solution text, replacement).
MISTAKES = [
    ("system_exit", "hw1_elementwise", "from __future__ import annotations\n",
     "from __future__ import annotations\nraise SystemExit(4)\n"),
    ("ndarray_vjp", "hw1_elementwise", "return (grad * ctx.output,)", "return (grad.data * ctx.output.data,)"),
    ("wrong_shape", "hw2_matmul_reductions", "grad_a = grad @ transpose(b, (1, 0)) if need_a else None",
     "grad_a = (grad @ transpose(b, (1, 0))).sum(axis=0) if need_a else None"),
    ("terminal_escapes", "hw3_frobenius", "return backend.sqrt(squares)",
     'raise ValueError("\\x1b[2J\\x1b[31mred\\x07 \\x1b]0;title\\x07done")'),
]


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """Each plant and mistake is one student's submission (the module only), graded against its
    assignment; the submissions of one assignment share one run (and its reference worker)."""
    root = tmp_path_factory.mktemp("planted")
    groups: dict = {}
    for folder, assignment, right, wrong in [(p[0], p[1], p[3], p[4]) for p in PLANTS] + MISTAKES:
        submission = root / folder
        submission.mkdir(parents=True)
        source = (ASSIGNMENTS / assignment / f"{assignment}.py").read_text()
        assert source.count(right) == 1, f"plant {folder}: the solution line {right!r} changed"
        (submission / f"{assignment}.py").write_text(source.replace(right, wrong))
        groups.setdefault(assignment, []).append(submission)

    def run(item):
        assignment, submissions = item
        timeout = 6 if assignment == "hw5_spectral_norm" else 60  # the infinite loop's run
        return submissions, grade_submissions(submissions, ASSIGNMENTS / assignment, timeout=timeout, jobs=2)

    with ThreadPoolExecutor(max_workers=2) as pool:
        graded = list(pool.map(run, groups.items()))
    return {path.name: {r.id: r for r in results} for paths, all_results in graded
            for path, results in zip(paths, all_results)}


# ---------------------------------------------------------------------------------------
# Solutions and the student version
# ---------------------------------------------------------------------------------------
def test_solutions_get_full_points(solutions):
    assert [(r.assignment, r.id, r.status, r.score, r.summary) for r in solutions if r.status != "passed"] == []
    assert sum(r.score for r in solutions) == sum(POINTS.values()) == 48
    assert len(solutions) == 16
    assert all(r.trusted for r in solutions)
    assert all(r.sandbox[0] == "limits" for r in solutions)
    if os.geteuid() == 0:  # namespaces and a uid of its own for every worker
        assert all("namespaces" in r.sandbox and r.sandbox[-1].startswith("uid ") for r in solutions)


def test_grading_all_six_solutions_takes_under_a_minute(solutions_and_student_version):
    # the solutions and the handouts together (32 task workers and 6 reference workers): an
    # upper bound for the solutions alone, which take about 12 s on two busy CPUs
    assert solutions_and_student_version[1] < 60


def test_every_task_is_compared_with_the_solution(solutions):
    by_id = {r.id: r for r in solutions}
    kinds = {task_id: sorted({c["kind"] for c in r.checks}) for task_id, r in by_id.items()}
    assert kinds == {
        "1.1": ["vjp"], "1.2": ["vjp"], "1.3": ["vjp"], "2.1": ["vjp"], "2.2": ["vjp"], "2.3": ["vjp"],
        "3.1": ["forward"], "3.2": ["vjp"], "4.1": ["forward"], "4.2": ["vjp"], "4.3": ["vjp"],
        "5.1": ["function"], "5.2": ["forward"], "5.3": ["vjp"], "6.1": ["vjp"], "6.2": ["vjp"]}
    # 1.1 is checked on the four broadcasting cases students get wrong, and a hidden one
    assert [c["case"] for c in by_id["1.1"].checks] == [
        "example 1: shapes (3, 4), (3, 4); gradient w.r.t. input(s) 0, 1",
        "example 2: shapes (), (3, 4); gradient w.r.t. input(s) 0, 1",
        "example 3: shapes (1, 4), (3, 1); gradient w.r.t. input(s) 0, 1",
        "example 4: shapes (5, 4, 1), (4, 3); gradient w.r.t. input(s) 0, 1",
        "hidden check 'four-axis broadcast'",
    ]
    assert [c["hidden"] for c in by_id["1.1"].checks] == [False] * 4 + [True]
    # max: four examples and the two tie cases of assignment.json
    assert [c["case"].split(":")[0] for c in by_id["2.3"].checks] == [
        "example 1", "example 2", "example 3", "example 4", "case 1", "case 2"]
    # the tests ran too, and passed
    assert [t["outcome"] for t in by_id["2.3"].tests] == ["passed", "passed"]


def test_solution_table_and_json(solutions):
    table = format_table(solutions, ASSIGNMENTS)
    assert "  5.3   VJP with u, v constant" in table and table.rstrip().endswith(
        "Total: 48/48 points (16 of 16 tasks passed)")
    assert "SELF-CHECK" not in table
    report = as_json(solutions, ASSIGNMENTS)
    assert (report["score"], report["max_score"], report["trusted"]) == (48, 48, True)
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
    # A task whose checks and tests need an earlier task says so, naming both.
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
    tasks = planted[folder]
    assert set(tasks) == {t["id"] for t in load_spec(ASSIGNMENTS / assignment)["tasks"]}
    lost = {i: r.points - r.score for i, r in tasks.items() if r.score < r.points}
    assert lost == {task_id: POINTS[task_id]}, {i: (r.status, r.summary) for i, r in tasks.items()}
    assert all(r.status == "passed" for i, r in tasks.items() if i != task_id)


def _failing(result, kind="vjp") -> list:
    return [c for c in result.checks if c["kind"] == kind and not c["ok"]]


def test_transposed_gradient_is_named(planted):
    result = planted["transposed"]["2.1"]
    assert result.status == "failed"
    failing = {t["name"]: t["message"] for t in result.tests if t["outcome"] == "failed"}
    # square matrices: wrong values, entry by entry; others: the wrong shape
    assert failing["test_matmul_by_hand"] == (
        "AssertionError: grad_b of a@b (square, by hand): 2 of 4 entries wrong "
        "((0, 1): got 2, expected 0; (1, 0): got 0, expected 2)")
    square = [c for c in _failing(result) if "(3, 3), (3, 3)" in c["case"]][0]
    # d out[i,k] / d b[j,l] is a[i,j] when l = k; the transposed VJP gives a[i,l] when j = k: the two
    # differ where exactly one of l = k, j = k holds, 4 of the 9 (j, l) for each of the 9 (i, k)
    assert square["report"].startswith("the gradient of input 1 (shape (3, 3)) differs from the instructor's "
                                       "solution at 36 of 81 Jacobian entries:")
    assert "hint: the gradient is transposed" in square["report"]
    rectangular = [c for c in _failing(result) if "(3, 4), (4, 2)" in c["case"]][0]
    assert rectangular["report"] == "hw2_matmul: gradient shape (2, 4) expected (4, 2) (input 1)"
    table = format_table([result], ".")
    assert "0/4  failed" in table and "test test_matmul_by_hand: AssertionError: grad_b of a@b" in table
    # the table shows the value-comparing report (with its hint) before the shape errors
    assert table.index("hint: the gradient is transposed") < table.index("gradient shape (2, 4) expected (4, 2)")


def test_missing_broadcast_sum_is_named(planted):
    result = planted["no_broadcast_sum"]["1.1"]
    assert result.status == "failed"
    broadcast = [c for c in result.checks if "(1, 4), (3, 1)" in c["case"]][0]
    assert broadcast["report"] == (
        "hw1_mul: gradient shape (3, 4) expected (1, 4) (input 0)\n  hint: the gradient has the output's shape "
        "for a broadcast input: a broadcast sum is missing. Reduce it with unbroadcast(grad, input.shape).")
    # the case without broadcasting still passes; the hidden case fails without showing its inputs
    assert [c["ok"] for c in result.checks] == [True, False, False, False, False]
    assert result.checks[-1]["report"] == ("hidden check 'four-axis broadcast' fails (wrong values; its inputs "
                                           "are not shown)")


def test_wrong_batchnorm_term_is_named(planted):
    result = planted["batchnorm_term"]["6.2"]
    assert result.status == "failed"
    failing = {t["name"]: t["message"] for t in result.tests if t["outcome"] == "failed"}
    assert failing["test_input_grad_sums_to_zero_and_is_orthogonal_to_xhat"].startswith(
        "AssertionError: <grad_x, xhat> per column (the sigma term): 3 of 3 entries wrong")
    assert "sum of grad_x over the batch" not in " ".join(failing.values())  # the mean term is right
    reports = [c["report"] for c in _failing(result) if not c["hidden"]]
    assert len(reports) == 2 and all("differs from the instructor's solution" in r for r in reports)


def test_infinite_loop_costs_its_task_only(planted):
    result = planted["infinite_loop"]["5.1"]
    assert result.status == "timeout"
    assert result.summary == ("stopped after the time limit of 6 s while running test test_one_step_by_hand: "
                              "an infinite loop, or far too slow")
    assert 6 <= result.seconds < 15


def test_exception_is_named(planted):
    result = planted["exception"]["2.2"]
    assert result.status == "failed"
    assert {t["message"] for t in result.tests if t["outcome"] == "failed"} == {"KeyError: 'axes'"}
    assert [t["outcome"] for t in result.tests].count("passed") == 1  # keepdims=True never reads it
    source = (ASSIGNMENTS / "hw2_matmul_reductions" / "hw2_matmul_reductions.py").read_text().splitlines()
    line = source.index("        grad_kept = grad if keepdims else reshape(grad, kept_shape(a.shape, axis))") + 1
    assert {c["report"] for c in _failing(result)} == {f"KeyError: 'axes' (hw2_matmul_reductions.py, line {line})"}


def test_nan_at_zero_is_named(planted):
    result = planted["nan"]["3.2"]
    assert result.status == "failed"
    failing = [t for t in result.tests if t["outcome"] == "failed"]
    assert [t["name"] for t in failing] == [
        "test_zero_subgradient_at_zero[shape0]", "test_zero_subgradient_at_zero[shape1]",
        "test_zero_subgradient_at_zero[shape2]", "test_training_step_through_zero_stays_finite"]
    # away from zero the formula is right; the two zero cases of assignment.json catch the NaN
    assert [c["ok"] for c in result.checks] == [True, True, True, False, False]
    assert "yours = NaN" in result.checks[3]["report"] or "nan" in result.checks[3]["report"]


def test_crash_costs_its_task_only(planted):
    result = planted["crash"]["4.2"]
    assert result.status == "crashed"
    assert result.summary == "the worker process ended while running test test_grad_g_by_hand (exit code 3)"


# ---------------------------------------------------------------------------------------
# Honest mistakes get messages that say what happened
# ---------------------------------------------------------------------------------------
def test_mistakes_at_import_and_in_a_vjp_are_named(planted):
    source = (ASSIGNMENTS / "hw1_elementwise" / "hw1_elementwise.py").read_text().splitlines()
    line = source.index("from __future__ import annotations") + 2  # the line inserted after it
    assert {(r.status, r.summary) for r in planted["system_exit"].values()} == {
        ("error", "your module hw1_elementwise raised SystemExit while importing "
                  f"(hw1_elementwise.py, line {line}): 4")}
    exp = planted["ndarray_vjp"]["1.3"]
    assert exp.status == "failed"
    assert exp.checks[0]["report"].startswith("TypeError: hw1_exp: a VJP must return minigrad tensors, got float64 "
                                              "for input 0")  # the 0-d example: a NumPy scalar
    assert exp.checks[1]["report"].startswith("TypeError: hw1_exp: a VJP must return minigrad tensors, got ndarray "
                                              "for input 0")
    matmul = planted["wrong_shape"]["2.1"]
    assert matmul.checks[0]["report"] == "hw2_matmul: gradient shape (4,) expected (3, 4) (input 0)"


def test_terminal_output_has_no_control_characters(planted):
    table = format_table(list(planted["terminal_escapes"].values()), ".")
    assert "ValueError: hw3_frobenius: red done (inputs of shapes (3, 4))" in table
    assert not any(ord(ch) < 32 and ch not in "\n\t" or 0x7f <= ord(ch) <= 0x9f for ch in table)
    assert clean("a\x1b[1mb\x1b[0m\x00c\u202ed") == "abcd"


# ---------------------------------------------------------------------------------------
# Self-check: a student's handout without the instructor's copy
# ---------------------------------------------------------------------------------------
def test_self_check_compares_with_finite_differences(tmp_path):
    release(ASSIGNMENTS / "hw2_matmul_reductions", tmp_path / "hw2")
    module = tmp_path / "hw2" / "hw2_matmul_reductions.py"
    solution = (ASSIGNMENTS / "hw2_matmul_reductions" / "hw2_matmul_reductions.py").read_text()
    module.write_text(solution.replace("grad_b = transpose(a, (1, 0)) @ grad if need_b else None",
                                       "grad_b = transpose(grad, (1, 0)) @ a if need_b else None"))
    results = {r.id: r for r in grade(tmp_path / "hw2", timeout=30)}
    assert not results["2.1"].trusted and results["2.1"].score == 0
    square = [c for c in _failing(results["2.1"]) if "(3, 3), (3, 3)" in c["case"]][0]
    assert square["report"].startswith("the gradient of input 1 (shape (3, 3)) differs from central finite "
                                       "differences of your forward")
    assert "hint: the gradient is transposed" in square["report"]
    assert (results["2.2"].status, results["2.3"].status) == ("passed", "passed")
    assert "SELF-CHECK" in format_table(list(results.values()), tmp_path)


# ---------------------------------------------------------------------------------------
# The command line and Gradescope's format
# ---------------------------------------------------------------------------------------
def test_cli_grade_json_and_exit_codes(tmp_path, capsys):
    release(ASSIGNMENTS / "hw3_frobenius", tmp_path / "hw3")
    assert cli.main(["grade", str(tmp_path / "hw3"), "--source", str(ASSIGNMENTS / "hw3_frobenius"),
                     "--json", "--timeout", "30"]) == 1
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
    results = grade(tmp_path / "hw3", source=ASSIGNMENTS / "hw3_frobenius", timeout=30)
    assert [(r.id, r.status, r.score) for r in results] == [("3.1", "error", 0), ("3.2", "error", 0)]
    assert results[0].summary == ("your module hw3_frobenius raised SyntaxError while importing "
                                  "(hw3_frobenius.py, line 52): '(' was never closed (hw3_frobenius.py, line 52)")
    # grading leaves the submission as it was: no caches written into it
    assert sorted(p.name for p in (tmp_path / "hw3").iterdir()) == [
        "README.md", "assignment.json", "hw3_frobenius.py", "pytest.ini", "test_hw3_frobenius.py"]


GRADESCOPE_TOP = {"score": (int, float), "execution_time": (int, float), "output": str, "visibility": str,
                  "stdout_visibility": str, "tests": list, "extra_data": dict, "leaderboard": list,
                  "output_format": str}
GRADESCOPE_TEST = {"score": (int, float), "max_score": (int, float), "status": str, "name": str,
                   "name_format": str, "number": str, "output": str, "output_format": str, "tags": list,
                   "visibility": str, "extra_data": dict}
VISIBILITY = {"visible", "hidden", "after_due_date", "after_published"}


def validate_gradescope(results: dict) -> None:
    """Gradescope's results.json: known keys with their types, a score per test or overall."""
    assert set(results) <= set(GRADESCOPE_TOP), set(results) - set(GRADESCOPE_TOP)
    for key, kind in GRADESCOPE_TOP.items():
        assert key not in results or isinstance(results[key], kind), key
    assert "score" in results or all("score" in t for t in results["tests"])
    for key in ("visibility", "stdout_visibility"):
        assert results.get(key, "visible") in VISIBILITY
    for test in results.get("tests", []):
        assert set(test) <= set(GRADESCOPE_TEST), set(test) - set(GRADESCOPE_TEST)
        for key, kind in GRADESCOPE_TEST.items():
            assert key not in test or isinstance(test[key], kind), key
        assert test.get("visibility", "visible") in VISIBILITY
        assert test.get("status", "passed") in {"passed", "failed"}
        assert 0 <= test["score"] <= test["max_score"]


def test_gradescope_autograder_runs_in_a_gradescope_layout(tmp_path):
    archive = tmp_path / "autograder.zip"
    assert cli.main(["assignment", "export", "--gradescope", str(ASSIGNMENTS / "hw1_elementwise"), str(archive)]) == 0
    with zipfile.ZipFile(archive) as opened:
        names = opened.namelist()
        assert {"setup.sh", "run_autograder", "lib/minigrad/coursework/grading.py",
                "assignments/hw1_elementwise/hidden.json"} <= set(names)
        assert (opened.getinfo("run_autograder").external_attr >> 16) & 0o111
    solution = (ASSIGNMENTS / "hw1_elementwise" / "hw1_elementwise.py").read_text()
    partial = solution.replace("grad_a = unbroadcast(grad * b, a.shape) if need_a else None",
                               "grad_a = grad * b if need_a else None")
    crashing = "import os\nos._exit(1)\n"
    runs = {}

    def run_one(item):
        name, text = item
        root = tmp_path / name / "autograder"
        for part in ("source", "submission", "results"):
            (root / part).mkdir(parents=True)
        with zipfile.ZipFile(archive) as opened:
            opened.extractall(root / "source")
        os.chmod(root / "source" / "run_autograder", 0o755)
        (root / "submission" / "hw1_elementwise.py").write_text(text)
        env = dict(os.environ, MINIGRAD_AUTOGRADER_ROOT=str(root), MINIGRAD_PYTHON=sys.executable,
                   MINIGRAD_TASK_SECONDS="30")
        done = subprocess.run([str(root / "source" / "run_autograder")], cwd=root, env=env, capture_output=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        return name, json.loads((root / "results" / "results.json").read_text())

    with ThreadPoolExecutor(max_workers=3) as pool:
        runs = dict(pool.map(run_one, [("correct", solution), ("partial", partial), ("crashing", crashing)]))
    for results in runs.values():
        validate_gradescope(results)
    assert [(t["score"], t["max_score"]) for t in runs["correct"]["tests"]] == [(3, 3), (3, 3), (2, 2)]
    assert runs["correct"]["score"] == 8
    assert [(t["score"], t["status"]) for t in runs["partial"]["tests"]] == [
        (0, "failed"), (3, "passed"), (2, "passed")]
    assert "a broadcast sum is missing" in runs["partial"]["tests"][0]["output"]
    assert runs["crashing"]["score"] == 0
    assert all("the worker process ended while importing the submission (exit code 1)" in t["output"]
               for t in runs["crashing"]["tests"])


def test_the_autograder_entry_point_grades_without_the_application(tmp_path):
    # Gradescope's image has only lib/minigrad: the grader must run with norms unimportable.
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "hw1_elementwise.py").write_text((ASSIGNMENTS / "hw1_elementwise" / "hw1_elementwise.py").read_text())
    code = ("import runpy, sys\n"
            "class NoApplication:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] == 'norms':\n"
            "            raise ImportError('the grader imported ' + name)\n"
            "sys.meta_path.insert(0, NoApplication())\n"
            "sys.argv[0] = 'minigrad.coursework'\n"
            "runpy.run_module('minigrad.coursework', run_name='__main__')\n")
    done = subprocess.run([sys.executable, "-c", code, "grade", str(submission), "--source",
                           str(ASSIGNMENTS / "hw1_elementwise"), "--timeout", "30"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Total: 8/8 points (3 of 3 tasks passed)" in done.stdout


def test_the_autograder_entry_point_takes_the_options_of_minigrad_grade():
    import argparse

    from minigrad.coursework.__main__ import build_parser

    def grade_options(parser):
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        return {a.dest: (tuple(a.option_strings), a.default, getattr(a.type, "__name__", None), a.choices, a.help)
                for a in commands.choices["grade"]._actions}

    assert grade_options(build_parser()) == grade_options(cli.build_parser())


def test_grade_format_gradescope_writes_the_same_json(tmp_path, solutions):
    out = tmp_path / "results.json"
    release(ASSIGNMENTS / "hw3_frobenius", tmp_path / "hw3")
    assert cli.main(["grade", str(tmp_path / "hw3"), "--source", str(ASSIGNMENTS / "hw3_frobenius"),
                     "--format", "gradescope", "--out", str(out)]) == 1
    written = json.loads(out.read_text())
    validate_gradescope(written)
    assert [(t["name"], t["score"], t["max_score"]) for t in written["tests"]] == [
        ("hw3_frobenius task 3.1: Forward: ||A||_F", 0, 2),
        ("hw3_frobenius task 3.2: VJP with the zero subgradient at A = 0", 0, 4)]
    full = as_gradescope(solutions, 1.0)
    validate_gradescope(full)
    assert (full["score"], len(full["tests"])) == (48, 16)


def test_a_submission_folder_is_matched_to_the_instructors_assignment(tmp_path):
    from minigrad.coursework.cases import _match

    spec = load_spec(ASSIGNMENTS / "hw1_elementwise")
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "hw1_elementwise.py").write_text("")
    assert _match(alone, ASSIGNMENTS / "hw1_elementwise", spec) == alone
    nested = tmp_path / "nested"
    for name in ("a_notes", "homework1", "hw1_elementwise"):
        (nested / name).mkdir(parents=True)
    (nested / "homework1" / "hw1_elementwise.py").write_text("")
    assert _match(nested, ASSIGNMENTS / "hw1_elementwise", spec) == nested / "homework1"
    (nested / "hw1_elementwise" / "hw1_elementwise.py").write_text("")  # the namesake comes first
    assert _match(nested, ASSIGNMENTS / "hw1_elementwise", spec) == nested / "hw1_elementwise"
    (tmp_path / "linked").mkdir()
    (tmp_path / "linked" / "hw1_elementwise.py").symlink_to(alone / "hw1_elementwise.py")
    assert _match(tmp_path / "linked", ASSIGNMENTS / "hw1_elementwise", spec) is None
