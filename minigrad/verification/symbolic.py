"""Proving a gradient: the engine's reverse mode against ``sympy.diff``, entry by entry.

A function run on symbols (``symbolic_run``) gives its forward expression F(x) and the
engine's Jacobian J as expressions. ``sympy.diff`` of F gives the textbook derivative
independently, and

    symbolic_check:  engine's J[m, j]  -  d F_m / d x_j   ==  0   for every entry

is then a statement SymPy can prove (``proof.is_zero``). Where that is too slow, the
difference is evaluated exactly at random rational points instead. A check ends in one of
four verdicts, and only the first two are ``ok``:

    proved              every entry's difference simplified to 0
    matched at points   some entries could not be simplified in time, and all agreed at N
                        random rational points (evidence, not a proof)
    failed              a counterexample: reported with the op, the input and the worst index
    not checkable       the function has no symbolic form (max, SVD), or the work did not
                        fit in the wall-time budget ("too large to prove in N s")

The budget covers everything: the symbolic forward and backward runs, turning floats into
rationals, ``sympy.diff``, the proofs and the points (see ``budget``). ``numeric_check`` is
the fallback for functions too big to simplify: ``sympy.diff`` lambdified to NumPy against
the float engine.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import numpy as np

from minigrad import backend
from minigrad import random as _random
from minigrad.autograd import enable_grad
from minigrad.backend import sympy as _sp
from minigrad.tensor import Tensor
from minigrad.verification.budget import DEFAULT_BUDGET, post_partial, run_until, too_large_message, within_budget
from minigrad.verification.diagnosis import backward_error_report, diagnose, locate_wrong_vjps
from minigrad.verification.gradcheck import GradcheckResult
from minigrad.verification.jacobians import analytic_jacobian
from minigrad.verification.proof import DIGITS, agree, as_float, is_zero, random_point, short, values_at
from minigrad.verification.symbolic_run import (
    BackwardFailed, as_outputs, input_domains, run_symbolic, substitute,
)

__all__ = ["VERDICTS", "SymbolicResult", "symbolic_check", "numeric_check"]

#: the four verdicts of symbolic_check; only the first two are ``ok``
VERDICTS = ("proved", "matched at points", "failed", "not checkable")


@dataclass
class SymbolicResult:
    """What ``symbolic_check`` (or ``numeric_check``) found.

    ``verdict`` is one of ``VERDICTS``: "proved", "matched at points", "failed" or "not
    checkable"; ``ok`` is True for the first two only. ``method`` says it in detail:
    "proved", "matched at N points", "numeric at N points" (numeric_check), "failed",
    "not symbolic" (an op without a SymPy form, such as max or the SVD) or "too large to
    prove in N s" (the budget ran out; try a smaller shape or a larger budget).
    """

    ok: bool
    method: str
    name: str
    entries: int = 0
    proved: int = 0
    points: int = 0
    exact_points: bool = True
    seconds: float = 0.0
    mismatches: list = field(default_factory=list)
    culprits: list = field(default_factory=list)
    hint: str | None = None
    report: str = ""
    verdict: str = ""

    def __post_init__(self) -> None:
        if not self.verdict:
            self.verdict = _verdict_of(self.method)

    def as_dict(self) -> dict:
        return {
            "ok": self.ok, "verdict": self.verdict, "method": self.method, "name": self.name,
            "entries": self.entries, "proved": self.proved, "points": self.points, "seconds": self.seconds,
            "report": self.report if not self.ok else "",
        }

    def __str__(self) -> str:
        return self.report


def _verdict_of(method: str) -> str:
    if method == "proved":
        return "proved"
    if method.startswith(("matched at", "numeric at")):
        return "matched at points"
    if method == "failed":
        return "failed"
    return "not checkable"


def symbolic_check(
    fn: Callable,
    shapes: Sequence[tuple],
    domain="real",
    names: Sequence[str] | None = None,
    budget: float | None = DEFAULT_BUDGET,
    points: int = 3,
    seed: int | None = None,
    name: str | None = None,
    proof_budget: float | None = None,
) -> SymbolicResult:
    """Prove that the engine's reverse-mode gradient of ``fn`` equals ``sympy.diff`` of its forward.

    ``fn`` is run on tensors of real symbols of the given ``shapes`` (``domain`` adds the
    assumptions "positive" or "nonzero"). For every output entry m and input entry j the
    difference  engine J[m, j] - dF_m/dx_j  is:
      1. evaluated at a random rational point; a non-zero value is a counterexample, and
         the check fails with a report naming the output, the input, the worst index, the
         two expressions and their values there;
      2. otherwise simplified to 0 (cancel, expand, then ``simplify`` on small
         expressions), for at most ``proof_budget`` seconds (default: what the budget
         leaves, keeping time for step 3);
      3. entries step 2 could not settle are compared at ``points - 1`` more points.
    The verdict (``result.verdict``) is "proved" when step 2 settled every entry, "matched
    at points" when step 3 was needed, "failed" on a counterexample, and "not checkable"
    when ``fn`` has no symbolic form or the check (symbolic run, sympy.diff, the first
    point) did not finish within ``budget`` seconds of wall time: method "too large to
    prove in N s" (``budget=None``: no limit). A budget that ends during step 3 leaves
    "matched at k points", k the points every entry passed. Rational points come from
    ``seed`` (default: minigrad's generator, see manual_seed).
    """
    started = time.perf_counter()
    name = name or getattr(fn, "__qualname__", None) or getattr(fn, "__name__", "fn")
    if budget is not None and not budget >= 0:
        raise ValueError(f"symbolic_check: budget must be a number of seconds >= 0 (or None), got {budget!r}")
    if seed is None:  # drawn here, so minigrad's generator advances in the caller's process
        seed = int(_random.generator().integers(2**62))

    def task(deadline):
        return _check(fn, shapes, domain, names, points, seed, name, deadline, proof_budget)

    status, result = within_budget(task, budget)
    if status == "timeout" and result is None:
        result = SymbolicResult(
            ok=False, method=f"too large to prove in {budget:g} s", name=name, verdict="not checkable",
        )
        result.report = (f"symbolic_check could not check {name}: {too_large_message(budget)} "
                         f"(or pass a larger budget=).")
    result.seconds = time.perf_counter() - started
    if result.verdict != "not checkable" and not result.report:
        result.report = _symbolic_report(result)  # here: the report states the time taken
        if status == "timeout":
            result.report += f"; the budget of {budget:g} s ended the check there"
    return result


def _check(fn, shapes, domain, names, points, seed, name, deadline, proof_budget) -> SymbolicResult:
    """The body of symbolic_check, run inside the budget (in the child process)."""
    sp = _sp()
    started = time.monotonic()
    try:
        run = run_symbolic(fn, shapes, domain, names, _report_backward_errors=True)
    except backend.NotSymbolicError as error:
        return SymbolicResult(ok=False, method="not symbolic", name=name, verdict="not checkable",
                              report=f"symbolic_check could not check {name}: not symbolic ({error})")
    except BackwardFailed as failure:
        # A VJP that raises (or returns a gradient of the wrong shape) is a failed check,
        # reported like gradcheck reports it, not an exception out of the checker.
        error = failure.args[0]
        return SymbolicResult(
            ok=False, method="failed", name=name,
            report=f"symbolic_check FAILED for {name}: " + backward_error_report(f"{type(error).__name__}: {error}"),
        )
    rng = np.random.default_rng(seed)
    symbols = [s for x in run.inputs for s in x.data.reshape(-1)]
    sample = [random_point(symbols, rng) for _ in range(points)]

    result = SymbolicResult(ok=True, method="proved", name=name, points=points)
    pending = []  # (engine, reference, difference) still to prove
    per_point = 0.0  # seconds spent evaluating at the first point
    for (k, i), engine_block in run.engine.items():
        reference_block = run.reference(k, i)
        bad = []
        for m in range(engine_block.shape[0]):
            for j in range(engine_block.shape[1]):
                result.entries += 1
                engine, reference = engine_block[m, j], reference_block[m, j]
                difference = engine - reference
                if difference == 0:
                    result.proved += 1
                    continue
                # One point first: a wrong gradient fails here, before any costly proof.
                before = time.monotonic()
                same, exact, e, r = agree(engine, reference, sample[0])
                per_point += time.monotonic() - before
                result.exact_points &= exact
                if same:
                    pending.append((engine, reference, difference))
                else:
                    bad.append((m, j, sample[0], e, r))
        if bad:
            result.mismatches.append(_mismatch(run, k, i, engine_block, reference_block, bad))
    if result.mismatches:
        result.ok, result.method, result.verdict = False, "failed", "failed"
        result.culprits = _locate(fn, run, result.mismatches[0]["point"])
        return result
    # Every entry agrees at one random rational point: if the budget ends the check from
    # here on, that is what it says (a wrong gradient almost never agrees at a random point).
    if pending:
        post_partial(_matched(result, 1))
    # Keep time for the other points (each costs about what the first one did) and for
    # sending the result back.
    proof_deadline = deadline
    if math.isfinite(deadline):
        proof_deadline -= 1.5 * per_point * max(points - 1, 0) + 0.05 * (deadline - started)
    if proof_budget is not None:
        proof_deadline = min(proof_deadline, time.monotonic() + proof_budget)
    proofs = run_until(proof_deadline, is_zero, [d for _, _, d in pending]) if pending else []
    result.proved += sum(1 for p in proofs if p)
    unproved = [(engine, reference) for (engine, reference, _), p in zip(pending, proofs) if not p]
    if not unproved:
        return result
    # What simplification could not settle in time is compared at the other points, one
    # point at a time for all entries, so that a budget cut leaves a whole number of points.
    for count, point in enumerate(sample[1:], start=2):
        for engine, reference in unproved:
            same, exact, e, r = agree(engine, reference, point)
            result.exact_points &= exact
            if not same:  # pragma: no cover - agreeing at one point but not another is rare
                result.ok, result.method, result.verdict = False, "failed", "failed"
                result.mismatches.append({
                    "output": None, "input": None, "input_name": "?", "output_shape": (),
                    "input_shape": (), "count": 1, "total": result.entries, "output_index": "?",
                    "input_index": "?", "engine": engine, "reference": reference,
                    "engine_value": as_float(e), "reference_value": as_float(r), "point": point,
                    "hint": None,
                })
                return result
        if count < points:
            post_partial(_matched(result, count))
    del sp
    return _matched(result, points)


def _matched(result: SymbolicResult, count: int) -> SymbolicResult:
    """A copy of ``result`` saying "matched at ``count`` points"."""
    method = f"matched at {count} point{'s' if count != 1 else ''}"
    return replace(result, method=method, verdict="matched at points", points=count, ok=True)


def _mismatch(run, k, i, engine_block, reference_block, bad) -> dict:
    """Describe the failing entries of one (output, input) block, worst first, with a hint."""
    point = bad[0][2]
    # Evaluate the whole block at the first counterexample, to rank entries and find a pattern.
    engine_values = np.array([[as_float(values_at(e, point)[0]) for e in row] for row in engine_block])
    reference_values = np.array([[as_float(values_at(r, point)[0]) for r in row] for row in reference_block])
    error = np.abs(engine_values - reference_values)
    relative = error / np.maximum(np.abs(reference_values), 1e-12)
    m, j = np.unravel_index(int(np.nanargmax(np.where(np.isfinite(relative), relative, np.inf))), error.shape)
    out_shape, in_shape = run.forward[k].shape, run.inputs[i].shape
    return {
        "output": k, "input": i, "input_name": run.inputs[i].name, "output_shape": out_shape,
        "input_shape": in_shape, "count": len(bad), "total": engine_block.size,
        "output_index": _unravel(m, out_shape), "input_index": _unravel(j, in_shape),
        "engine": engine_block[m, j], "reference": reference_block[m, j],
        "engine_value": engine_values[m, j], "reference_value": reference_values[m, j],
        "point": point,
        "hint": diagnose(engine_values, reference_values, out_shape, in_shape, atol=1e-12, rtol=1e-9),
    }


def _unravel(flat: int, shape: tuple) -> tuple:
    return tuple(int(x) for x in np.unravel_index(int(flat), shape)) if shape else ()


def _locate(fn, run, point) -> list:
    """Re-run ``fn`` numerically at the counterexample and check each op's VJP on its own."""
    try:
        inputs = [Tensor(substitute(x, point), requires_grad=True, name=x.name) for x in run.inputs]
        with enable_grad():
            outputs = as_outputs(fn(*inputs))
        return locate_wrong_vjps(outputs, seed=0)
    except Exception:  # noqa: BLE001 - locating is a courtesy; the check has already failed
        return []


def _symbolic_report(result: SymbolicResult) -> str:
    if result.ok:
        how = ("every entry simplified to 0" if result.method == "proved" else
               f"{result.proved} of {result.entries} entries simplified to 0; the rest agree at "
               f"{result.points} random rational point{'s' if result.points != 1 else ''} "
               f"({'exactly' if result.exact_points else f'to {DIGITS} digits'})")
        return f"symbolic_check passed for {result.name}: {result.method} ({how}; {result.seconds:.2f} s)"
    lines = [f"symbolic_check FAILED for {result.name}: the engine's reverse-mode gradient differs from "
             f"sympy.diff of the forward expression."]
    for bad in result.mismatches:
        point = ", ".join(f"{s} = {v}" for s, v in list(bad["point"].items())[:8])
        more = " ..." if len(bad["point"]) > 8 else ""
        lines.append(
            f"Output {bad['output']} (shape {bad['output_shape']}) with respect to input {bad['input']} "
            f"('{bad['input_name']}', shape {bad['input_shape']}): {bad['count']} of {bad['total']} entries "
            f"differ. Worst at output index {bad['output_index']}, input index {bad['input_index']}:\n"
            f"  engine      {short(bad['engine'])}\n"
            f"  sympy.diff  {short(bad['reference'])}\n"
            f"  at {point}{more}: engine {bad['engine_value']:.6g}, sympy.diff {bad['reference_value']:.6g}"
        )
        if bad["hint"]:
            lines.append(f"  hint: {bad['hint']}")
    if result.culprits:
        lines.append("Each op's VJP checked on its own at that point (numerically) points at:")
        lines.extend(f"  {line}" for line in result.culprits)
    return "\n".join(lines)


def numeric_check(
    fn: Callable,
    shapes: Sequence[tuple],
    domain="real",
    names: Sequence[str] | None = None,
    points: int = 3,
    rtol: float = 1e-9,
    atol: float = 1e-12,
    seed: int | None = None,
    name: str | None = None,
) -> SymbolicResult:
    """Compare ``sympy.diff`` (lambdified to NumPy) with the numeric engine at random float points.

    For functions too big to simplify: the forward is taken once symbolically, its
    derivative is turned into a NumPy function, and the float engine's gradient (the same
    code path students run) must agree to ``|e - r| <= atol + rtol * |r|`` at each point.
    """
    sp = _sp()
    started = time.perf_counter()
    name = name or getattr(fn, "__qualname__", None) or getattr(fn, "__name__", "fn")
    run = run_symbolic(fn, shapes, domain, names)
    symbols = [s for x in run.inputs for s in x.data.reshape(-1)]
    blocks = {key: sp.lambdify(symbols, sp.Matrix(run.reference(*key).tolist()), modules="numpy")
              for key in run.engine}
    rng = _random.generator() if seed is None else np.random.default_rng(seed)
    result = SymbolicResult(ok=True, method=f"numeric at {points} points", name=name, points=points)
    kinds = input_domains(domain, len(run.inputs))
    for _ in range(points):
        values = [_float_point(x.shape, kind, rng) for x, kind in zip(run.inputs, kinds)]
        tensors = [Tensor(v, requires_grad=True, name=x.name) for v, x in zip(values, run.inputs)]
        with enable_grad():
            outputs = as_outputs(fn(*tensors))
        engine = analytic_jacobian(outputs, tensors, list(range(len(tensors))), GradcheckResult(True, "full", name))
        flat = [float(v) for arr in values for v in arr.reshape(-1)]
        for key, block in blocks.items():
            reference = np.asarray(block(*flat), dtype=np.float64)
            result.entries += reference.size
            close = np.abs(engine[key] - reference) <= atol + rtol * np.abs(reference)
            if not close.all():
                m, j = np.argwhere(~close)[0]
                k, i = key
                result.ok, result.method = False, "failed"
                result.mismatches.append({
                    "output": k, "input": i, "output_index": _unravel(m, run.forward[k].shape),
                    "input_index": _unravel(j, run.inputs[i].shape), "engine_value": engine[key][m, j],
                    "reference_value": reference[m, j],
                })
    result.seconds = time.perf_counter() - started
    if result.ok:
        result.report = f"numeric_check passed for {name}: {result.method} ({result.seconds:.2f} s)"
    else:
        bad = result.mismatches[0]
        result.report = (
            f"numeric_check FAILED for {name}: output {bad['output']} w.r.t. input {bad['input']} at "
            f"output index {bad['output_index']}, input index {bad['input_index']}: engine "
            f"{bad['engine_value']:.10g}, lambdified sympy.diff {bad['reference_value']:.10g}"
        )
    return result


def _float_point(shape, kind, rng) -> np.ndarray:
    values = rng.uniform(0.5, 2.0, size=shape)
    if kind != "positive":
        values *= rng.choice([-1.0, 1.0], size=shape)
    return values
