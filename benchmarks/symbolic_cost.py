"""What a symbolic proof costs: ``symbolic_check`` of each norm's fused op as the input grows.

``minigrad.verification.symbolic.symbolic_check`` runs the op on SymPy symbols, takes the whole
Jacobian the engine's VJPs give and proves every entry equal to ``sympy.diff`` of the
forward. Its cost grows fast with the input (the Jacobian of an r x c -> r x c op has
(rc)^2 entries, each a larger expression), so this reports, for each norm:

    <norm>_<r>x<c>_s        CPU seconds of one check at 2x2, 2x3 and 3x3 (median of up to
                            three runs; one when a run takes over 0.3 s)
    <norm>_methods          the check's verdict at those sizes ("proved" is the goal)
    <norm>_largest_proved   the largest n found (within the case's cap) for which n x n is
                            "proved" in under 10 s
    <norm>_largest_s        its CPU seconds (``_largest_wall_s``: its wall-clock seconds)
    <norm>_predicted_largest  the largest n predicted to prove in under 10 s (time ~ n^k
                            fitted to the last two sizes proved; below the smallest size
                            seen to fail): an estimate where the cap stopped the search
    <norm>_tried            the square sizes tried, with their CPU seconds
    <norm>_next             why the search stopped: the next size took over 10 s, or was
                            predicted to (time ~ n^k fitted to the last two sizes), or did
                            not fit the case's time cap

Times are CPU seconds of the check's process and the prover process it forks, read from
/proc while it runs and from getrusage when it ends: on a shared machine the wall clock
counts other people's work too. (Where /proc is missing, the wall clock is used.) A check
is stopped when its CPU time passes 10 s (or its wall time 25 s).

The search jumps: from the largest size proved so far it runs the largest size (at most
1.5 times as large) predicted to take under 6 s, and near the limit the next size up, if
it is predicted under 12.5 s; a size over the limit ends a norm's search (sizes between the
last proved one and it are tried only while the predictions allow). Two checks run at once
(one per core; each is single-threaded); a free worker goes to the norm that has used the
least CPU time, and the whole case is capped (80 s of wall time, shared out among the norms
still searching), so the search reports the largest size found within that cap.

Every check runs in a fresh forked process. That keeps SymPy's expression cache cold
(repeats in one process would time cache look-ups, not proofs) and lets a size that is too
slow be stopped: the child leads its own process group, and the group is killed, prover
and all. Imports happen once in the parent before any fork, and a first small check is
run and discarded, so no run pays for start-up.
"""
from __future__ import annotations

import math
import multiprocessing
import multiprocessing.connection
import os
import resource
import signal
import time

import numpy as np

FIXED_SIZES = ((2, 2), (2, 3), (3, 3))
PROOF_LIMIT = 10.0     # CPU seconds: "proves in under 10 s"
WALL_LIMIT = 25.0      # wall seconds after which a check is stopped whatever its CPU time
CASE_CAP = 80.0        # wall seconds for the whole case (fixed sizes and the search)
WORKERS = 2            # checks at once: one per core
JUMP_TARGET = 0.6      # a jump aims at sizes predicted to take under this fraction of the limit
LAST_STEP = 1.25       # the next size is tried if predicted under this multiple of the limit
MAX_JUMP = 1.5         # a jump at most multiplies n by this
REPEAT_BELOW = 0.3     # CPU seconds: faster fixed-size checks are run up to three times


def _constant_vector(values) -> object:
    """A constant minigrad tensor of SymPy rationals (exact, so the proof stays exact)."""
    import sympy as sp

    import minigrad as mg

    return mg.Tensor._constant(np.array([sp.Rational(int(a), int(b)) for a, b in values], dtype=object))


def _spectral(rows: int, columns: int):
    from norms import spectral_normalize

    # Positive constant u and v (PyTorch's convention: no gradient flows into them).
    u = _constant_vector([(k + 1, k + 2) for k in range(rows)])
    v = _constant_vector([(k + 2, k + 3) for k in range(columns)])

    def spectral_normalize_const_uv(w):
        return spectral_normalize(w, u, v)

    return spectral_normalize_const_uv


