"""Run one task's tests with pytest inside the sandboxed worker and collect their outcomes.

The outcomes are feedback for the student (which test fails, with its message). They run
next to the student's code, so the grader treats them as claims: a task scores only when
the grader's own comparisons pass too, and a reported pass can never add points.
"""
from __future__ import annotations

import os


class TaskPlugin:
    """A pytest plugin: keep only the tests marked task(n, m), record their outcomes."""

    def __init__(self, task_id: str, progress):
        major, minor = task_id.split(".")
        self.wanted = (int(major), int(minor))
        self.progress = progress
        self.outcomes: list = []
        self.collect_errors: list = []

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
            self.collect_errors.append(crash_message(report))

    def pytest_runtest_logstart(self, nodeid, location) -> None:
        self.progress(f"running test {nodeid.split('::', 1)[-1]}")

    def pytest_runtest_logreport(self, report) -> None:
        if report.when == "call" or report.outcome != "passed":
            self.outcomes.append({
                "name": report.nodeid.split("::", 1)[-1], "outcome": report.outcome,
                "message": crash_message(report) if report.outcome != "passed" else "",
                "seconds": round(report.duration, 3),
            })


def crash_message(report) -> str:
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


def run_task_tests(files: list, task_id: str, progress) -> dict:
    """Run the tests of ``task_id`` in ``files``; returns outcomes and collection errors."""
    import pytest

    plugin = TaskPlugin(task_id, progress)
    # The grader writes pytest.ini next to the tests: with it as the config file pytest
    # never walks the folders above (which the sandbox may not list).
    folder = os.path.dirname(files[0]) if files else os.getcwd()
    progress("collecting the tests")
    pytest.main(
        [*files, "-q", "--tb=line", "-p", "no:cacheprovider", "--rootdir", folder,
         "-c", os.path.join(folder, "pytest.ini"), "-o", "addopts=", "--no-header", "-W", "ignore::DeprecationWarning"],
        plugins=[plugin],
    )
    return {"outcomes": plugin.outcomes, "collect_errors": plugin.collect_errors}
