"""`minigrad check`: the table over every op, --op, --json, and planted bugs
(an environment variable, or a test-only registry entry) that make it exit 1."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from minigrad.verification import check_table, checks
from minigrad.verification.planted import planted_bug
from norms.app import cli
from minigrad.verification.gradcheck import gradcheck
from minigrad.ops import REGISTRY, apply

from tests._planted import PLANTED, planted

ROOT = Path(__file__).resolve().parents[1]


def _check(capsys, *argv):
    code = cli.main(["check", *argv])
    return code, capsys.readouterr()


def test_table_for_every_op_exits_0(capsys):
    code, out = _check(capsys, "--no-symbolic")
    assert code == 0, out.out[-3000:]
    lines = out.out.splitlines()
    assert lines[0].split()[:5] == ["op", "world", "shapes", "attrs", "FD"]
    rows = {line.split()[0] for line in lines[2:-2]}
    assert set(REGISTRY) <= rows
    # every primitive appears in each world
    for world in ("float64", "float32", "sympy"):
        assert set(REGISTRY) <= {line.split()[0] for line in lines[2:-2] if line.split()[1:2] == [world]}
    assert {"mean", "var", "relu", "softmax", "cross_entropy", "mse_loss"} <= rows
    total = len(checks.all_checks())
    assert lines[-1].startswith(f"{total} checks, {total} passed, 0 failed")


def test_one_op_with_symbolic_proofs(capsys):
    code, out = _check(capsys, "--op", "tanh", "--op", "softmax")
    assert code == 0
    rows = [line for line in out.out.splitlines() if line.startswith(("tanh ", "softmax "))]
    assert len(rows) == 3 * len(REGISTRY["tanh"].examples) + 2
    proving = [row for row in rows if row.split()[1] in ("sympy", "f64+sympy")]
    assert len(proving) == len(REGISTRY["tanh"].examples) + 2
    for row in proving:
        assert "proved" in row and row.endswith("ok")
    for row in rows:
        assert row.endswith("ok")
        if row.split()[1] in ("float64", "f64+sympy"):
            fd_error = float(re.search(r"\d\.\de[+-]\d\d", row).group())  # the "FD max rel" column
            assert fd_error < 1e-6
    assert f"{len(rows)} checks, {len(rows)} passed, 0 failed; symbolic: {len(proving)} proved" in out.out


def test_json_output(capsys):
    code, out = _check(capsys, "--op", "matmul", "--json")
    assert code == 0
    data = json.loads(out.out)
    assert data["ok"] is True and data["failed"] == 0 and data["planted_bug"] is None
    assert data["checks"] == 3 * len(REGISTRY["matmul"].examples)
    first, second, third = data["results"][:3]
    assert [r["world"] for r in (first, second, third)] == ["float64", "float32", "sympy"]
    assert first["op"] == "matmul" and first["shapes"] == [[3, 4], [4, 2]]
    assert first["second_order"] == "ok" and first["fd_max_rel_error"] < 1e-6
    assert second["symbolic"] == "= float64" and third["symbolic"] == "proved"


def test_unknown_op_exits_2(capsys):
    code, out = _check(capsys, "--op", "no_such_op")
    assert code == 2 and "no op or function named 'no_such_op'" in out.err


@pytest.mark.parametrize("plant, hint", [("mul", "factor of 2"), ("sub:sign", "sign is flipped"),
                                         ("pow_scalar:transpose", "transposed")])
def test_planted_bug_from_the_environment_exits_1(capsys, monkeypatch, plant, hint):
    op = plant.split(":")[0]
    monkeypatch.setenv("MINIGRAD_PLANT_BUG", plant)
    code, out = _check(capsys, "--op", op, "--no-symbolic")
    assert code == 1
    assert f"planted bug: the VJP of '{op}' is spoiled" in out.err
    assert "FAIL" in out.out and hint in out.out
    assert f"op '{op}'" in out.out  # the per-op search names the spoiled VJP
    # the spoiled VJP is put back afterwards
    monkeypatch.delenv("MINIGRAD_PLANT_BUG")
    assert _check(capsys, "--op", op, "--no-symbolic")[0] == 0


def test_planted_bug_also_fails_the_symbolic_column(capsys, monkeypatch):
    monkeypatch.setenv("MINIGRAD_PLANT_BUG", "exp:double")
    code, out = _check(capsys, "--op", "exp", "--json")
    assert code == 1
    data = json.loads(out.out)
    assert data["planted_bug"] == "exp:double"
    by_world = {world: [r for r in data["results"] if r["world"] == world] for world in ("float64", "sympy")}
    assert len(by_world["float64"]) == len(by_world["sympy"]) == len(REGISTRY["exp"].examples)
    assert all(not r["fd_ok"] and not r["ok"] for r in by_world["float64"])
    assert all(r["symbolic"] == "failed" and not r["ok"] for r in by_world["sympy"])
    assert "symbolic_check FAILED for exp" in by_world["sympy"][-1]["reports"][0]


def test_test_only_registry_entries(capsys):
    """A wrong primitive and a wrong composed check, registered for this test only."""
    op = PLANTED["broadcast"][0]
    with planted(op):
        code, out = _check(capsys, "--op", op.name)
        assert code == 1 and "broadcast ((1, 4) -> (3, 4))" in out.out
    checks.register_check("test_only_wrong", lambda a: apply(op, a, a[:1]), [(3, 4)])
    try:
        with planted(op):
            code, out = _check(capsys, "--op", "test_only_wrong", "--no-symbolic")
        assert code == 1 and "op 'planted_broadcast'" in out.out
    finally:
        checks.unregister_check("test_only_wrong")
    assert not checks.find("test_only_wrong")


def test_planted_bug_context_restores_inherited_vjps():
    x = mg.tensor(np.array([0.3, -1.2]), requires_grad=True)
    with planted_bug("tanh", "sign"):
        assert not gradcheck(mg.tanh, (x,), raise_exception=False)
    assert gradcheck(mg.tanh, (x,))
    with pytest.raises(KeyError, match="no primitive named 'nope'"):
        with planted_bug("nope"):
            pass


def test_command_line_entry_point():
    env = dict(os.environ, PYTHONPATH=str(ROOT), MINIGRAD_PLANT_BUG="neg")
    bad = subprocess.run([sys.executable, "-m", "minigrad", "check", "--op", "neg", "--no-symbolic"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    # the float64 rows fail (finite differences); float32 agrees with the same wrong float64
    # gradient, and the SymPy proof is skipped by --no-symbolic
    assert bad.returncode == 1 and "9 checks, 6 passed, 3 failed" in bad.stdout
    env.pop("MINIGRAD_PLANT_BUG")
    good = subprocess.run([sys.executable, "-m", "minigrad", "check", "--op", "neg"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert good.returncode == 0 and "9 checks, 9 passed, 0 failed; symbolic: 3 proved" in good.stdout


def test_derive_command(capsys):
    assert cli.main(["derive", "sigmoid", "--shape", "2"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("sigmoid = Matrix([")
    assert cli.main(["derive", "nothing-like-this"]) == 2


def test_a_failed_check_prints_its_summary_first_and_one_report(capsys, monkeypatch):
    """--op mul with mul's VJP doubled: the blamed VJP and the hint come before the table."""
    monkeypatch.setenv("MINIGRAD_PLANT_BUG", "mul")
    code, out = _check(capsys, "--op", "mul")
    assert code == 1
    lines = out.out.splitlines()
    records = checks.run_checks(["mul"], plant="mul")
    failed = [r for r in records if not r.ok]
    assert failed and len(failed) < len(records)  # the float32 rows compare with float64 and pass
    assert lines[0].startswith(f"{len(records)} checks, {len(records) - len(failed)} passed, {len(failed)} failed")
    assert lines[1] == f"FAILED: mul ({len(failed)} rows)"
    assert lines[2] == "  each VJP checked on its own points at op 'mul' (the gradient of its inputs 0, 1)"
    assert lines[3].startswith("  hint: analytic = 2 x numeric everywhere: a factor of 2 in the VJP")
    header = lines.index(check_table.HEADER)
    assert 4 < header < 10  # the summary is a few lines, then the table
    # then the table and the first failure only, cut at DETAIL_LINES
    assert f"The first failure in detail (`--verbose` prints all {len(failed)}):" in lines
    assert sum(line.startswith("== mul") for line in lines) == 1
    # header, rule, the rows, rule, counts, 'The first failure...', blank, '== mul ...', the cut report
    assert len(lines) == header + 2 + len(records) + 2 + 3 + check_table.DETAIL_LINES + 1
    assert lines[-1].endswith("more lines (--verbose)")

    code, verbose = _check(capsys, "--op", "mul", "--verbose")
    assert code == 1
    titles = [line for line in verbose.out.splitlines() if line.startswith("== mul")]
    assert len(titles) == len(failed)
    assert len(verbose.out.splitlines()) > 3 * len(lines)
    assert "more lines (--verbose)" not in verbose.out


def test_failure_summary_says_each_kind_of_hint_once():
    record = checks.CheckRecord("pretend", "primitive", ((2, 2),), "")
    record.reports = [
        "gradcheck FAILED for pretend\n  hint: the analytic gradient is 0 at 12 entries (first at output (0, 0))."
        "\n  op 'pretend' (node 1 of 2), input 0 of shape (2, 2): analytic 1, numeric 2",
        "gradcheck FAILED for pretend\n  hint: the analytic gradient is 0 at 4 entries (first at output (1, 0))."
        "\n  hint: the gradient is transposed: analytic[..., i, j] = numeric[..., j, i]."
        "\n  op 'pretend' (node 1 of 2), input 1 'b' of shape (2, 2): analytic 1, numeric 2",
    ]
    other = checks.CheckRecord("other", "composed", ((3,),), "")
    assert check_table.failure_summary([record, record, other]) == [
        "FAILED: pretend (2 rows), other (1 row)",
        "  each VJP checked on its own points at op 'pretend' (the gradient of its inputs 0, 1)",
        "  hint: the analytic gradient is 0 at 12 entries (first at output (0, 0)).",
        "  hint: the gradient is transposed: analytic[..., i, j] = numeric[..., j, i].",
    ]
