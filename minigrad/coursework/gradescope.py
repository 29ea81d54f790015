"""``minigrad assignment export --gradescope SOURCE OUT.zip``: an autograder for Gradescope.

Gradescope unpacks the zip into ``/autograder/source``, runs ``setup.sh`` once when it
builds the image, and for each submission copies the student's files to
``/autograder/submission``, runs ``/autograder/run_autograder`` and reads
``/autograder/results/results.json`` (``score``, ``output``, and ``tests`` with ``name``,
``score``, ``max_score``, ``status``, ``output``, ``visibility``).

The zip holds, at its root:
    setup.sh          installs minigrad's dependencies and pytest
    run_autograder    runs the grader (``python -m minigrad.coursework grade``, the options of
                      ``minigrad grade``) with ``--format gradescope``
    lib/minigrad/     the grader itself (the installed copy that made the zip)
    assignments/      the instructor's assignment folders: solutions, tests, hidden checks
``run_autograder`` reads the root from ``MINIGRAD_AUTOGRADER_ROOT`` (default
``/autograder``) and the interpreter from ``MINIGRAD_PYTHON`` (default ``python3``), so the
same script runs in a local folder laid out like Gradescope's.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

from minigrad.coursework.assignment import SPEC_NAME, AssignmentError, load_hidden, load_spec

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
set -euo pipefail
apt-get install -y python3 python3-pip >/dev/null 2>&1 || true
python3 -m pip install --quiet "numpy>=1.24" "sympy>=1.12" "graphviz>=0.20" "safetensors>=0.4" pytest
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission; results.json is the only thing it reads back.
set -u
ROOT="${MINIGRAD_AUTOGRADER_ROOT:-/autograder}"
PYTHON="${MINIGRAD_PYTHON:-python3}"
mkdir -p "$ROOT/results"
cd "$ROOT/source"
PYTHONPATH="$ROOT/source/lib" "$PYTHON" -m minigrad.coursework grade "$ROOT/submission" \\
    --source "$ROOT/source/assignments" --format gradescope --out "$ROOT/results/results.json" \\
    --timeout "${MINIGRAD_TASK_SECONDS:-60}"
status=$?
if [ ! -s "$ROOT/results/results.json" ]; then
    # The grader itself failed (not the submission): give Gradescope a result that says so.
    failed='{"score": 0, "output": "The autograder failed (exit status %s). Please tell your instructor.", '
    printf "$failed"'"tests": []}\\n' "$status" > "$ROOT/results/results.json"
fi
exit 0
"""

_SKIP = {"__pycache__", ".pytest_cache", ".DS_Store"}


def _add_tree(archive: zipfile.ZipFile, folder: Path, prefix: str) -> list:
    names = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part in _SKIP or part.startswith(".") for part in relative.parts) or path.suffix in (".pyc", ".pyo"):
            continue
        if path.is_symlink():
            continue
        if path.is_file():
            name = f"{prefix}/{relative.as_posix()}"
            _write(archive, name, path.read_bytes(), 0o644)
            names.append(name)
    return names


def _write(archive: zipfile.ZipFile, name: str, data: bytes, mode: int) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))  # fixed: the same input gives the same zip
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def export_gradescope(source: str | Path, out: str | Path) -> list:
    """Write the autograder zip for the assignment(s) in ``source``; returns the names inside."""
    import minigrad

    source, out = Path(source).resolve(), Path(out).resolve()
    if (source / SPEC_NAME).is_file():
        folders = [source]
    else:
        folders = sorted(p.parent for p in source.glob(f"*/{SPEC_NAME}"))
    if not folders:
        raise AssignmentError(f"export: {source} has no {SPEC_NAME}, and no sub-folder has one")
    for folder in folders:
        load_hidden(folder, load_spec(folder))  # refuse a malformed spec now, not on Gradescope
    if out.suffix != ".zip":
        raise AssignmentError(f"export: the output {out} must be a .zip file")
    out.parent.mkdir(parents=True, exist_ok=True)
    names = ["setup.sh", "run_autograder"]
    with zipfile.ZipFile(out, "w") as archive:
        _write(archive, "setup.sh", SETUP_SH.encode(), 0o755)
        _write(archive, "run_autograder", RUN_AUTOGRADER.encode(), 0o755)
        names += _add_tree(archive, Path(minigrad.__file__).resolve().parent, "lib/minigrad")
        for folder in folders:
            names += _add_tree(archive, folder, f"assignments/{folder.name}")
    return names
