"""Comparing a worker's answers with the references, in the trusted grading process.

A forward is compared entry by entry with the instructor's solution; a VJP is compared as a
Jacobian, one row per upstream gradient, with the instructor's solution or, in a self-check,
with central finite differences of the student's own forward. A report names which entries
differ (yours against expected) and, for a Jacobian, gives gradcheck's hint at the cause. An
answer that does not have the form the protocol promises raises :class:`MalformedAnswer`.
"""
from __future__ import annotations

import numpy as np

from minigrad.coursework.sandbox import SandboxedWorker
from minigrad.verification.diagnosis import diagnose

#: comparison with the instructor's solution: both are float64 evaluations of one formula
RTOL, ATOL = 1e-6, 1e-9
#: comparison with central finite differences (self-check), as gradcheck does
FD_EPS, FD_RTOL, FD_ATOL = 1e-6, 1e-3, 1e-5


def _entries(got: np.ndarray, expected: np.ndarray, rtol: float, atol: float, what: str) -> str:
    """'' when equal within tolerance, else which entries differ (got vs expected)."""
    if got.shape != expected.shape:
        return f"{what}: shape {got.shape}, expected {expected.shape}"
    scale = float(np.max(np.abs(expected), initial=0.0))
    wrong = ~np.isclose(got, expected, rtol=rtol, atol=atol + 1e-12 * scale)
    wrong |= np.isnan(got) != np.isnan(expected)
    if not wrong.any():
        return ""
    where = [tuple(int(i) for i in index) for index in np.argwhere(wrong)[:3]]
    details = "; ".join(f"{w}: got {got[w]:.6g}, expected {expected[w]:.6g}" for w in where)
    return f"{what}: {int(wrong.sum())} of {wrong.size} entries differ ({details})"


def as_array(value, what: str) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise MalformedAnswer(f"{what} is a {type(value).__name__}, not an array")
    return value


class MalformedAnswer(ValueError):
    """An answer that does not have the form the protocol promises."""


def _tree_problems(got, expected, what: str) -> list:
    if isinstance(expected, list):
        if not isinstance(got, list) or len(got) != len(expected):
            shown = f"{len(got)} values" if isinstance(got, list) else "one value"
            return [f"{what}: {shown}, expected {len(expected)}"]
        return [p for i, (g, e) in enumerate(zip(got, expected)) for p in _tree_problems(g, e, f"{what}[{i}]")]
    if isinstance(expected, bool):
        return [] if got is expected else [f"{what}: got {got!r}, expected {expected!r}"]
    if not isinstance(got, np.ndarray):
        return [f"{what}: got a {type(got).__name__}, expected numbers of shape {expected.shape}"]
    problem = _entries(got, expected, RTOL, ATOL, what)
    return [problem] if problem else []


def _jacobian(rows, wrt_position: int, input_shape: tuple, output_shape: tuple, name: str, input_index: int):
    """Stack one input's VJP rows into a Jacobian (outputs x input entries); or a message."""
    out_size = int(np.prod(output_shape)) if output_shape else 1
    if not isinstance(rows, list) or len(rows) != out_size:
        count = len(rows) if isinstance(rows, list) else "no"
        raise MalformedAnswer(f"{count} VJP rows for {out_size} upstream gradients")
    matrix = np.empty((out_size, int(np.prod(input_shape)) if input_shape else 1))
    for m, row in enumerate(rows):
        if not isinstance(row, list) or wrt_position >= len(row):
            raise MalformedAnswer("a VJP row without the requested gradients")
        grad = row[wrt_position]
        if grad is None:
            return None, f"{name}: the VJP returned None for input {input_index}, which needs a gradient"
        grad = as_array(grad, "a gradient")
        if grad.shape != tuple(input_shape):
            message = f"{name}: gradient shape {grad.shape} expected {tuple(input_shape)} (input {input_index})"
            if grad.shape == tuple(output_shape) and grad.size > int(np.prod(input_shape)):
                message += ("\n  hint: the gradient has the output's shape for a broadcast input: a broadcast sum "
                            "is missing. Reduce it with unbroadcast(grad, input.shape).")
            return None, message
        matrix[m] = grad.ravel()
    return matrix, ""


