"""The SymPy bridge: run minigrad functions on symbols, and prove their gradients.

minigrad's data can be an object array of SymPy expressions, and every primitive runs on
it unchanged (see ``backend.py``). So a function run on symbolic inputs gives its forward
expression F(x), and a backward pass gives the engine's reverse-mode gradient as
expressions too. ``sympy.diff`` of F gives the textbook derivative independently, and

    symbolic_check:  engine's J[m, j]  -  d F_m / d x_j   ==  0   for every entry

is then a statement SymPy can prove (simplify the difference to zero). Where that is too
slow (simplify has no timeout; expressions of thousands of operations defeat it), the
difference is evaluated exactly at random rational points instead (or to 60 significant
digits where exp/log/sqrt make the values irrational). A check ends in one of four verdicts,
and only the first two are ``ok``:

    proved              every entry's difference simplified to 0
    matched at points   some entries could not be simplified in time, and all agreed at N
                        random rational points (evidence, not a proof)
    failed              a counterexample: reported with the op, the input and the worst index
    not checkable       the function has no symbolic form (max, SVD), or the work did not
                        fit in the wall-time budget ("too large to prove in N s")

The budget covers everything: the symbolic forward and backward runs, turning floats into
rationals, ``sympy.diff``, the proofs and the points. SymPy cannot be interrupted from
outside, so the work runs in a forked child process that is killed at the deadline.

Inputs are exact (``sympy.Rational``, never 0.6): Python floats met along the way (0.5 in
sigmoid, an exponent of -1.5) are turned into the rationals they spell, or no proof could
reach an exact zero.
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
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from minigrad import backend
from minigrad import random as _random
from minigrad.autograd import enable_grad
from minigrad.autograd import grad as _grad
from minigrad.tensor import Tensor

__all__ = [
    "SymbolicRun", "SymbolicResult", "GradientFormula", "symbolic_inputs", "run_symbolic",
    "symbolic_check", "numeric_check", "derive", "substitute", "to_matrix", "SymbolicTooLarge",
    "VERDICTS", "register_derivation", "unregister_derivation", "derivations", "derive_textbook",
    "TextbookComparison",
]

#: seconds symbolic_check and derive may take in all (run, sympy.diff, proofs, points)
DEFAULT_BUDGET = 10.0
#: seconds ``minigrad derive`` allows by default (its closed-form proofs are bigger than a check's)
DERIVE_CLI_BUDGET = 20.0
#: the four verdicts of symbolic_check; only the first two are ``ok``
VERDICTS = ("proved", "matched at points", "failed", "not checkable")
#: differences bigger than this (sympy.count_ops) are not simplified, only expanded/cancelled
SIMPLIFY_MAX_OPS = 400
#: significant digits for comparisons at points whose values are not rational
DIGITS = 60


class SymbolicTooLarge(TimeoutError):
    """The symbolic work did not fit in its wall-time budget (``derive``, ``derive_textbook``)."""


def too_large_message(budget: float) -> str:
    """The one wording of a budget overrun, shared by symbolic_check, derive and the CLI."""
    return f"too large to prove in {budget:g} s: try a smaller shape"


def _sp():
    return backend.sympy()


# ---------------------------------------------------------------------------------------
# Symbolic inputs and the symbolic run
# ---------------------------------------------------------------------------------------
def _default_names(count: int) -> list:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return [letters[i] if i < len(letters) else f"x{i}" for i in range(count)]


def _domains(domain, count: int) -> list:
    if isinstance(domain, str):
        return [domain] * count
    domain = list(domain)
    if len(domain) != count:
        raise ValueError(f"symbolic: got {len(domain)} domains for {count} inputs")
    return domain


def symbolic_inputs(shapes: Sequence[tuple], domain="real", names: Sequence[str] | None = None) -> list:
    """One tensor of real SymPy symbols per shape, named ``a_0_1`` etc., requiring grad.

    ``domain`` ("real", "positive", "nonzero"; one for all inputs or one per input) becomes
    SymPy assumptions, which let it simplify |x|, sqrt(x^2) and log(x*y).
    """
    sp = _sp()
    shapes = [tuple(s) for s in shapes]
    names = list(names) if names else _default_names(len(shapes))
    tensors = []
    for shape, name, kind in zip(shapes, names, _domains(domain, len(shapes))):
        assumptions = {"real": True}
        if kind == "positive":
            assumptions["positive"] = True
        elif kind == "nonzero":
            assumptions["nonzero"] = True
        data = np.empty(shape, dtype=object)
        for index in np.ndindex(*shape):
            label = "_".join([name, *map(str, index)]) if index else name
            data[index] = sp.Symbol(label, **assumptions)
        tensors.append(Tensor(data, requires_grad=True, name=name))
    return tensors


def _exact(value):
    """A SymPy expression with every Float replaced by the rational it spells (0.01 -> 1/100).

    The same rule as the engine's (``backend.exact``), for Floats that SymPy itself made.
    """
    sp = _sp()
    expr = sp.sympify(value)
    floats = expr.atoms(sp.Float)
    if floats:
        expr = expr.xreplace({f: backend.exact(float(f)) for f in floats})
    return expr


def _outputs(value) -> list:
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(v, Tensor) for v in value) and value:
        return list(value)
    raise TypeError(f"symbolic: the function must return a tensor or a tuple of tensors, got {type(value).__name__}")


@dataclass
class SymbolicRun:
    """A function run on symbols: inputs, forward expressions, the engine's Jacobian blocks.

    ``forward[k]`` is an object array (output k's expressions); ``engine[(k, i)]`` is an
    object array of shape (output k's size, input i's size): row m is the engine's
    reverse-mode gradient of output entry m with respect to input i, flattened.
    """

    inputs: list
    forward: list
    engine: dict

    def reference(self, k: int, i: int) -> np.ndarray:
        """``sympy.diff`` of the forward expression: the same layout as ``engine[(k, i)]``."""
        sp = _sp()
        flat_out = self.forward[k].reshape(-1)
        flat_in = self.inputs[i].data.reshape(-1)
        block = np.empty((flat_out.size, flat_in.size), dtype=object)
        for m in range(flat_out.size):
            for j in range(flat_in.size):
                block[m, j] = sp.diff(flat_out[m], flat_in[j])
        return block

    def forward_matrix(self, k: int = 0):
        return to_matrix(self.forward[k])

    def gradient(self, i: int, k: int = 0):
        """The engine's gradient of (scalar) output k with respect to input i, in i's shape."""
        if self.forward[k].size != 1:
            raise ValueError(
                f"gradient: output {k} has shape {self.forward[k].shape}, not a scalar; use "
                f"jacobian({i}, {k}) for the full matrix of derivatives"
            )
        return to_matrix(self.engine[(k, i)].reshape(self.inputs[i].shape))

    def jacobian(self, i: int, k: int = 0):
        """The engine's Jacobian d vec(output k) / d vec(input i) as a SymPy Matrix."""
        return _sp().Matrix(self.engine[(k, i)].tolist())


class _BackwardFailed(Exception):
    """Raised by run_symbolic when the engine's backward pass itself raised."""


def run_symbolic(fn: Callable, shapes: Sequence[tuple], domain="real", names=None, inputs=None,
                 _report_backward_errors: bool = False) -> SymbolicRun:
    """Run ``fn`` on symbolic inputs and take the engine's reverse-mode Jacobian.

    One backward pass per output entry, each seeded with a one-hot cotangent, so row m of
    each block is exactly what ``backward`` would put in ``.grad`` for output entry m.
    """
    sp = _sp()
    tensors = inputs if inputs is not None else symbolic_inputs(shapes, domain, names)
    with enable_grad():
        outputs = _outputs(fn(*tensors))
    forward = [np.vectorize(_exact, otypes=[object])(np.asarray(o.data, dtype=object)) if o.size else o.data
               for o in outputs]
    engine = {}
    for k, out in enumerate(outputs):
        for i, x in enumerate(tensors):
            engine[(k, i)] = np.full((out.size, x.size), sp.Integer(0), dtype=object)
        if not out.requires_grad:
            continue
        for m in range(out.size):
            seed = np.full(out.shape, sp.Integer(0), dtype=object)
            seed.reshape(-1)[m] = sp.Integer(1)
            try:
                grads = _grad([out], tensors, [Tensor._constant(seed)], retain_graph=True, allow_unused=True)
            except (RuntimeError, NotImplementedError) as error:
                if not _report_backward_errors:
                    raise
                raise _BackwardFailed(error) from error
            for i, g in enumerate(grads):
                if g is not None:
                    row = np.asarray(g.data, dtype=object).reshape(-1)
                    engine[(k, i)][m] = [_exact(e) for e in row]
    return SymbolicRun(tensors, forward, engine)


def to_matrix(array):
    """An object array as SymPy: 0-d -> expression, 1-d -> column Matrix, 2-d -> Matrix, else Array."""
    sp = _sp()
    array = np.asarray(array, dtype=object)
    if array.ndim == 0:
        return sp.sympify(array[()])
    if array.ndim == 1:
        return sp.Matrix([[sp.sympify(e)] for e in array])
    if array.ndim == 2:
        return sp.Matrix([[sp.sympify(e) for e in row] for row in array])
    return sp.Array(array.tolist())


# ---------------------------------------------------------------------------------------
# Proving a difference is zero, within a time budget
# ---------------------------------------------------------------------------------------
def _is_zero(expr) -> bool:
    """Cheap steps first, ``simplify`` only on small expressions (it can run for minutes)."""
    sp = _sp()
    if expr == 0:
        return True
    if expr.has(sp.Heaviside):
        # Away from its step (the only place a derivative is claimed), H(x) = (1 + sign(x))/2
        # whatever H(0) is taken to be: 1 - H(a - b) and H(b - a) are then seen to agree.
        expr = expr.replace(sp.Heaviside, lambda argument, *at_zero: (1 + sp.sign(argument)) / 2)
    if expr.has(sp.sign):
        # sympy.diff writes d|x|/dx as sign(x), the engine as x/|x|: the same away from the
        # kink (x != 0, where neither is the derivative), and cancel sees that once written alike.
        expr = expr.replace(sp.sign, lambda argument: argument / sp.Abs(argument))
    # cancel treats exp(..), tanh(..), sqrt(..) as independent generators of a rational
    # function; lifting the radicals first (V^(1/2) -> t, V^(3/2) -> t^3) lets it see
    # the relations between powers of the same base, which norms are full of.
    lifted = _lift_radicals(expr)
    if (lifted is not expr and sp.cancel(lifted) == 0) or sp.cancel(expr) == 0:
        return True
    expanded = sp.expand(expr)
    if expanded == 0 or sp.cancel(expanded) == 0:
        return True
    if sp.count_ops(expr) <= SIMPLIFY_MAX_OPS:
        return sp.simplify(expr) == 0
    return False


def _lift_radicals(expr):
    """Replace each base V raised to fractional powers by t^q (t a new positive symbol).

    Sound for proofs: if the result is identically 0 in the symbols and the t's taken as
    independent, it is 0 at t = V^(1/q) too (wherever V > 0, i.e. where the expression is
    real). exp(a - b) is split into exp(a) exp(-b) first, so exp(x - log S) becomes exp(x)/S.
    """
    sp = _sp()
    if not expr.atoms(sp.exp) and not any(
        p.exp.is_Rational and not p.exp.is_Integer for p in expr.atoms(sp.Pow)
    ):
        return expr  # nothing to lift: a plain rational function, cancel as it is
    expr = sp.expand(expr, deep=True, power_exp=True, power_base=False, mul=False,
                     multinomial=False, log=False)
    denominators = {}
    for power in expr.atoms(sp.Pow):
        if power.exp.is_Rational and not power.exp.is_Integer and not power.base.is_Number:
            denominators[power.base] = int(np.lcm(denominators.get(power.base, 1), int(power.exp.q)))
    if not denominators:
        return expr
    mapping = {base: sp.Dummy(f"t{i}", positive=True) ** q for i, (base, q) in enumerate(denominators.items())}
    return expr.xreplace(mapping)


def _simplified(expr):
    sp = _sp()
    return sp.simplify(expr) if sp.count_ops(expr) <= SIMPLIFY_MAX_OPS else sp.cancel(expr)


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


def _until(deadline: float, task: Callable, items: list) -> list:
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


def _post_partial(value) -> None:
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
    ``partial`` is the last value the task handed to ``_post_partial`` (None if none). The
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


# ---------------------------------------------------------------------------------------
# Random rational points and exact comparison
# ---------------------------------------------------------------------------------------
def _random_point(symbols, rng) -> dict:
    """A rational value for each symbol, respecting its assumptions (positive, nonzero)."""
    sp = _sp()
    point = {}
    for symbol in symbols:
        value = sp.Rational(int(rng.integers(1, 13)), int(rng.integers(1, 8)))
        if not symbol.is_positive and rng.random() < 0.5:
            value = -value
        point[symbol] = value
    return point


def _values_at(expr, point):
    """(value, exact?) of ``expr`` at ``point``: exact rational when possible, else 60 digits."""
    value = expr.xreplace(point)
    if value.is_Rational:
        return value, True
    return value.evalf(DIGITS), False


def _agree(engine, reference, point) -> tuple:
    """(agree?, exact?, engine value, reference value) at one point."""
    sp = _sp()
    e, e_exact = _values_at(engine, point)
    r, r_exact = _values_at(reference, point)
    if e_exact and r_exact:
        return e == r, True, e, r
    difference = abs(sp.N(e - r, DIGITS))
    bound = sp.Float(10) ** (15 - DIGITS) * max(1, abs(sp.N(r, 20)))
    try:
        agree = bool(difference <= bound)
    except TypeError:  # a value that is not a real number (nan, zoo)
        agree = sp.simplify(e - r) == 0
    return agree, False, e, r


def _as_float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


# ---------------------------------------------------------------------------------------
# symbolic_check
# ---------------------------------------------------------------------------------------
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
        result.report = f"symbolic_check could not check {name}: {too_large_message(budget)} (or pass a larger budget=)."
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
    except _BackwardFailed as failure:
        # A VJP that raises (or returns a gradient of the wrong shape) is a failed check,
        # reported like gradcheck reports it, not an exception out of the checker.
        from minigrad.verification.gradcheck import backward_error_report

        error = failure.args[0]
        return SymbolicResult(
            ok=False, method="failed", name=name,
            report=f"symbolic_check FAILED for {name}: " + backward_error_report(f"{type(error).__name__}: {error}"),
        )
    rng = np.random.default_rng(seed)
    symbols = [s for x in run.inputs for s in x.data.reshape(-1)]
    sample = [_random_point(symbols, rng) for _ in range(points)]

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
                agree, exact, e, r = _agree(engine, reference, sample[0])
                per_point += time.monotonic() - before
                result.exact_points &= exact
                if agree:
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
        _post_partial(_matched(result, 1))
    # Keep time for the other points (each costs about what the first one did) and for
    # sending the result back.
    proof_deadline = deadline
    if math.isfinite(deadline):
        proof_deadline -= 1.5 * per_point * max(points - 1, 0) + 0.05 * (deadline - started)
    if proof_budget is not None:
        proof_deadline = min(proof_deadline, time.monotonic() + proof_budget)
    proofs = _until(proof_deadline, _is_zero, [d for _, _, d in pending]) if pending else []
    result.proved += sum(1 for p in proofs if p)
    unproved = [(engine, reference) for (engine, reference, _), p in zip(pending, proofs) if not p]
    if not unproved:
        return result
    # What simplification could not settle in time is compared at the other points, one
    # point at a time for all entries, so that a budget cut leaves a whole number of points.
    for count, point in enumerate(sample[1:], start=2):
        for engine, reference in unproved:
            agree, exact, e, r = _agree(engine, reference, point)
            result.exact_points &= exact
            if not agree:  # pragma: no cover - agreeing at one point but not another is rare
                result.ok, result.method, result.verdict = False, "failed", "failed"
                result.mismatches.append({
                    "output": None, "input": None, "input_name": "?", "output_shape": (),
                    "input_shape": (), "count": 1, "total": result.entries, "output_index": "?",
                    "input_index": "?", "engine": engine, "reference": reference,
                    "engine_value": _as_float(e), "reference_value": _as_float(r), "point": point,
                    "hint": None,
                })
                return result
        if count < points:
            _post_partial(_matched(result, count))
    del sp
    return _matched(result, points)


def _matched(result: SymbolicResult, count: int) -> SymbolicResult:
    """A copy of ``result`` saying "matched at ``count`` points"."""
    from dataclasses import replace

    method = f"matched at {count} point{'s' if count != 1 else ''}"
    return replace(result, method=method, verdict="matched at points", points=count, ok=True)


def _mismatch(run, k, i, engine_block, reference_block, bad) -> dict:
    """Describe the failing entries of one (output, input) block, worst first, with a hint."""
    from minigrad.verification.gradcheck import diagnose

    point = bad[0][2]
    # Evaluate the whole block at the first counterexample, to rank entries and find a pattern.
    engine_values = np.array([[_as_float(_values_at(e, point)[0]) for e in row] for row in engine_block])
    reference_values = np.array([[_as_float(_values_at(r, point)[0]) for r in row] for row in reference_block])
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
    from minigrad.verification.gradcheck import locate_wrong_vjps

    try:
        inputs = [Tensor(substitute(x, point), requires_grad=True, name=x.name) for x in run.inputs]
        with enable_grad():
            outputs = _outputs(fn(*inputs))
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
            f"  engine      {_short(bad['engine'])}\n"
            f"  sympy.diff  {_short(bad['reference'])}\n"
            f"  at {point}{more}: engine {bad['engine_value']:.6g}, sympy.diff {bad['reference_value']:.6g}"
        )
        if bad["hint"]:
            lines.append(f"  hint: {bad['hint']}")
    if result.culprits:
        lines.append("Each op's VJP checked on its own at that point (numerically) points at:")
        lines.extend(f"  {line}" for line in result.culprits)
    return "\n".join(lines)


