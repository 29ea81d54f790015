"""The autograder behind ``minigrad grade DIR [--json] [--timeout S]``.

For every task of every assignment in DIR (a folder with ``assignment.json``, or a folder of
them) the grader starts one worker process, which
  1. runs the tests marked ``@pytest.mark.task(n, m)`` for that task, and
  2. for every VJP the task asks for (``checks`` in assignment.json), runs ``gradcheck``
     (central finite differences, minigrad/gradcheck.py) on each of the primitive's
     ``examples`` and ``symbolic_check`` (sympy.diff, minigrad/symbolic.py) on the first.
A task scores its points when all of its tests and checks pass, else 0: partial credit
inside a task would reward a VJP that is right only on the shapes that happen to be tested.

Student code never runs in the grader's own process. Each worker has a time limit and runs
in its own process group, which is killed when the limit passes, so an infinite loop, a
crash or a ``sys.exit`` in one task costs that task only. Workers stream their results to a
file as they go, so a task that times out still says which test or check was running.
This is isolation against mistakes, not a security sandbox: a student's code runs with the
grader's permissions (use a container for untrusted submissions).

Exit status: 0 when every task scores full points, 1 when some do not, 2 when DIR is not an
assignment folder.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from minigrad.assignment import SPEC_NAME, AssignmentError, load_spec, task_key

#: a failure that is the student version's placeholder, not a wrong answer
_NOT_IMPLEMENTED = re.compile(r"NotImplementedError: (Task \d+\.\d+\b[^\n]*)")
#: lines of one check's report shown in the table (the JSON keeps all of it)
REPORT_LINES = 14
#: seconds symbolic_check may spend proving (after that it compares at random points)
SYMBOLIC_BUDGET = 3.0


@dataclass
class TaskResult:
    """One task's grade: its score and what the worker found."""

    assignment: str
    id: str
    title: str
    points: int
    score: int = 0
    status: str = "error"  # passed, failed, not implemented, timeout, crashed, error
    summary: str = ""  # one line: why the task lost its points
    tests: list = field(default_factory=list)  # {name, outcome, message, seconds}
    checks: list = field(default_factory=list)  # {kind, primitive, case, ok, method, report}
    seconds: float = 0.0


# ---------------------------------------------------------------------------------------
# The grader's side: one worker per task, a table, JSON
# ---------------------------------------------------------------------------------------
def find_assignments(directory: str | Path) -> list:
    """The assignment folders in ``directory``: itself, or its sub-folders with a spec."""
    directory = Path(directory).resolve()
    if (directory / SPEC_NAME).is_file():
        return [directory]
    return sorted(p.parent for p in directory.glob(f"*/{SPEC_NAME}"))


def grade(directory: str | Path, timeout: float = 60.0, jobs: int | None = None) -> list:
    """Grade every task under ``directory``; returns one :class:`TaskResult` per task.

    Tasks run ``jobs`` at a time (default: the number of CPUs), each in its own process.
    """
    folders = find_assignments(directory)
    if not folders:
        raise AssignmentError(f"grade: {directory} has no {SPEC_NAME}, and no sub-folder has one")
    work = []
    for folder in folders:
        spec = load_spec(folder)
        for task in sorted(spec["tasks"], key=lambda t: task_key(t["id"])):
            work.append((folder, spec, task))
    jobs = jobs or max(os.cpu_count() or 1, 1)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(lambda item: _grade_task(*item, timeout=timeout), work))


