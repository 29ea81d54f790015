"""Bad input to any `minigrad` command: one line on stderr, naming the command, what was wrong
and what to do; exit code 2; never a traceback.

Each case runs the installed console script in a subprocess in a temporary folder, as a user
would type it: a bad path, a bad name and a bad option for every command.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).with_name("minigrad")


def minigrad(*argv: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the ``minigrad`` console script with ``argv`` in ``cwd``."""
    assert SCRIPT.is_file(), f"the console script is not installed next to {sys.executable}; run `pip install -e .`"
    return subprocess.run([str(SCRIPT), *argv], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, **(env or {})))


def assert_one_line_error(done: subprocess.CompletedProcess, command: str, *phrases: str) -> str:
    """Exit 2, nothing on stdout, one line on stderr that starts with the command and says ``phrases``."""
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, (done.returncode, done.stdout[-500:], done.stderr[-500:])
    assert done.stderr.endswith("\n") and done.stderr.count("\n") == 1, done.stderr
    line = done.stderr.strip()
    assert line.startswith(f"minigrad {command}: "), line
    assert not line.startswith(f"minigrad {command}: {command}"), f"the command is named twice: {line}"
    for phrase in phrases:
        assert phrase in line, (phrase, line)
    assert done.stdout == "", done.stdout[-500:]
    return line


@pytest.fixture
def blocked(tmp_path) -> Path:
    """A path under a regular file: no folder can be made there, whoever runs the tests."""
    regular = tmp_path / "a-file"
    regular.write_text("")
    return regular / "sub"


# ---------------------------------------------------------------------------------------
# minigrad (no command), tour, train
# ---------------------------------------------------------------------------------------
def test_unknown_command(tmp_path):
    done = minigrad("plot", cwd=tmp_path)
    assert "Traceback" not in done.stderr and done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("minigrad: argument COMMAND: invalid choice: 'plot'")
    assert "'tour'" in done.stderr and "see `minigrad --help`" in done.stderr


def test_tour_bad_path(tmp_path, blocked):
    assert_one_line_error(minigrad("tour", "--quick", "--out", str(blocked), cwd=tmp_path), "tour",
                          f"cannot write into --out '{blocked}'", "Not a directory",
                          "pass a folder you can create and write to")


def test_tour_under_proc_is_refused_before_any_work(tmp_path):
    done = minigrad("tour", "--out", "/proc/x", "--quick", cwd=tmp_path)
    assert_one_line_error(done, "tour", "cannot write into --out '/proc/x'")


def test_tour_bad_option(tmp_path):
    assert_one_line_error(minigrad("tour", "--quik", cwd=tmp_path), "tour",
                          "unrecognized arguments: --quik", "see `minigrad tour --help`")


def test_tour_bad_option_value(tmp_path):
    assert_one_line_error(minigrad("tour", "--quick=yes", cwd=tmp_path), "tour",
                          "argument --quick: ignored explicit argument 'yes'")


def test_train_bad_number(tmp_path):
    assert_one_line_error(minigrad("train", "--steps", "-5", cwd=tmp_path), "train",
                          "--steps must be a positive number of training steps, got -5", "try --steps 300")


def test_train_bad_option_value(tmp_path):
    assert_one_line_error(minigrad("train", "--steps", "many", cwd=tmp_path), "train",
                          "argument --steps: invalid int value: 'many'")


def test_train_bad_path(tmp_path, blocked):
    assert_one_line_error(minigrad("train", "--steps", "2", "--out", str(blocked), cwd=tmp_path), "train",
                          f"cannot write into --out '{blocked}'")


# ---------------------------------------------------------------------------------------
# gan (each refused before any training: these finish in a second)
# ---------------------------------------------------------------------------------------
def test_gan_bad_seeds(tmp_path):
    assert_one_line_error(minigrad("gan", "--quick", "--seeds", "0", cwd=tmp_path), "gan",
                          "--seeds must be a number of seeds from 1 to 100, got 0", "try --seeds 5")
    assert not (tmp_path / "minigrad-gan").exists()


def test_gan_bad_steps(tmp_path):
    assert_one_line_error(minigrad("gan", "--quick", "--steps", "-3", cwd=tmp_path), "gan",
                          "--steps must be a positive number of training steps, got -3", "try --steps 1500")


def test_gan_bad_option_value(tmp_path):
    assert_one_line_error(minigrad("gan", "--seeds", "five", cwd=tmp_path), "gan",
                          "argument --seeds: invalid int value: 'five'")


def test_gan_bad_option(tmp_path):
    assert_one_line_error(minigrad("gan", "--quik", cwd=tmp_path), "gan",
                          "unrecognized arguments: --quik", "see `minigrad gan --help`")


def test_gan_bad_path(tmp_path, blocked):
    assert_one_line_error(minigrad("gan", "--quick", "--out", str(blocked), cwd=tmp_path), "gan",
                          f"cannot write into --out '{blocked}'", "pass a folder you can create and write to")


# ---------------------------------------------------------------------------------------
# check
# ---------------------------------------------------------------------------------------
def test_check_bad_name(tmp_path):
    assert_one_line_error(minigrad("check", "--op", "no_such_op", cwd=tmp_path), "check",
                          "no op or function named 'no_such_op'", "pass --op with one of: ", "tanh")