def _short(expr, limit: int = 160) -> str:
    text = str(expr)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------------------------------
# numeric_check: lambdified SymPy gradient against the numeric engine
# ---------------------------------------------------------------------------------------
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
    from minigrad.verification.gradcheck import GradcheckResult, _analytic_jacobian

    sp = _sp()
    started = time.perf_counter()
    name = name or getattr(fn, "__qualname__", None) or getattr(fn, "__name__", "fn")
    run = run_symbolic(fn, shapes, domain, names)
    symbols = [s for x in run.inputs for s in x.data.reshape(-1)]
    blocks = {key: sp.lambdify(symbols, sp.Matrix(run.reference(*key).tolist()), modules="numpy")
              for key in run.engine}
    rng = _random.generator() if seed is None else np.random.default_rng(seed)
    result = SymbolicResult(ok=True, method=f"numeric at {points} points", name=name, points=points)
    for _ in range(points):
        values = [_float_point(x.shape, kind, rng) for x, kind in zip(run.inputs, _domains(domain, len(run.inputs)))]
        tensors = [Tensor(v, requires_grad=True, name=x.name) for v, x in zip(values, run.inputs)]
        with enable_grad():
            outputs = _outputs(fn(*tensors))
        engine = _analytic_jacobian(outputs, tensors, list(range(len(tensors))), GradcheckResult(True, "full", name))
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


