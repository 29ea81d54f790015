"""Grade the red-team submissions against one instructor's copy and print the outcome as JSON.

Run by tests/test_grading_redteam.py in a process of its own, so that an attack that got
through (a signal to the grader, say) fails the test instead of ending the test run, and
so that the grader's peak memory is measured alone:

    python driver.py [--landlock-only] SOURCE TIMEOUT SUBMISSION...

(--landlock-only: even as root, no namespaces and no uid of its own: only what an
unprivileged grader has, the limits and Landlock.)

prints {"results": {name: [task, ...]}, "peak_rss_kib": n, "seconds": s, "pid": its pid}.
"""
from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path


def _peak_rss_kib() -> int:
    """This process's peak resident memory in KiB since it started (Linux's VmHWM).

    Not ``getrusage``'s ru_maxrss: that survives exec, so a driver started from a large
    process (the whole test suite, hundreds of MB) would report its parent's size.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # (no /proc: the rusage figure)


def main(argv: list) -> int:
    from minigrad.coursework.sandbox import Limits
    from minigrad.coursework.grading import grade_submissions

    landlock_only = argv[0] == "--landlock-only"
    if landlock_only:
        argv = argv[1:]
    source, timeout, submissions = argv[0], float(argv[1]), argv[2:]
    limits = Limits(seconds=timeout, address_space=1536 << 20, file_size=8 << 20, scratch_bytes=16 << 20,
                    processes=12, isolate_as_root=not landlock_only)
    started = time.monotonic()
    graded = grade_submissions(submissions, source, timeout=timeout, jobs=3, limits=limits)
    results = {Path(path).name: [{"id": r.id, "score": r.score, "points": r.points, "status": r.status,
                                  "summary": r.summary, "output": r.output,
                                  "checks": [c["report"] for c in r.checks if not c["ok"]]}
                                 for r in tasks]
               for path, tasks in zip(submissions, graded)}
    peak = _peak_rss_kib()
    print(json.dumps({"results": results, "peak_rss_kib": peak, "seconds": round(time.monotonic() - started, 2),
                      "pid": os.getpid()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
