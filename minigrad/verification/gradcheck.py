"""Finite-difference gradient checks: gradcheck, gradgradcheck, and reports a student can act on.

The analytic gradient (reverse mode: one VJP per output entry) is compared with the numeric
one from central differences,

    dF_m / dx_j  ~  (F_m(x + eps e_j) - F_m(x - eps e_j)) / (2 eps)

whose error is O(eps^2) from truncation plus O(machine_eps * |F| / eps) from rounding:
with eps = 1e-6 in float64 both are around 1e-10, which is why every check wants float64.
An entry passes when ``|analytic - numeric| <= atol + rtol * |numeric|``; the defaults
(eps=1e-6, atol=1e-5, rtol=1e-3) and that rule are PyTorch's
(``torch.autograd.gradcheck``, torch/autograd/gradcheck.py).

``fast_mode=True`` checks random projections instead of the whole Jacobian J: for a
random direction v of each input and a random cotangent u of each output,

    analytic  <u, J v> = <J^T u, v>              (one VJP per output: reverse mode)
    numeric   <u, (F(x + eps v) - F(x - eps v)) / (2 eps)>   (a JVP by differences)

which costs two forward passes per input and one backward pass per output, whatever the
sizes, so a whole network can be checked (HIPS autograd's and JAX's ``check_grads`` idea).
One projection fits "analytic = c x numeric" for some c whatever the bug, so a failing
one is projected again along a second random direction, and a hint names a pattern
(constant factor, flipped sign, transpose) only when both projections show it.

When a check fails, the report names the output and the input, lists the worst entries
with their index, analytic value, numeric value and relative error, guesses the typical
mistake (transposed, a broadcast sum missing, a factor of 2, a flipped sign, zeros), and
checks every op of the recorded graph on its own to point at the VJP that is wrong.
"""
from __future__ import annotations

import re
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from minigrad import random as _random
from minigrad.autograd import _topological_order, enable_grad, no_grad
from minigrad.autograd import grad as _grad
from minigrad.tensor import Tensor

__all__ = [
    "GradcheckError", "GradcheckWarning", "GradcheckResult", "PairResult", "check_gradients",
    "gradcheck", "gradgradcheck", "check_second_derivatives",
]

#: how many of the worst entries a report lists
WORST_SHOWN = 5


class GradcheckError(RuntimeError):
    """Raised by ``gradcheck``/``gradgradcheck`` on failure; the message is the full report.

    ``error.result`` holds the structured :class:`GradcheckResult`.
    """

    def __init__(self, report: str, result: "GradcheckResult | None" = None):
        super().__init__(report)
        self.result = result


class GradcheckWarning(UserWarning):
    """Issued for inputs that are not float64 (finite differences need its precision)."""


@dataclass
class PairResult:
    """The comparison for one (output, input) pair: a block of the Jacobian, or one projection."""

    output: int
    input: int
    output_shape: tuple
    input_shape: tuple
    input_label: str
    ok: bool
    max_abs_error: float
    max_rel_error: float
    #: worst entries: dicts with output_index, input_index, analytic, numeric, rel_error
    worst: list = field(default_factory=list)
    failing: int = 0
    total: int = 0
    hint: str | None = None


@dataclass
class GradcheckResult:
    """Everything a check found; ``report`` is the text a failure raises with.

    ``max_rel_error`` is the largest ``|a - n| / max(|a|, |n|, 1e-3 * scale)`` over all
    entries, where ``scale`` is the largest |entry| of that Jacobian block: entries a
    thousand times smaller than the block's largest are measured against that floor, so
    rounding noise around an exact zero does not read as a 100% error.
    """

    ok: bool
    mode: str  # "full" or "fast"
    name: str
    max_abs_error: float = 0.0
    max_rel_error: float = 0.0
    pairs: list = field(default_factory=list)
    forward_passes: int = 0
    backward_passes: int = 0
    seconds: float = 0.0
    error: str | None = None  # the backward pass raised (shape mismatch, missing VJP)
    culprits: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    report: str = ""

    def as_dict(self) -> dict:
        """A JSON-friendly summary (for ``minigrad check --json``)."""
        return {
            "ok": self.ok, "mode": self.mode, "name": self.name,
            "max_abs_error": self.max_abs_error, "max_rel_error": self.max_rel_error,
            "forward_passes": self.forward_passes, "backward_passes": self.backward_passes,
            "seconds": self.seconds, "error": self.error, "culprits": list(self.culprits),
            "report": self.report if not self.ok else "",
        }