# ---------------------------------------------------------------------------------------
# derive: a gradient as a formula
# ---------------------------------------------------------------------------------------
@dataclass
class GradientFormula:
    """A function's forward expression and the engine's gradient, as text and LaTeX.

    For a scalar output, ``gradients[name]`` has the input's shape (a SymPy Matrix for 1-D
    and 2-D inputs); otherwise it is the Jacobian d vec(f)/d vec(input).
    """

    name: str
    inputs: list
    forward: object
    gradients: dict
    simplified: bool

    def text(self) -> str:
        sp = _sp()
        lines = [f"{self.name} = {sp.sstr(self.forward)}"]
        for label, gradient in self.gradients.items():
            lines.append(f"d{self.name}/d{label} = {sp.sstr(gradient)}")
        return "\n".join(lines)

    def latex(self) -> str:
        sp = _sp()
        f = sp.latex(sp.Symbol(self.name))
        rows = [f"{f} &= {sp.latex(self.forward)}"]
        for label, gradient in self.gradients.items():
            rows.append(rf"\frac{{\partial {f}}}{{\partial {sp.latex(sp.Symbol(label))}}} &= {sp.latex(gradient)}")
        return r"\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}"

    def _repr_latex_(self) -> str:
        return f"$\\displaystyle {self.latex()}$"

    def __str__(self) -> str:
        return self.text()

    __repr__ = __str__


