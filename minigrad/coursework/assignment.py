"""Coursework releases: the student version of an assignment, made from its solution.

An assignment is a folder with
    assignment.json   number, title, module, summary, and the tasks: id "n.m", title,
                      points, and the checks the grader runs (see minigrad/coursework/grading.py)
    <module>.py       the solution, with each part students write marked like this:

                          # TASK 1.1: the VJP of a * b: return (grad_a, grad_b)
                          # BEGIN SOLUTION
                          grad_a = unbroadcast(grad * b, a.shape)
                          ...
                          # END SOLUTION

    test_*.py         its tests, each marked ``@pytest.mark.task(n, m)``
    hidden.json       optional: checks the grader runs that ``release`` never ships

``release(source, out)`` writes the student version: every marked region becomes
``raise NotImplementedError("Task 1.1: the VJP of a * b: ...")`` at the region's
indentation, and everything else (signatures, docstrings with their formulas, the TASK
comment itself, the tests) is copied unchanged; a README for the student is generated from
assignment.json, and a pytest.ini registers the task marker. The output folder must be
empty (it may hold a student's work) unless ``force`` is given. The output depends on the
input bytes only (sorted file order, no dates), so releasing twice gives identical files.

The same module reads and validates assignment.json for the grader (``load_spec``).
"""
from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

SPEC_NAME = "assignment.json"
#: the instructor's checks that ``release`` never ships (students see their names and scores)
HIDDEN_NAME = "hidden.json"
#: what a released handout carries so that pytest knows the task marker
PYTEST_INI = "[pytest]\nmarkers =\n    task(n, m): a coursework task's test\n"
TASK_ID = re.compile(r"^\d+\.\d+$")
_TASK_LINE = re.compile(r"^(?P<indent>[ \t]*)# TASK (?P<id>\d+\.\d+):[ \t]*(?P<text>.*?)[ \t]*$")
_BEGIN_LINE = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION[ \t]*$")
_END_LINE = re.compile(r"^(?P<indent>[ \t]*)# END SOLUTION[ \t]*$")
_MARKER_WORDS = ("# BEGIN SOLUTION", "# END SOLUTION")
# Never part of a release: caches and the byproducts of running the solution's tests.
_SKIPPED_NAMES = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints", ".DS_Store", HIDDEN_NAME}


class AssignmentError(ValueError):
    """A malformed assignment (markers, assignment.json); the message names file and line."""


@dataclass
class Region:
    """One ``# BEGIN SOLUTION`` ... ``# END SOLUTION`` region of a solution file."""

    task_id: str
    description: str
    path: str
    begin_line: int  # 1-based line number of "# BEGIN SOLUTION"
    end_line: int  # 1-based line number of "# END SOLUTION"
    lines: list = field(default_factory=list)  # the solution lines between the markers