# ---------------------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------------------
def gradcheck(
    fn: Callable,
    inputs,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    fast_mode: bool = False,
    seed: int | None = None,
) -> bool:
    """Check the reverse-mode gradients of ``fn`` at ``inputs`` against central differences.

    ``fn`` takes the inputs (tensors, plus anything else passed through unchanged) and
    returns a tensor or a tuple of tensors. Inputs with ``requires_grad=True`` are checked.
    Passes when every Jacobian entry satisfies ``|a - n| <= atol + rtol * |n|`` (PyTorch's
    rule and defaults). Returns True on success; on failure raises :class:`GradcheckError`
    with the report, or returns False when ``raise_exception=False``.
    ``fast_mode=True`` compares random projections ``<u, J v>`` instead of every entry.
    ``seed`` fixes fast mode's random directions (default: minigrad's generator, which
    ``minigrad.manual_seed`` seeds).
    """
    result = check_gradients(fn, inputs, eps=eps, atol=atol, rtol=rtol, fast_mode=fast_mode, seed=seed)
    return _finish(result, raise_exception)


def gradgradcheck(
    fn: Callable,
    inputs,
    grad_outputs=None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    fast_mode: bool = False,
    seed: int | None = None,
) -> bool:
    """Check second derivatives: the gradient of ``fn``'s VJP, built with ``create_graph=True``.

    The checked function is ``(x, g) -> J(x)^T g`` (the VJP of ``fn`` at ``x`` for the
    cotangent ``g``), differentiated with respect to both ``x`` (Hessian-vector products)
    and ``g`` (which recovers the first derivative). ``grad_outputs`` defaults to random
    normal cotangents. Same tolerance rule, return value and errors as :func:`gradcheck`.
    """
    result = check_second_derivatives(
        fn, inputs, grad_outputs=grad_outputs, eps=eps, atol=atol, rtol=rtol,
        fast_mode=fast_mode, seed=seed,
    )
    return _finish(result, raise_exception)


def _finish(result: GradcheckResult, raise_exception: bool) -> bool:
    if result.ok:
        return True
    if raise_exception:
        raise GradcheckError(result.report, result)
    return False


def check_gradients(
    fn: Callable,
    inputs,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    fast_mode: bool = False,
    seed: int | None = None,
    name: str | None = None,
    locate: bool = True,
    _record_forward: bool = False,
    _input_labels: Sequence[str] | None = None,
    _output_labels: Sequence[str] | None = None,
) -> GradcheckResult:
    """Run the gradient check and return a :class:`GradcheckResult` (never raises on a mismatch).

    This is what :func:`gradcheck` reports from, and what ``minigrad check`` tabulates
    (``max_rel_error``, ``max_abs_error``, ``forward_passes``, ``seconds``). ``locate=False``
    skips the per-op search for the wrong VJP on failure.
    """
    started = time.perf_counter()
    inputs = _as_input_tuple(inputs)
    name = name or getattr(fn, "__qualname__", None) or getattr(fn, "__name__", "fn")
    differentiable = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not differentiable:
        raise ValueError(
            f"gradcheck: none of the {len(inputs)} inputs requires grad, so there is nothing to "
            f"check. Create the inputs you want checked with requires_grad=True."
        )
    labels = list(_input_labels) if _input_labels else [_label(inputs[i], i) for i in range(len(inputs))]
    result = GradcheckResult(ok=True, mode="fast" if fast_mode else "full", name=name)
    for i in differentiable:
        if inputs[i].dtype != np.float64:
            message = _precision_warning(labels[i], inputs[i].dtype, eps)
            result.warnings.append(message)
            warnings.warn(message, GradcheckWarning, stacklevel=3)

    # The analytic side runs the forward once and keeps its graph for all the VJPs.
    with enable_grad():
        outputs = _as_outputs(fn(*inputs), name)
    result.forward_passes += 1
    rng = _random.generator() if seed is None else np.random.default_rng(seed)
    evaluate = _Evaluator(fn, inputs, _record_forward, result)
    out_labels = list(_output_labels) if _output_labels else [f"output {k}" for k in range(len(outputs))]
    try:
        if fast_mode:
            _fast_compare(outputs, inputs, differentiable, evaluate, rng, eps, atol, rtol, result, labels, out_labels)
        else:
            _full_compare(outputs, inputs, differentiable, evaluate, eps, atol, rtol, result, labels, out_labels)
    except (RuntimeError, NotImplementedError) as error:
        if isinstance(error, GradcheckError):
            raise
        result.ok = False
        result.error = f"{type(error).__name__}: {error}"

    if not result.ok and locate:
        result.culprits = locate_wrong_vjps(outputs, eps=eps, atol=atol, rtol=rtol, seed=0)
    result.seconds = time.perf_counter() - started
    result.report = _report(result, eps, atol, rtol, len(inputs), len(outputs), labels, out_labels)
    return result


