"""What a failed gradient check tells a student: the typical mistake, the wrong VJP, the report.

``diagnose`` names the pattern of a wrong Jacobian block (all zeros, a flipped sign, a
transpose, a constant factor such as 2 or the number of broadcast copies);
``locate_wrong_vjps`` checks every op of the recorded graph on its own to point at the VJP
that is wrong; ``gradcheck_report`` writes the text a failed check raises with. Shared by
gradcheck, symbolic_check and the coursework grader.
"""
from __future__ import annotations

import numpy as np

from minigrad.autograd import _topological_order, no_grad
from minigrad.tensor import Tensor

__all__ = ["diagnose", "locate_wrong_vjps", "backward_error_report", "gradcheck_report", "precision_warning"]


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
        where = "VJP" if bad == "analytic" else "forward"
        return (f"the {bad} gradient has NaN or Inf entries: look for a division by zero, a log or "
                f"sqrt at 0, or an overflow (exp of a large number) in the {where}.")
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


def _unravel(flat: int, shape: tuple) -> tuple:
    return tuple(int(x) for x in np.unravel_index(int(flat), shape)) if shape else ()


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
            found.append(f"op '{node.op.name}' (node {position} of {len(order)}): its VJP raised "
                         f"{type(error).__name__}: {error}")
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


def gradcheck_report(result, eps, atol, rtol, n_inputs, n_outputs, labels, out_labels) -> str:
    """The text of a gradcheck result: the head line, each failing pair's worst entries and hint, the culprits."""
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


def precision_warning(label: str, dtype, eps: float) -> str:
    """Why a non-float64 input makes central differences compare rounding noise, and what to pass instead."""
    machine = float(np.finfo(dtype).eps) if np.dtype(dtype).kind == "f" else float("nan")
    noise = machine / eps if machine == machine else float("nan")
    return (
        f"input {label} has dtype {dtype}, not float64. Central differences divide a difference of "
        f"two nearly equal values by 2*eps={2 * eps:g}: in {dtype} (machine epsilon {machine:.1e}) "
        f"rounding alone gives errors near {noise:.0e} x |f|, so the check compares noise. Pass "
        f"float64 inputs (x.double(), or minigrad.tensor(..., dtype='float64'))."
    )