def norm_problem(name: str, rows: int, columns: int) -> tuple:
    """(fn, shapes, domain) of ``name``'s fused op on an input of shape (rows, columns)."""
    import norms

    problems = {
        "frobenius_norm": (lambda x: norms.frobenius_norm(x), [(rows, columns)], "real"),
        "vector_norm_p3": (lambda x: norms.vector_norm(x, 3), [(rows, columns)], "positive"),
        "spectral_normalize": (_spectral(rows, columns), [(rows, columns)], "positive"),
        "weight_normalize": (lambda g, v: norms.weight_normalize(g, v, 0),
                             [(rows, 1), (rows, columns)], "nonzero"),
        "pixel_norm": (lambda x: norms.pixel_norm(x, 1, 1e-8), [(rows, columns)], "real"),
        "layer_norm": (lambda x, w, b: norms.layer_norm(x, columns, w, b),
                       [(rows, columns), (columns,), (columns,)], "real"),
        "rms_norm": (lambda x, w: norms.rms_norm(x, columns, w, 1e-6), [(rows, columns), (columns,)], "real"),
        "batch_norm": (lambda x, w, b: norms.batch_norm(x, None, None, w, b, training=True),
                       [(rows, columns), (columns,), (columns,)], "real"),
    }
    return problems[name]


NORMS = ("frobenius_norm", "vector_norm_p3", "spectral_normalize", "weight_normalize",
         "pixel_norm", "layer_norm", "rms_norm", "batch_norm")
QUICK_NORMS = ("frobenius_norm", "layer_norm")


def _cpu_seconds_of_self_and_children() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _child(name, rows, columns, writer) -> None:  # pragma: no cover - runs in the child
    os.setpgid(0, 0)  # lead a group, so the parent can kill this child and its prover together
    from minigrad.verification.symbolic import symbolic_check

    cpu_start, wall_start = _cpu_seconds_of_self_and_children(), time.perf_counter()
    fn, shapes, domain = norm_problem(name, rows, columns)
    # The check's own (wall-clock) proof budget is set past the parent's limits, so that the
    # parent, which counts CPU time, is the one that decides "under 10 s".
    result = symbolic_check(fn, shapes, domain=domain, budget=WALL_LIMIT + 5, seed=0, name=name)
    writer.send({"ok": result.ok, "method": result.method, "entries": result.entries, "proved": result.proved,
                 "cpu": _cpu_seconds_of_self_and_children() - cpu_start,
                 "wall": time.perf_counter() - wall_start, "status": "done"})
    writer.close()


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def group_cpu_seconds(group: int) -> float | None:
    """CPU seconds used so far by the processes of ``group`` (and the children they reaped).

    Read from /proc (Linux); None where there is no /proc.
    """
    if not os.path.isdir("/proc"):
        return None
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group:  # pgrp; then utime, stime, cutime, cstime
            total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return total / _TICKS


class _Job:
    """One check running in a forked child: its norm, size, pipe and clocks."""

    def __init__(self, name: str, rows: int, columns: int):
        context = multiprocessing.get_context("fork")
        self.name, self.size = name, (rows, columns)
        self.reader, writer = context.Pipe(duplex=False)
        self.process = context.Process(target=_child, args=(name, rows, columns, writer))
        self.started = time.monotonic()
        self.process.start()
        writer.close()
        self.cpu = 0.0

    def stop(self, status: str) -> dict:
        """Kill the child's group; the outcome of a check that did not finish."""
        self.close()
        return {"ok": False, "method": status, "cpu": self.cpu, "wall": time.monotonic() - self.started,
                "status": status}

    def close(self) -> None:
        self.reader.close()
        if self.process.is_alive():
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.join()


def run_checks(plans: dict, deadline_at: float, workers: int = WORKERS, limit: float = PROOF_LIMIT,
               state: dict | None = None) -> dict:
    """Drive each norm's plan (a generator of sizes) with up to ``workers`` checks at once.

    A plan yields (rows, columns), is sent the outcome of that check, and returns its
    results; each norm has one check running at a time. A free worker goes to the norm
    that has used the least CPU time so far, so every norm gets its small sizes done first
    and its fair share of the cap. A check is stopped past ``limit`` CPU seconds,
    WALL_LIMIT wall seconds, or at ``deadline_at`` (the case's cap). The CPU seconds of
    every finished check are added up in ``state["cpu_spent"]``. Returns {norm: results}.
    """
    state = state if state is not None else {}
    pending = {}        # name -> (rows, columns) the plan asked for, not yet started
    spent = dict.fromkeys(plans, 0.0)
    running = {}        # reader -> job
    results = {}

    def advance(name, outcome):
        try:
            request = plans[name].send(outcome)
        except StopIteration as stop:
            results[name] = stop.value
            return
        pending[name] = request

    for name in plans:
        advance(name, None)
    while pending or running:
        while pending and len(running) < workers:
            name = min(pending, key=lambda key: spent[key])
            rows, columns = pending.pop(name)
            job = _Job(name, rows, columns)
            running[job.reader] = job
        ready = multiprocessing.connection.wait(list(running), timeout=0.25)
        finished = []
        for reader in ready:
            job = running.pop(reader)
            try:
                outcome = reader.recv()
            except EOFError:
                outcome = {"ok": False, "method": "child died", "cpu": job.cpu,
                           "wall": time.monotonic() - job.started, "status": "died"}
            job.close()
            finished.append((job, outcome))
        now = time.monotonic()
        for reader, job in list(running.items()):
            cpu = group_cpu_seconds(job.process.pid)
            job.cpu = cpu if cpu is not None else now - job.started
            if job.cpu > limit:
                status = "over limit"
            elif now - job.started > WALL_LIMIT:
                status = "over wall limit"
            elif now > deadline_at:
                status = "case time cap"
            else:
                continue
            del running[reader]
            finished.append((job, job.stop(status)))
        for job, outcome in finished:
            spent[job.name] += outcome["cpu"]
            state["cpu_spent"] = state.get("cpu_spent", 0.0) + outcome["cpu"]
            advance(job.name, outcome)
    return results