def check_second_derivatives(
    fn: Callable,
    inputs,
    grad_outputs=None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    fast_mode: bool = False,
    seed: int | None = None,
    name: str | None = None,
) -> GradcheckResult:
    """The structured result behind :func:`gradgradcheck`."""
    inputs = _as_input_tuple(inputs)
    name = name or getattr(fn, "__qualname__", None) or getattr(fn, "__name__", "fn")
    differentiable = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    with enable_grad():
        outputs = [o for o in _as_outputs(fn(*inputs), name)]
    live = [k for k, o in enumerate(outputs) if o.requires_grad]
    if grad_outputs is None:
        rng = _random.generator() if seed is None else np.random.default_rng(seed)
        grad_outputs = [
            Tensor(rng.standard_normal(outputs[k].shape).astype(outputs[k].dtype), requires_grad=True)
            for k in live
        ]
    else:
        grad_outputs = list(_as_input_tuple(grad_outputs))
        if len(grad_outputs) != len(live):
            raise ValueError(
                f"gradgradcheck: got {len(grad_outputs)} grad_outputs for {len(live)} outputs "
                f"that require grad; give one cotangent per output."
            )
        grad_outputs = [g if g.requires_grad else Tensor(g.data, requires_grad=True) for g in grad_outputs]
    count = len(inputs)

    def first_derivatives(*args):
        xs, cotangents = args[:count], args[count:]
        outs = _as_outputs(fn(*xs), name)
        used = [outs[k] for k in live]
        wanted = [xs[i] for i in differentiable]
        grads = _grad(used, wanted, list(cotangents), create_graph=True, allow_unused=True)
        return tuple(
            g if g is not None else Tensor._constant(np.zeros(x.shape, dtype=x.dtype))
            for g, x in zip(grads, wanted)
        )

    first_derivatives.__qualname__ = f"first derivatives of {name}"
    labels = [_label(x, i) for i, x in enumerate(inputs)] + [f"grad_output {k}" for k in live]
    out_labels = [f"d(sum g*out)/d(input {i})" for i in differentiable]
    return check_gradients(
        first_derivatives, tuple(inputs) + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
        fast_mode=fast_mode, seed=seed, name=f"second derivatives of {name}",
        _record_forward=True, _input_labels=labels, _output_labels=out_labels,
    )


# ---------------------------------------------------------------------------------------
# Evaluating the function at perturbed inputs
# ---------------------------------------------------------------------------------------
class _Evaluator:
    """Calls ``fn`` with some inputs replaced by perturbed copies, and counts the calls.

    The originals are never changed in place: the perturbed values go into fresh tensors,
    so a check cannot leave an input modified if ``fn`` raises halfway.
    """

    def __init__(self, fn, inputs, record: bool, result: GradcheckResult):
        self.fn, self.inputs, self.record, self.result = fn, inputs, record, result

    def __call__(self, replacements: dict) -> list:
        args = list(self.inputs)
        for index, array in replacements.items():
            fresh = Tensor._constant(array)
            fresh.requires_grad = self.inputs[index].requires_grad
            args[index] = fresh
        self.result.forward_passes += 1
        context = enable_grad() if self.record else no_grad()
        with context:
            outputs = _as_outputs(self.fn(*args), "fn")
        return [np.array(o.data, copy=True) for o in outputs]


def _numeric_jacobian(evaluate, inputs, index, eps, output_sizes) -> list:
    """Central differences for every entry of input ``index``: one (out, in) block per output."""
    base = inputs[index].data
    blocks = [np.zeros((size, base.size)) for size in output_sizes]
    for j in range(base.size):
        plus, minus = base.copy(), base.copy()
        plus.flat[j] += eps
        minus.flat[j] -= eps
        f_plus, f_minus = evaluate({index: plus}), evaluate({index: minus})
        for block, hi, lo in zip(blocks, f_plus, f_minus):
            block[:, j] = (hi.astype(np.float64).ravel() - lo.astype(np.float64).ravel()) / (2 * eps)
    return blocks


