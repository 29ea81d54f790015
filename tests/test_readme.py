"""The README's code runs as written, each block on its own, and says what it claims.

Every fenced ```python block is run by itself in a fresh interpreter, in a temporary folder
(a reader copies one block, not the page). Its top-level expressions are recorded with the
comment on their line, so a comment that states a value (``# True``, ``# tensor([2., 2.])``)
is checked against what the line really gives; the section's remaining claims are checked
by a few lines appended after the block, in the same process.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()

#: Run a block given as argv[1], recording each top-level expression's value with its line's
#: comment; then run the claims given as argv[2] in the block's namespace; print the records.
RUNNER = r'''
import ast, json, sys
source, claims = sys.argv[1], sys.argv[2]
lines = source.splitlines()
tree = ast.parse(source, "README.md")
records = []
namespace = {"__name__": "__main__"}
for statement in tree.body:
    module = ast.Module(body=[statement], type_ignores=[])
    if isinstance(statement, ast.Expr):
        value = eval(compile(ast.Expression(statement.value), "README.md", "eval"), namespace)
        line = lines[statement.lineno - 1]
        comment = line.split("#", 1)[1].strip() if "#" in line else ""
        records.append({"line": line.strip(), "comment": comment, "value": repr(value), "is_true": value is True})
    else:
        exec(compile(module, "README.md", "exec"), namespace)
exec(compile(claims, "claims", "exec"), namespace)
print(json.dumps(records))
'''

#: Claims checked after a block, by the title of the section it sits in.
CLAIMS = {
    "API tour": """
import os
import numpy as np
np.testing.assert_allclose(h.data, 6 * np.array([[1.0, 2.0], [3.0, 4.0]]))
assert str(w.grad.data[0]) == "w_1*(1 - tanh(w_0*w_1)**2)", w.grad.data[0]
assert loss.item() < 1.1, loss.item()  # 20 SGD steps from about log(3)
assert os.path.isfile("model.safetensors")
""",
    "The norms": """
import numpy as np
assert x.shape == (3, 4)
np.testing.assert_allclose(norms.frobenius_norm(x).data, np.linalg.norm(x.data), rtol=1e-12)
np.testing.assert_allclose(norms.matrix_norm(x, ord="nuc").data, np.linalg.norm(x.data, "nuc"), rtol=1e-10)
assert sorted(dict(layer.named_parameters())) == ["bias", "weight_g", "weight_v"]
""",
    "Proving gradients": """
formula = norms.derivations.derivation("spectral").latex()
assert formula.startswith("\\\\frac") and "u v^\\\\top" in formula, formula
""",
}


def python_blocks(text: str) -> list[tuple[str, str]]:
    """Each ```python block of ``text`` with the title of the ``##`` section it is in."""
    blocks = []
    section = ""
    for match in re.finditer(r"^## ([^\n]+)$|^```python\n(.*?)^```", text, re.S | re.M):
        if match.group(1):
            section = match.group(1).strip()
        else:
            blocks.append((section, match.group(2)))
    return blocks


def run_block(source: str, claims: str, folder: Path) -> subprocess.CompletedProcess:
    """Run one README block and its claims in a fresh interpreter in ``folder``."""
    return subprocess.run(
        [sys.executable, "-c", RUNNER, source, claims],
        cwd=folder, capture_output=True, text=True, timeout=300,
    )


BLOCKS = python_blocks(README)


def test_readme_has_the_quickstart_and_its_python_blocks_have_claims():
    assert "make tour\nmake test" in README
    sections = [section for section, _ in BLOCKS]
    assert sections == ["API tour", "The norms", "Proving gradients"], sections
    assert set(CLAIMS) == set(sections)


@pytest.mark.parametrize("section,source", BLOCKS, ids=[section for section, _ in BLOCKS])
def test_readme_block_runs_alone_and_its_comments_hold(section, source, tmp_path):
    result = run_block(source, CLAIMS[section], tmp_path)
    assert result.returncode == 0, f"README block in {section!r} failed on its own:\n{result.stderr}"
    records = json.loads(result.stdout.strip().splitlines()[-1])
    checked = 0
    for record in records:
        comment = record["comment"]
        if comment == "True" or comment.startswith("True "):
            assert record["is_true"], f"{record['line']!r} gave {record['value']}, the README says True"
            checked += 1
        elif comment.startswith("tensor("):
            assert " ".join(record["value"].split()) == comment, (record["line"], record["value"])
            checked += 1
    expected = {"API tour": 2, "The norms": 0, "Proving gradients": 2}[section]
    assert checked == expected, f"{section}: {checked} value comments checked, expected {expected}"


def test_a_broken_block_fails_the_check(tmp_path):
    """The runner really fails on a block that needs a name from an earlier block."""
    _, source = BLOCKS[1]
    without_import = source.replace("import minigrad as mg\n", "")
    result = run_block(without_import, "", tmp_path)
    assert result.returncode != 0
    assert "NameError: name 'mg' is not defined" in result.stderr
