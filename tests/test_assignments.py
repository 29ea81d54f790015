"""The coursework release: solution markers, the student version, reproducibility, no leaks.

``minigrad assignment release SOURCE OUT`` turns each ``# BEGIN SOLUTION`` ... ``# END
SOLUTION`` region into ``raise NotImplementedError("Task n.m: ...")``. These tests release
the six assignments of tutorials/assignments and read the result back.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from norms.app import cli
from minigrad.coursework.assignment import AssignmentError, load_hidden, load_spec, release, strip_solutions

ASSIGNMENTS = Path(__file__).resolve().parent.parent / "tutorials" / "assignments"
NAMES = sorted(p.parent.name for p in ASSIGNMENTS.glob("*/assignment.json"))


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("released")
    release(ASSIGNMENTS, out)
    return out


def _files(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_six_assignments_with_tasks_and_points():
    assert NAMES == ["hw1_elementwise", "hw2_matmul_reductions", "hw3_frobenius", "hw4_weight_norm",
                     "hw5_spectral_norm", "hw6_batch_norm"]
    tasks = {name: [t["id"] for t in load_spec(ASSIGNMENTS / name)["tasks"]] for name in NAMES}
    assert tasks == {
        "hw1_elementwise": ["1.1", "1.2", "1.3"], "hw2_matmul_reductions": ["2.1", "2.2", "2.3"],
        "hw3_frobenius": ["3.1", "3.2"], "hw4_weight_norm": ["4.1", "4.2", "4.3"],
        "hw5_spectral_norm": ["5.1", "5.2", "5.3"], "hw6_batch_norm": ["6.1", "6.2"],
    }
    assert sum(t["points"] for name in NAMES for t in load_spec(ASSIGNMENTS / name)["tasks"]) == 48


def test_every_task_has_marked_tests():
    for name in NAMES:
        source = (ASSIGNMENTS / name / f"test_{name}.py").read_text()
        marked = set(re.findall(r"@pytest\.mark\.task\((\d+), (\d+)\)", source))
        assert marked == {tuple(t["id"].split(".")) for t in load_spec(ASSIGNMENTS / name)["tasks"]}, name


def test_release_writes_module_tests_spec_and_readme(released):
    for name in NAMES:
        assert sorted(_files(released / name)) == sorted(
            ["README.md", "assignment.json", f"{name}.py", "pytest.ini", f"test_{name}.py"]), name
        # tests and the spec are copied byte for byte
        for copied in ("assignment.json", f"test_{name}.py"):
            assert (released / name / copied).read_bytes() == (ASSIGNMENTS / name / copied).read_bytes()


def test_release_twice_gives_identical_bytes(tmp_path):
    release(ASSIGNMENTS, tmp_path / "first")
    release(ASSIGNMENTS, tmp_path / "second")
    first, second = _files(tmp_path / "first"), _files(tmp_path / "second")
    assert len(first) == 30
    assert first == second


def _solution_lines(source: Path) -> list:
    """Every non-trivial line inside a solution region (stripped)."""
    _, regions = strip_solutions(source.read_text(), source.name)
    lines = [line.strip() for region in regions for line in region.lines]
    # trivial: blank, or punctuation only, or too short to identify (")", "else:")
    return [line for line in lines if len(line) >= 8 and re.search(r"[A-Za-z]", line)]


def test_no_solution_line_leaks_into_the_student_version(released):
    checked = 0
    for name in NAMES:
        student_lines = set()
        for path in (released / name).rglob("*"):
            student_lines |= {line.strip() for line in path.read_text().splitlines()}
        for line in _solution_lines(ASSIGNMENTS / name / f"{name}.py"):
            assert line not in student_lines, f"{name}: the solution line {line!r} is in the student version"
            checked += 1
    assert checked >= 40  # every assignment contributes; see _solution_lines


def test_regions_become_not_implemented_at_their_indentation(released):
    text = (released / "hw5_spectral_norm" / "hw5_spectral_norm.py").read_text()
    assert "# BEGIN SOLUTION" not in text and "# END SOLUTION" not in text
    # the TASK comment stays, followed by the raise at the same indentation
    assert ('        # TASK 5.3: the VJP with u and v constant: return (grad_W,)\n'
            '        raise NotImplementedError("Task 5.3: the VJP with u and v constant: return (grad_W,)")\n') in text
    assert ('    # TASK 5.1: power iteration; return (u, v, sigma)\n'
            '    raise NotImplementedError("Task 5.1: power iteration; return (u, v, sigma)")\n') in text
    # signatures, docstrings and formulas are kept
    assert "def power_iteration(weight: np.ndarray, u: np.ndarray, n_iterations: int = 1) -> tuple:" in text
    assert "    grad_W = G / sigma - (<G, W> / sigma^2) u v^T." in text
    assert "Each step:  v = normalize(W^T u),  u = normalize(W v).  Then sigma = u . (W v)." in text
    counts = {name: (released / name / f"{name}.py").read_text().count("raise NotImplementedError(\"Task ")
              for name in NAMES}
    assert counts == {"hw1_elementwise": 3, "hw2_matmul_reductions": 3, "hw3_frobenius": 2,
                      "hw4_weight_norm": 3, "hw5_spectral_norm": 3, "hw6_batch_norm": 2}


def test_student_readme_lists_tasks_points_and_commands(released):
    readme = (released / "hw6_batch_norm" / "README.md").read_text()
    assert readme.startswith("# Assignment 6: BatchNorm backward\n")
    assert "| 6.1 | grad_gamma and grad_beta | 2 |" in readme
    assert "| 6.2 | grad_x with its three terms | 5 |" in readme
    assert "| | **Total** | **7** |" in readme
    assert "python -m pytest test_hw6_batch_norm.py" in readme and "minigrad grade ." in readme


def test_released_versions_import_and_raise_not_implemented(released):
    # In a fresh process: the assignments register primitives, which must not meet twice.
    script = textwrap.dedent(f"""
        import importlib, sys
        import numpy as np
        import minigrad as mg
        for name in {NAMES!r}:
            sys.path.insert(0, {str(released)!r} + "/" + name)
            importlib.import_module(name)
        from hw1_elementwise import mul
        from hw5_spectral_norm import power_iteration
        a = mg.tensor([1.0, 2.0], requires_grad=True)
        print("forward", mul(a, a).data.tolist())
        try:
            mul(a, a).sum().backward()
        except NotImplementedError as error:
            print("backward:", error)
        try:
            power_iteration(np.eye(2), np.ones(2))
        except NotImplementedError as error:
            print("power_iteration:", error)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "forward [1.0, 4.0]",
        "backward: Task 1.1: the VJP of a * b: return (grad_a, grad_b), each of its input's shape",
        "power_iteration: Task 5.1: power iteration; return (u, v, sigma)",
    ]