def _analytic_jacobian(outputs, inputs, differentiable, result) -> dict:
    """Reverse mode, one VJP per output entry with a one-hot cotangent: blocks[(k, i)]."""
    wanted = [inputs[i] for i in differentiable]
    blocks = {}
    for k, out in enumerate(outputs):
        for i in differentiable:
            blocks[(k, i)] = np.zeros((out.size, inputs[i].size))
        if not out.requires_grad:
            continue  # a constant output: its Jacobian is zero
        for m in range(out.size):
            seed = np.zeros(out.shape, dtype=out.dtype)
            seed.flat[m] = 1
            grads = _grad([out], wanted, [Tensor._constant(seed)], retain_graph=True, allow_unused=True)
            result.backward_passes += 1
            for i, g in zip(differentiable, grads):
                if g is not None:
                    blocks[(k, i)][m] = np.asarray(g.data, dtype=np.float64).ravel()
    return blocks


# ---------------------------------------------------------------------------------------
# Comparisons
# ---------------------------------------------------------------------------------------
def _full_compare(outputs, inputs, differentiable, evaluate, eps, atol, rtol, result, labels, out_labels):
    analytic = _analytic_jacobian(outputs, inputs, differentiable, result)
    sizes = [o.size for o in outputs]
    for i in differentiable:
        numeric = _numeric_jacobian(evaluate, inputs, i, eps, sizes)
        for k, out in enumerate(outputs):
            pair = _compare_block(
                analytic[(k, i)], numeric[k], k, i, out.shape, inputs[i].shape, labels[i], atol, rtol
            )
            _add_pair(result, pair)


def _fast_compare(outputs, inputs, differentiable, evaluate, rng, eps, atol, rtol, result, labels, out_labels):
    """<u, J v> by one VJP per output against a JVP by central differences per input.

    One projection always fits "analytic = c x numeric" for some c, so it cannot name a
    mistake. When a pair fails, a second random projection is taken, and a hint is given
    only for a pattern that both projections show.
    """
    first = _project(outputs, inputs, differentiable, evaluate, rng, eps, result)
    failing = []
    for i in differentiable:
        for k, out in enumerate(outputs):
            pair = _compare_block(
                np.array([[first["analytic"][(k, i)]]]), np.array([[first["numeric"][(k, i)]]]), k, i,
                out.shape, inputs[i].shape, labels[i], atol, rtol, projected=True,
            )
            pair.hint = None  # set below, from two projections
            _add_pair(result, pair)
            if not pair.ok:
                failing.append(pair)
    if failing:
        second = _project(outputs, inputs, differentiable, evaluate, rng, eps, result)
        for pair in failing:
            pair.hint = _projection_hint(first, second, pair, atol, rtol)


def _project(outputs, inputs, differentiable, evaluate, rng, eps, result) -> dict:
    """One random projection: <u, J v> by VJPs (analytic) and by central differences (numeric).

    ``transposed[(k, i)]`` is <J^T u, v> with the VJP's last two axes swapped (square
    inputs only): what the analytic side would be if the VJP returned a transpose.
    """
    directions = {i: rng.standard_normal(inputs[i].shape).astype(inputs[i].dtype) for i in differentiable}
    cotangents = [rng.standard_normal(o.shape).astype(o.dtype) for o in outputs]
    wanted = [inputs[i] for i in differentiable]
    analytic, numeric, transposed = {}, {}, {}
    for k, out in enumerate(outputs):
        grads = [None] * len(wanted)
        if out.requires_grad:
            grads = _grad([out], wanted, [Tensor._constant(cotangents[k])], retain_graph=True, allow_unused=True)
            result.backward_passes += 1
        for i, g in zip(differentiable, grads):
            vjp = None if g is None else np.asarray(g.data, np.float64)
            analytic[(k, i)] = 0.0 if vjp is None else float(np.sum(vjp * directions[i]))
            square = vjp is not None and vjp.ndim >= 2 and vjp.shape[-1] == vjp.shape[-2]
            transposed[(k, i)] = float(np.sum(vjp.swapaxes(-1, -2) * directions[i])) if square else None
    for i in differentiable:
        base, v = inputs[i].data, directions[i]
        f_plus, f_minus = evaluate({i: base + eps * v}), evaluate({i: base - eps * v})
        for k in range(len(outputs)):
            jvp = (f_plus[k].astype(np.float64) - f_minus[k].astype(np.float64)) / (2 * eps)
            numeric[(k, i)] = float(np.sum(cotangents[k] * jvp))
    return {"analytic": analytic, "numeric": numeric, "transposed": transposed}


