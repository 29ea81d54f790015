"""The shape of the code: the layers hold, files stay readable, the two apply roads agree."""
from __future__ import annotations

import inspect
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import minigrad as mg
from minigrad import autograd
from minigrad.ops.elementwise import Add, Div, Mul, Sub
from minigrad.ops.registry import apply, apply_binary

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("minigrad", "norms")


def _python_files(*packages: str) -> list:
    return sorted(path for package in packages for path in (ROOT / package).rglob("*.py"))


def _node_fields(node) -> dict:
    fields = {name: getattr(node, name) for name in autograd.Node.__slots__ if name != "__weakref__"}
    fields["parents"] = [(p.dtype, p.shape, p.requires_grad, p.data.tolist()) for p in node.parents]
    fields["attrs"] = dict(node.attrs)
    fields["out"] = node.out.tolist()
    fields.pop("seq")  # creation numbers differ by construction; their order is tested elsewhere
    return fields


def _tensor_fields(tensor) -> dict:
    return {"data": tensor.data.tolist(), "dtype": tensor.dtype, "requires_grad": tensor.requires_grad,
            "name": tensor.name, "version": tensor._version, "grad": tensor.grad, "leaf": tensor.is_leaf}


@pytest.mark.parametrize("op", [Add, Sub, Mul, Div], ids=lambda op: op.name)
@pytest.mark.parametrize("needs", [(True, True), (True, False), (False, True), (False, False)], ids=str)
@pytest.mark.parametrize("recording", [True, False], ids=["recorded", "not recorded"])
def test_apply_binary_builds_the_node_and_tensor_that_apply_builds(op, needs, recording):
    first = mg.tensor([[1.5, -2.0], [3.0, 0.25]], requires_grad=needs[0])
    second = mg.tensor([0.5, 4.0], requires_grad=needs[1])
    with mg.enable_grad() if recording else mg.no_grad():
        fast, slow = apply_binary(op, first, second), apply(op, first, second)
    assert _tensor_fields(fast) == _tensor_fields(slow)
    if not recording or needs == (False, False):
        assert fast._node is None and slow._node is None
        return
    assert _node_fields(fast._node) == _node_fields(slow._node)
    assert fast._node.parents[0] is first and slow._node.parents[1] is second
    assert fast._node.seq < slow._node.seq


def test_apply_binary_makes_float_constants_exact_when_they_meet_symbols_as_apply_does():
    x = mg.symbols("x", (2,))
    half = mg.tensor(0.1)
    fast, slow = apply_binary(Mul, x, half), apply(Mul, x, half)
    assert [str(e) for e in fast.data] == [str(e) for e in slow.data] == ["x_0/10", "x_1/10"]
    assert _node_fields(fast._node) == _node_fields(slow._node)


def test_run_backward_is_a_short_loop():
    lines = inspect.getsource(autograd.run_backward).splitlines()
    assert len(lines) < 60, f"run_backward has {len(lines)} lines"


def test_no_python_file_of_the_packages_is_over_700_lines():
    long = {str(p.relative_to(ROOT)): n for p in _python_files(*PACKAGES)
            if (n := len(p.read_text().splitlines())) > 700}
    assert long == {}


def test_no_import_waits_at_the_bottom_of_a_file():
    late = [f"{p.relative_to(ROOT)}:{i}" for p in _python_files(*PACKAGES)
            for i, line in enumerate(p.read_text().splitlines(), 1) if "E402" in line]
    assert late == []


_NAMES_NORMS = re.compile(r"""\bimport\s+norms\b|\bfrom\s+norms\b|["']norms[."':]|\bnorms\.[a-z_]+""")


def test_the_engine_and_its_tools_never_name_norms():
    named = [f"{p.relative_to(ROOT)}:{i}: {line.strip()}" for p in _python_files("minigrad")
             for i, line in enumerate(p.read_text().splitlines(), 1) if _NAMES_NORMS.search(line)]
    assert named == []


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    command = shutil.which("lint-imports", path=os.path.dirname(sys.executable)) or shutil.which("lint-imports")
    if command is None:
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    env = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run([command, "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_the_layer_contracts_hold_and_catch_an_engine_module_importing_norms(tmp_path):
    kept = _lint_imports(ROOT)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert "3 kept, 0 broken" in kept.stdout
    for name in (*PACKAGES, "pyproject.toml"):
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / name)
    tensor_file = tmp_path / "minigrad" / "tensor.py"
    tensor_file.write_text(tensor_file.read_text() + "\nimport norms\n")
    broken = _lint_imports(tmp_path)
    assert broken.returncode != 0
    assert "The engine and its tools never import norms BROKEN" in broken.stdout
    assert "minigrad.tensor -> norms" in broken.stdout


@pytest.mark.parametrize("anomaly", [False, True], ids=["plain", "anomaly mode"])
def test_a_backward_pass_that_fails_restores_recording_anomaly_mode_and_the_collector(anomaly):
    import gc

    from minigrad.modes import AnomalyMode, GradMode

    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 2.0).sum()
    x.data = [3.0, 4.0]  # an in-place change after the op: backward refuses
    AnomalyMode.enabled = anomaly
    try:
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.backward()
        assert (GradMode.enabled, AnomalyMode.enabled, gc.isenabled()) == (True, anomaly, True)
    finally:
        AnomalyMode.enabled = False