def derive(
    fn: Callable,
    shapes: Sequence[tuple],
    domain="real",
    names: Sequence[str] | None = None,
    simplify: bool = True,
    budget: float | None = DEFAULT_BUDGET,
    name: str = "f",
) -> GradientFormula:
    """The engine's gradient of ``fn`` as a formula (SymPy), printable as text and LaTeX.

    All of it (the symbolic run and the simplification) takes at most ``budget`` seconds
    of wall time: entries not simplified by then are shown as the engine built them
    (``simplified`` says whether all were), and a symbolic run that does not finish in
    time raises :class:`SymbolicTooLarge` ("too large to prove in N s: try a smaller
    shape"). ``budget=None``: no limit.
    """
    def task(deadline):
        return _derive(fn, shapes, domain, names, simplify, name, deadline)

    status, formula = within_budget(task, budget)
    if status == "timeout":
        raise SymbolicTooLarge(f"derive: {name}: {too_large_message(budget)}")
    return formula


def _simplify_until(deadline: float, started: float, entries: list) -> list:
    """Each entry simplified if time allows (else None); a tenth of the budget is kept to
    send the result back to the parent process."""
    if math.isfinite(deadline):
        deadline -= 0.1 * (deadline - started)
    return _until(deadline, _simplified, entries)