def _projection_hint(first: dict, second: dict, pair: PairResult, atol: float, rtol: float) -> str | None:
    """The typical mistake that both random projections of a failing pair agree on, or None.

    With two projections, "analytic = c x numeric" must hold with the same c twice, which
    a sign flipped in one entry or a transposed gradient does not do (except by chance).
    """
    key = (pair.output, pair.input)
    analytic = np.array([first["analytic"][key], second["analytic"][key]])
    numeric = np.array([first["numeric"][key], second["numeric"][key]])
    swapped = [first["transposed"][key], second["transposed"][key]]
    both = " (seen in two random projections)"
    if None not in swapped and np.all(np.isfinite(numeric)):
        scale = max(np.abs(numeric).max(initial=0), np.abs(analytic).max(initial=0))
        swapped = np.array(swapped)
        if np.all(np.abs(swapped - numeric) <= atol + 1e-6 * scale + rtol * np.abs(numeric)):
            return ("the gradient is transposed: swapping the last two axes of the analytic gradient "
                    "matches the numeric one. The VJP returns the transpose of what it should (e.g. "
                    "g @ W where g @ W.T is meant); a square input hides this from the shape check." + both)
    hint = diagnose(analytic, numeric, pair.output_shape, pair.input_shape, atol, rtol, projected=True)
    if hint is None:
        return None
    if "NaN or Inf" in hint or "check that the VJP sums" in hint:
        return hint  # a fact about the values, or general advice: no pattern is claimed
    # Entries are not seen through projections: say what was seen.
    hint = re.sub(r"is 0 at \d+ entries", "is 0 in a projection", hint.replace(" everywhere", ""))
    return hint + both


def _add_pair(result: GradcheckResult, pair: PairResult) -> None:
    result.pairs.append(pair)
    result.ok = result.ok and pair.ok
    result.max_abs_error = max(result.max_abs_error, pair.max_abs_error)
    result.max_rel_error = max(result.max_rel_error, pair.max_rel_error)


def _compare_block(analytic, numeric, k, i, out_shape, in_shape, label, atol, rtol, projected=False) -> PairResult:
    difference = np.abs(analytic - numeric)
    allowed = atol + rtol * np.abs(numeric)
    failing = difference > allowed
    failing |= ~np.isfinite(analytic) | ~np.isfinite(numeric)
    scale = max(float(np.max(np.abs(numeric), initial=0.0)), float(np.max(np.abs(analytic), initial=0.0)))
    floor = max(1e-3 * scale, np.finfo(np.float64).tiny)
    relative = difference / np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), floor)
    relative = np.where(np.isfinite(relative), relative, np.inf)
    pair = PairResult(
        output=k, input=i, output_shape=tuple(out_shape), input_shape=tuple(in_shape),
        input_label=label, ok=not failing.any(),
        max_abs_error=float(np.max(np.where(np.isfinite(difference), difference, np.inf), initial=0.0)),
        max_rel_error=float(np.max(relative, initial=0.0)),
        failing=int(failing.sum()), total=int(failing.size),
    )
    if not pair.ok:
        # Rank by how far past the tolerance each entry is: that is what made the check fail.
        ratio = np.where(np.isfinite(difference), difference / allowed, np.inf)
        order = np.argsort(-ratio, axis=None, kind="stable")[:WORST_SHOWN]
        for flat in order:
            m, j = np.unravel_index(flat, analytic.shape)
            if not failing[m, j]:
                break
            pair.worst.append({
                "output_index": None if projected else _unravel(m, out_shape),
                "input_index": None if projected else _unravel(j, in_shape),
                "analytic": float(analytic[m, j]), "numeric": float(numeric[m, j]),
                "rel_error": float(relative[m, j]),
            })
        if not projected:  # a projection's hint needs a second one (see _fast_compare)
            pair.hint = diagnose(analytic, numeric, out_shape, in_shape, atol, rtol)
    return pair


