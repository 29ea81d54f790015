"""The registry of primitives and the one function that applies them.

A primitive is a class with
    name      the op's name, as shown in errors, graphs and ``minigrad check``
    formula   its VJP in plain-text maths (shown in the backward view of a graph)
    forward(ctx, *arrays, **attrs) -> array
              the computation on raw arrays; ``ctx`` is the graph node, or None when
              nothing is recorded (then there is nothing to save)
    vjp(ctx, grad) -> tuple
              one gradient per input, as minigrad tensors (None where
              ``ctx.needs_input_grad`` is False), written once, with minigrad ops, in the
              form a textbook prints: ``create_graph=True`` differentiates it again and it
              runs unchanged on SymPy data
and a few flags the tests and checkers read (``symbolic``, ``smooth``, ``domain``).
Everything that is not a primitive is composed from primitives in plain Python.

A primitive may also define ``fast_vjp(ctx, grad)``: the same gradients computed for
speed, as constants (by NumPy on the raw arrays, or from values the forward saved). The
backward loop calls it only when the backward pass is not recorded and the op's data are
floats; everything else (``create_graph=True``, SymPy data, second derivatives) uses
``vjp``. The registry-wide tests hold the two equal on every example of the op, and
``MINIGRAD_NO_FAST_VJP=1`` runs without any fast path to show results do not change.

Every primitive of minigrad and norms lists ``examples`` that include a 0-d operand, or
says in ``no_zero_d`` why it cannot take one (``register`` refuses it otherwise): 0-d
operands are where broadcasting and SymPy scalars break first.
"""
from __future__ import annotations

import operator
import re
import sys
from types import MappingProxyType

import numpy as np

from minigrad import backend
from minigrad.autograd import Node, _creation_trace, _sequence
from minigrad.modes import AnomalyMode, GradMode, InplaceClock
from minigrad.tensor import Tensor

REGISTRY: dict = {}


class Primitive:
    """Base class of primitives; see the module docstring for the contract."""

    name: str = ""
    formula: str = ""
    #: does the op have a SymPy form (so symbolic_check can prove it)?
    symbolic: bool = True
    #: is the VJP itself differentiable (so gradgradcheck applies)?
    smooth: bool = True
    #: the test-input domain: "real", "positive", "nonzero", "distinct" (used by the checkers)
    domain: str = "real"
    #: example calls for the registry-wide checks: list of (input shapes, attrs)
    examples: list = []
    #: why no example has a 0-d operand, for ops that cannot take one (e.g. matmul)
    no_zero_d: str = ""
    #: optional array-level VJP used when the backward is not recorded (see above)
    fast_vjp = None

    @staticmethod
    def forward(ctx, *arrays, **attrs):  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def vjp(ctx, grad):
        raise NotImplementedError(f"{ctx.op.name}: this primitive defines no VJP")


def register(cls):
    """Class decorator: add a primitive to the registry (names must be unique)."""
    if not cls.name:
        raise ValueError(f"register: primitive {cls.__qualname__} has no name")
    if cls.name in REGISTRY and REGISTRY[cls.name] is not cls:
        raise ValueError(f"register: a primitive named '{cls.name}' is already registered")
    if _is_library_primitive(cls):
        _require_examples(cls)
    if cls.vjp is Primitive.vjp:

        def missing_vjp(ctx, grad, _name=cls.name):
            raise NotImplementedError(f"{_name}: no VJP is defined for this op")

        cls.vjp = staticmethod(missing_vjp)
    REGISTRY[cls.name] = cls
    return cls


def _is_library_primitive(cls) -> bool:
    """Is ``cls`` part of minigrad, or of a library that asks to be checked like it?

    A library built on minigrad asks by setting ``__minigrad_library__ = True`` in its
    package's ``__init__.py`` (before it imports its modules). A user's own primitives (a
    test, a tutorial, coursework) are free to register without examples.
    """
    package = cls.__module__.partition(".")[0]
    return package == "minigrad" or getattr(sys.modules.get(package), "__minigrad_library__", False) is True


def _require_examples(cls) -> None:
    """Refuse a library primitive that the registry-wide checks could not run fully."""
    if not cls.examples:
        raise ValueError(
            f"register: primitive '{cls.name}' has no examples; list at least one "
            f"((input shapes...), attrs) so the registry-wide checks run it in every world."
        )
    zero_d = any(() in tuple(shapes) for shapes, _ in cls.examples)
    if not zero_d and not cls.no_zero_d:
        raise ValueError(
            f"register: primitive '{cls.name}' has no example with a 0-d operand; add one "
            f"(shape ()), or set no_zero_d to the reason the op cannot take one."
        )


def unregister(name: str) -> None:
    """Remove a primitive (tests that plant a wrong VJP clean up with this)."""
    REGISTRY.pop(name, None)


def apply(op, *inputs, **attrs):
    """Run primitive ``op`` on the tensors ``inputs``; record a node when a gradient is needed.

    1. When SymPy data meet float data, the float constants become exact numbers first.
    2. A node is recorded only when recording is on and some input requires grad; it holds
       what the op's VJP will read (see ``autograd.Node``).
    3. The forward runs on the raw arrays (NumPy's broadcasting errors are restated with the
       op's name and the shapes).
    4. The result is a tensor linked to the node, or a constant when nothing was recorded.
    """
    if len(inputs) > 1 and _mixed_worlds(inputs):
        inputs = _exact_inputs(inputs)
    node = None
    if GradMode.enabled:
        needs = tuple(map(_REQUIRES_GRAD, inputs))
        if True in needs:
            node = Node(op, inputs, attrs, needs)
    try:
        out = op.forward(node, *map(_DATA, inputs), **attrs)
    except ValueError as error:
        _raise_forward_error(op, inputs, error)
    if type(out) is not np.ndarray:
        out = _as_array(out)
    if node is None:
        tensor = Tensor._constant(out)
    else:
        node.out = out
        tensor = Tensor._from_op(out, node)
    if AnomalyMode.enabled:
        _check_anomaly_forward(op, out, node)
    return tensor