def test_cli_release(tmp_path, capsys):
    code = cli.main(["assignment", "release", str(ASSIGNMENTS / "hw3_frobenius"), str(tmp_path / "out")])
    assert code == 0
    printed = capsys.readouterr().out
    assert "released 5 file(s) into" in printed and "hw3_frobenius.py" in printed
    assert cli.main(["assignment", "release", str(tmp_path / "missing"), str(tmp_path / "x")]) == 2
    assert "is not a folder" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------
# The marker rules, on small sources
# ---------------------------------------------------------------------------------------
GOOD = '''\
def f(x):
    """Twice x."""
    # TASK 1.1: return 2 x
    # BEGIN SOLUTION
    doubled = x + x
    return doubled
    # END SOLUTION
'''


def test_strip_solutions_on_a_small_source():
    student, regions = strip_solutions(GOOD, "f.py")
    assert student == ('def f(x):\n    """Twice x."""\n    # TASK 1.1: return 2 x\n'
                       '    raise NotImplementedError("Task 1.1: return 2 x")\n')
    assert [(r.task_id, r.description, r.begin_line, r.end_line, r.lines) for r in regions] == [
        ("1.1", "return 2 x", 4, 7, ["    doubled = x + x", "    return doubled"])]


def test_quotes_in_the_description_are_escaped():
    student, _ = strip_solutions(GOOD.replace("return 2 x", 'return "2 x" \\ 1'), "f.py")
    namespace: dict = {}
    exec(compile(student, "f.py", "exec"), namespace)
    with pytest.raises(NotImplementedError, match=re.escape('Task 1.1: return "2 x" \\ 1')):
        namespace["f"](1)


@pytest.mark.parametrize("source, message", [
    (GOOD.replace("    # TASK 1.1: return 2 x\n", ""),
     "f.py:3: '# BEGIN SOLUTION' needs a '# TASK n.m: what to write' comment"),
    (GOOD.replace("    # END SOLUTION\n", ""), "f.py:4: '# BEGIN SOLUTION' is never closed"),
    (GOOD + "# END SOLUTION\n", "f.py:8: '# END SOLUTION' without a '# BEGIN SOLUTION'"),
    (GOOD.replace("    return doubled\n", "    # BEGIN SOLUTION\n"),
     "f.py:6: '# BEGIN SOLUTION' inside the region opened at line 4"),
    (GOOD.replace("    doubled = x + x\n    return doubled\n", "\n"),
     "f.py:4: the solution region of task 1.1 is empty"),
    (GOOD.replace("    # TASK", "  # TASK"), "f.py:4: '# BEGIN SOLUTION' needs a '# TASK n.m"),
])
def test_marker_mistakes_are_named_with_file_and_line(source, message):
    with pytest.raises(AssignmentError, match=re.escape(message)):
        strip_solutions(source, "f.py")