def _grade_task(folder: Path, spec: dict, task: dict, timeout: float) -> TaskResult:
    result = TaskResult(assignment=folder.name, id=task["id"], title=task["title"], points=task["points"])
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="minigrad-grade-") as scratch:
        events_path = Path(scratch) / "events.jsonl"
        stderr_path = Path(scratch) / "stderr.txt"
        command = [sys.executable, "-I", "-B", "-m", "minigrad.grading", "--worker",
                   str(folder), task["id"], str(events_path)]
        # One BLAS thread per worker: the workers already run side by side.
        # No third-party pytest plugins (hypothesis' alone costs a second per worker).
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
                   PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", PYTEST_ADDOPTS="")
        with open(stderr_path, "wb") as stderr:
            process = subprocess.Popen(
                command, cwd=scratch, env=env, stdin=subprocess.DEVNULL, stdout=stderr,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
            timed_out = False
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                _kill_group(process)
        events = _read_events(events_path)
        output = stderr_path.read_text(encoding="utf-8", errors="replace")
    result.seconds = round(time.monotonic() - started, 2)
    _score(result, events, timed_out, process.returncode, output, timeout)
    return result


def _kill_group(process: subprocess.Popen) -> None:
    """Kill the worker and everything it started (its own process group)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()
    process.wait()


def _read_events(path: Path) -> list:
    if not path.exists():
        return []
    events = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            break  # a line cut off by the kill
    return events


def _score(result: TaskResult, events: list, timed_out: bool, returncode, output: str, timeout: float) -> None:
    """Turn a worker's events into a status, a score and a one-line summary."""
    result.tests = [e for e in events if e["event"] == "test"]
    result.checks = [e for e in events if e["event"] == "check"]
    errors = [e["message"] for e in events if e["event"] == "error"]
    done = any(e["event"] == "done" for e in events)
    if timed_out:
        running = [e["what"] for e in events if e["event"] == "start"]
        where = f" while running {running[-1]}" if running else ""
        result.status = "timeout"
        result.summary = (f"stopped after the time limit of {timeout:g} s{where}: an infinite loop, or "
                          f"far too slow")
        return
    if not done:
        tail = " | ".join(line for line in output.strip().splitlines()[-3:])
        result.status = "crashed"
        result.summary = f"the task's process ended without finishing (exit code {returncode})" + (f": {tail}" if tail else "")
        return
    if errors:
        result.status = "error"
        result.summary = errors[0]
        return
    if not result.tests:
        result.status = "error"
        result.summary = f"no test is marked task{tuple(task_key(result.id))}: nothing to grade (ask your instructor)"
        return
    failures = [f"{t['name']}: {t['message']}" for t in result.tests if t["outcome"] != "passed"]
    failures += [f"{c['kind']} {c['primitive']} ({c['case']}): {c['report']}" for c in result.checks if not c["ok"]]
    if not failures:
        result.status, result.score = "passed", result.points
        return
    placeholders = [_NOT_IMPLEMENTED.search(f) for f in failures]
    if all(placeholders):
        result.status = "not implemented"
        messages = {m.group(1).split(":")[0]: m.group(1) for m in placeholders}  # "Task 3.1" -> message
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
    parts += [f"{failed_checks} of {len(result.checks)} gradient checks"] if failed_checks else []
    result.summary = f"{' and '.join(parts)} fail:"


# ---------------------------------------------------------------------------------------
# Reports
# ---------------------------------------------------------------------------------------
def format_table(results: list, directory: str | Path) -> str:
    """The per-task score table, each lost task followed by what is wrong."""
    lines = [f"Grading {Path(directory).resolve()}", ""]
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
    return "\n".join(lines)


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
    # Reports that compare values (which entries, analytic vs numeric) say more than a
    # backward pass that raised, which the failing tests above usually show already.
    failing.sort(key=lambda c: "raised an error" in c["report"] or not c["report"].startswith(("gradcheck", "symbolic_check")))
    for check in failing[:2]:
        report = check["report"].splitlines()
        lines.append(f"{check['kind']} of {check['primitive']} on {check['case']}:")
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
        "score": sum(r.score for r in results),
        "max_score": sum(r.points for r in results),
        "assignments": list(assignments.values()),
    }


def run(args) -> int:
    """Entry point of ``minigrad grade DIR [--json] [--timeout S]``."""
    timeout = float(getattr(args, "timeout", 60.0) or 60.0)
    try:
        results = grade(args.directory, timeout=timeout)
    except AssignmentError as error:
        print(f"minigrad grade: {error}", file=sys.stderr)
        return 2
    if getattr(args, "json", False):
        print(json.dumps(as_json(results, args.directory), indent=2))
    else:
        print(format_table(results, args.directory))
    return 0 if all(r.status == "passed" for r in results) else 1


# ---------------------------------------------------------------------------------------
# The worker's side (runs in the task's own process: student code is imported here only)
# ---------------------------------------------------------------------------------------
class _Events:
    """Results as JSON lines, flushed one by one so that a killed worker leaves what it did."""

    def __init__(self, path: str):
        self._file = open(path, "a", encoding="utf-8")

    def __call__(self, event: str, **fields) -> None:
        self._file.write(json.dumps({"event": event, **fields}, default=str) + "\n")
        self._file.flush()