def _derive(fn, shapes, domain, names, simplify, name, deadline) -> GradientFormula:
    started = time.monotonic()
    run = run_symbolic(fn, shapes, domain, names)
    keys = [(0, i) for i in range(len(run.inputs))]
    entries = [e for key in keys for e in run.engine[key].reshape(-1)]
    forward_entries = list(run.forward[0].reshape(-1))
    everything = forward_entries + entries
    done = _simplify_until(deadline, started, everything) if simplify else [None] * len(everything)
    all_simplified = simplify and all(d is not None for d in done)
    done = [d if d is not None else e for d, e in zip(done, everything)]
    forward_done, gradient_done = done[: len(forward_entries)], done[len(forward_entries):]
    forward = to_matrix(np.array(forward_done, dtype=object).reshape(run.forward[0].shape))
    gradients, start = {}, 0
    scalar = run.forward[0].size == 1
    for (k, i) in keys:
        block = run.engine[(k, i)]
        values = np.array(gradient_done[start: start + block.size], dtype=object).reshape(block.shape)
        start += block.size
        label = run.inputs[i].name
        gradients[label] = to_matrix(values.reshape(run.inputs[i].shape)) if scalar else _sp().Matrix(values.tolist())
    return GradientFormula(name, run.inputs, forward, gradients, all_simplified)


# ---------------------------------------------------------------------------------------
def substitute(value, values: dict) -> np.ndarray:
    """Evaluate symbolic data at numbers: ``values`` maps symbols (or symbol tensors) to numbers/arrays.

    Returns a float64 array. Example: ``substitute(y, {x: [[1.0, 2.0]]})`` for a tensor x of
    symbols, or ``substitute(y, {sympy.Symbol('a'): 0.5})``.
    """
    sp = _sp()
    mapping = {}
    for key, number in values.items():
        if isinstance(key, Tensor):
            for symbol, v in zip(key.data.reshape(-1), np.asarray(number, dtype=object).reshape(-1)):
                mapping[symbol] = sp.sympify(v)
        else:
            mapping[key] = sp.sympify(number)
    data = value.data if isinstance(value, Tensor) else np.asarray(value, dtype=object)
    out = np.empty(data.shape, dtype=np.float64)
    for index in np.ndindex(*data.shape):
        out[index] = float(sp.sympify(data[index]).xreplace(mapping).evalf())
    return out