def _jacobian_report(name: str, input_index: int, in_shape, out_shape, got, expected, rtol, atol, against: str) -> str:
    difference = np.abs(got - expected)
    failing = (difference > atol + rtol * np.abs(expected)) | (np.isnan(got) != np.isnan(expected))
    if not failing.any():
        return ""
    lines = [f"the gradient of input {input_index} (shape {tuple(in_shape)}) differs from {against} at "
             f"{int(failing.sum())} of {failing.size} Jacobian entries:",
             f"  {'output index':<14}{'input index':<14}{'yours':>14}{'expected':>14}"]
    ratio = np.where(np.isfinite(difference), difference / (atol + rtol * np.abs(expected)), np.inf)
    for flat in np.argsort(-ratio, axis=None, kind="stable")[:5]:
        m, j = np.unravel_index(flat, got.shape)
        if not failing[m, j]:
            break
        out_index = tuple(int(x) for x in np.unravel_index(m, out_shape)) if out_shape else ()
        in_index = tuple(int(x) for x in np.unravel_index(j, in_shape)) if in_shape else ()
        lines.append(f"  {str(out_index):<14}{str(in_index):<14}{got[m, j]:>14.6g}{expected[m, j]:>14.6g}")
    hint = diagnose(got, expected, tuple(out_shape), tuple(in_shape), atol=max(atol, 1e-9), rtol=rtol)
    if hint:
        lines.append("  hint: " + hint.replace("analytic", "yours").replace("numeric", "expected"))
    return "\n".join(lines)


def compare(case: dict, answer: dict, reference: dict | None) -> str:
    """'' when the worker's answer matches, else a report. Raises MalformedAnswer on a malformed answer."""
    name = case["name"]
    if case["kind"] == "function":
        problems = _tree_problems(answer.get("result"), reference["result"], f"{name}(...)")
        return "\n".join(problems[:4])
    output = as_array(answer.get("output"), "the output")
    if reference is not None:
        problem = _entries(output, reference["output"], RTOL, ATOL, f"the output of {name}")
        if problem and case["kind"] == "forward":
            return problem
    if case["kind"] == "forward":
        return ""
    out_shape = output.shape if reference is None else reference["output"].shape
    inputs, lines = case["request"]["inputs"], []
    for position, input_index in enumerate(case["request"]["wrt"]):
        in_shape = inputs[input_index].shape
        got, problem = _jacobian(answer.get("grads"), position, in_shape, out_shape, name, input_index)
        if problem:
            lines.append(problem)
            continue
        if reference is not None:
            expected, _ = _jacobian(reference["grads"], position, in_shape, out_shape, name, input_index)
            report = _jacobian_report(name, input_index, in_shape, out_shape, got, expected, RTOL, ATOL,
                                      "the instructor's solution")
        else:
            expected = answer["numeric"][position]
            report = _jacobian_report(name, input_index, in_shape, out_shape, got, expected, FD_RTOL, FD_ATOL,
                                      "central finite differences of your forward")
        if report:
            lines.append(report)
    return "\n".join(lines)


def numeric_jacobians(worker: SandboxedWorker, case: dict, out_shape: tuple) -> list:
    """Central differences of the worker's forward, one Jacobian per input of wrt (self-check)."""
    request = case["request"]
    inputs = request["inputs"]
    jacobians = []
    for input_index in request["wrt"]:
        base = inputs[input_index]
        batch = []
        for j in range(base.size):
            for sign in (1.0, -1.0):
                moved = base.copy().ravel()
                moved[j] += sign * FD_EPS
                batch.append([moved.reshape(base.shape) if k == input_index else a for k, a in enumerate(inputs)])
        answer = worker.request({"op": "primitive", "name": request["name"], "attrs": request["attrs"],
                                 "inputs": [], "batch": batch}, f"finite differences of {case['label']}")
        if not answer.get("ok"):
            raise WorkerFailed(answer)
        outputs = [as_array(o, "an output") for o in answer.get("outputs", [])]
        if len(outputs) != len(batch) or any(o.shape != tuple(out_shape) for o in outputs):
            raise MalformedAnswer("finite-difference outputs of the wrong number or shape")
        columns = [(outputs[2 * j] - outputs[2 * j + 1]).ravel() / (2 * FD_EPS) for j in range(base.size)]
        jacobians.append(np.stack(columns, axis=1) if columns else np.zeros((int(np.prod(out_shape)), 0)))
    return jacobians


class WorkerFailed(Exception):
    def __init__(self, answer: dict):
        super().__init__(answer.get("error"))
        self.answer = answer



__all__ = ["MalformedAnswer", "WorkerFailed", "as_array", "compare", "numeric_jacobians"]
