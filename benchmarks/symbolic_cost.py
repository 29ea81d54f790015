"""What a symbolic proof costs: ``symbolic_check`` of each norm's fused op as the input grows.

``minigrad.symbolic.symbolic_check`` runs the op on SymPy symbols, takes the whole
Jacobian the engine's VJPs give and proves every entry equal to ``sympy.diff`` of the
forward. Its cost grows fast with the input (the Jacobian of an r x c -> r x c op has
(rc)^2 entries, each a larger expression), so this reports, for each norm:

    <norm>_<r>x<c>_s        seconds of one check at 2x2, 2x3 and 3x3 (median of runs)
    <norm>_methods          the check's verdict at those sizes ("proved" is the goal)
    <norm>_largest_proved   the largest n for which n x n is "proved" in under 10 s,
                            searched upward from 4 (3 if 3x3 already took the time)
    <norm>_largest_s        the seconds that took
    <norm>_next             what happened at the next size: not proved in 10 s (and how
                            far it got), or not tried because the case's time cap was near

Every check runs in a fresh forked process. That keeps SymPy's expression cache cold
(repeats in one process would time cache look-ups, not proofs) and lets a size that is too
slow be stopped at its deadline: the child leads its own process group, and the group is
killed, prover and all. Imports happen once in the parent before any fork, and a first
small check is run and discarded, so no run pays for start-up. The whole search is capped
(100 s) and shares that time fairly among the norms still to search.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import time

import numpy as np

FIXED_SIZES = ((2, 2), (2, 3), (3, 3))
PROOF_LIMIT = 10.0     # seconds: "proves in under 10 s"
CASE_CAP = 100.0       # seconds for the whole case (fixed sizes and the search)
FORK_SLACK = 1.0       # seconds a child gets beyond the limit to report back


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


def _child(name, rows, columns, writer) -> None:  # pragma: no cover - runs in the child
    os.setpgid(0, 0)  # lead a group, so the parent can kill this child and its prover together
    from minigrad.symbolic import symbolic_check

    fn, shapes, domain = norm_problem(name, rows, columns)
    result = symbolic_check(fn, shapes, domain=domain, budget=PROOF_LIMIT, seed=0, name=name)
    writer.send({"ok": result.ok, "method": result.method, "seconds": result.seconds,
                 "entries": result.entries, "proved": result.proved})
    writer.close()


def check_in_child(name: str, rows: int, columns: int, deadline: float) -> dict | None:
    """symbolic_check of ``name`` at (rows, columns) in a fresh fork; None past ``deadline`` s."""
    context = multiprocessing.get_context("fork")
    reader, writer = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(name, rows, columns, writer))
    process.start()
    writer.close()
    outcome = None
    try:
        if reader.poll(max(deadline, 0.0)):
            try:
                outcome = reader.recv()
            except EOFError:
                outcome = {"ok": False, "method": "child died", "seconds": float("nan")}
    finally:
        reader.close()
        if process.is_alive():
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        process.join()
    return outcome


def _fixed_size(name: str, rows: int, columns: int, runs: int, deadline_at: float) -> tuple:
    """(median seconds, method) over up to ``runs`` fresh checks; fewer when they are slow."""
    times, methods = [], []
    for _ in range(runs):
        remaining = deadline_at - time.monotonic()
        outcome = check_in_child(name, rows, columns, min(PROOF_LIMIT + FORK_SLACK, remaining))
        if outcome is None:
            return (float(np.median(times)) if times else None), "timed out"
        times.append(outcome["seconds"])
        methods.append(outcome["method"])
        if outcome["seconds"] > 1.0:  # one slow run is its own median's worth; save the cap
            break
    method = methods[0] if len(set(methods)) == 1 else "/".join(methods)
    return float(np.median(times)), method


def _search(name: str, start: int, previous: tuple | None, deadline_at: float) -> dict:
    """Largest n >= start - 1 whose n x n check is "proved" in under PROOF_LIMIT seconds."""
    largest = previous  # (n, seconds) of the largest square proved so far
    times = [previous[1]] if previous else []
    n = start
    while True:
        remaining = deadline_at - time.monotonic()
        if len(times) >= 2 and times[-2] > 0:
            predicted = times[-1] * times[-1] / times[-2]  # the last growth factor again
        else:
            predicted = times[-1] * 4 if times else 1.0
        if remaining <= 0 or min(predicted, PROOF_LIMIT) > remaining:
            return {"largest": largest, "next": f"{n}x{n} not tried (case time cap; "
                    f"predicted {predicted:.3g} s, {max(remaining, 0):.3g} s left)"}
        outcome = check_in_child(name, n, n, min(PROOF_LIMIT + FORK_SLACK, remaining))
        if outcome is None:
            return {"largest": largest, "next": f"{n}x{n} not finished in {min(PROOF_LIMIT, remaining):.3g} s"}
        if outcome["method"] != "proved" or outcome["seconds"] >= PROOF_LIMIT:
            return {"largest": largest, "next": (
                f"{n}x{n} {outcome['method']} in {outcome['seconds']:.3g} s "
                f"({outcome.get('proved', '?')} of {outcome.get('entries', '?')} entries proved)")}
        largest = (n, outcome["seconds"])
        times.append(outcome["seconds"])
        n += 1


def run(names=NORMS, fixed=FIXED_SIZES, search: bool = True, runs: int = 3, cap: float = CASE_CAP) -> dict:
    import sympy  # noqa: F401  (imported once here, inherited by every fork)

    import minigrad.symbolic  # noqa: F401
    import norms  # noqa: F401

    started = time.monotonic()
    # Warm-up: one small check, discarded, so no timed run pays for first use of anything.
    check_in_child(names[0], 2, 2, PROOF_LIMIT)
    results = {}
    fixed_share = 0.5 if search else 1.0  # the fixed sizes may use at most half of the cap
    for index, name in enumerate(names):
        share = (started + cap * fixed_share - time.monotonic()) / (len(names) - index)
        deadline_at = time.monotonic() + share
        methods = []
        for rows, columns in fixed:
            seconds, method = _fixed_size(name, rows, columns, runs, deadline_at)
            results[f"{name}_{rows}x{columns}_s"] = seconds if seconds is not None else "timed out"
            methods.append(method)
        results[f"{name}_methods"] = "/".join(methods)
    if not search:
        return results
    for index, name in enumerate(names):
        share = (started + cap - time.monotonic()) / (len(names) - index)
        deadline_at = time.monotonic() + share
        three = results.get(f"{name}_3x3_s")
        proved_3 = results[f"{name}_methods"].split("/")[-1] == "proved" and isinstance(three, float)
        if proved_3 and three < PROOF_LIMIT:
            found = _search(name, 4, (3, three), deadline_at)
        else:
            found = _search(name, 2, None, deadline_at)
        if found["largest"] is None:
            results[f"{name}_largest_proved"] = "none"
        else:
            results[f"{name}_largest_proved"] = found["largest"][0]
            results[f"{name}_largest_s"] = found["largest"][1]
        results[f"{name}_next"] = found["next"]
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
    args = parser.parse_args(argv)
    for key, value in run(tuple(args.norms), search=not args.no_search, cap=args.cap).items():
        print(f"  {key:34s} {value:.4g}" if isinstance(value, float) else f"  {key:34s} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
