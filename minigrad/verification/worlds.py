"""Every primitive in every world: float64, float32 and SymPy, recorded and not recorded.

The engine runs one VJP formula per primitive on two kinds of data (float arrays and
object arrays of SymPy expressions), and a primitive may add an array-level ``fast_vjp``
for unrecorded float backward passes. This module runs a primitive's example in one
world and says whether everything that must agree does:

float64
    the forward is the same recorded and under ``no_grad``; the gradients of an
    unrecorded backward (which uses ``fast_vjp`` when the op has one) equal those of a
    recorded one (``create_graph=True``, always the tensor ``vjp``); and, called directly
    on the same node and incoming gradient, ``fast_vjp`` equals ``vjp`` to 1e-15 relative
    to the gradient's size.
float32
    the forward and both backward passes stay in float32 and agree with float64 to
    float32 accuracy (1e-4 relative to the values' size).
sympy
    the forward on symbols, evaluated at the float64 point, equals the float64 forward;
    the unrecorded and recorded backward passes give the same expressions (compared exactly
    at a rational point); and ``symbolic_check`` proves the gradient equal to ``sympy.diff``
    (or matches it exactly at rational points). An op without a SymPy form must refuse
    symbols with :class:`~minigrad.backend.NotSymbolicError`.

Binary elementwise ops are also run with a Python number as either operand (``3/4``):
that is how most users write ``0.5 * x``, and in the SymPy world the number must enter as
an exact rational.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from minigrad.autograd import GradMode, grad as _grad, no_grad
from minigrad.tensor import Tensor, lift
from minigrad.verification.domains import draw_inputs
from minigrad.verification.symbolic import symbolic_check
from minigrad.verification.symbolic_run import symbolic_inputs

WORLDS = ("float64", "float32", "sympy")
#: fast_vjp against vjp, relative to the largest gradient entry (a few ulps of float64)
FAST_RTOL = 1e-15
#: float32 against float64, relative to the largest value
FLOAT32_RTOL = 1e-4
#: the Python number used as a scalar operand (exact in binary, so 3/4 in SymPy)
PYTHON_SCALAR = 0.75
#: ops whose operands broadcast elementwise, so a Python number may stand for either one
SCALAR_OPERAND_OPS = ("add", "sub", "mul", "div", "pow", "maximum")


@dataclass
class WorldCase:
    """One primitive example, possibly with a Python number for one operand."""

    op: type
    shapes: tuple
    attrs: dict
    #: index of the operand given as a Python number (None: all are tensors)
    scalar_at: int | None = None

    @property
    def tensor_shapes(self) -> tuple:
        return tuple(s for i, s in enumerate(self.shapes) if i != self.scalar_at)

    def label(self) -> str:
        parts = []
        for i, shape in enumerate(self.shapes):
            parts.append(repr(PYTHON_SCALAR) if i == self.scalar_at else str(shape))
        return ", ".join(parts)

    def function(self) -> Callable:
        """The case as a function of its tensor operands (numbers lifted like ``x * 0.75``)."""
        from minigrad.ops.registry import apply

        op, attrs, scalar_at = self.op, self.attrs, self.scalar_at

        def call(*tensors):
            operands = list(tensors)
            if scalar_at is not None:
                operands.insert(scalar_at, lift(PYTHON_SCALAR, tensors[0]))
            return apply(op, *operands, **attrs)

        call.__qualname__ = op.name
        return call


@dataclass
class WorldResult:
    """What one case showed in one world: each named comparison, and whether all held."""

    name: str
    world: str
    case: str
    attrs: dict
    ok: bool = True
    #: comparison name -> short text (the error found, or "proved", "matched at 3 points")
    details: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)

    def fail(self, what: str, message: str) -> None:
        self.ok = False
        self.details[what] = "FAIL"
        self.failures.append(f"{self.name} ({self.case}) in {self.world}: {what}: {message}")

    @property
    def report(self) -> str:
        return "\n".join(self.failures)


def cases(op) -> list:
    """Every example of ``op`` as a case, plus the Python-number operand cases."""
    out = []
    for shapes, attrs in op.examples:
        shapes = tuple(tuple(s) for s in shapes)
        out.append(WorldCase(op, shapes, attrs))
        if op.name in SCALAR_OPERAND_OPS and len(shapes) == 2:
            # one case per operand position (a number beside a 0-d tensor included)
            for position in (0, 1):
                out.append(WorldCase(op, shapes, attrs, scalar_at=position))
    return out


def _seed(case: WorldCase) -> int:
    return zlib.crc32(f"{case.op.name}:{case.shapes}:{case.scalar_at}:{sorted(case.attrs)}".encode())


def _inputs(case: WorldCase, dtype) -> list:
    rng = np.random.default_rng(_seed(case))
    domain = case.op.domain
    if not isinstance(domain, str):
        domain = [d for i, d in enumerate(domain) if i != case.scalar_at]
    arrays = draw_inputs(case.tensor_shapes, domain, rng)
    return [Tensor(a.astype(dtype), requires_grad=True, name=f"input{i}") for i, a in enumerate(arrays)]


def _outputs(value) -> list:
    return list(value) if isinstance(value, (tuple, list)) else [value]


def _weights(outputs, rng) -> list:
    """A fixed random incoming gradient per output (the same in every world)."""
    return [rng.standard_normal(o.shape) for o in outputs]


def _backward(fn, inputs, weights, dtype, record: bool) -> list:
    """d(sum_k <w_k, out_k>)/d inputs, with the backward recorded or not."""
    outputs = _outputs(fn(*inputs))
    grad_outputs = [Tensor(np.asarray(w).astype(dtype) if dtype is not object else w) for w in weights]
    grads = _grad(outputs, inputs, grad_outputs=grad_outputs, create_graph=record, allow_unused=True)
    zero = 0 if dtype is object else np.zeros((), dtype=dtype)
    return [np.zeros(x.shape, dtype=x.dtype) + zero if g is None else g.data for g, x in zip(grads, inputs)]


def _map(fn, array, dtype) -> np.ndarray:
    """``fn`` on every entry of ``array`` (0-d included), as a new array of ``dtype``."""
    array = np.asarray(array, dtype=object if dtype is object else None)
    out = np.empty(array.shape, dtype=dtype)
    flat_in, flat_out = array.reshape(-1), out.reshape(-1)
    for i in range(flat_in.size):
        flat_out[i] = fn(flat_in[i])
    return out


def _scale(*arrays) -> float:
    biggest = [float(np.max(np.abs(a))) for a in arrays if np.size(a)]
    return max([1.0, *biggest])


def _compare(result: WorldResult, what: str, actual, expected, rtol: float) -> None:
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        result.fail(what, f"shape {actual.shape}, expected {expected.shape}")
        return
    both_nan = np.isnan(actual) & np.isnan(expected)
    error = float(np.max(np.where(both_nan, 0.0, np.abs(actual - expected)), initial=0.0))
    limit = rtol * _scale(expected)
    if not error <= limit:  # (NaN fails too)
        result.fail(what, f"max abs difference {error:.3g} > {limit:.3g}")
    else:
        result.details[what] = f"{error:.1e}"


# ---------------------------------------------------------------------------------------
# The worlds
# ---------------------------------------------------------------------------------------
def _float_world(case: WorldCase, result: WorldResult, dtype) -> tuple:
    """Forward and both backward passes in one float dtype; returns (forward, grads)."""
    fn = case.function()
    inputs = _inputs(case, dtype)
    outputs = _outputs(fn(*inputs))
    with no_grad():
        unrecorded = _outputs(fn(*inputs))
    # (an op that casts says so in its attrs)
    expected_dtype = np.dtype(case.attrs.get("dtype", dtype))
    for k, (a, b) in enumerate(zip(outputs, unrecorded)):
        if a.dtype != expected_dtype:
            result.fail("dtype", f"output {k} is {a.dtype}, expected {expected_dtype}")
        # (the same values; LAPACK may take another path when nothing is saved, so a few ulps)
        _compare(result, f"no_grad forward = recorded forward, output {k}", b.data, a.data,
                 FAST_RTOL * 8 if dtype == np.float64 else 1e-6)
    weights = _weights(outputs, np.random.default_rng(_seed(case) + 1))
    fast = _backward(fn, inputs, weights, dtype, record=False)
    slow = _backward(fn, inputs, weights, dtype, record=True)
    rtol = FAST_RTOL * 8 if dtype == np.float64 else FLOAT32_RTOL
    for i, (a, b) in enumerate(zip(fast, slow)):
        if a.dtype != np.dtype(dtype):
            result.fail("dtype", f"gradient {i} is {a.dtype}, expected {np.dtype(dtype)}")
        _compare(result, f"unrecorded = recorded backward, input {i}", a, b, rtol)
    return [o.data for o in outputs], slow


def _fast_equals_vjp(case: WorldCase, result: WorldResult) -> None:
    """Call fast_vjp and vjp on the same node and incoming gradient; they must agree.

    With every input requiring grad, then with each input alone requiring it (the VJPs
    skip the gradients nobody needs, a path of its own).
    """
    op = case.op
    if op.fast_vjp is None:
        result.details["fast_vjp"] = "none"
        return
    count = len(case.tensor_shapes)
    masks = [tuple([True] * count)] + ([tuple(i == k for i in range(count)) for k in range(count)] if count > 1 else [])
    for mask in masks:
        inputs = _inputs(case, np.float64)
        for tensor, needed in zip(inputs, mask):
            tensor.requires_grad = needed
        output = case.function()(*inputs)
        node = output._node
        incoming = Tensor(np.random.default_rng(_seed(case) + 2).standard_normal(output.shape))
        with no_grad():
            fast = op.fast_vjp(node, incoming)
            slow = op.vjp(node, incoming)
        label = "" if all(mask) else f" (only input {mask.index(True)} requires grad)"
        for i, (a, b, need) in enumerate(zip(fast, slow, node.needs_input_grad)):
            if not need:
                continue
            if a is None or b is None:
                result.fail("fast_vjp = vjp", f"input {i}{label}: one of them returned None")
                continue
            _compare(result, f"fast_vjp = vjp, input {i}{label}", a.data, b.data, FAST_RTOL)
    if result.ok:
        result.details["fast_vjp"] = "= vjp"


def _sympy_world(case: WorldCase, result: WorldResult, budget: float) -> None:
    from minigrad import backend

    sp = backend.sympy()
    fn = case.function()
    domain = case.op.domain
    shapes = case.tensor_shapes
    sym_domain = "real" if domain == "distinct" else domain
    if not isinstance(sym_domain, str):
        sym_domain = ["real" if d == "distinct" else d for i, d in enumerate(sym_domain) if i != case.scalar_at]
    symbols = symbolic_inputs(shapes, sym_domain)
    if not case.op.symbolic:
        try:
            fn(*symbols)
        except backend.NotSymbolicError:
            result.details["symbols"] = "refused (no SymPy form)"
            return
        except Exception as error:  # noqa: BLE001 - any other exception is the finding
            result.fail("symbols", f"raised {type(error).__name__}: {error} (expected NotSymbolicError)")
            return
        result.details["symbols"] = "accepted"
        return
    try:
        outputs = _outputs(fn(*symbols))
        weights = _weights(outputs, np.random.default_rng(_seed(case) + 1))
        exact = [_map(lambda w: sp.Rational(round(float(w) * 8), 8), w, object) for w in weights]
        unrecorded = _backward(fn, symbols, exact, object, record=False)
        recorded = _backward(fn, symbols, exact, object, record=True)
    except Exception as error:  # noqa: BLE001
        result.fail("symbols", f"raised {type(error).__name__}: {error}")
        return
    # one rational point for the exact comparisons (and the float64 forward at that point)
    rng = np.random.default_rng(_seed(case) + 3)
    point = {}
    for tensor in symbols:
        for symbol in tensor.data.reshape(-1):
            value = sp.Rational(int(rng.integers(5, 20)), 8)
            if getattr(symbol, "is_positive", None) or domain in ("positive",):
                point[symbol] = value
            else:
                point[symbol] = value if rng.random() < 0.5 else -value
    for i, (a, b) in enumerate(zip(unrecorded, recorded)):
        differences = [sp.nsimplify(sp.sympify(x - y).xreplace(point)) for x, y in zip(a.reshape(-1), b.reshape(-1))]
        if any(d != 0 for d in differences):
            result.fail(f"unrecorded = recorded backward, input {i}", "the expressions differ at a rational point")
    float_inputs = [_map(lambda s: float(point[s]), t.data, np.float64) for t in symbols]
    with no_grad():
        values = _outputs(fn(*[Tensor(a) for a in float_inputs]))
    for k, (expr, value) in enumerate(zip(outputs, values)):
        at_point = _map(lambda e: float(sp.sympify(e).xreplace(point)), expr.data, np.float64)
        _compare(result, f"symbolic forward = float forward, output {k}", at_point, value.data, 1e-12)
    proof = symbolic_check(fn, shapes, domain=sym_domain, budget=budget, seed=_seed(case), name=case.op.name)
    result.details["proof"] = proof.method
    # "too large to prove in N s" is no finding about the op: the row shows it, and passes.
    if not proof.ok and not proof.method.startswith("too large"):
        result.fail("proof", proof.report)


def check_case(case: WorldCase, world: str, budget: float = 10.0) -> WorldResult:
    """Run one case in one world (see the module docstring for what is compared)."""
    if world not in WORLDS:
        raise ValueError(f"check_case: world must be one of {', '.join(WORLDS)}, got {world!r}")
    result = WorldResult(case.op.name, world, case.label(), case.attrs)
    previous = GradMode.enabled
    try:
        if world == "float64":
            _float_world(case, result, np.float64)
            _fast_equals_vjp(case, result)
        elif world == "float32":
            forward32, grads32 = _float_world(case, result, np.float32)
            check64 = WorldResult(case.op.name, "float64", case.label(), case.attrs)
            forward64, grads64 = _float_world(case, check64, np.float64)
            for k, (a, b) in enumerate(zip(forward32, forward64)):
                _compare(result, f"float32 = float64 forward, output {k}", a, b, FLOAT32_RTOL)
            for i, (a, b) in enumerate(zip(grads32, grads64)):
                _compare(result, f"float32 = float64 gradient, input {i}", a, b, FLOAT32_RTOL)
        else:
            _sympy_world(case, result, budget)
    except Exception as error:  # noqa: BLE001 - a crash in any world is a failed check
        result.fail("run", f"raised {type(error).__name__}: {error}")
    finally:
        GradMode.enabled = previous
    return result


def check_primitive(op, worlds: Sequence[str] = WORLDS, budget: float = 10.0) -> list:
    """Every case of ``op`` in every world: a list of :class:`WorldResult`."""
    return [check_case(case, world, budget) for case in cases(op) for world in worlds]
