"""A graded task's result: its score from what the grader found, and the reports of it.

The grader (minigrad/coursework/grading.py) fills one :class:`TaskResult` per task with the
tests' outcomes and the comparisons' reports; :func:`score_task` turns them into a status, a
score and a one-line summary, and the writers here show them as a terminal table, as JSON for
an LMS, or in Gradescope's results.json schema. Every text that came from a worker passes
through :func:`clean` before it is shown.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from minigrad.coursework.assignment import task_key

#: a failure that is the student version's placeholder, not a wrong answer
NOT_IMPLEMENTED = re.compile(r"NotImplementedError: (Task \d+\.\d+\b[^\n]*)")
#: lines of one check's report shown in the table (the JSON keeps all of it)
REPORT_LINES = 14


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
# The score
# ---------------------------------------------------------------------------------------
def score_task(result: TaskResult) -> None:
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
    placeholders = [NOT_IMPLEMENTED.search(f) for f in failures]
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
                lines.extend(f"        {line}" for line in details(r))
        score, points = sum(r.score for r in tasks), sum(r.points for r in tasks)
        lines.append(f"  {'':<6}{'subtotal':<{width + 2}}{f'{score}/{points}':>9}")
        lines.append("")
    score, points = sum(r.score for r in results), sum(r.points for r in results)
    passed = sum(r.status == "passed" for r in results)
    lines.append(f"Total: {score}/{points} points ({passed} of {len(results)} tasks passed)")
    return clean("\n".join(lines), 10 ** 7)


def details(result: TaskResult) -> list:
    """What a lost task shows under its row: the summary, failing tests and check reports."""
    lines = [result.summary] if result.summary else []
    if result.status in ("not implemented", "timeout", "crashed", "error"):
        return lines
    shown = 0
    for test in result.tests:
        if test["outcome"] != "passed" and shown < 4:
            first = test["message"].splitlines()[0] if test["message"] else test["outcome"]
            lines.append(f"test {test['name']}: {first}")
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
        text = "\n".join([f"status: {r.status}"] + ([] if r.status == "passed" else details(r)))
        tests.append({"name": f"{r.assignment} task {r.id}: {r.title}", "number": r.id, "score": float(r.score),
                      "max_score": float(r.points), "status": "passed" if r.status == "passed" else "failed",
                      "output": clean(text, 20000), "visibility": "visible"})
    score, points = sum(r.score for r in results), sum(r.points for r in results)
    return {"score": float(score), "execution_time": int(round(seconds)),
            "output": f"minigrad grade: {score}/{points} points ({sum(r.status == 'passed' for r in results)} of "
                      f"{len(results)} tasks passed)" + ("" if all(r.trusted for r in results) else
                                                         " in a SELF-CHECK, not a grade (no --source)"),
            "visibility": "visible", "stdout_visibility": "hidden", "tests": tests}



__all__ = ["NOT_IMPLEMENTED", "TaskResult", "as_gradescope", "as_json", "clean", "format_table", "score_task"]
