"""``python -m minigrad.coursework grade SUBMISSION --source INSTRUCTOR ...``: the grader on its own.

The ``minigrad`` command lives in the application layer, above this package, and is found
through the console script that ``pip install`` writes. The Gradescope autograder
(gradescope.py) ships only the ``minigrad`` package and installs nothing, so its
``run_autograder`` starts the grader here instead. The options are those of
``minigrad grade``; a test keeps the two lists the same.
"""
from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    """The ``grade`` command's options, as ``minigrad grade`` has them."""
    parser = argparse.ArgumentParser(prog="python -m minigrad.coursework",
                                     description="Grade a submission against the instructor's copy.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    grade = sub.add_parser("grade", help="grade a student's assignment folder against the instructor's copy")
    grade.add_argument("directory", help="the submission: one assignment folder, or a folder of them")
    grade.add_argument("--source", default=None,
                       help="the instructor's copy (assignments, solutions, hidden checks); without it: a self-check")
    grade.add_argument("--json", action="store_true", help="same as --format json")
    grade.add_argument("--format", choices=["table", "json", "gradescope"], default=None)
    grade.add_argument("--out", default=None, help="write the report to this file instead of printing it")
    grade.add_argument("--timeout", type=float, default=60.0, help="seconds allowed per task")
    grade.add_argument("--jobs", type=int, default=None, help="tasks graded at the same time (default: CPUs)")
    return parser


def main(argv: list | None = None) -> int:
    """Parse ``argv`` and grade; the exit status is that of ``minigrad grade`` (0, 1, or 2 for bad input)."""
    args = build_parser().parse_args(argv)
    from minigrad.coursework.grading import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
