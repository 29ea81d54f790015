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
The assignments and their cases come from minigrad/coursework/cases.py, the comparisons of
step 4 from compare.py, and the score and the reports of each task from results.py.
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
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from minigrad.coursework.assignment import AssignmentError, task_key, without_prefix
from minigrad.coursework.cases import AssignmentPlan, all_cases, plan_grading
from minigrad.coursework.compare import MalformedAnswer, WorkerFailed, as_array, compare, numeric_jacobians
from minigrad.coursework.results import (
    NOT_IMPLEMENTED, TaskResult, as_gradescope, as_json, clean, format_table, score_task,
)
from minigrad.coursework.sandbox import Limits, SandboxedWorker, WorkerError

#: more output entries than this: the VJP is checked on random upstream gradients instead
MAX_ONEHOT = 256
#: the exception names a hidden check's report may show
_BUILTIN_ERRORS = {name for name, value in vars(builtins).items()
                   if isinstance(value, type) and issubclass(value, BaseException)}


# ---------------------------------------------------------------------------------------
# The references: the instructor's solution, in a worker of its own
# ---------------------------------------------------------------------------------------
def _references(plan: AssignmentPlan, limits: Limits, hide: list) -> tuple:
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

        cases = all_cases(plan, describe)
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
# One task
# ---------------------------------------------------------------------------------------
def _grade_task(plan: AssignmentPlan, task: dict, reference, limits: Limits, hide: list) -> TaskResult:
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
    score_task(result)
    return result


def _run_task(plan: AssignmentPlan, task: dict, reference, limits: Limits, hide: list, result: TaskResult) -> None:
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
                        raise WorkerFailed(answer)
                    described[name] = (answer["examples"], answer["domain"])
                return described[name]

            try:
                cases = all_cases(plan, describe, trusted=False)[task["id"]]
            except WorkerFailed as failed:
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
            result.output = (head if report.output_bytes <= len(head)
                             else f"{head}\n[... {report.output_bytes} bytes printed in all]")


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
            raise WorkerFailed(answer)
        if reference is None and case["kind"] == "vjp":
            output = as_array(answer.get("output"), "the output")
            answer = dict(answer, numeric=numeric_jacobians(worker, case, output.shape))
        report = compare(case, answer, reference)
    except WorkerFailed as failed:
        report = clean(failed.answer.get("error") or "the worker reported an error without a message")
        if case["hidden"]:
            # Nothing the worker wrote about a hidden check is shown (it could carry the inputs):
            # a standard exception's name, or the placeholder's task number.
            placeholder = NOT_IMPLEMENTED.search(report)
            kind = failed.answer.get("kind")
            if placeholder:
                report = f"NotImplementedError: {placeholder.group(1).split(':')[0]}"
            else:
                report = f"raised {kind if isinstance(kind, str) and kind in _BUILTIN_ERRORS else 'an error'}"
    except MalformedAnswer as lie:
        raise WorkerError(f"the worker broke the grading protocol ({lie}); the task scores 0", "protocol") from None
    entry["ok"] = not report
    if report and case["hidden"] and not NOT_IMPLEMENTED.search(report):
        shown = report if report.startswith("raised ") else "wrong values"
        report = f"{case['label']} fails ({shown}; its inputs are not shown)"
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
        raise WorkerError("the worker broke the grading protocol (malformed test outcomes); the task scores 0",
                          "protocol")
    for outcome in tests["outcomes"][:500]:
        seconds = outcome.get("seconds", 0)
        result.tests.append({"name": clean(outcome.get("name", "?"), 200), "outcome": clean(outcome.get("outcome"), 20),
                             "message": clean(outcome.get("message", "")),
                             "seconds": float(seconds) if isinstance(seconds, (int, float)) else 0.0})
    for error in errors[:5]:
        result.checks.append({"kind": "tests", "name": "", "case": "", "ok": False, "hidden": False,
                              "report": clean(f"the tests could not be collected: {error}")})


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
        return _grade_all([(directory, plan_grading(directory, None))], None, timeout, jobs, limits)[0]
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
        submissions.append((directory, plan_grading(directory, source)))
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

        def one(directory: Path, plan: AssignmentPlan, task: dict) -> TaskResult:
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


def _safe_references(plan: AssignmentPlan, limits: Limits, hide: list):
    try:
        return _references(plan, limits, hide)
    except (WorkerError, AssignmentError) as error:
        return error


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


__all__ = ["grade", "grade_submissions", "run"]