# ---------------------------------------------------------------------------------------
# assignment.json
# ---------------------------------------------------------------------------------------
def load_spec(folder: str | Path) -> dict:
    """Read and check ``folder/assignment.json``; raise AssignmentError naming what is wrong."""
    path = Path(folder) / SPEC_NAME
    if not path.is_file():
        raise AssignmentError(f"{folder}: no {SPEC_NAME} here; an assignment folder needs one")
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise AssignmentError(f"{path}: not valid JSON ({error})") from None
    for key, kind in (("number", int), ("title", str), ("module", str), ("tasks", list)):
        if not isinstance(spec.get(key), kind):
            raise AssignmentError(f"{path}: '{key}' must be a {kind.__name__}")
    seen = set()
    for index, task in enumerate(spec["tasks"]):
        where = f"{path}: task {index + 1}"
        if not isinstance(task, dict) or not TASK_ID.match(str(task.get("id", ""))):
            raise AssignmentError(f"{where}: needs an 'id' like \"1.2\"")
        if task["id"] in seen:
            raise AssignmentError(f"{where}: task id {task['id']} appears twice")
        seen.add(task["id"])
        if not task["id"].startswith(f"{spec['number']}."):
            raise AssignmentError(f"{where}: task id {task['id']} does not start with the assignment number "
                                  f"{spec['number']}")
        points = task.get("points")
        if not isinstance(points, int) or isinstance(points, bool) or points <= 0:
            raise AssignmentError(f"{where} ({task['id']}): 'points' must be a positive integer")
        if not isinstance(task.get("title"), str):
            raise AssignmentError(f"{where} ({task['id']}): needs a 'title'")
        checks = task.setdefault("checks", [])
        if not isinstance(checks, list):
            raise AssignmentError(f"{where} ({task['id']}): 'checks' must be a list")
        for check in checks:
            _check_check(check, f"{where} ({task['id']})")
    files = spec.get("files", [f"{spec['module']}.py"])
    if (not isinstance(files, list) or not files
            or not all(isinstance(f, str) and re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", f) for f in files)
            or any(f == "conftest.py" or f.endswith((".pyc", ".pyo")) for f in files)):
        raise AssignmentError(f"{path}: 'files' must list the plain file names students hand in "
                              f"(no folders, no conftest.py, no .pyc), e.g. [\"{spec['module']}.py\"]")
    return spec


def _check_check(check, where: str) -> None:
    """One entry of a task's ``checks``: a primitive's VJP or forward, or a function call."""
    named = isinstance(check, dict) and any(isinstance(check.get(key), str) for key in ("primitive", "function"))
    if not named:
        raise AssignmentError(f"{where}: each check is {{\"primitive\": name, ...}} or "
                              f"{{\"function\": name, \"cases\": [...]}}")
    cases = check.get("cases", [])
    if not isinstance(cases, list) or not all(isinstance(c, dict) for c in cases):
        raise AssignmentError(f"{where}: 'cases' of a check must be a list of objects")
    if "function" in check and not cases:
        raise AssignmentError(f"{where}: the check of function {check['function']} needs 'cases' (its arguments)")


def load_hidden(folder: str | Path, spec: dict) -> list:
    """The hidden checks of ``folder/hidden.json`` (never released): each names its task."""
    path = Path(folder) / HIDDEN_NAME
    if not path.is_file():
        return []
    try:
        hidden = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise AssignmentError(f"{path}: not valid JSON ({error})") from None
    checks = hidden.get("checks") if isinstance(hidden, dict) else None
    if not isinstance(checks, list):
        raise AssignmentError(f"{path}: needs {{\"checks\": [...]}}")
    ids = {task["id"] for task in spec["tasks"]}
    for index, check in enumerate(checks):
        where = f"{path}: hidden check {index + 1}"
        if not isinstance(check, dict) or check.get("task") not in ids:
            raise AssignmentError(f"{where}: needs a 'task' of {SPEC_NAME} ({', '.join(sorted(ids, key=task_key))})")
        _check_check(check, where)
        if not check.get("cases"):
            raise AssignmentError(f"{where}: needs 'cases' (a hidden check uses its own inputs)")
    return checks


def task_key(task_id: str) -> tuple:
    """"1.10" -> (1, 10), so that task 1.10 sorts after 1.9."""
    major, minor = task_id.split(".")
    return int(major), int(minor)


# ---------------------------------------------------------------------------------------
# Solution markers
# ---------------------------------------------------------------------------------------
def _quote(text: str) -> str:
    """A double-quoted Python string literal for ``text``."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def strip_solutions(text: str, path: str = "<source>") -> tuple:
    """Replace every solution region of ``text`` by a ``raise NotImplementedError``.

    Returns ``(student_text, regions)``. Each ``# BEGIN SOLUTION`` must come right after
    a ``# TASK n.m: description`` line (blank lines allowed between) at the same
    indentation, and be closed by ``# END SOLUTION``; regions do not nest.
    """
    lines = text.splitlines(keepends=True)
    out: list = []
    regions: list = []
    current: Region | None = None
    for number, line in enumerate(lines, start=1):
        body = line.rstrip("\r\n")
        if current is not None:
            if _END_LINE.match(body):
                current.end_line = number
                if not any(text.strip() for text in current.lines):
                    raise AssignmentError(f"{path}:{current.begin_line}: the solution region of task "
                                          f"{current.task_id} is empty")
                regions.append(current)
                current = None
            elif _BEGIN_LINE.match(body):
                raise AssignmentError(
                    f"{path}:{number}: '# BEGIN SOLUTION' inside the region opened at line "
                    f"{current.begin_line}; close it with '# END SOLUTION' first"
                )
            else:
                current.lines.append(body)
            continue
        begin = _BEGIN_LINE.match(body)
        if begin:
            task = _preceding_task(lines, number, begin.group("indent"), path)
            current = Region(task.group("id"), task.group("text"), path, number, 0)
            newline = line[len(body):] or "\n"
            message = f"Task {current.task_id}" + (f": {current.description}" if current.description else "")
            out.append(f"{begin.group('indent')}raise NotImplementedError({_quote(message)}){newline}")
            continue
        if _END_LINE.match(body):
            raise AssignmentError(f"{path}:{number}: '# END SOLUTION' without a '# BEGIN SOLUTION' before it")
        out.append(line)
    if current is not None:
        raise AssignmentError(f"{path}:{current.begin_line}: '# BEGIN SOLUTION' is never closed by '# END SOLUTION'")
    return "".join(out), regions


def _preceding_task(lines: list, begin_number: int, indent: str, path: str):
    """The ``# TASK`` line that introduces the region starting at line ``begin_number``."""
    for number in range(begin_number - 1, 0, -1):
        body = lines[number - 1].rstrip("\r\n")
        if not body.strip():
            continue
        task = _TASK_LINE.match(body)
        if task and task.group("indent") == indent:
            return task
        break
    raise AssignmentError(
        f"{path}:{begin_number}: '# BEGIN SOLUTION' needs a '# TASK n.m: what to write' comment "
        f"on the line before it, at the same indentation"
    )


# ---------------------------------------------------------------------------------------
# Release
# ---------------------------------------------------------------------------------------
def _source_files(folder: Path) -> list:
    """Every file to release, in a fixed (sorted) order, skipping caches and hidden files."""
    files = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part in _SKIPPED_NAMES or part.startswith(".") for part in relative.parts):
            continue
        if path.is_file() and path.suffix not in (".pyc", ".pyo"):
            files.append(relative)
    return files