def _predict(points: list, n: int) -> tuple:
    """(predicted CPU seconds at n x n, exponent k) from time ~ n^k through the last two points."""
    if len(points) >= 2 and points[-2][1] > 0:
        (n0, t0), (n1, t1) = points[-2], points[-1]
        k = math.log(t1 / t0) / math.log(n1 / n0) if t1 > t0 else 2.0
    else:
        n1, t1 = points[-1]
        k = 4.0
    k = min(max(k, 2.0), 8.0)  # small sizes are all overhead: never assume slower growth than n^2
    return t1 * (n / n1) ** k, k


def _describe_failure(outcome: dict) -> str:
    if outcome["status"] != "done":
        return f"{outcome['method']} after {outcome['cpu']:.3g} s CPU"
    return (f"{outcome['method']} in {outcome['cpu']:.3g} s "
            f"({outcome.get('proved', '?')} of {outcome.get('entries', '?')} entries proved)")


def _norm_plan(name: str, fixed, runs: int, search: bool, state: dict, limit: float = PROOF_LIMIT):
    """The checks of one norm, as a generator: yields (rows, columns), is sent the outcome.

    ``state`` is shared by the plans: the case's deadline and how many norms are still
    searching (for the share of the remaining time a norm may plan with).
    """
    results, methods = {}, []
    squares = []     # (n, CPU seconds) of the square sizes proved under the limit, in order
    failures = {}    # n -> why n x n failed
    for rows, columns in fixed:
        times, verdicts = [], []
        for _ in range(runs):
            outcome = yield rows, columns
            if outcome["status"] != "done":
                verdicts.append(outcome["status"])
                if rows == columns:
                    failures[rows] = _describe_failure(outcome)
                break
            times.append(outcome["cpu"])
            verdicts.append(outcome["method"])
            if outcome["cpu"] > REPEAT_BELOW:
                break
        results[f"{name}_{rows}x{columns}_s"] = float(np.median(times)) if times else verdicts[-1]
        methods.append(verdicts[0] if len(set(verdicts)) == 1 else "/".join(verdicts))
        if rows == columns and times:
            if verdicts[-1] == "proved" and times[-1] < limit:
                squares.append((rows, float(np.median(times))))
            else:
                failures.setdefault(rows, _describe_failure(outcome))
    results[f"{name}_methods"] = "/".join(methods)
    if search:
        results.update((yield from _search(name, squares, failures, state, limit)))
    state["unfinished"] -= 1
    return results


def _predicted_largest(squares: list, failures: dict, limit: float) -> int:
    """The largest n whose n x n check is predicted (time ~ n^k) to take under ``limit``.

    Never below the largest size proved, and below the smallest size seen to fail: where
    the search saw n + 1 fail, this is the measured answer; elsewhere an estimate.
    """
    n = squares[-1][0]
    ceiling = min((m for m in failures if m > n), default=None)
    while (ceiling is None or n + 1 < ceiling) and _predict(squares, n + 1)[0] < limit:
        n += 1
    return n


def _share_left(state: dict) -> float:
    """CPU seconds a still-searching norm may plan with: its share of what the cap leaves.

    The CPU seconds the checks get per wall second is measured as the case goes (less than
    one per worker when other work loads the machine).
    """
    now = time.monotonic()
    elapsed = now - state["started"]
    rate = state["workers"]
    if elapsed > 2.0:
        rate = min(max(state.get("cpu_spent", 0.0) / elapsed, 0.5), state["workers"])
    remaining = state["deadline_at"] - now
    # A check runs on one core: it cannot get more CPU seconds than wall seconds remain.
    return min(remaining * rate / max(state["unfinished"], 1), remaining)