def _assignment(folder: Path, source: str, tasks=("1.1",)) -> Path:
    folder.mkdir(parents=True)
    spec = ", ".join(f'{{"id": "{t}", "title": "t", "points": 1}}' for t in tasks)
    (folder / "assignment.json").write_text(f'{{"number": 1, "title": "T", "module": "m", "tasks": [{spec}]}}')
    (folder / "m.py").write_text(source)
    return folder


def test_release_refuses_unknown_and_uncovered_tasks(tmp_path):
    with pytest.raises(AssignmentError, match=r"m.py:4: task 1.1 is not listed in assignment.json \(tasks: 1.2\)"):
        release(_assignment(tmp_path / "a", GOOD, tasks=("1.2",)), tmp_path / "out_a")
    with pytest.raises(AssignmentError, match=r"task\(s\) 1.2 have no '# BEGIN SOLUTION' region"):
        release(_assignment(tmp_path / "b", GOOD, tasks=("1.1", "1.2")), tmp_path / "out_b")


def test_release_refuses_a_student_version_that_is_not_python(tmp_path):
    cut = "x = (1 +\n# TASK 1.1: finish the sum\n# BEGIN SOLUTION\n2)\n# END SOLUTION\n"
    with pytest.raises(AssignmentError, match=r"m.py: the student version is not valid Python"):
        release(_assignment(tmp_path / "a", cut), tmp_path / "out")


def test_release_refuses_an_output_inside_the_source(tmp_path):
    source = _assignment(tmp_path / "a", GOOD)
    with pytest.raises(AssignmentError, match="must not be inside the source"):
        release(source, source / "student")


# ---------------------------------------------------------------------------------------
# Hidden checks, a folder that is not empty, the pytest marker
# ---------------------------------------------------------------------------------------
def test_hidden_checks_are_never_released(released):
    assert (ASSIGNMENTS / "hw1_elementwise" / "hidden.json").is_file()
    assert not list(released.rglob("hidden.json"))
    hidden = load_hidden(ASSIGNMENTS / "hw1_elementwise", load_spec(ASSIGNMENTS / "hw1_elementwise"))
    assert [(c["task"], c["name"]) for c in hidden] == [
        ("1.1", "four-axis broadcast"), ("1.2", "four-axis broadcast"), ("1.3", "large and small exponents")]


def test_release_refuses_a_folder_that_is_not_empty(tmp_path, capsys):
    out = tmp_path / "alice"
    out.mkdir()
    (out / "hw3_frobenius.py").write_text("# Alice's work\n")
    with pytest.raises(AssignmentError, match="is not empty .it may hold a student's work.; choose an empty folder, "
                                              "or pass --force"):
        release(ASSIGNMENTS / "hw3_frobenius", out)
    assert (out / "hw3_frobenius.py").read_text() == "# Alice's work\n"
    assert cli.main(["assignment", "release", str(ASSIGNMENTS / "hw3_frobenius"), str(out)]) == 2
    assert "pass --force" in capsys.readouterr().err
    assert cli.main(["assignment", "release", str(ASSIGNMENTS / "hw3_frobenius"), str(out), "--force"]) == 0
    assert "raise NotImplementedError" in (out / "hw3_frobenius.py").read_text()


def test_a_malformed_hidden_file_is_refused(tmp_path):
    folder = tmp_path / "hw1"
    shutil.copytree(ASSIGNMENTS / "hw1_elementwise", folder)
    (folder / "hidden.json").write_text('{"checks": [{"task": "9.9", "primitive": "hw1_mul", "cases": [{}]}]}')
    with pytest.raises(AssignmentError, match=r"hidden check 1: needs a 'task' of assignment.json \(1.1, 1.2, 1.3\)"):
        load_hidden(folder, load_spec(folder))


def test_released_handout_registers_the_task_marker(released):
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "test_hw1_elementwise.py"],
                          cwd=released / "hw1_elementwise", capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTEST_ADDOPTS": ""})
    assert "NotImplementedError: Task 1.1" in done.stdout
    assert "Unknown pytest.mark.task" not in done.stdout + done.stderr
    assert "11 failed" in done.stdout
