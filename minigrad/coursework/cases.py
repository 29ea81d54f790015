"""What the grader grades, and on which inputs: assignments matched to folders, and cases.

The instructor's assignments (or, for a self-check, the folder's own) are matched to the
submission's folders as :class:`AssignmentPlan` entries; each task's checks become cases, the
requests a worker answers, with their inputs drawn here in the trusted process from seeds
fixed by the assignment, the task and the check, so that a reference and a student's answer
see the same arrays.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from minigrad.coursework.assignment import SPEC_NAME, AssignmentError, load_hidden, load_spec, task_key


# ---------------------------------------------------------------------------------------
# What to grade: the instructor's assignments, matched to the submission's folders
# ---------------------------------------------------------------------------------------
def find_assignments(directory: str | Path) -> list:
    """The assignment folders in ``directory``: itself, or its direct sub-folders with a spec."""
    directory = Path(directory).resolve()
    if (directory / SPEC_NAME).is_file():
        return [directory]
    return sorted(p.parent for p in directory.glob(f"*/{SPEC_NAME}"))


@dataclass
class AssignmentPlan:
    """One assignment to grade: its manifest, the student's folder for it, and the files and tests that run."""

    name: str
    folder: Path  # where the manifest (and, when trusted, the solution) lives
    spec: dict
    submission: Path | None  # the student's folder for it (None: not submitted)
    files: list  # the student files the assignment declares
    tests: list  # the test files that run (the instructor's when trusted)
    hidden: list = field(default_factory=list)


def _student_files(spec: dict) -> list:
    files = spec.get("files") or [f"{spec['module']}.py"]
    return list(files)


def _match(submission: Path, folder: Path, spec: dict) -> Path | None:
    """The submission's folder for an instructor's assignment: the folder itself, its namesake,
    or else the first sub-folder (by name) that holds the assignment's module."""
    first = _student_files(spec)[0]
    others = sorted(p for p in submission.iterdir() if p.is_dir() and not p.is_symlink()) if submission.is_dir() else []
    for candidate in (submission, submission / folder.name, *others):
        if (candidate / first).is_file() and not (candidate / first).is_symlink():
            return candidate
    return None


def plan_grading(directory: Path, source: Path | None) -> list:
    if source is None:
        folders = find_assignments(directory)
        if not folders:
            raise AssignmentError(f"grade: {directory} has no {SPEC_NAME}, and no sub-folder has one")
        plans = []
        for folder in folders:
            spec = load_spec(folder)
            plans.append(AssignmentPlan(folder.name, folder, spec, folder, _student_files(spec),
                                     sorted(folder.glob("test_*.py"))))
        return plans
    folders = find_assignments(source)
    if not folders:
        raise AssignmentError(f"grade: the instructor's copy {source} has no {SPEC_NAME}, and no sub-folder has one")
    if not directory.is_dir():
        raise AssignmentError(f"grade: the submission {directory} is not a folder")
    plans = []
    for folder in folders:
        spec = load_spec(folder)
        plans.append(AssignmentPlan(folder.name, folder, spec, _match(directory, folder, spec), _student_files(spec),
                                 sorted(folder.glob("test_*.py")), load_hidden(folder, spec)))
    return plans


# ---------------------------------------------------------------------------------------
# Cases: the inputs of every comparison, made here
# ---------------------------------------------------------------------------------------
def _make_inputs(shapes, domain: str, rng) -> list:
    """float64 arrays for a primitive's example shapes, drawn from its domain."""
    return [_draw(tuple(shape), domain, rng) for shape in shapes]


def _draw(shape: tuple, domain: str, rng) -> np.ndarray:
    size = int(np.prod(shape)) if shape else 1
    if domain == "positive":
        values = rng.uniform(0.5, 2.0, size)
    elif domain == "nonzero":
        values = rng.uniform(0.5, 2.0, size) * rng.choice([-1.0, 1.0], size)
    elif domain == "distinct":  # well apart, so no step of eps crosses a tie
        values = (rng.permutation(size) - size / 2.0) * 0.37 + 0.05
    else:
        values = rng.normal(size=size)
    return values.reshape(shape).astype(np.float64)


