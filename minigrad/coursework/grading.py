"""The autograder behind ``minigrad grade SUBMISSION --source INSTRUCTOR``.

The grading process is trusted and never imports student code. For every task of every
assignment in the instructor's copy (``--source``: the assignments, tasks, points, checks
and hidden checks come from there only) it
  1. starts a sandboxed worker (minigrad/coursework/sandbox.py, worker.py) holding a fresh
     copy of exactly the files the assignment declares, taken from the submission, plus the
     instructor's tests;
  2. asks the worker to run the task's tests (``@pytest.mark.task(n, m)``) and report them
     (first: the worker has not yet seen a hidden check's inputs that it could report);
  3. asks it for numbers: "the forward and the VJP of primitive hw1_mul on these arrays,
     for these upstream gradients", "power_iteration on these arrays"; the inputs are made
     here and only copies travel, in a pickle-free format whose sizes are checked;
  4. compares the answers with references computed the same way from the instructor's
     solution (in a worker of its own), entry by entry, and names what differs.
A task scores its points when every test and every comparison of step 4 passes, else 0.
The tests run next to the student's code, so their outcomes are only believed when they
report a failure: a forged "passed" cannot add points that step 4 did not allow. A worker
that dies, runs out of time or memory, or breaks the protocol scores 0 for that task, with
the reason.

Without ``--source`` (a student checking a handout) the folder's own assignment.json and
tests are used and each VJP is compared with central finite differences of the student's
own forward: a self-check, labelled as such, never a grade.

Exit status: 0 when every task scores full points, 1 when some do not, 2 when a folder is
not an assignment folder.
"""
from __future__ import annotations

import builtins
import json
import os
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from minigrad.coursework.assignment import (
    HIDDEN_NAME, SPEC_NAME, AssignmentError, load_hidden, load_spec, task_key, without_prefix,
)
from minigrad.coursework.sandbox import Limits, SandboxedWorker, WorkerError
from minigrad.verification.gradcheck import diagnose

#: a failure that is the student version's placeholder, not a wrong answer
_NOT_IMPLEMENTED = re.compile(r"NotImplementedError: (Task \d+\.\d+\b[^\n]*)")
#: lines of one check's report shown in the table (the JSON keeps all of it)
REPORT_LINES = 14
#: comparison with the instructor's solution: both are float64 evaluations of one formula
RTOL, ATOL = 1e-6, 1e-9
#: comparison with central finite differences (self-check), as gradcheck does
FD_EPS, FD_RTOL, FD_ATOL = 1e-6, 1e-3, 1e-5
#: more output entries than this: the VJP is checked on random upstream gradients instead
MAX_ONEHOT = 256
#: the exception names a hidden check's report may show
_BUILTIN_ERRORS = {name for name, value in vars(builtins).items()
                   if isinstance(value, type) and issubclass(value, BaseException)}


@dataclass
class TaskResult:
    """One task's grade: its score and what the grader found."""

    assignment: str
    id: str
    title: str
    points: int
    score: int = 0
    status: str = "error"  # passed, failed, not implemented, timeout, crashed, error
    summary: str = ""  # one line: why the task lost its points
    tests: list = field(default_factory=list)  # {name, outcome, message, seconds}
    checks: list = field(default_factory=list)  # {kind, name, case, ok, hidden, report}
    seconds: float = 0.0
    trusted: bool = True  # False for a self-check (no instructor's copy)
    output: str = ""  # the start of what the worker printed (control characters removed)
    output_bytes: int = 0  # how much it printed in all
    sandbox: list = field(default_factory=list)  # the protections the worker reported in place


# ---------------------------------------------------------------------------------------
# Text from a worker: never trusted to be printable
# ---------------------------------------------------------------------------------------
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)?|\x1b[@-_]")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean(text, limit: int = 4000) -> str:
    """``text`` without terminal escapes and control characters (newlines and tabs stay), cut to ``limit``."""
    text = _CONTROLS.sub("", _ESCAPES.sub("", str(text)))
    return text if len(text) <= limit else text[:limit] + f" [... {len(text) - limit} more characters]"


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
class _Assignment:
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