# ---------------------------------------------------------------------------------------
# The engine's gradient beside the textbook's closed form (``minigrad derive NAME``)
# ---------------------------------------------------------------------------------------
@dataclass
class TextbookEntry:
    """A function whose gradient a textbook states in closed form, for ``minigrad derive``.

    ``fn`` takes one tensor per input and returns a scalar; ``closed_form(*arrays)`` takes
    the inputs' symbol arrays and returns the textbook gradient of each input (an object
    array of the input's shape), or None when the only statement is ``derivation`` (a
    pure-SymPy proof, for max-type norms whose closed form holds region by region).
    ``check_shapes(shapes)`` returns what is wrong with the shapes, or None.
    """

    name: str
    fn: Callable
    shapes: tuple
    names: tuple
    statement: str
    reference: str
    closed_form: Callable | None = None
    domain: object = "real"
    aliases: tuple = ()
    check_shapes: Callable | None = None
    note: str = ""
    derivation: Callable | None = None


_TEXTBOOK: dict = {}


def _key(name: str) -> str:
    return name.lower().replace("_", "-")


def register_derivation(name: str, fn: Callable, shapes: Sequence[tuple], *, names: Sequence[str],
                        statement: str, reference: str, closed_form: Callable | None = None, domain="real",
                        aliases: Sequence[str] = (), check_shapes: Callable | None = None, note: str = "",
                        derivation: Callable | None = None) -> TextbookEntry:
    """Add a function and its textbook gradient to ``minigrad derive`` (a package's hook).

    Example (from norms.derivations)::

        register_derivation("frobenius", norms.frobenius_norm, [(2, 2)], names=["W"],
                            statement="d||W||_F/dW = W / ||W||_F", reference="Magnus & Neudecker",
                            closed_form=lambda w: w / sympy.sqrt((w * w).sum()))
    """
    entry = TextbookEntry(
        name=name, fn=fn, shapes=tuple(tuple(s) for s in shapes), names=tuple(names), statement=statement,
        reference=reference, closed_form=closed_form, domain=domain, aliases=tuple(aliases),
        check_shapes=check_shapes, note=note, derivation=derivation,
    )
    for key in (name, *aliases):
        _TEXTBOOK[_key(key)] = entry
    return entry


def unregister_derivation(name: str) -> None:
    """Remove an entry and its aliases from ``minigrad derive`` (tests clean up with this)."""
    entry = _TEXTBOOK.get(_key(name))
    for key in [k for k, e in _TEXTBOOK.items() if e is entry]:
        del _TEXTBOOK[key]


def derivations() -> dict:
    """Every registered textbook entry by name (plugins such as ``norms`` loaded first)."""
    _load_derivation_plugins()
    return {entry.name: entry for entry in _TEXTBOOK.values()}


def _load_derivation_plugins() -> None:
    import importlib
    import importlib.util

    from minigrad.verification import checks

    checks.load_plugins()
    for package in checks.PLUGINS:
        if importlib.util.find_spec(package) is not None and importlib.util.find_spec(f"{package}.derivations"):
            importlib.import_module(f"{package}.derivations")


@dataclass
class TextbookComparison:
    """The engine's gradient and the textbook's closed form of one function, and their comparison.

    ``verdicts[label]`` is "proved" (engine - textbook simplified to 0 in every entry),
    "matched at N points" (equal at N random rational points where simplify ran out of
    time) or "differs" (a counterexample, in ``mismatch``).
    """

    entry: TextbookEntry
    inputs: list
    forward: object
    engine: dict
    textbook: dict
    verdicts: dict
    simplified: bool
    seconds: float = 0.0
    mismatch: str = ""
    engine_note: str = ""
    derivation_proved: bool | None = None

    @property
    def ok(self) -> bool:
        return all(v != "differs" for v in self.verdicts.values()) and self.derivation_proved is not False

    def text(self) -> str:
        sp = _sp()
        entry = self.entry
        lines = [f"{entry.name}: {entry.statement}", f"  source: {entry.reference}"]
        if entry.note:
            lines.append(f"  note: {entry.note}")
        shapes = ", ".join(f"{x.name} {'x'.join(map(str, x.shape)) or 'scalar'}" for x in self.inputs)
        lines.append(f"inputs: {shapes}")
        if self.forward is not None:
            lines.append(f"f = {sp.sstr(self.forward)}")
        if self.engine_note:
            lines.append(self.engine_note)
        for label in self.engine:
            lines.append(f"engine    df/d{label} = {sp.sstr(self.engine[label])}")
            if label in self.textbook:
                lines.append(f"textbook  df/d{label} = {sp.sstr(self.textbook[label])}")
        for label, verdict in self.verdicts.items():
            how = {"proved": "engine - textbook simplifies to 0 in every entry"}.get(
                verdict, "no simplification in time; equal at random rational points" if verdict != "differs"
                else "the engine's gradient and the closed form disagree")
            lines.append(f"{verdict}: df/d{label} ({how})")
        if self.derivation_proved is not None:
            lines.append("proved: the closed form equals sympy.diff of the forward (norms.derivations)"
                         if self.derivation_proved else "NOT proved: the closed form against sympy.diff")
        if self.mismatch:
            lines.append(self.mismatch)
        lines.append(f"({self.seconds:.2f} s)")
        return "\n".join(lines)

    def latex(self) -> str:
        """The engine's and the textbook's gradients as LaTeX (the closed form alone when the
        engine has no symbolic form)."""
        sp = _sp()
        if not self.engine and self.entry is not None and self.entry.derivation is not None:
            return self.entry.derivation().latex()
        rows = []
        if self.forward is not None:
            rows.append(f"f &= {sp.latex(self.forward)}")
        for label in self.engine:
            symbol = sp.latex(sp.Symbol(label))
            rows.append(rf"\text{{engine: }} \frac{{\partial f}}{{\partial {symbol}}} &= {sp.latex(self.engine[label])}")
            if label in self.textbook:
                rows.append(rf"\text{{textbook: }} \frac{{\partial f}}{{\partial {symbol}}} &= "
                            rf"{sp.latex(self.textbook[label])}")
        return r"\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}"

    def __str__(self) -> str:
        return self.text()