def _search(name: str, squares: list, failures: dict, state: dict, limit: float):
    """The upward search of ``_norm_plan`` (a generator, like it); returns its result keys."""
    tried, largest_wall, reason = [], None, ""
    while True:
        if not squares:
            reason = "no square size proved under the limit"
            break
        n = squares[-1][0]
        ceiling = min((m for m in failures if m > n), default=None)
        if ceiling == n + 1:
            reason = f"{ceiling}x{ceiling} {failures[ceiling]}"
            break
        left = _share_left(state)
        upper = min(int(n * MAX_JUMP), (ceiling or 10**6) - 1)
        target = min(JUMP_TARGET * limit, left)
        candidate = max((m for m in range(n + 2, upper + 1) if _predict(squares, m)[0] <= target), default=n + 1)
        predicted, k = _predict(squares, candidate)
        if candidate == n + 1 and predicted > min(LAST_STEP * limit, left):
            if predicted > LAST_STEP * limit:
                reason = f"{n + 1}x{n + 1} not run: predicted {predicted:.3g} s (time ~ n^{k:.1f}) > {limit:g} s"
            else:
                reason = (f"{n + 1}x{n + 1} not run: predicted {predicted:.3g} s, over this norm's "
                          f"share of the case's time cap ({max(left, 0):.3g} s)")
            break
        outcome = yield candidate, candidate
        tried.append(f"{candidate}:{outcome['cpu']:.2f}" + ("" if outcome["status"] == "done" else " (stopped)"))
        if outcome["status"] == "case time cap":
            reason = f"{candidate}x{candidate} stopped by the case's time cap after {outcome['cpu']:.3g} s CPU"
            break
        if outcome["status"] == "done" and outcome["method"] == "proved" and outcome["cpu"] < limit:
            squares.append((candidate, outcome["cpu"]))
            largest_wall = outcome["wall"]
        else:
            failures[candidate] = _describe_failure(outcome)
    results = {f"{name}_largest_proved": squares[-1][0] if squares else "none"}
    if squares:
        results[f"{name}_largest_s"] = squares[-1][1]
        if largest_wall is not None:
            results[f"{name}_largest_wall_s"] = largest_wall
        results[f"{name}_predicted_largest"] = _predicted_largest(squares, failures, limit)
    results[f"{name}_tried"] = " ".join(tried) if tried else "none"
    results[f"{name}_next"] = reason
    return results


def run(names=NORMS, fixed=FIXED_SIZES, search: bool = True, runs: int = 3, cap: float = CASE_CAP,
        workers: int = WORKERS) -> dict:
    import sympy  # noqa: F401  (imported once here, inherited by every fork)

    import minigrad.verification.symbolic  # noqa: F401
    import norms  # noqa: F401

    started = time.monotonic()
    deadline_at = started + cap
    # Warm-up: one small check, discarded, so no timed run pays for first use of anything.
    run_checks({names[0]: _norm_plan(names[0], ((2, 2),), 1, False, {"unfinished": 1})}, deadline_at)
    state = {"deadline_at": deadline_at, "unfinished": len(names), "workers": workers,
             "started": time.monotonic(), "cpu_spent": 0.0}
    plans = {name: _norm_plan(name, fixed, runs, search, state) for name in names}
    found = run_checks(plans, deadline_at, workers, state=state)
    results = {}
    for name in names:
        results.update(found[name])
    results["workers"] = workers
    results["cpu_seconds"] = state["cpu_spent"]
    results["case_seconds"] = time.monotonic() - started
    return results


def cases(quick: bool) -> list:
    """(name, callable, targets) for the runner in benchmarks/__main__.py."""
    if quick:
        return [("symbolic_cost (quick: 2x2, two norms)",
                 lambda: run(QUICK_NORMS, fixed=((2, 2),), search=False, runs=1, cap=20.0), {})]
    return [("symbolic_cost", lambda: run(), {})]


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--norms", nargs="+", choices=NORMS, default=list(NORMS))
    parser.add_argument("--no-search", action="store_true")
    parser.add_argument("--cap", type=float, default=CASE_CAP)
    parser.add_argument("--workers", type=int, default=WORKERS)
    args = parser.parse_args(argv)
    for key, value in run(tuple(args.norms), search=not args.no_search, cap=args.cap, workers=args.workers).items():
        print(f"  {key:34s} {value:.4g}" if isinstance(value, float) else f"  {key:34s} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