# (C-level attribute readers: a comprehension would cost a Python frame per op)
_DATA = operator.attrgetter("_data")
_REQUIRES_GRAD = operator.attrgetter("requires_grad")


def apply_binary(op, first, second):
    """``apply(op, first, second)`` for a two-input op without attributes: + - * /.

    The engine's one measured fast path. The arithmetic operators are most of the ops a
    program runs, so they take a shorter road with the same four steps: no tuple of inputs,
    keyword dict or list of arrays, and the node's and the result's fields stored here
    rather than through their constructors (a Python call costs more than the stores). On
    a chain of ``x * 1.0001 + 0.5`` it saves about 3,500 instructions of an op's 23,000 in
    forward. tests/test_architecture.py checks that it builds the node and the tensor that
    ``apply`` builds.
    """
    if first._data.dtype is not second._data.dtype and _mixed_worlds((first, second)):
        first, second = _exact_inputs((first, second))
    node = None
    if GradMode.enabled and (first.requires_grad or second.requires_grad):
        node = _new(Node)
        node.op = op
        node.parents = (first, second)
        node.attrs = _NO_ATTRS
        node.needs_input_grad = _NEEDS[first.requires_grad][second.requires_grad]
        node.saved = None
        node.stamp = InplaceClock.now
        node.seq = _next_seq()
        node.extras = None
    try:
        out = op.forward(node, first._data, second._data)
    except ValueError as error:
        _raise_forward_error(op, (first, second), error)
    if type(out) is not np.ndarray:
        out = _as_array(out)
    tensor = _new(Tensor)
    tensor._data = out
    tensor.grad = None
    tensor.name = None
    tensor._version = 0
    tensor._node = node
    tensor.requires_grad = node is not None
    if node is not None:
        node.out = out
    if AnomalyMode.enabled:
        _check_anomaly_forward(op, out, node)
    return tensor


_new = object.__new__
_next_seq = _sequence.__next__
# The needs of a two-input node, shared: one tuple fewer per node for Python's cyclic
# garbage collector to walk.
_NEEDS = {True: {True: (True, True), False: (True, False)}, False: {True: (False, True)}}
# The attributes of every node made by apply_binary: shared, and never written to (a
# read-only view, so that a mistaken write fails instead of reaching every such node).
_NO_ATTRS = MappingProxyType({})


_NAMED = re.compile(r"^[\w.]+(\(.*?\))?: ")


def _raise_forward_error(op, inputs, error: ValueError):
    """Raise NumPy's plain ValueError from a forward again, naming the op and the input shapes.

    An error whose message already starts with a name ("matrix_norm: ...") and any subclass
    of ValueError (LinAlgError, ...) are raised unchanged.
    """
    text = str(error)
    # only NumPy's own plain ValueErrors are restated: an op's error (or LinAlgError and
    # other subclasses) already says what went wrong, in the op's words
    if type(error) is not ValueError or _NAMED.match(text):
        raise error
    shapes = " and ".join(str(t._data.shape) for t in inputs)
    if text.startswith("operands could not be broadcast together") and len(inputs) > 1:
        raise ValueError(
            f"{op.name}: inputs of shapes {shapes} cannot be broadcast together: each pair of "
            f"trailing axes must be equal or one of them 1. Reshape an input (e.g. x.reshape(-1, 1)) "
            f"or check which tensors you meant to combine. (NumPy: {text})"
        ) from error
    raise ValueError(f"{op.name}: {text} (inputs of shapes {shapes})") from error


def _mixed_worlds(inputs) -> bool:
    """True when SymPy data meet float (or int) data in one op."""
    if not inputs:
        return False
    dtype = inputs[0]._data.dtype
    for t in inputs:
        if t._data.dtype is not dtype:
            kinds = {t._data.dtype.kind for t in inputs}
            return "O" in kinds and len(kinds) > 1
    return False


def _exact_inputs(inputs) -> tuple:
    """The inputs with numeric constants made exact SymPy numbers (0.1 -> 1/10).

    In the SymPy world numbers are exact: a float constant that meets a symbol becomes the
    rational it spells (see ``backend.exact``) before any arithmetic, so it never enters an
    expression as a 16-digit Float. (Float attributes, such as ``x ** 0.1``'s exponent, and
    float tensors that require grad, which are variables of the float world, are left as
    they are.)
    """
    return tuple(
        Tensor._constant(backend.exact_array(t._data))
        if t._data.dtype.kind != "O" and not t.requires_grad else t
        for t in inputs
    )


def _as_array(value) -> np.ndarray:
    """NumPy reductions return scalars; the engine keeps 0-d arrays (object ones for SymPy)."""
    if isinstance(value, np.generic):
        return np.asarray(value)
    if isinstance(value, np.ndarray):
        return value
    return backend.to_object_array(value)


def _check_anomaly_forward(op, out, node) -> None:
    """Under detect_anomaly: note where the op was made, and refuse a NaN or Inf result."""
    if node is not None:
        node.trace = _creation_trace()
    if out.dtype.kind == "O" or np.all(np.isfinite(out)):
        return
    where = f"\nThe op was created at:\n{node.trace}" if node is not None and node.trace else ""
    raise FloatingPointError(
        f"detect_anomaly: op '{op.name}' produced NaN or Inf in its output (shape {out.shape})."
        f"{where}"
    )
