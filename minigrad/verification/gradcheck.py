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
checks every op of the recorded graph on its own to point at the VJP that is wrong (see
``diagnosis``). The Jacobians and their comparison entry by entry are in ``jacobians``.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from minigrad import random as _random
from minigrad.autograd import enable_grad
from minigrad.autograd import grad as _grad
from minigrad.tensor import Tensor
from minigrad.verification.diagnosis import gradcheck_report, locate_wrong_vjps, precision_warning
from minigrad.verification.jacobians import Evaluator, PairResult, as_outputs, fast_compare, full_compare

__all__ = [
    "GradcheckError", "GradcheckWarning", "GradcheckResult", "PairResult", "check_gradients",
    "gradcheck", "gradgradcheck", "check_second_derivatives",
]


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
            message = precision_warning(labels[i], inputs[i].dtype, eps)
            result.warnings.append(message)
            warnings.warn(message, GradcheckWarning, stacklevel=3)

    # The analytic side runs the forward once and keeps its graph for all the VJPs.
    with enable_grad():
        outputs = as_outputs(fn(*inputs), name)
    result.forward_passes += 1
    rng = _random.generator() if seed is None else np.random.default_rng(seed)
    evaluate = Evaluator(fn, inputs, _record_forward, result)
    out_labels = list(_output_labels) if _output_labels else [f"output {k}" for k in range(len(outputs))]
    try:
        if fast_mode:
            fast_compare(outputs, inputs, differentiable, evaluate, rng, eps, atol, rtol, result, labels, out_labels)
        else:
            full_compare(outputs, inputs, differentiable, evaluate, eps, atol, rtol, result, labels, out_labels)
    except (RuntimeError, NotImplementedError) as error:
        if isinstance(error, GradcheckError):
            raise
        result.ok = False
        result.error = f"{type(error).__name__}: {error}"

    if not result.ok and locate:
        result.culprits = locate_wrong_vjps(outputs, eps=eps, atol=atol, rtol=rtol, seed=0)
    result.seconds = time.perf_counter() - started
    result.report = gradcheck_report(result, eps, atol, rtol, len(inputs), len(outputs), labels, out_labels)
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
        outputs = [o for o in as_outputs(fn(*inputs), name)]
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
        outs = as_outputs(fn(*xs), name)
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
def _as_input_tuple(inputs) -> tuple:
    if isinstance(inputs, Tensor):
        return (inputs,)
    if isinstance(inputs, (list, tuple)):
        return tuple(inputs)
    return (inputs,)


def _label(value, index: int) -> str:
    if isinstance(value, Tensor) and value.name:
        return f"'{value.name}', {value.dtype}"
    dtype = value.dtype if isinstance(value, Tensor) else type(value).__name__
    return f"{dtype}"
