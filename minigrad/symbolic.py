"""The SymPy bridge: run minigrad functions on symbols, and prove their gradients.

minigrad's data can be an object array of SymPy expressions, and every primitive runs on
it unchanged (see ``backend.py``). So a function run on symbolic inputs gives its forward
expression F(x), and a backward pass gives the engine's reverse-mode gradient as
expressions too. ``sympy.diff`` of F gives the textbook derivative independently, and

    symbolic_check:  engine's J[m, j]  -  d F_m / d x_j   ==  0   for every entry

is then a statement SymPy can prove (simplify the difference to zero). Where that is too
slow (simplify has no timeout; expressions of thousands of operations defeat it), the
difference is evaluated exactly at random rational points instead (or to 60 significant
digits where exp/log/sqrt make the values irrational), and the result says which of the
two was done: "proved" or "matched at N points". A counterexample at any point is a
failure, reported with the op, the input and the worst index.

Inputs are exact (``sympy.Rational``, never 0.6): Python floats met along the way (0.5 in
sigmoid, an exponent of -1.5) are turned into the rationals they spell, or no proof could
reach an exact zero.
"""
from __future__ import annotations

import multiprocessing
import threading
import time
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
    "symbolic_check", "numeric_check", "derive", "substitute", "to_matrix",
]

#: seconds a symbolic_check may spend on proofs before falling back to points
DEFAULT_BUDGET = 10.0
#: differences bigger than this (sympy.count_ops) are not simplified, only expanded/cancelled
SIMPLIFY_MAX_OPS = 400
#: significant digits for comparisons at points whose values are not rational
DIGITS = 60


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
    """A SymPy expression with every Float replaced by the rational it spells (0.01 -> 1/100)."""
    sp = _sp()
    expr = sp.sympify(value)
    floats = expr.atoms(sp.Float)
    if floats:
        expr = expr.xreplace({f: sp.Rational(repr(float(f))) for f in floats})
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


def _worker(task, items, writer) -> None:  # pragma: no cover - runs in the child process
    for index, item in enumerate(items):
        try:
            writer.send((index, task(item)))
        except Exception:  # noqa: BLE001 - an unprovable item stays unproved
            writer.send((index, None))
    writer.send(None)


def run_with_budget(task: Callable, items: list, budget: float) -> list:
    """``[task(item) for item in items]``, stopping after ``budget`` seconds (None for the rest).

    SymPy has no timeout, so the work runs in a forked child process that is killed at the
    deadline (results stream back as they finish). Where fork is unavailable, a daemon
    thread is used instead and abandoned at the deadline.
    """
    results = [None] * len(items)
    if not items or budget <= 0:
        return results
    if "fork" not in multiprocessing.get_all_start_methods():
        return _run_in_thread(task, items, budget)
    context = multiprocessing.get_context("fork")
    reader, writer = context.Pipe(duplex=False)
    process = context.Process(target=_worker, args=(task, items, writer), daemon=True)
    process.start()
    writer.close()
    deadline = time.monotonic() + budget
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not reader.poll(remaining):
                break
            try:
                message = reader.recv()
            except EOFError:
                break
            if message is None:
                break
            index, value = message
            results[index] = value
    finally:
        reader.close()
        if process.is_alive():
            process.kill()
        process.join()
    return results


def _run_in_thread(task, items, budget) -> list:
    results = [None] * len(items)

    def body():
        for index, item in enumerate(items):
            try:
                results[index] = task(item)
            except Exception:  # noqa: BLE001
                results[index] = None

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    thread.join(budget)
    return list(results)


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

    ``method`` is "proved" (every entry's difference simplified to 0), "matched at N
    points" (some entries could not be simplified in the budget, and all agreed at N
    random rational points), "numeric at N points" (numeric_check), "failed" or
    "not symbolic".
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

    def as_dict(self) -> dict:
        return {
            "ok": self.ok, "method": self.method, "name": self.name, "entries": self.entries,
            "proved": self.proved, "points": self.points, "seconds": self.seconds,
            "report": self.report if not self.ok else "",
        }

    def __str__(self) -> str:
        return self.report