def test_check_bad_option(tmp_path):
    assert_one_line_error(minigrad("check", "--opp", "mul", cwd=tmp_path), "check",
                          "unrecognized arguments: --opp mul")


def test_check_missing_value(tmp_path):
    assert_one_line_error(minigrad("check", "--op", cwd=tmp_path), "check", "argument --op: expected one argument")


def test_check_bad_planted_bug(tmp_path):
    done = minigrad("check", "--op", "mul", cwd=tmp_path, env={"MINIGRAD_PLANT_BUG": "mul:sideways"})
    assert_one_line_error(done, "check", "MINIGRAD_PLANT_BUG='mul:sideways' must be <primitive>[:<kind>]",
                          "double, sign, zero, transpose")


# ---------------------------------------------------------------------------------------
# graph
# ---------------------------------------------------------------------------------------
def test_graph_bad_path(tmp_path):
    assert_one_line_error(minigrad("graph", "mlp", "--out", "/nonexistent/dir/x.svg", cwd=tmp_path), "graph",
                          "cannot write --out '/nonexistent/dir/x.svg'", "/nonexistent/dir does not exist",
                          "create it first")


def test_graph_path_under_a_file(tmp_path, blocked):
    assert_one_line_error(minigrad("graph", "mlp", "--out", str(blocked / "x.dot"), cwd=tmp_path), "graph",
                          "does not exist")


def test_graph_bad_name(tmp_path):
    assert_one_line_error(minigrad("graph", "resnet", "--out", "x.svg", cwd=tmp_path), "graph",
                          "no example named 'resnet'", "choose one of frobenius, spectral-norm")
    assert not (tmp_path / "x.svg").exists()


def test_graph_bad_format(tmp_path):
    assert_one_line_error(minigrad("graph", "mlp", "--out", "x.txt", cwd=tmp_path), "graph",
                          "cannot tell the format of --out 'x.txt'", ".svg, .png, .pdf, .dot")


def test_graph_bad_option(tmp_path):
    assert_one_line_error(minigrad("graph", "mlp", "--out", "x.dot", "--backwards", cwd=tmp_path), "graph",
                          "unrecognized arguments: --backwards")


def test_graph_missing_out(tmp_path):
    assert_one_line_error(minigrad("graph", "mlp", cwd=tmp_path), "graph",
                          "the following arguments are required: --out")


def test_graph_good_input_still_works(tmp_path):
    done = minigrad("graph", "mlp", "--out", "mlp.dot", cwd=tmp_path)
    assert done.returncode == 0 and done.stderr == "" and done.stdout == "wrote mlp.dot\n"
    assert (tmp_path / "mlp.dot").read_text().startswith("digraph")


# ---------------------------------------------------------------------------------------
# derive
# ---------------------------------------------------------------------------------------
def test_derive_bad_name(tmp_path):
    assert_one_line_error(minigrad("derive", "nothing-like-this", cwd=tmp_path), "derive",
                          "'nothing-like-this'", "frobenius")


def test_derive_bad_shape(tmp_path):
    assert_one_line_error(minigrad("derive", "sigmoid", "--shape", "2y3", cwd=tmp_path), "derive", "'2y3'")


def test_derive_bad_option(tmp_path):
    assert_one_line_error(minigrad("derive", "sigmoid", "--latx", cwd=tmp_path), "derive",
                          "unrecognized arguments: --latx")


# ---------------------------------------------------------------------------------------
# grade
# ---------------------------------------------------------------------------------------
def test_grade_bad_path(tmp_path):
    assert_one_line_error(minigrad("grade", str(tmp_path / "missing"), cwd=tmp_path), "grade",
                          str(tmp_path / "missing"))


def test_grade_folder_without_an_assignment(tmp_path):
    assert_one_line_error(minigrad("grade", str(tmp_path), cwd=tmp_path), "grade", "assignment.json")


def test_grade_bad_option_value(tmp_path):
    assert_one_line_error(minigrad("grade", str(tmp_path), "--timeout", "soon", cwd=tmp_path), "grade",
                          "argument --timeout: invalid float value: 'soon'")


# ---------------------------------------------------------------------------------------
# assignment
# ---------------------------------------------------------------------------------------
def test_assignment_bad_action(tmp_path):
    assert_one_line_error(minigrad("assignment", "publish", "a", "b", cwd=tmp_path), "assignment",
                          "invalid choice: 'publish'", "'release'")


def test_assignment_bad_source(tmp_path):
    assert_one_line_error(minigrad("assignment", "release", str(tmp_path / "missing"), str(tmp_path / "out"),
                                   cwd=tmp_path), "assignment", str(tmp_path / "missing"))


def test_assignment_bad_out(tmp_path, blocked):
    source = ROOT / "tutorials" / "assignments" / "hw1_elementwise"
    assert_one_line_error(minigrad("assignment", "release", str(source), str(blocked), cwd=tmp_path),
                          "assignment", str(blocked))


def test_assignment_missing_argument(tmp_path):
    assert_one_line_error(minigrad("assignment", "release", cwd=tmp_path), "assignment",
                          "the following arguments are required: source, out")