def release(source: str | Path, out: str | Path, force: bool = False) -> list:
    """Write the student version of the assignment in ``source`` to ``out``.

    ``source`` is one assignment folder, or a folder of them (each released into
    ``out/<its name>``). Returns the written paths, sorted. ``out`` must be empty or
    absent (it may hold a student's work) unless ``force``: then files with the same names
    are replaced and nothing else in ``out`` is touched. ``hidden.json`` is never released.
    """
    source, out = Path(source).resolve(), Path(out).resolve()
    if not source.is_dir():
        raise AssignmentError(f"release: {source} is not a folder")
    if out == source or source in out.parents:
        raise AssignmentError(f"release: the output {out} must not be inside the source {source}")
    if out.exists() and not out.is_dir():
        raise AssignmentError(f"release: the output {out} is a file, not a folder")
    if not force and out.is_dir() and any(out.iterdir()):
        raise AssignmentError(f"release: the output folder {out} is not empty (it may hold a student's work); "
                              f"choose an empty folder, or pass --force to replace the released files in it")
    if (source / SPEC_NAME).is_file():
        return _release_one(source, out)
    folders = sorted(p.parent for p in source.glob(f"*/{SPEC_NAME}"))
    if not folders:
        raise AssignmentError(f"release: {source} has no {SPEC_NAME}, and no sub-folder has one")
    written = []
    for folder in folders:
        written += _release_one(folder, out / folder.name)
    return sorted(written)


def _release_one(source: Path, out: Path) -> list:
    spec = load_spec(source)
    task_ids = {task["id"] for task in spec["tasks"]}
    outputs: dict = {}
    covered: set = set()
    for relative in _source_files(source):
        raw = (source / relative).read_bytes()
        if relative.suffix == ".py":
            text = raw.decode("utf-8")
            student, regions = strip_solutions(text, str(relative))
            for region in regions:
                if region.task_id not in task_ids:
                    raise AssignmentError(
                        f"{relative}:{region.begin_line}: task {region.task_id} is not listed in "
                        f"{SPEC_NAME} (tasks: {', '.join(sorted(task_ids, key=task_key))})"
                    )
                covered.add(region.task_id)
            if regions:
                _check_student_source(student, relative)
            outputs[relative] = student.encode("utf-8")
        elif relative.name == "README.md":
            continue  # folded into the generated README below
        else:
            outputs[relative] = raw
    missing = sorted(task_ids - covered, key=task_key)
    if missing:
        raise AssignmentError(f"{source}: task(s) {', '.join(missing)} have no '# BEGIN SOLUTION' region in any file")
    notes = (source / "README.md").read_text(encoding="utf-8") if (source / "README.md").is_file() else ""
    outputs[Path("README.md")] = student_readme(spec, sorted(outputs), notes).encode("utf-8")
    outputs.setdefault(Path("pytest.ini"), PYTEST_INI.encode("utf-8"))  # registers the task marker

    written = []
    for relative in sorted(outputs):
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(outputs[relative])
        written.append(target)
    return written