def _unravel(flat: int, shape: tuple) -> tuple:
    return tuple(int(x) for x in np.unravel_index(int(flat), shape)) if shape else ()


# ---------------------------------------------------------------------------------------
# Hints: the typical shapes of a wrong gradient
# ---------------------------------------------------------------------------------------
def diagnose(analytic, numeric, out_shape, in_shape, atol=1e-5, rtol=1e-3, projected=False) -> str | None:
    """Name the typical mistake when analytic vs numeric (Jacobian blocks) show its pattern.

    Tried in order: all zeros; the numeric gradient is zero; a flipped sign; transposed
    (the last two axes of a square input swapped); a constant factor (2, 1/2, the number
    of broadcast copies); zeros at some entries where the numeric gradient is not (often
    only one broadcast copy reaching the input). Returns None when nothing fits.
    """
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    if not (np.all(np.isfinite(analytic)) and np.all(np.isfinite(numeric))):
        bad = "analytic" if not np.all(np.isfinite(analytic)) else "numeric"
        return (f"the {bad} gradient has NaN or Inf entries: look for a division by zero, a log or "
                f"sqrt at 0, or an overflow (exp of a large number) in the {'VJP' if bad == 'analytic' else 'forward'}.")
    scale = max(np.abs(numeric).max(initial=0), np.abs(analytic).max(initial=0))
    tolerance = atol + 1e-6 * scale

    def close(x, y):
        return bool(np.all(np.abs(x - y) <= tolerance + rtol * np.abs(y)))

    copies = _broadcast_copies(in_shape, out_shape)
    if np.abs(analytic).max(initial=0) <= tolerance:
        return ("the analytic gradient is zero everywhere but the numeric one is not: the VJP returns "
                "zeros for this input, or the input is cut off from the graph (detach, no_grad, "
                "computing on .data or with NumPy directly).")
    if np.abs(numeric).max(initial=0) <= tolerance:
        return ("the numeric gradient is zero (the output does not depend on this input) but the "
                "analytic one is not: the VJP may return the gradient of another input (inputs swapped).")
    if close(analytic, -numeric):
        return "the sign is flipped: analytic = -numeric. Check the sign of each term of the VJP (e.g. d(a-b)/db = -1)."
    if not projected and len(in_shape) >= 2 and in_shape[-1] == in_shape[-2]:
        swapped = analytic.reshape((-1,) + tuple(in_shape)).swapaxes(-1, -2).reshape(analytic.shape)
        if close(swapped, numeric):
            return ("the gradient is transposed: analytic[..., i, j] = numeric[..., j, i]. The VJP returns "
                    "the transpose of what it should (e.g. g @ W where g @ W.T is meant, or a forgotten "
                    "transpose back); a square input hides this from the shape check.")
    norm = float(np.sum(numeric * numeric))
    factor = float(np.sum(analytic * numeric) / norm) if norm > 0 else 0.0
    if factor != 0 and close(analytic, factor * numeric):
        for value, text in ((2.0, "2"), (0.5, "1/2")):
            if abs(factor - value) < 1e-3 * value:
                return (f"analytic = {text} x numeric everywhere: a factor of {text} in the VJP (e.g. "
                        f"d(x^2)/dx = 2x applied twice, or x*x counted as both inputs of mul plus a 2).")
        if copies > 1 and abs(factor * copies - 1) < 1e-3:
            return (f"analytic = numeric / {copies}: this input is broadcast to {copies} copies, and the "
                    f"VJP averages the gradient over the broadcast axes instead of summing it "
                    f"(unbroadcast sums).")
        if copies > 1 and abs(factor - copies) < 1e-3 * copies:
            return (f"analytic = {copies} x numeric: the gradient is summed over {copies} broadcast "
                    f"copies that the forward did not make (unbroadcast the output's gradient once).")
        return f"analytic = {factor:.6g} x numeric everywhere: a constant factor is wrong in the VJP."
    zero_where_not = (np.abs(analytic) <= tolerance) & (np.abs(numeric) > tolerance + rtol * np.abs(numeric))
    if zero_where_not.any():
        count = int(zero_where_not.sum())
        m, j = np.argwhere(zero_where_not)[0]
        where = "" if projected else f" (first at output {_unravel(m, out_shape)}, input {_unravel(j, in_shape)})"
        text = f"the analytic gradient is 0 at {count} entries where the numeric one is not{where}."
        if copies > 1:
            text += (f" This input is broadcast ({tuple(in_shape)} -> {tuple(out_shape)}): if only one "
                     f"broadcast copy's gradient reaches it, the sum over the broadcast axes is "
                     f"missing; reduce with unbroadcast(grad, input.shape).")
        return text
    if copies > 1:
        return (f"this input is broadcast ({tuple(in_shape)} -> {tuple(out_shape)}); check that the "
                f"VJP sums the output's gradient over the broadcast axes (unbroadcast) and nothing else.")
    return None