def derive_textbook(name: str, shapes: Sequence[tuple] | None = None, budget: float | None = DERIVE_CLI_BUDGET,
                    points: int = 3, seed: int = 0) -> TextbookComparison:
    """The engine's gradient of a registered function beside its textbook closed form, proved equal.

    Within ``budget`` seconds in all: the symbolic run, the proof that engine - textbook
    is 0 in every entry (random rational points for what simplify does not settle in
    time), and the simplification of the printed expressions. Raises KeyError for an
    unknown name, ValueError for shapes the entry cannot take, SymbolicTooLarge when the
    budget runs out ("too large to prove in N s: try a smaller shape").
    """
    _load_derivation_plugins()
    entry = _TEXTBOOK.get(_key(name))
    if entry is None:
        raise KeyError(f"derive: no norm named {name!r}; known: {', '.join(sorted(derivations()))}")
    shapes = [tuple(s) for s in shapes] if shapes is not None else list(entry.shapes)
    if len(shapes) != len(entry.names):
        raise ValueError(f"{entry.name} takes {len(entry.names)} input(s) ({', '.join(entry.names)}), "
                         f"got {len(shapes)} shape(s)")
    problem = entry.check_shapes(shapes) if entry.check_shapes else None
    if problem:
        raise ValueError(f"{entry.name}: {problem}")
    started = time.perf_counter()

    def task(deadline):
        return _compare_textbook(entry, shapes, points, seed, deadline)

    status, comparison = within_budget(task, budget)
    if status == "timeout":
        raise SymbolicTooLarge(f"derive: {entry.name}: {too_large_message(budget)}")
    comparison.entry = entry  # not sent through the pipe: its functions may be lambdas
    comparison.seconds = time.perf_counter() - started
    return comparison


def _compare_textbook(entry: TextbookEntry, shapes, points, seed, deadline) -> TextbookComparison:
    sp = _sp()
    started = time.monotonic()
    derivation_proved = None
    if entry.derivation is not None:
        derivation_proved = entry.derivation().proved()
    try:
        run = run_symbolic(entry.fn, shapes, entry.domain, entry.names)
    except backend.NotSymbolicError as error:
        inputs = symbolic_inputs(shapes, entry.domain, entry.names)
        return TextbookComparison(None, inputs, None, {}, {}, {}, False, derivation_proved=derivation_proved,
                                  engine_note=f"engine: no symbolic form ({_short(str(error), 90)}); its VJP is "
                                              f"checked numerically against this closed form in the tests")
    if run.forward[0].size != 1:
        raise ValueError(f"{entry.name}: the registered function must return a scalar, got shape {run.forward[0].shape}")
    arrays = [x.data for x in run.inputs]
    closed = entry.closed_form(*arrays) if entry.closed_form is not None else [None] * len(arrays)
    textbook, verdicts, pending, mismatch = {}, {}, [], ""
    rng = np.random.default_rng(seed)
    symbols = [s for a in arrays for s in a.reshape(-1)]
    # Symbols of the closed form beyond the inputs (a cotangent G) get values too.
    extra = set()
    for form in closed:
        if form is not None:
            for value in np.asarray(form, dtype=object).reshape(-1):
                extra |= sp.sympify(value).free_symbols
    symbols += sorted(extra - set(symbols), key=str)
    sample = [_random_point(symbols, rng) for _ in range(points)]
    for i, (x, form) in enumerate(zip(run.inputs, closed)):
        if form is None:
            continue
        form = np.vectorize(_exact, otypes=[object])(np.asarray(form, dtype=object).reshape(x.shape))
        textbook[x.name] = to_matrix(form)
        verdicts[x.name] = "proved"
        for engine, reference in zip(run.engine[(0, i)].reshape(-1), form.reshape(-1)):
            if engine - reference == 0:
                continue
            agree, _, e, r = _agree(engine, reference, sample[0])
            if not agree:
                verdicts[x.name] = "differs"
                mismatch = mismatch or (f"at {_point_text(sample[0])}: engine {_as_float(e):.10g}, "
                                        f"textbook {_as_float(r):.10g}")
            else:
                pending.append((x.name, engine, reference))
    # Proofs get the first half of what is left; the printed forms are simplified after.
    proof_deadline = deadline if not math.isfinite(deadline) else time.monotonic() + 0.5 * (deadline - time.monotonic())
    proofs = _until(proof_deadline, _is_zero, [e - r for _, e, r in pending])
    for (label, engine, reference), proof in zip(pending, proofs):
        if proof or verdicts[label] == "differs":
            continue
        if all(_agree(engine, reference, point)[0] for point in sample[1:]):
            verdicts[label] = f"matched at {points} points"
        else:  # pragma: no cover - agreeing at one point but not another is rare
            verdicts[label] = "differs"
    entries = [run.forward[0][()]] + [e for x_index in range(len(arrays)) for e in run.engine[(0, x_index)].reshape(-1)]
    # Simplifying for display is a nicety: a third of the budget at most.
    display_deadline = min(deadline, time.monotonic() + (deadline - started) / 3) if math.isfinite(deadline) else deadline
    done = _simplify_until(display_deadline, started, entries)
    simplified = all(d is not None for d in done)
    done = [d if d is not None else e for d, e in zip(done, entries)]
    engine, position = {}, 1
    for x in run.inputs:
        engine[x.name] = to_matrix(np.array(done[position: position + x.size], dtype=object).reshape(x.shape))
        position += x.size
    del sp
    return TextbookComparison(None, run.inputs, done[0], engine, textbook, verdicts, simplified,
                              mismatch=mismatch, derivation_proved=derivation_proved)