def _plan(directory: Path, source: Path | None) -> list:
    if source is None:
        folders = find_assignments(directory)
        if not folders:
            raise AssignmentError(f"grade: {directory} has no {SPEC_NAME}, and no sub-folder has one")
        plans = []
        for folder in folders:
            spec = load_spec(folder)
            plans.append(_Assignment(folder.name, folder, spec, folder, _student_files(spec),
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
        plans.append(_Assignment(folder.name, folder, spec, _match(directory, folder, spec), _student_files(spec),
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


def _all_cases(plan: _Assignment, describe, trusted: bool = True) -> dict:
    """task id -> its cases (visible checks, then hidden ones)."""
    by_task = {}
    for task in plan.spec["tasks"]:
        seed = (plan.spec["number"], *task_key(task["id"]))
        cases = _cases(task, task.get("checks", []), describe, seed, hidden=False, trusted=trusted)
        hidden = [c for c in plan.hidden if c["task"] == task["id"]]
        cases += _cases(task, hidden, describe, seed, hidden=True)
        by_task[task["id"]] = cases
    return by_task


# ---------------------------------------------------------------------------------------
# The references: the instructor's solution, in a worker of its own
# ---------------------------------------------------------------------------------------
def _references(plan: _Assignment, limits: Limits, hide: list) -> tuple:
    """(cases by task, reference answers by (task, case index)) or raise WorkerError/AssignmentError."""
    files = {name: plan.folder / name for name in plan.files}
    with SandboxedWorker(files, plan.spec["module"], limits, hide=hide) as worker:
        hello = worker.start()
        if not hello.get("ok"):
            raise AssignmentError(f"the instructor's solution of {plan.name} does not import: {hello.get('error')}")
        described: dict = {}

        def describe(name):
            if name not in described:
                answer = worker.request({"op": "describe", "name": name}, f"describing {name}")
                if not answer.get("ok"):
                    raise AssignmentError(f"{plan.name}: the solution cannot describe {name}: {answer.get('error')}")
                described[name] = ([(shapes, attrs) for shapes, attrs in answer["examples"]], answer["domain"])
            return described[name]

        cases = _all_cases(plan, describe)
        answers = {}
        for task_id, task_cases in cases.items():
            for index, case in enumerate(task_cases):
                request = dict(case["request"])
                if case["kind"] == "vjp":
                    request["upstreams"] = "onehot"
                answer = worker.request(request, f"computing the reference for {case['label']}")
                if not answer.get("ok"):
                    raise AssignmentError(f"{plan.name} task {task_id}: the instructor's solution fails on "
                                          f"{case['label']}: {answer.get('error')}")
                answers[(task_id, index)] = answer
    return cases, answers


# ---------------------------------------------------------------------------------------
# Comparisons (here, in the trusted process)
# ---------------------------------------------------------------------------------------
def _entries(got: np.ndarray, expected: np.ndarray, rtol: float, atol: float, what: str) -> str:
    """'' when equal within tolerance, else which entries differ (got vs expected)."""
    if got.shape != expected.shape:
        return f"{what}: shape {got.shape}, expected {expected.shape}"
    scale = float(np.max(np.abs(expected), initial=0.0))
    wrong = ~np.isclose(got, expected, rtol=rtol, atol=atol + 1e-12 * scale)
    wrong |= np.isnan(got) != np.isnan(expected)
    if not wrong.any():
        return ""
    where = [tuple(int(i) for i in index) for index in np.argwhere(wrong)[:3]]
    details = "; ".join(f"{w}: got {got[w]:.6g}, expected {expected[w]:.6g}" for w in where)
    return f"{what}: {int(wrong.sum())} of {wrong.size} entries differ ({details})"


def _as_array(value, what: str) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise _Lie(f"{what} is a {type(value).__name__}, not an array")
    return value


class _Lie(ValueError):
    """An answer that does not have the form the protocol promises."""


def _tree_problems(got, expected, what: str) -> list:
    if isinstance(expected, list):
        if not isinstance(got, list) or len(got) != len(expected):
            shown = f"{len(got)} values" if isinstance(got, list) else "one value"
            return [f"{what}: {shown}, expected {len(expected)}"]
        return [p for i, (g, e) in enumerate(zip(got, expected)) for p in _tree_problems(g, e, f"{what}[{i}]")]
    if isinstance(expected, bool):
        return [] if got is expected else [f"{what}: got {got!r}, expected {expected!r}"]
    if not isinstance(got, np.ndarray):
        return [f"{what}: got a {type(got).__name__}, expected numbers of shape {expected.shape}"]
    problem = _entries(got, expected, RTOL, ATOL, what)
    return [problem] if problem else []


def _jacobian(rows, wrt_position: int, input_shape: tuple, output_shape: tuple, name: str, input_index: int):
    """Stack one input's VJP rows into a Jacobian (outputs x input entries); or a message."""
    out_size = int(np.prod(output_shape)) if output_shape else 1
    if not isinstance(rows, list) or len(rows) != out_size:
        raise _Lie(f"{len(rows) if isinstance(rows, list) else 'no'} VJP rows for {out_size} upstream gradients")
    matrix = np.empty((out_size, int(np.prod(input_shape)) if input_shape else 1))
    for m, row in enumerate(rows):
        if not isinstance(row, list) or wrt_position >= len(row):
            raise _Lie("a VJP row without the requested gradients")
        grad = row[wrt_position]
        if grad is None:
            return None, f"{name}: the VJP returned None for input {input_index}, which needs a gradient"
        grad = _as_array(grad, "a gradient")
        if grad.shape != tuple(input_shape):
            message = f"{name}: gradient shape {grad.shape} expected {tuple(input_shape)} (input {input_index})"
            if grad.shape == tuple(output_shape) and grad.size > int(np.prod(input_shape)):
                message += ("\n  hint: the gradient has the output's shape for a broadcast input: a broadcast sum "
                            "is missing. Reduce it with unbroadcast(grad, input.shape).")
            return None, message
        matrix[m] = grad.ravel()
    return matrix, ""


def _jacobian_report(name: str, input_index: int, in_shape, out_shape, got, expected, rtol, atol, against: str) -> str:
    difference = np.abs(got - expected)
    failing = (difference > atol + rtol * np.abs(expected)) | (np.isnan(got) != np.isnan(expected))
    if not failing.any():
        return ""
    lines = [f"the gradient of input {input_index} (shape {tuple(in_shape)}) differs from {against} at "
             f"{int(failing.sum())} of {failing.size} Jacobian entries:",
             f"  {'output index':<14}{'input index':<14}{'yours':>14}{'expected':>14}"]
    ratio = np.where(np.isfinite(difference), difference / (atol + rtol * np.abs(expected)), np.inf)
    for flat in np.argsort(-ratio, axis=None, kind="stable")[:5]:
        m, j = np.unravel_index(flat, got.shape)
        if not failing[m, j]:
            break
        out_index = tuple(int(x) for x in np.unravel_index(m, out_shape)) if out_shape else ()
        in_index = tuple(int(x) for x in np.unravel_index(j, in_shape)) if in_shape else ()
        lines.append(f"  {str(out_index):<14}{str(in_index):<14}{got[m, j]:>14.6g}{expected[m, j]:>14.6g}")
    hint = diagnose(got, expected, tuple(out_shape), tuple(in_shape), atol=max(atol, 1e-9), rtol=rtol)
    if hint:
        lines.append("  hint: " + hint.replace("analytic", "yours").replace("numeric", "expected"))
    return "\n".join(lines)


def _compare(case: dict, answer: dict, reference: dict | None) -> str:
    """'' when the worker's answer matches, else a report. Raises _Lie on a malformed answer."""
    name = case["name"]
    if case["kind"] == "function":
        problems = _tree_problems(answer.get("result"), reference["result"], f"{name}(...)")
        return "\n".join(problems[:4])
    output = _as_array(answer.get("output"), "the output")
    if reference is not None:
        problem = _entries(output, reference["output"], RTOL, ATOL, f"the output of {name}")
        if problem and case["kind"] == "forward":
            return problem
    if case["kind"] == "forward":
        return ""
    out_shape = output.shape if reference is None else reference["output"].shape
    inputs, lines = case["request"]["inputs"], []
    for position, input_index in enumerate(case["request"]["wrt"]):
        in_shape = inputs[input_index].shape
        got, problem = _jacobian(answer.get("grads"), position, in_shape, out_shape, name, input_index)
        if problem:
            lines.append(problem)
            continue
        if reference is not None:
            expected, _ = _jacobian(reference["grads"], position, in_shape, out_shape, name, input_index)
            report = _jacobian_report(name, input_index, in_shape, out_shape, got, expected, RTOL, ATOL,
                                      "the instructor's solution")
        else:
            expected = answer["numeric"][position]
            report = _jacobian_report(name, input_index, in_shape, out_shape, got, expected, FD_RTOL, FD_ATOL,
                                      "central finite differences of your forward")
        if report:
            lines.append(report)
    return "\n".join(lines)


def _numeric_jacobians(worker: SandboxedWorker, case: dict, out_shape: tuple) -> list:
    """Central differences of the worker's forward, one Jacobian per input of wrt (self-check)."""
    request = case["request"]
    inputs = request["inputs"]
    jacobians = []
    for input_index in request["wrt"]:
        base = inputs[input_index]
        batch = []
        for j in range(base.size):
            for sign in (1.0, -1.0):
                moved = base.copy().ravel()
                moved[j] += sign * FD_EPS
                batch.append([moved.reshape(base.shape) if k == input_index else a for k, a in enumerate(inputs)])
        answer = worker.request({"op": "primitive", "name": request["name"], "attrs": request["attrs"],
                                 "inputs": [], "batch": batch}, f"finite differences of {case['label']}")
        if not answer.get("ok"):
            raise _WorkerFailed(answer)
        outputs = [_as_array(o, "an output") for o in answer.get("outputs", [])]
        if len(outputs) != len(batch) or any(o.shape != tuple(out_shape) for o in outputs):
            raise _Lie("finite-difference outputs of the wrong number or shape")
        columns = [(outputs[2 * j] - outputs[2 * j + 1]).ravel() / (2 * FD_EPS) for j in range(base.size)]
        jacobians.append(np.stack(columns, axis=1) if columns else np.zeros((int(np.prod(out_shape)), 0)))
    return jacobians


class _WorkerFailed(Exception):
    def __init__(self, answer: dict):
        super().__init__(answer.get("error"))
        self.answer = answer


# ---------------------------------------------------------------------------------------
# One task
# ---------------------------------------------------------------------------------------
def _grade_task(plan: _Assignment, task: dict, reference, limits: Limits, hide: list) -> TaskResult:
    result = TaskResult(assignment=plan.name, id=task["id"], title=task["title"], points=task["points"],
                        trusted=reference is not None)
    started = time.monotonic()
    try:
        _run_task(plan, task, reference, limits, hide, result)
    except Exception as error:  # noqa: BLE001 - one task's trouble must not stop the grading of the others
        result.status = "error"
        result.summary = clean(f"the grader could not grade this task ({type(error).__name__}: {error}); "
                               f"it scores 0: please report it", 600)
    finally:
        result.seconds = round(time.monotonic() - started, 2)
    _score(result)
    return result


def _run_task(plan: _Assignment, task: dict, reference, limits: Limits, hide: list, result: TaskResult) -> None:
    if isinstance(reference, Exception):
        result.status, result.summary = "error", clean(f"no reference to compare with: {reference}")
        return
    if plan.submission is None:
        result.status = "error"
        result.summary = f"not submitted: no {plan.files[0]} in the submission (nor in a folder {plan.name}/)"
        return
    files = {name: plan.submission / name for name in plan.files}
    files.update({test.name: test for test in plan.tests})
    worker = SandboxedWorker(files, plan.spec["module"], limits, hide=hide)
    try:
        hello = worker.start()
        result.sandbox = [clean(item, 100) for item in worker.report.sandbox]
        if worker.skipped:
            result.checks.append({"kind": "files", "name": "", "case": "", "ok": True, "hidden": False,
                                  "report": "; ".join(worker.skipped)})
        if not hello.get("ok"):
            result.status, result.summary = "error", clean(hello.get("error", "the submission did not import"))
            result.checks.append({"kind": "import", "name": plan.spec["module"], "case": "", "ok": False,
                                  "hidden": False, "report": result.summary})
            return
        # The tests first: what the worker reports about them is shown to the student, and
        # it must not yet have seen the inputs of the hidden checks.
        tested = worker.request({"op": "tests", "files": [str(worker.folder / "code" / t.name) for t in plan.tests],
                                 "task": task["id"]}, "running the tests")
        _read_tests(tested, result)
        if reference is None:
            described: dict = {}

            def describe(name):
                if name not in described:
                    answer = worker.request({"op": "describe", "name": name}, f"describing {name}")
                    if not answer.get("ok"):
                        raise _WorkerFailed(answer)
                    described[name] = (answer["examples"], answer["domain"])
                return described[name]

            try:
                cases = _all_cases(plan, describe, trusted=False)[task["id"]]
            except _WorkerFailed as failed:
                result.checks.append({"kind": "describe", "name": "", "case": "", "ok": False, "hidden": False,
                                      "report": clean(failed.answer.get("error"))})
                cases = []
            answers = None
        else:
            cases, answers = reference[0][task["id"]], reference[1]
        for index, case in enumerate(cases):
            if reference is None and case["kind"] != "vjp":
                continue  # nothing to compare a forward with but the instructor's solution
            result.checks.append(_check(worker, case, None if answers is None else answers[(task["id"], index)]))
    except WorkerError as error:
        result.status = {"timeout": "timeout", "crashed": "crashed"}.get(error.kind, "error")
        result.summary = clean(str(error), 600)
    finally:
        report = worker.close()
        result.output_bytes = report.output_bytes
        if report.output_bytes:
            head = clean(report.output.split("\n[... ")[0], 2000)
            result.output = head if report.output_bytes <= len(head) else f"{head}\n[... {report.output_bytes} bytes printed in all]"


def _check(worker: SandboxedWorker, case: dict, reference: dict | None) -> dict:
    entry = {"kind": case["kind"], "name": case["name"], "case": case["label"], "ok": False, "hidden": case["hidden"],
             "report": ""}
    request = dict(case["request"])
    if case["kind"] == "vjp":
        if reference is not None:
            size = reference["output"].size
            request["upstreams"] = [np.eye(size)[k].reshape(reference["output"].shape) for k in range(size)] \
                if size <= MAX_ONEHOT else "onehot"
        else:
            request["upstreams"] = "onehot"
    answer = worker.request(request, f"checking {case['name']} on {case['label']}")
    try:
        if not answer.get("ok"):
            raise _WorkerFailed(answer)
        if reference is None and case["kind"] == "vjp":
            output = _as_array(answer.get("output"), "the output")
            answer = dict(answer, numeric=_numeric_jacobians(worker, case, output.shape))
        report = _compare(case, answer, reference)
    except _WorkerFailed as failed:
        report = clean(failed.answer.get("error") or "the worker reported an error without a message")
        if case["hidden"]:
            # Nothing the worker wrote about a hidden check is shown (it could carry the inputs):
            # a standard exception's name, or the placeholder's task number.
            placeholder = _NOT_IMPLEMENTED.search(report)
            kind = failed.answer.get("kind")
            if placeholder:
                report = f"NotImplementedError: {placeholder.group(1).split(':')[0]}"
            else:
                report = f"raised {kind if isinstance(kind, str) and kind in _BUILTIN_ERRORS else 'an error'}"
    except _Lie as lie:
        raise WorkerError(f"the worker broke the grading protocol ({lie}); the task scores 0", "protocol") from None
    entry["ok"] = not report
    if report and case["hidden"] and not _NOT_IMPLEMENTED.search(report):
        report = f"{case['label']} fails ({report if report.startswith('raised ') else 'wrong values'}; its inputs are not shown)"
    entry["report"] = report
    return entry


def _read_tests(answer: dict, result: TaskResult) -> None:
    if not answer.get("ok"):
        result.checks.append({"kind": "tests", "name": "", "case": "", "ok": False, "hidden": False,
                              "report": clean(answer.get("error", "the tests did not run"))})
        return
    tests = answer.get("tests")
    if not isinstance(tests, dict) or not isinstance(tests.get("outcomes"), list):
        raise WorkerError("the worker broke the grading protocol (no test outcomes); the task scores 0", "protocol")
    errors = tests.get("collect_errors", [])
    if not isinstance(errors, list) or not all(isinstance(o, dict) for o in tests["outcomes"]):
        raise WorkerError("the worker broke the grading protocol (malformed test outcomes); the task scores 0", "protocol")
    for outcome in tests["outcomes"][:500]:
        seconds = outcome.get("seconds", 0)
        result.tests.append({"name": clean(outcome.get("name", "?"), 200), "outcome": clean(outcome.get("outcome"), 20),
                             "message": clean(outcome.get("message", "")),
                             "seconds": float(seconds) if isinstance(seconds, (int, float)) else 0.0})
    for error in errors[:5]:
        result.checks.append({"kind": "tests", "name": "", "case": "", "ok": False, "hidden": False,
                              "report": clean(f"the tests could not be collected: {error}")})


def _score(result: TaskResult) -> None:
    """Status, score and one-line summary from what the task found."""
    if result.status in ("timeout", "crashed") or result.summary:
        result.score = 0
        return
    failures = [t["message"] or t["outcome"] for t in result.tests if t["outcome"] != "passed"]
    failures += [c["report"] for c in result.checks if not c["ok"]]
    if not result.tests and not failures:
        result.status, result.summary = "error", "no test of this task ran (are they marked @pytest.mark.task(n, m)?)"
        return
    if not failures:
        result.status, result.score = "passed", result.points
        return
    collect = [c["report"] for c in result.checks if c["kind"] == "tests" and not c["ok"]]
    if collect:
        result.status, result.summary = "error", collect[0]
        return
    placeholders = [_NOT_IMPLEMENTED.search(f) for f in failures]
    if all(placeholders):
        result.status = "not implemented"
        messages: dict = {}  # "Task 3.1" -> its first message (a hidden check's comes last, cut short)
        for match in placeholders:
            messages.setdefault(match.group(1).split(":")[0], match.group(1))
        own = f"Task {result.id}"
        others = sorted((name for name in messages if name != own), key=lambda n: task_key(n.split()[1]))
        if own in messages:
            result.summary = f"not implemented: {messages[own]}"
            if others:
                result.summary += f" (its tests also need {', '.join(others)})"
        else:  # every test of this task stops at an earlier task's placeholder
            result.summary = f"not implemented: needs {', '.join(others)} first ({messages[others[0]]})"
        return
    result.status = "failed"
    failed_tests = sum(t["outcome"] != "passed" for t in result.tests)
    failed_checks = sum(not c["ok"] for c in result.checks)
    parts = [f"{failed_tests} of {len(result.tests)} tests"] if failed_tests else []
    parts += [f"{failed_checks} of {len(result.checks)} checks"] if failed_checks else []
    result.summary = f"{' and '.join(parts)} fail:"


# ---------------------------------------------------------------------------------------
# Everything
# ---------------------------------------------------------------------------------------
def grade(directory: str | Path, timeout: float = 60.0, jobs: int | None = None, source: str | Path | None = None,
          limits: Limits | None = None) -> list:
    """Grade ``directory`` (a submission) against ``source`` (the instructor's copy).

    Returns one :class:`TaskResult` per task of the instructor's assignments. Without
    ``source`` it is a self-check of ``directory`` against its own manifest and tests.
    Tasks run ``jobs`` at a time (default: the number of CPUs), each in its own worker.
    """
    if source is None:
        directory = Path(directory).resolve()
        return _grade_all([(directory, _plan(directory, None))], None, timeout, jobs, limits)[0]
    return grade_submissions([directory], source, timeout=timeout, jobs=jobs, limits=limits)[0]


def grade_submissions(directories: list, source: str | Path, timeout: float = 60.0, jobs: int | None = None,
                      limits: Limits | None = None) -> list:
    """Grade several submissions against one instructor's copy (references computed once).

    Returns, for each submission in order, its list of :class:`TaskResult`.
    """
    source = Path(source).resolve()
    submissions = []
    for directory in directories:
        directory = Path(directory).resolve()
        submissions.append((directory, _plan(directory, source)))
    return _grade_all(submissions, source, timeout, jobs, limits)


def _grade_all(submissions: list, source: Path | None, timeout: float, jobs: int | None, limits: Limits | None) -> list:
    limits = limits or Limits(seconds=timeout)
    jobs = jobs or max(os.cpu_count() or 1, 1)
    with ThreadPoolExecutor(max_workers=jobs) as ref_pool, ThreadPoolExecutor(max_workers=jobs) as task_pool:
        references = {}
        if source is not None:
            # What a worker must never see: the instructor's copy (and, below, the submission's neighbours).
            for plan in submissions[0][1]:
                references[plan.name] = ref_pool.submit(_safe_references, plan, limits, [str(source)])

        def one(directory: Path, plan: _Assignment, task: dict) -> TaskResult:
            future = references.get(plan.name)
            reference = future.result() if future is not None else None
            hide = [] if source is None else [str(source), str(directory.parent)]
            return _grade_task(plan, task, reference, limits, hide)

        work = [(directory, plan, task) for directory, plans in submissions for plan in plans
                for task in sorted(plan.spec["tasks"], key=lambda t: task_key(t["id"]))]
        results = list(task_pool.map(lambda item: one(*item), work))
    grouped, index = [], 0
    for _, plans in submissions:
        count = sum(len(plan.spec["tasks"]) for plan in plans)
        grouped.append(results[index:index + count])
        index += count
    return grouped


def _safe_references(plan: _Assignment, limits: Limits, hide: list):
    try:
        return _references(plan, limits, hide)
    except (WorkerError, AssignmentError) as error:
        return error


# ---------------------------------------------------------------------------------------
# Reports
# ---------------------------------------------------------------------------------------
def format_table(results: list, directory: str | Path) -> str:
    """The per-task score table, each lost task followed by what is wrong."""
    lines = [f"Grading {Path(directory).resolve()}"]
    sandbox = next((r.sandbox for r in results if r.sandbox), [])
    if sandbox:
        lines.append("Sandbox: " + ", ".join(re.sub(r"^uid \d+$", "a uid of its own", item) for item in sandbox))
    if results and not results[0].trusted:
        lines.append("SELF-CHECK: the folder's own assignment.json and tests, VJPs against finite differences. "
                     "Not a grade (graders pass --source with the instructor's copy).")
    lines.append("")
    by_assignment: dict = {}
    for r in results:
        by_assignment.setdefault(r.assignment, []).append(r)
    width = max([len(r.title) for r in results] + [20])
    for name, tasks in by_assignment.items():
        lines.append(f"{name}")
        lines.append(f"  {'task':<6}{'title':<{width + 2}}{'score':>9}  status")
        for r in tasks:
            lines.append(f"  {r.id:<6}{r.title:<{width + 2}}{f'{r.score}/{r.points}':>9}  {r.status}")
            if r.status != "passed":
                lines.extend(f"        {line}" for line in _details(r))
        score, points = sum(r.score for r in tasks), sum(r.points for r in tasks)
        lines.append(f"  {'':<6}{'subtotal':<{width + 2}}{f'{score}/{points}':>9}")
        lines.append("")
    score, points = sum(r.score for r in results), sum(r.points for r in results)
    lines.append(f"Total: {score}/{points} points ({sum(r.status == 'passed' for r in results)} of {len(results)} tasks passed)")
    return clean("\n".join(lines), 10 ** 7)


def _details(result: TaskResult) -> list:
    """What a lost task shows under its row: the summary, failing tests and check reports."""
    lines = [result.summary] if result.summary else []
    if result.status in ("not implemented", "timeout", "crashed", "error"):
        return lines
    shown = 0
    for test in result.tests:
        if test["outcome"] != "passed" and shown < 4:
            lines.append(f"test {test['name']}: {test['message'].splitlines()[0] if test['message'] else test['outcome']}")
            shown += 1
    failing = [c for c in result.checks if not c["ok"]]
    # Reports that compare values (which entries, yours vs expected) say more than an error.
    failing.sort(key=lambda c: "Jacobian entries" not in c["report"])
    for check in failing[:2]:
        report = check["report"].splitlines()
        lines.append(f"{check['kind']} of {check['name']} on {check['case']}:" if not check["hidden"]
                     else f"{check['kind']} of {check['name']}:")
        lines.extend(f"  {line}" for line in report[:REPORT_LINES])
        if len(report) > REPORT_LINES:
            lines.append(f"  ... ({len(report) - REPORT_LINES} more lines in --json)")
    if len(failing) > 2:
        lines.append(f"({len(failing) - 2} more failing checks in --json)")
    return lines


def as_json(results: list, directory: str | Path) -> dict:
    """The grade for an LMS: totals, and per assignment and task the score and reports."""
    assignments: dict = {}
    for r in results:
        entry = assignments.setdefault(r.assignment, {"name": r.assignment, "score": 0, "max_score": 0, "tasks": []})
        entry["score"] += r.score
        entry["max_score"] += r.points
        task = asdict(r)
        del task["assignment"]
        entry["tasks"].append(task)
    return {
        "directory": str(Path(directory).resolve()),
        "trusted": all(r.trusted for r in results),
        "score": sum(r.score for r in results),
        "max_score": sum(r.points for r in results),
        "assignments": list(assignments.values()),
    }


def as_gradescope(results: list, seconds: float) -> dict:
    """The grade in Gradescope's results.json schema: one test per task, score and max_score each."""
    tests = []
    for r in results:
        text = "\n".join([f"status: {r.status}"] + ([] if r.status == "passed" else _details(r)))
        tests.append({"name": f"{r.assignment} task {r.id}: {r.title}", "number": r.id, "score": float(r.score),
                      "max_score": float(r.points), "status": "passed" if r.status == "passed" else "failed",
                      "output": clean(text, 20000), "visibility": "visible"})
    score, points = sum(r.score for r in results), sum(r.points for r in results)
    return {"score": float(score), "execution_time": int(round(seconds)),
            "output": f"minigrad grade: {score}/{points} points ({sum(r.status == 'passed' for r in results)} of "
                      f"{len(results)} tasks passed)" + ("" if all(r.trusted for r in results) else
                                                         " in a SELF-CHECK, not a grade (no --source)"),
            "visibility": "visible", "stdout_visibility": "hidden", "tests": tests}


def run(args) -> int:
    """Entry point of ``minigrad grade DIR [--source SRC] [--json | --format F] [--out FILE] [--timeout S]``."""
    timeout = float(getattr(args, "timeout", 60.0) or 60.0)
    form = getattr(args, "format", None) or ("json" if getattr(args, "json", False) else "table")
    started = time.monotonic()
    try:
        results = grade(args.directory, timeout=timeout, source=getattr(args, "source", None),
                        jobs=getattr(args, "jobs", None))
    except AssignmentError as error:
        print(f"minigrad grade: {without_prefix(error, 'grade')}", file=sys.stderr)
        return 2
    if form == "gradescope":
        text = json.dumps(as_gradescope(results, time.monotonic() - started), indent=2)
    elif form == "json":
        text = json.dumps(as_json(results, args.directory), indent=2)
    else:
        text = format_table(results, args.directory)
    out = getattr(args, "out", None)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return 0 if all(r.status == "passed" for r in results) else 1


__all__ = ["HIDDEN_NAME", "TaskResult", "as_gradescope", "as_json", "clean", "find_assignments", "format_table",
           "grade", "grade_submissions", "run"]