def _broadcast_copies(in_shape, out_shape) -> int:
    """How many times broadcasting repeats each entry of ``in_shape`` in ``out_shape`` (1 if not)."""
    try:
        if np.broadcast_shapes(tuple(in_shape), tuple(out_shape)) != tuple(out_shape):
            return 1
    except ValueError:
        return 1
    size_in = int(np.prod(in_shape)) if in_shape else 1
    size_out = int(np.prod(out_shape)) if out_shape else 1
    return max(size_out // max(size_in, 1), 1)


# ---------------------------------------------------------------------------------------
# Locating the wrong VJP: every op of the graph checked on its own
# ---------------------------------------------------------------------------------------
def locate_wrong_vjps(outputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3, seed: int = 0) -> list:
    """Check each recorded op's VJP on its own, in one random direction per input.

    For a node with forward f and VJP, draws u (like the output) and v (like input i) and
    compares ``<VJP(u)_i, v>`` with ``<u, (f(.., x_i + eps v, ..) - f(.., x_i - eps v, ..)) / 2 eps>``.
    Needs the graph still in memory (the check keeps it with ``retain_graph=True``).
    Returns one readable line per suspicious (op, input), in graph order.
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    roots = [o._node for o in outputs if isinstance(o, Tensor) and o._node is not None]
    order = _topological_order(roots)
    rng = np.random.default_rng(seed)
    found = []
    for position, node in enumerate(order, start=1):
        if node.out is None or node.out.dtype.kind != "f":
            continue
        arrays = [p.data for p in node.parents]
        u = rng.standard_normal(node.out.shape).astype(node.out.dtype)
        try:
            with no_grad():
                grads = node.op.vjp(node, Tensor._constant(u))
        except Exception as error:  # noqa: BLE001 - report whatever the VJP raised
            found.append(f"op '{node.op.name}' (node {position} of {len(order)}): its VJP raised {type(error).__name__}: {error}")
            continue
        for i, (parent, need, g) in enumerate(zip(node.parents, node.needs_input_grad, grads)):
            if not need or g is None or parent.dtype.kind != "f":
                continue
            if g.shape != parent.shape:
                found.append(
                    f"op '{node.op.name}' (node {position} of {len(order)}), input {i}: the VJP returns "
                    f"shape {g.shape} for an input of shape {parent.shape} (a broadcast sum missing?)"
                )
                continue
            v = rng.standard_normal(parent.shape).astype(parent.dtype)
            try:
                plus = node.op.forward(None, *_replace(arrays, i, arrays[i] + eps * v), **node.attrs)
                minus = node.op.forward(None, *_replace(arrays, i, arrays[i] - eps * v), **node.attrs)
            except Exception:  # noqa: BLE001 - an op whose forward cannot be re-run is skipped
                continue
            numeric = float(np.sum(u * (np.asarray(plus, np.float64) - np.asarray(minus, np.float64)) / (2 * eps)))
            analytic = float(np.sum(np.asarray(g.data, np.float64) * v))
            if not abs(analytic - numeric) <= atol + rtol * abs(numeric):
                label = f" '{parent.name}'" if parent.name else ""
                found.append(
                    f"op '{node.op.name}' (node {position} of {len(order)}), input {i}{label} of shape "
                    f"{parent.shape}: <u, J v> analytic {analytic:.6g}, numeric {numeric:.6g}"
                )
    return found


def _replace(arrays, index, value) -> list:
    out = list(arrays)
    out[index] = value
    return out


# ---------------------------------------------------------------------------------------
# Reports
# ---------------------------------------------------------------------------------------
def backward_error_report(error: str) -> str:
    """The lines that explain an error raised by the backward pass (shared with symbolic_check)."""
    text = f"The backward pass raised an error, so no gradient could be compared:\n  {error}"
    if "must have its input's shape" in error:
        text += ("\n  hint: a VJP returned the output's shape for a broadcast input: a broadcast sum is "
                 "missing. Reduce it with unbroadcast(grad, input.shape).")
    return text


def _report(result: GradcheckResult, eps, atol, rtol, n_inputs, n_outputs, labels, out_labels) -> str:
    head = (f"gradcheck {'passed' if result.ok else 'FAILED'} for {result.name} ({result.mode} mode; "
            f"{n_inputs} input(s), {n_outputs} output(s); eps={eps:g}, atol={atol:g}, rtol={rtol:g}): "
            f"max abs error {result.max_abs_error:.3g}, max rel error {result.max_rel_error:.3g}")
    lines = [head]
    if result.error:
        lines.append(backward_error_report(result.error))
    for pair in result.pairs:
        if pair.ok:
            continue
        output = out_labels[pair.output] if pair.output < len(out_labels) else f"output {pair.output}"
        if result.mode == "fast":
            worst = pair.worst[0]
            lines.append(
                f"Projection mismatch for {output} (shape {pair.output_shape}) with respect to input "
                f"{pair.input} ({pair.input_label}, shape {pair.input_shape}): <u, J v> analytic "
                f"{worst['analytic']:.8g}, numeric {worst['numeric']:.8g}, rel error {worst['rel_error']:.3g}."
            )
            lines.append("  (fast mode sees one random direction; gradcheck(..., fast_mode=False) on a "
                         "smaller version lists the worst entries)")
        else:
            lines.append(
                f"Jacobian mismatch for {output} (shape {pair.output_shape}) with respect to input "
                f"{pair.input} ({pair.input_label}, shape {pair.input_shape}): {pair.failing} of "
                f"{pair.total} entries fail |analytic - numeric| <= atol + rtol*|numeric|; max rel "
                f"error {pair.max_rel_error:.3g}."
            )
            lines.append(f"  {'output index':<14}{'input index':<14}{'analytic':>14}{'numeric':>14}{'rel error':>11}")
            for worst in pair.worst:
                lines.append(
                    f"  {str(worst['output_index']):<14}{str(worst['input_index']):<14}"
                    f"{worst['analytic']:>14.6g}{worst['numeric']:>14.6g}{worst['rel_error']:>11.2e}"
                )
        if pair.hint:
            lines.append(f"  hint: {pair.hint}")
    if result.culprits:
        lines.append("Each op's VJP checked on its own (one random direction per input) points at:")
        lines.extend(f"  {line}" for line in result.culprits)
    elif not result.ok:
        lines.append("Every op's VJP passes on its own: look at how the function combines them "
                     "(constants computed from .data, in-place changes, a non-differentiable point).")
    for message in result.warnings:
        lines.append(f"warning: {message}")
    return "\n".join(lines)


def _precision_warning(label: str, dtype, eps: float) -> str:
    machine = float(np.finfo(dtype).eps) if np.dtype(dtype).kind == "f" else float("nan")
    noise = machine / eps if machine == machine else float("nan")
    return (
        f"input {label} has dtype {dtype}, not float64. Central differences divide a difference of "
        f"two nearly equal values by 2*eps={2 * eps:g}: in {dtype} (machine epsilon {machine:.1e}) "
        f"rounding alone gives errors near {noise:.0e} x |f|, so the check compares noise. Pass "
        f"float64 inputs (x.double(), or minigrad.tensor(..., dtype='float64'))."
    )


# ---------------------------------------------------------------------------------------
def _as_input_tuple(inputs) -> tuple:
    if isinstance(inputs, Tensor):
        return (inputs,)
    if isinstance(inputs, (list, tuple)):
        return tuple(inputs)
    return (inputs,)


def _as_outputs(value: Any, name: str) -> list:
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        outs = [v for v in value if isinstance(v, Tensor)]
        if outs:
            return outs
    raise TypeError(
        f"gradcheck: {name} must return a tensor or a tuple of tensors, got {type(value).__name__}"
    )


def _label(value, index: int) -> str:
    if isinstance(value, Tensor) and value.name:
        return f"'{value.name}', {value.dtype}"
    dtype = value.dtype if isinstance(value, Tensor) else type(value).__name__
    return f"{dtype}"