def _point_text(point: dict) -> str:
    text = ", ".join(f"{s} = {v}" for s, v in list(point.items())[:6])
    return text + (" ..." if len(point) > 6 else "")


def _parse_shape(text: str) -> tuple:
    """"2x3" -> (2, 3); "scalar" or "()" -> (); raises ValueError with what is accepted."""
    cleaned = text.strip().lower()
    if cleaned in ("scalar", "()", ""):
        return ()
    parts = cleaned.split("x")
    if not all(p.isdigit() and int(p) > 0 for p in parts):
        raise ValueError(f"--shape {text!r} is not a shape; write sizes >= 1 joined by x, e.g. 2x3 (or 'scalar')")
    return tuple(int(p) for p in parts)


def run_cli(args) -> int:
    """``minigrad derive NAME [--shape 2x3]... [--latex] [--budget S]``.

    For a norm (see ``derivations()``): the engine's gradient beside the textbook closed
    form, proved equal. For any other op or function of ``minigrad check``: the engine's
    gradient as a formula. One ``--shape`` per input, in input order. Bad input is one line
    on stderr naming the command, exit 2; a budget overrun is one line too, exit 1.
    """
    import sys

    from minigrad.verification import checks

    command = "minigrad derive"
    what = args.what
    raw = getattr(args, "shape", None) or []
    raw = [raw] if isinstance(raw, str) else list(raw)
    budget = getattr(args, "budget", None)
    budget = DERIVE_CLI_BUDGET if budget is None else budget
    if not budget > 0 or math.isinf(budget):
        print(f"{command}: --budget must be a number of seconds > 0, got {budget!r}", file=sys.stderr)
        return 2
    try:
        shapes = [_parse_shape(text) for text in raw] or None
    except ValueError as error:
        print(f"{command}: {error}", file=sys.stderr)
        return 2
    textbook = derivations()
    entry = _TEXTBOOK.get(_key(what))
    try:
        if entry is not None:
            result = derive_textbook(what, shapes, budget=budget)
            print(result.latex() if getattr(args, "latex", False) else result.text())
            return 0 if result.ok else 1
        found = checks.find(what)
        if not found:
            print(f"{command}: no norm or function named {what!r}; norms: {', '.join(sorted(textbook))}; "
                  f"or any op of `minigrad check` (e.g. mul, tanh, softmax)", file=sys.stderr)
            return 2
        check = found[0]
        if shapes is not None and len(shapes) != len(check.shapes):
            print(f"{command}: {check.name} takes {len(check.shapes)} input(s), got {len(shapes)} --shape; "
                  f"give one --shape per input, in order", file=sys.stderr)
            return 2
        domain = checks._symbolic_domain(check.domain)
        formula = derive(check.fn, shapes or list(check.shapes), domain=domain, name=check.name.replace("-", "_"),
                         budget=budget)
        print(formula.latex() if getattr(args, "latex", False) else formula.text())
        return 0
    except SymbolicTooLarge as error:
        print(f"{command}: {str(error).removeprefix('derive: ')}", file=sys.stderr)
        return 1
    except (ValueError, KeyError, IndexError, TypeError) as error:
        # Shapes the function cannot take (a matmul of 2x3 and 2x3, a 1-D weight for spectral).
        text = " ".join(str(error.args[0] if isinstance(error, KeyError) and error.args else error).split())
        print(f"{command}: {text}", file=sys.stderr)
        return 2