def symbolic_check(
    fn: Callable,
    shapes: Sequence[tuple],
    domain="real",
    names: Sequence[str] | None = None,
    budget: float = DEFAULT_BUDGET,
    points: int = 3,
    seed: int | None = None,
    name: str | None = None,
) -> SymbolicResult:
    """Prove that the engine's reverse-mode gradient of ``fn`` equals ``sympy.diff`` of its forward.

    ``fn`` is run on tensors of real symbols of the given ``shapes`` (``domain`` adds the
    assumptions "positive" or "nonzero"). For every output entry m and input entry j the
    difference  engine J[m, j] - dF_m/dx_j  is:
      1. evaluated at ``points`` random rational points; a non-zero value is a
         counterexample, and the check fails with a report naming the output, the input,
         the worst index, the two expressions and their values there;
      2. otherwise simplified to 0 (cancel, expand, then ``simplify`` on small
         expressions) within ``budget`` seconds in total.
    ``method`` is "proved" when step 2 succeeded everywhere, else "matched at N points".
    Rational points come from ``seed`` (default: minigrad's generator, see manual_seed).
    """
    started = time.perf_counter()
    name = name or getattr(fn, "__qualname__", None) or getattr(fn, "__name__", "fn")
    sp = _sp()
    try:
        run = run_symbolic(fn, shapes, domain, names, _report_backward_errors=True)
    except backend.NotSymbolicError as error:
        return SymbolicResult(ok=True, method="not symbolic", name=name, report=f"{name}: not symbolic ({error})",
                              seconds=time.perf_counter() - started)
    except _BackwardFailed as failure:
        # A VJP that raises (or returns a gradient of the wrong shape) is a failed check,
        # reported like gradcheck reports it, not an exception out of the checker.
        from minigrad.gradcheck import backward_error_report

        error = failure.args[0]
        return SymbolicResult(
            ok=False, method="failed", name=name, seconds=time.perf_counter() - started,
            report=f"symbolic_check FAILED for {name}: " + backward_error_report(f"{type(error).__name__}: {error}"),
        )
    rng = _random.generator() if seed is None else np.random.default_rng(seed)
    symbols = [s for x in run.inputs for s in x.data.reshape(-1)]
    sample = [_random_point(symbols, rng) for _ in range(points)]

    result = SymbolicResult(ok=True, method="proved", name=name, points=points)
    pending = []  # (key, difference) still to prove
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
                agree, exact, e, r = _agree(engine, reference, sample[0])
                result.exact_points &= exact
                if agree:
                    pending.append((engine, reference, difference))
                else:
                    bad.append((m, j, sample[0], e, r))
        if bad:
            result.mismatches.append(_mismatch(run, k, i, engine_block, reference_block, bad))
    if result.mismatches:
        result.ok, result.method = False, "failed"
        result.culprits = _locate(fn, run, result.mismatches[0]["point"])
    else:
        remaining = max(budget - (time.perf_counter() - started), 0.0)
        proofs = run_with_budget(_is_zero, [d for _, _, d in pending], remaining)
        result.proved += sum(1 for p in proofs if p)
        unproved = [(engine, reference) for (engine, reference, _), p in zip(pending, proofs) if not p]
        if unproved:
            # What simplification could not settle in time is sampled at the other points too.
            for engine, reference in unproved:
                for point in sample[1:]:
                    agree, exact, e, r = _agree(engine, reference, point)
                    result.exact_points &= exact
                    if not agree:  # pragma: no cover - agreeing at one point but not another is rare
                        result.ok, result.method = False, "failed"
                        result.mismatches.append({
                            "output": None, "input": None, "input_name": "?", "output_shape": (),
                            "input_shape": (), "count": 1, "total": result.entries, "output_index": "?",
                            "input_index": "?", "engine": engine, "reference": reference,
                            "engine_value": _as_float(e), "reference_value": _as_float(r), "point": point,
                            "hint": None,
                        })
                        break
            if result.ok:
                result.method = f"matched at {points} points"
    result.seconds = time.perf_counter() - started
    result.report = _symbolic_report(result, run)
    del sp
    return result


def _mismatch(run, k, i, engine_block, reference_block, bad) -> dict:
    """Describe the failing entries of one (output, input) block, worst first, with a hint."""
    from minigrad.gradcheck import diagnose

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
    from minigrad.gradcheck import locate_wrong_vjps

    try:
        inputs = [Tensor(substitute(x, point), requires_grad=True, name=x.name) for x in run.inputs]
        with enable_grad():
            outputs = _outputs(fn(*inputs))
        return locate_wrong_vjps(outputs, seed=0)
    except Exception:  # noqa: BLE001 - locating is a courtesy; the check has already failed
        return []


def _symbolic_report(result: SymbolicResult, run: SymbolicRun) -> str:
    if result.ok:
        how = ("every entry simplified to 0" if result.method == "proved" else
               f"{result.proved} of {result.entries} entries simplified to 0; the rest agree at "
               f"{result.points} random rational points ({'exactly' if result.exact_points else f'to {DIGITS} digits'})")
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
    from minigrad.gradcheck import GradcheckResult, _analytic_jacobian

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
    budget: float = 5.0,
    name: str = "f",
) -> GradientFormula:
    """The engine's gradient of ``fn`` as a formula (SymPy), printable as text and LaTeX.

    Entries are simplified within ``budget`` seconds in total (entries not simplified in
    time are shown as the engine built them; ``simplified`` says whether all were).
    """
    run = run_symbolic(fn, shapes, domain, names)
    keys = [(0, i) for i in range(len(run.inputs))]
    entries = [e for key in keys for e in run.engine[key].reshape(-1)]
    forward_entries = list(run.forward[0].reshape(-1))
    done = run_with_budget(_simplified, forward_entries + entries, budget) if simplify else [None] * (
        len(forward_entries) + len(entries))
    all_simplified = simplify and all(d is not None for d in done)
    done = [d if d is not None else e for d, e in zip(done, forward_entries + entries)]
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


def run_cli(args) -> int:
    """``minigrad derive NAME [--shape 2x3] [--latex]``: print a registered check's gradient."""
    from minigrad import checks

    entries = checks.find(args.what)
    if not entries:
        names = ", ".join(sorted({e.name for e in checks.all_checks()}))
        print(f"derive: no function named {args.what!r}; known: {names}")
        return 2
    entry = entries[0]
    shapes = list(entry.shapes)
    if getattr(args, "shape", None):
        shapes[0] = tuple(int(s) for s in args.shape.lower().split("x") if s)
    formula = derive(entry.fn, shapes, domain=entry.domain, name=entry.name.replace("-", "_"))
    print(formula.latex() if getattr(args, "latex", False) else formula.text())
    return 0