def _check_student_source(student: str, relative: Path) -> None:
    """The student file must still be valid Python and carry no marker."""
    try:
        compile(student, str(relative), "exec")
    except SyntaxError as error:
        raise AssignmentError(
            f"{relative}: the student version is not valid Python ({error.msg}, line {error.lineno}); "
            f"does a region leave a block empty or cut a statement in two?"
        ) from None
    for word in _MARKER_WORDS:
        if word in student:
            raise AssignmentError(f"{relative}: the student version still contains '{word}'")


def student_readme(spec: dict, files: list, notes: str = "") -> str:
    """The README students receive: the tasks, their points, and how to check their work."""
    tasks = sorted(spec["tasks"], key=lambda t: task_key(t["id"]))
    total = sum(task["points"] for task in tasks)
    tests = [str(f) for f in files if f.name.startswith("test_") and f.suffix == ".py"]
    lines = [
        f"# Assignment {spec['number']}: {spec['title']}",
        "",
        spec.get("summary", ""),
        "",
        "## What to do",
        "",
        f"Open `{spec['module']}.py`. Every place where you write code is marked by a",
        "`# TASK n.m` comment followed by `raise NotImplementedError(\"Task n.m: ...\")`:",
        "replace the `raise` line with your code. Keep the names and signatures; the",
        "docstrings give the formulas. Write gradients with minigrad operations, and give",
        "every gradient its input's shape.",
        "",
        "| Task | What | Points |",
        "|------|------|-------:|",
    ]
    lines += [f"| {task['id']} | {task['title']} | {task['points']} |" for task in tasks]
    lines += [
        f"| | **Total** | **{total}** |",
        "",
        "## Check your work",
        "",
        "```",
        *[f"python -m pytest {name}        # the tests, task by task" for name in tests],
        "minigrad grade .                # a self-check: the tests, and each VJP against finite differences",
        "```",
        "",
        "The self-check runs each task in its own sandboxed process with a time limit, so a",
        "task that loops or crashes costs that task only. Besides the tests, it compares every",
        "VJP you write with central finite differences of your forward, and its report names",
        "the entries that differ (your value and the expected one). Your instructor grades",
        "with the same command and their own copy of the assignment, which also compares your",
        "results with the solution and may run hidden checks (you see their names and whether",
        "they pass, not their inputs). A task scores its points when all of its checks and",
        "tests pass.",
        "",
    ]
    if notes.strip():
        lines += ["## Notes from your instructor", "", notes.strip(), ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# CLI: minigrad assignment release SOURCE OUT [--force] | export --gradescope SOURCE OUT.zip
# ---------------------------------------------------------------------------------------
def without_prefix(error: Exception, name: str) -> str:
    """An error's text without a leading ``name: `` (the command line names it already)."""
    text = str(error)
    return text[len(name) + 2:] if text.startswith(f"{name}: ") else text


def run(args) -> int:
    """Entry point of ``minigrad assignment release|export SOURCE OUT``."""
    if args.action == "export":
        if not getattr(args, "gradescope", False):
            print("minigrad assignment export: say which format: --gradescope", file=sys.stderr)
            return 2
        from minigrad.coursework.gradescope import export_gradescope

        # (an AssignmentError reaches the command line, which prints it as one line, exit 2)
        names = export_gradescope(args.source, args.out)
        print(f"wrote the Gradescope autograder {Path(args.out).resolve()} ({len(names)} files): upload it "
              f"as the assignment's autograder (Ubuntu image)")
        return 0
    if args.action != "release":  # argparse restricts the choices; kept for direct callers
        print(f"minigrad assignment: unknown action '{args.action}' (use: release, export)", file=sys.stderr)
        return 2
    written = release(args.source, args.out, force=getattr(args, "force", False))
    out = Path(args.out).resolve()
    print(f"released {len(written)} file(s) into {out}:")
    for path in written:
        print(f"  {path.relative_to(out)}")
    return 0


__all__ = ["HIDDEN_NAME", "AssignmentError", "Region", "load_hidden", "load_spec", "release", "strip_solutions",
           "student_readme", "task_key"]
