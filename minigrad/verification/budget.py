"""A hard wall-time budget for SymPy work, which has no timeout of its own.

``simplify`` can run for minutes on an expression of a few thousand operations, and SymPy
cannot be interrupted from outside. So a budgeted task runs in a forked child process that
is killed at the deadline (``within_budget``); inside the child, ``run_until`` works through
a list of items and stops at the deadline with an alarm signal, so one slow item cannot
take the time of the rest. A task may hand over what it can already say (``post_partial``),
which is what the caller gets if the deadline comes first.

Where fork is unavailable (or inside a daemonic process, which may not start children) the
task runs in a daemon thread that is abandoned at the deadline instead.
"""
from __future__ import annotations

import contextlib
import math
import multiprocessing
import pickle
import signal
import threading
import time
import traceback
from typing import Callable

__all__ = ["DEFAULT_BUDGET", "SymbolicTooLarge", "too_large_message", "within_budget", "run_until", "post_partial"]

#: seconds symbolic_check and derive may take in all (run, sympy.diff, proofs, points)
DEFAULT_BUDGET = 10.0


class SymbolicTooLarge(TimeoutError):
    """The symbolic work did not fit in its wall-time budget (``derive``, ``derive_textbook``)."""


def too_large_message(budget: float) -> str:
    """The one wording of a budget overrun, shared by symbolic_check, derive and the CLI."""
    return f"too large to prove in {budget:g} s: try a smaller shape"


class _OutOfTime(BaseException):
    """Raised by the alarm inside a budgeted child. A BaseException, so that SymPy's own
    ``except Exception`` blocks cannot swallow it."""


@contextlib.contextmanager
def _alarm(seconds: float):
    """Interrupt the block after ``seconds`` (SIGALRM), where the platform allows it.

    Only in the main thread of the forked worker; elsewhere the block runs to its end and
    the caller checks the clock between items instead.
    """
    if seconds <= 0:
        raise _OutOfTime
    # Never in the caller's own process: its SIGALRM may be in use (pytest-timeout, a server).
    usable = _IN_WORKER and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def ring(signum, frame):
        raise _OutOfTime

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_until(deadline: float, task: Callable, items: list) -> list:
    """``[task(item) ...]`` until ``deadline`` (time.monotonic); None for what was not reached."""
    results = [None] * len(items)
    try:
        remaining = deadline - time.monotonic()
        with _alarm(remaining) if math.isfinite(remaining) else contextlib.nullcontext():
            for index, item in enumerate(items):
                if time.monotonic() >= deadline:
                    break
                try:
                    results[index] = task(item)
                except Exception:  # noqa: BLE001 - an unprovable item stays unproved
                    results[index] = None
    except _OutOfTime:
        pass
    return results


#: True inside the forked worker process of within_budget (where the alarm may be used)
_IN_WORKER = False
#: where a budgeted task's partial results go (set by within_budget; None: nowhere)
_PARTIAL = None


def post_partial(value) -> None:
    """Hand within_budget what the task can already say, in case the deadline comes first."""
    if _PARTIAL is not None:
        _PARTIAL(value)


def _child_main(task, deadline, writer) -> None:  # pragma: no cover - runs in the child process
    global _IN_WORKER, _PARTIAL
    _IN_WORKER = True
    _PARTIAL = lambda value: writer.send_bytes(pickle.dumps(("partial", value)))  # noqa: E731
    try:
        outcome = ("done", task(deadline))
    except BaseException as error:  # noqa: BLE001 - handed to the parent, which re-raises it
        # The child's traceback is lost in pickling: keep it as a note on the error.
        if hasattr(error, "add_note"):  # Python >= 3.11
            error.add_note("in the symbolic worker process:\n" + "".join(traceback.format_tb(error.__traceback__)))
        outcome = ("error", error)
    try:
        payload = pickle.dumps(outcome)
    except Exception:  # noqa: BLE001 - a result or error that cannot be pickled
        detail = outcome[1] if outcome[0] == "error" else "the result could not be sent back"
        payload = pickle.dumps(("error", RuntimeError(f"{type(detail).__name__}: {detail}")))
    writer.send_bytes(payload)
    writer.close()


def within_budget(task: Callable, budget: float | None) -> tuple:
    """Run ``task(deadline)`` with a hard wall-time limit: ("done", value) or ("timeout", partial).

    ``deadline`` is a ``time.monotonic()`` value the task may use to plan its own phases;
    ``partial`` is the last value the task handed to ``post_partial`` (None if none). The
    task runs in a forked child process, killed at the deadline (SymPy has no timeout of
    its own); an exception it raises is raised here. Where fork is unavailable the task
    runs in a daemon thread that is abandoned at the deadline. ``budget=None`` (or inf)
    runs it here, without a limit.
    """
    global _PARTIAL
    if budget is None or math.isinf(budget):
        return "done", task(math.inf)
    if budget <= 0:
        return "timeout", None
    deadline = time.monotonic() + budget
    # A daemonic process (a multiprocessing pool's worker, or this module's own worker) may
    # not start children: there, as where fork is missing, a thread is the fallback.
    can_fork = "fork" in multiprocessing.get_all_start_methods() and not multiprocessing.current_process().daemon
    if not can_fork:
        box = {}

        def body():
            try:
                box["value"] = ("done", task(deadline))
            except BaseException as error:  # noqa: BLE001
                box["value"] = ("error", error)

        _PARTIAL = lambda value: box.__setitem__("partial", value)  # noqa: E731
        thread = threading.Thread(target=body, daemon=True)
        thread.start()
        thread.join(budget)
        _PARTIAL = None
        outcome = box.get("value", ("timeout", box.get("partial")))
    else:
        context = multiprocessing.get_context("fork")
        reader, writer = context.Pipe(duplex=False)
        process = context.Process(target=_child_main, args=(task, deadline, writer), daemon=True)
        process.start()
        writer.close()
        outcome, partial = None, None
        try:
            while outcome is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not reader.poll(remaining):
                    break
                try:
                    message = pickle.loads(reader.recv_bytes())
                except EOFError:  # the child died without an answer (killed, out of memory)
                    message = ("error", RuntimeError(
                        f"the symbolic worker process ended without a result (exit code {process.exitcode})"))
                if message[0] == "partial":
                    partial = message[1]
                else:
                    outcome = message
            if outcome is None:
                outcome = ("timeout", partial)
        finally:
            reader.close()
            if process.is_alive():
                process.kill()
            process.join()
    if outcome[0] == "error":
        raise outcome[1]
    return outcome