def _from_spec(spec, domain: str, rng) -> np.ndarray:
    """An input written in assignment.json: {"shape", "domain", "fill"} or {"values"} or a list."""
    if not isinstance(spec, dict):
        return np.asarray(spec, dtype=np.float64)
    if "values" in spec:
        return np.asarray(spec["values"], dtype=np.float64)
    shape = tuple(spec.get("shape", ()))
    if "fill" in spec:
        return np.full(shape, float(spec["fill"]))
    return _draw(shape, spec.get("domain", domain), rng)


def _attrs(attrs: dict) -> dict:
    """JSON attrs: lists of ints become tuples (an axis tuple, as NumPy expects)."""
    return {key: tuple(value) if isinstance(value, list) and all(isinstance(v, int) for v in value) else value
            for key, value in attrs.items()}


def _describe_case(shapes, attrs: dict, wrt) -> str:
    shown = ", ".join(str(tuple(s)) for s in shapes)
    scalars = {k: v for k, v in attrs.items() if isinstance(v, (int, float, str, bool, tuple))}
    extra = f"; {', '.join(f'{k}={v}' for k, v in scalars.items())}" if scalars else ""
    tail = f"; gradient w.r.t. input(s) {', '.join(map(str, wrt))}" if wrt is not None else ""
    return f"shapes {shown}{extra}{tail}"


def _cases(task: dict, checks: list, describe, seed: tuple, hidden: bool, trusted: bool = True) -> list:
    """Every comparison of a task's checks: kind, name, label, the request, and what it compares."""
    cases = []
    for index, check in enumerate(checks):
        rng = np.random.default_rng([*seed, index, int(hidden)])
        label_prefix = f"hidden check '{check.get('name', index + 1)}'" if hidden else None
        if "function" in check:
            for number, case in enumerate(check.get("cases", []), start=1):
                args = [_from_spec(a, "real", rng) for a in case.get("args", [])]
                label = label_prefix or f"case {number}: {check['function']} on shapes " + ", ".join(
                    str(a.shape) for a in args)
                cases.append({"kind": "function", "name": check["function"], "label": label, "hidden": hidden,
                              "request": {"op": "call", "function": check["function"], "args": args,
                                          "kwargs": case.get("kwargs", {}), "tensors": case.get("tensors", [])}})
            continue
        name = check["primitive"]
        examples, domain = describe(name)
        kind = "forward" if check.get("forward") else "vjp"
        calls = []
        if check.get("examples", not hidden):
            calls += [(f"example {n}", _make_inputs(shapes, domain, rng), dict(attrs))
                      for n, (shapes, attrs) in enumerate(examples, start=1)]
        if trusted:  # a case may sit where finite differences mean nothing (a tie, a kink)
            calls += [(f"case {n}", [_from_spec(s, domain, rng) for s in case.get("inputs", [])],
                       _attrs(case.get("attrs", {})))
                      for n, case in enumerate(check.get("cases", []), start=1)]
        for title, inputs, attrs in calls:
            wrt = list(check.get("wrt", range(len(inputs)))) if kind == "vjp" else None
            label = label_prefix or f"{title}: {_describe_case([a.shape for a in inputs], attrs, wrt)}"
            request = {"op": "primitive", "name": name, "inputs": inputs, "attrs": attrs, "wrt": wrt or []}
            cases.append({"kind": kind, "name": name, "label": label, "hidden": hidden, "request": request})
    return cases


def all_cases(plan: AssignmentPlan, describe, trusted: bool = True) -> dict:
    """task id -> its cases (visible checks, then hidden ones)."""
    by_task = {}
    for task in plan.spec["tasks"]:
        seed = (plan.spec["number"], *task_key(task["id"]))
        cases = _cases(task, task.get("checks", []), describe, seed, hidden=False, trusted=trusted)
        hidden = [c for c in plan.hidden if c["task"] == task["id"]]
        cases += _cases(task, hidden, describe, seed, hidden=True)
        by_task[task["id"]] = cases
    return by_task



__all__ = ["AssignmentPlan", "all_cases", "find_assignments", "plan_grading"]