class _TaskPlugin:
    """A pytest plugin: keep only the tests marked task(n, m), stream their outcomes."""

    def __init__(self, task_id: str, emit: _Events):
        self.wanted = task_key(task_id)
        self.emit = emit

    def pytest_configure(self, config) -> None:
        config.addinivalue_line("markers", "task(n, m): a coursework task's test")

    def pytest_collection_modifyitems(self, session, config, items) -> None:
        keep, drop = [], []
        for item in items:
            marker = item.get_closest_marker("task")
            (keep if marker is not None and tuple(marker.args) == self.wanted else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
        items[:] = keep

    def pytest_collectreport(self, report) -> None:
        if report.failed:
            self.emit("error", message=f"the tests could not be collected: {_crash_message(report)}")

    def pytest_runtest_logstart(self, nodeid, location) -> None:
        self.emit("start", what=f"test {nodeid.split('::', 1)[-1]}")

    def pytest_runtest_logreport(self, report) -> None:
        if report.when == "call" or report.outcome != "passed":
            name = report.nodeid.split("::", 1)[-1]
            message = _crash_message(report) if report.outcome != "passed" else ""
            self.emit("test", name=name, outcome=report.outcome, message=message,
                      seconds=round(report.duration, 3))


def _crash_message(report) -> str:
    """The exception line of a failed test (``AssertionError: grad_a: 2 of 4 entries ...``)."""
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None and crash.message:
        return crash.message
    text = str(report.longrepr)
    # A collection error (a SyntaxError in the student's file): keep its "E" lines, which
    # name the file and line, without the caret line under the code.
    errors = [line[1:].strip() for line in text.splitlines() if line.startswith("E ")]
    errors = [line for line in errors if line.strip("^~ ")]
    return " | ".join(errors[-5:]) if errors else text.strip().splitlines()[-1] if text.strip() else "failed"


def _make_inputs(shapes, domain: str, rng) -> list:
    """float64 arrays for a primitive's example shapes, drawn from its domain."""
    import numpy as np

    arrays = []
    for shape in shapes:
        size = int(np.prod(shape)) if shape else 1
        if domain == "positive":
            values = rng.uniform(0.5, 2.0, size)
        elif domain == "nonzero":
            values = rng.uniform(0.5, 2.0, size) * rng.choice([-1.0, 1.0], size)
        elif domain == "distinct":  # well apart, so no step of eps crosses a tie
            values = (rng.permutation(size) - size / 2.0) * 0.37 + 0.05
        else:
            values = rng.normal(size=size)
        arrays.append(values.reshape(shape).astype(np.float64))
    return arrays


def _describe_case(shapes, attrs: dict, wrt: list) -> str:
    shown = ", ".join(str(tuple(s)) for s in shapes)
    scalars = {k: v for k, v in attrs.items() if isinstance(v, (int, float, str, bool, tuple))}
    extra = f"; {', '.join(f'{k}={v}' for k, v in scalars.items())}" if scalars else ""
    return f"shapes {shown}{extra}; gradient w.r.t. input(s) {', '.join(map(str, wrt))}"


def _exact_constant(value):
    """A float constant as exact SymPy rationals (other values unchanged).

    In a symbolic check the inputs that are not differentiated stay numbers. As floats,
    products of them are rounded (differently in the forward and in the VJP), and the
    exact comparison would see a 1e-16 difference as a wrong gradient.
    """
    import numpy as np

    from minigrad import backend

    sp = backend.sympy()
    if isinstance(value, float):
        return sp.Rational(repr(value))
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        exact = np.empty(value.shape, dtype=object)
        for index in np.ndindex(*value.shape):
            exact[index] = sp.Rational(repr(float(value[index])))
        return exact
    return value


def _run_checks(module_name: str, task: dict, emit: _Events) -> None:
    """gradcheck (every example) and symbolic_check (the first) of each VJP of the task."""
    import importlib

    import numpy as np

    from minigrad.gradcheck import GradcheckError, gradcheck
    from minigrad.ops.registry import REGISTRY, apply
    from minigrad.symbolic import symbolic_check
    from minigrad.tensor import Tensor

    try:
        importlib.import_module(module_name)
    except BaseException as error:  # noqa: BLE001 - any failure of student code is a report
        emit("error", message=f"importing {module_name} raised {type(error).__name__}: {error}")
        return
    rng = np.random.default_rng(0)  # the same inputs for every student
    for check in task.get("checks", []):
        name = check["primitive"]
        op = REGISTRY.get(name)
        if op is None:
            emit("check", kind="gradcheck", primitive=name, case="-", ok=False, method="",
                 report=f"no primitive named '{name}' is registered: keep the class, its name and @register")
            continue
        for index, (shapes, attrs) in enumerate(op.examples):
            wrt = list(check.get("wrt", range(len(shapes))))
            arrays = _make_inputs(shapes, op.domain, rng)
            case = f"example {index + 1}: {_describe_case(shapes, attrs, wrt)}"

            def fn(*wrt_tensors, arrays=arrays, attrs=attrs, wrt=wrt):
                tensors = [Tensor(a) for a in arrays]
                for position, tensor in zip(wrt, wrt_tensors):
                    tensors[position] = tensor
                return apply(op, *tensors, **attrs)

            fn.__qualname__ = name
            emit("start", what=f"gradcheck of {name} on {case}")
            inputs = [Tensor(arrays[i].copy(), requires_grad=True) for i in wrt]
            try:
                gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True)
                emit("check", kind="gradcheck", primitive=name, case=case, ok=True, method="finite differences", report="")
            except GradcheckError as error:
                emit("check", kind="gradcheck", primitive=name, case=case, ok=False, method="finite differences", report=str(error))
                if _NOT_IMPLEMENTED.search(str(error)):
                    continue  # the placeholder is still there: SymPy would only say so again
            except BaseException as error:  # noqa: BLE001
                emit("check", kind="gradcheck", primitive=name, case=case, ok=False, method="finite differences",
                     report=f"{type(error).__name__}: {error}")
            if index > 0 or not op.symbolic or not check.get("symbolic", True):
                continue
            emit("start", what=f"symbolic_check of {name} on {case}")
            exact_arrays = [_exact_constant(a) for a in arrays]
            exact_attrs = {key: _exact_constant(value) for key, value in attrs.items()}

            def symbolic_fn(*wrt_tensors, arrays=exact_arrays, attrs=exact_attrs, wrt=wrt):
                tensors = [Tensor(a) for a in arrays]
                for position, tensor in zip(wrt, wrt_tensors):
                    tensors[position] = tensor
                return apply(op, *tensors, **attrs)

            try:
                outcome = symbolic_check(symbolic_fn, [shapes[i] for i in wrt], domain=op.domain,
                                         budget=SYMBOLIC_BUDGET, seed=0, name=name)
                emit("check", kind="symbolic_check", primitive=name, case=case, ok=bool(outcome.ok),
                     method=outcome.method, report="" if outcome.ok else outcome.report)
            except BaseException as error:  # noqa: BLE001
                emit("check", kind="symbolic_check", primitive=name, case=case, ok=False, method="",
                     report=f"{type(error).__name__}: {error}")


def _worker_main(argv: list) -> int:
    """``python -m minigrad.grading --worker FOLDER TASK EVENTS``: grade one task."""
    folder, task_id, events_path = argv
    emit = _Events(events_path)
    spec = load_spec(folder)
    task = next(t for t in spec["tasks"] if t["id"] == task_id)
    sys.path.insert(0, folder)
    os.chdir(folder)

    import pytest

    emit("start", what="collecting the tests")
    pytest.main(
        [folder, "-q", "--tb=line", "-p", "no:cacheprovider", "--rootdir", folder, "-c", os.devnull,
         "-o", "addopts=", "--no-header", "-W", "ignore::DeprecationWarning"],
        plugins=[_TaskPlugin(task_id, emit)],
    )
    _run_checks(spec["module"], task, emit)
    emit("done")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        sys.stdout.flush()
        # os._exit: student code may have left threads or atexit hooks that would hang the exit
        code = _worker_main(sys.argv[2:])
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    print("usage: minigrad grade DIR [--json] [--timeout S]", file=sys.stderr)
    raise SystemExit(2)
