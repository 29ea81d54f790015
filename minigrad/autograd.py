"""The tape: graph nodes, gradient mode, and the reverse-mode engine.

Every op that records itself creates one :class:`Node`: the primitive that ran, the input
tensors (``parents``), the output array and whatever the primitive saved for its VJP. A
tensor produced by an op points at its node; a leaf tensor (made by the user) has no node.

``backward`` walks the nodes in reverse topological order, found iteratively so that a
chain of a million ops does not hit Python's recursion limit, and calls each primitive's
VJP. VJPs are written with minigrad ops, so running them with recording switched on
(``create_graph=True``) builds a graph of the gradient itself, which is how second
derivatives and Hessian-vector products come for free.

Reference: the semantics of ``backward``, ``grad``, ``retain_graph`` and ``create_graph``
follow PyTorch's ``torch.autograd`` (torch/autograd/__init__.py).
"""
from __future__ import annotations

import contextlib
import gc
import os
import heapq
import itertools
import operator
import sys
from typing import Iterable

import numpy as np

from minigrad.modes import (
    AnomalyMode, GradMode, InplaceClock, bump_version, enable_grad, is_grad_enabled, no_grad,
)
from minigrad.tensor import Tensor

# The switches live in minigrad.modes (tensor.py reads them too); they are part of this
# module's public names, as in torch.autograd.
__all__ = [
    "AnomalyMode", "GradMode", "InplaceClock", "Node", "backward", "bump_version", "enable_grad", "grad",
    "is_grad_enabled", "no_grad", "record_grads",
]


_sequence = itertools.count()


class _NodeExtras:
    """The rarely used fields of a node, kept apart so that every op does not pay for them."""

    __slots__ = ("retained", "grad_record", "trace")

    def __init__(self):
        self.retained = None
        self.grad_record = None
        self.trace = None


class _Extra:
    """A node field kept in ``node.extras``: reads None until set, and setting it creates
    the extras record."""

    def __init__(self, name: str):
        self.name = name

    def __get__(self, node, owner=None):
        if node is None:
            return self
        return None if node.extras is None else getattr(node.extras, self.name)

    def __set__(self, node, value) -> None:
        if node.extras is None:
            node.extras = _NodeExtras()
        setattr(node.extras, self.name, value)


class Node:
    """One recorded op application: the context a primitive's VJP reads.

    Fields
        op                the primitive class (``op.name``, ``op.vjp``)
        parents           the input tensors, in argument order (the graph's links)
        attrs             the op's keyword arguments (axis, shape, ...)
        needs_input_grad  one bool per input: does that input need a gradient?
        out               the output array (dropped when the graph is freed)
        saved             anything extra the forward stored for the VJP (dropped likewise)
        stamp             the in-place clock when the op ran (-1: its output was changed)
        seq               creation number: inputs' nodes always have smaller ones
    and three that few nodes use, stored together in ``extras`` (None until one is set):
        retained          weak references of tensors that asked for ``retain_grad()``
        grad_record       under ``record_grads``: the gradient that reached this node
        trace             under ``detect_anomaly``: where in user code the op was created
    """

    __slots__ = (
        "op", "parents", "attrs", "needs_input_grad", "out", "saved", "stamp", "seq", "extras",
        "__weakref__",
    )

    def __init__(self, op, parents, attrs, needs_input_grad):
        self.op = op
        self.parents = parents
        self.attrs = attrs
        self.needs_input_grad = needs_input_grad
        self.out = None
        self.saved = None
        self.stamp = InplaceClock.now
        self.seq = next(_sequence)
        self.extras = None

    retained = _Extra("retained")
    grad_record = _Extra("grad_record")
    trace = _Extra("trace")

    @property
    def freed(self) -> bool:
        """True once a backward without ``retain_graph`` has released the saved arrays."""
        return self.out is None

    # What a VJP reads -------------------------------------------------------------------
    @property
    def inputs(self) -> tuple:
        return self.parents

    @property
    def output(self) -> Tensor:
        """The op's output as a tensor that is still attached to this node.

        Built on demand (never stored) so that a node never references its own output
        tensor: no reference cycle, so a graph is freed as soon as its last tensor goes.
        """
        if self.out is None:
            raise RuntimeError(_freed_message(self))
        return Tensor._from_op(self.out, self)

    @property
    def shape(self) -> tuple:
        return self.out.shape if self.out is not None else ()

    def __repr__(self) -> str:
        return f"<Node {self.op.name} of {len(self.parents)} input(s)>"


def _freed_message(node: Node) -> str:
    return (
        f"Trying to backward through the graph a second time (op '{node.op.name}'): its saved "
        f"arrays were freed after the first backward. Pass retain_graph=True to the first "
        f"backward() if you need to call it again."
    )


# ---------------------------------------------------------------------------------------
# The engine
# ---------------------------------------------------------------------------------------
def _topological_order(root_nodes: Iterable[Node]) -> list:
    """Every node reachable from the roots, each after all of its inputs' nodes.

    Nodes are numbered in creation order (``Node.seq``), and an op's inputs always exist
    before the op runs, so creation order *is* a topological order (PyTorch's engine uses
    the same fact). Collecting the reachable nodes is a plain loop over an explicit stack,
    so the depth of the graph is limited by memory, not by Python's recursion limit.
    """
    seen = set(root_nodes)
    stack = list(seen)
    while stack:
        for parent in stack.pop().parents:
            parent_node = parent._node
            if parent_node is not None and parent_node not in seen:
                seen.add(parent_node)
                stack.append(parent_node)
    return sorted(seen, key=_by_seq)


_by_seq = operator.attrgetter("seq")


def _check_versions(node: Node) -> None:
    """Raise if an input (or the output) of ``node`` changed in place after the op ran."""
    if node.stamp == -1:
        raise RuntimeError(
            f"one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: the output of op '{node.op.name}' was changed in place before "
            f"backward(). Use out-of-place ops instead."
        )
    for index, parent in enumerate(node.parents):
        if parent._version > node.stamp:
            label = f" '{parent.name}'" if parent.name else ""
            raise RuntimeError(
                f"one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: input {index}{label} of op '{node.op.name}' (shape "
                f"{parent.shape}) was changed in place after the op ran. Make a copy "
                f"(x = x + ...) instead of changing it in place before backward()."
            )


def _key(tensor):
    """Where a tensor's gradient is collected: its node, or (a leaf) its id."""
    node = tensor._node
    return node if node is not None else id(tensor)


def run_backward(roots, root_grads, retain_graph: bool, create_graph: bool, capture: "_Capture | None" = None):
    """Propagate ``root_grads`` from ``roots`` back through the graph: the engine's core loop.

    Without ``capture`` (``backward()``) every leaf that requires grad gets its gradient
    added to ``.grad``. With a ``_Capture`` (``grad()``) no ``.grad`` changes: the capture
    visits only the nodes that lead to its inputs and keeps their gradients.

    Nodes are visited in decreasing creation number (a heap): every consumer of a node was
    created after it, so a node's VJP runs only once all of its gradient has arrived.
    """
    gradients = _Gradients(create_graph)
    for root, grad in zip(roots, root_grads):
        gradients.seed(_key(root), grad)
    queue = _start_queue(roots) if capture is None else capture.queue
    fast = USE_FAST_VJP and not create_graph
    clock_now = InplaceClock.now
    with _backward_mode(create_graph) as anomaly:
        while queue:
            node = heappop(queue)[1]
            grad = gradients.take(node)
            if grad is None:
                continue
            if node.out is None:
                raise RuntimeError(_freed_message(node))
            if node.stamp != clock_now:
                _check_versions(node)
            if node.extras is not None:
                _record(node, grad)
            if capture is None:
                needs, op = node.needs_input_grad, node.op  # (_vjp, written out: the hot path)
                if fast and op.fast_vjp is not None and node.out.dtype is not _OBJECT:
                    input_grads = op.fast_vjp(node, grad)
                else:
                    input_grads = op.vjp(node, grad)
            else:
                needs, input_grads = capture.visit(node, grad, fast)
                if needs is None:
                    continue
            if anomaly:
                _check_anomaly_backward(node, input_grads)
            for parent, need, parent_grad in zip(node.parents, needs, input_grads):
                if not need:
                    continue
                parent_grad = _checked_input_grad(node, parent, parent_grad, create_graph)
                parent_node = parent._node
                if parent_node is not None:
                    if gradients.add(parent_node, parent_grad) and capture is None:
                        heappush(queue, (-parent_node.seq, parent_node))
                elif capture is None:
                    gradients.to_leaf(parent, parent_grad)
                elif id(parent) in capture.keys:
                    gradients.add(id(parent), parent_grad)
            if not retain_graph:
                node.out = None
                node.saved = None
    return gradients


heappush, heappop = heapq.heappush, heapq.heappop
_OBJECT = np.dtype(object)
#: MINIGRAD_NO_FAST_VJP=1 runs every backward pass on the tensor VJPs alone (the teaching
#: path): the results must not change, which the test suite can be run this way to show
USE_FAST_VJP = os.environ.get("MINIGRAD_NO_FAST_VJP", "").strip().lower() not in ("1", "true", "yes", "on")


def _start_queue(roots) -> list:
    """The roots' nodes as a heap of (-creation number, node); backward() adds the rest as
    their first gradient arrives, so it needs no pass over the graph beforehand."""
    queue = []
    for root in roots:
        if root._node is not None and (-root._node.seq, root._node) not in queue:
            queue.append((-root._node.seq, root._node))
    heapq.heapify(queue)
    return queue


class _backward_mode:
    """The switches a backward pass runs under; ``with`` gives whether anomaly mode was on.

    Recording follows ``create_graph``. The cyclic garbage collector is paused: backward
    makes many short-lived objects and no reference cycles (nodes never point at their
    outputs), so its repeated walks over every live object would find nothing. Under anomaly
    mode the ops a VJP runs are not checked one by one: the VJP's results are, so the error
    names the op whose gradient went wrong, not a helper op. (A class rather than a
    generator-based context manager: it is entered once per backward pass, and costs less.)
    """

    __slots__ = ("create_graph", "previous_mode", "anomaly", "collector_was_on")

    def __init__(self, create_graph: bool):
        self.create_graph = create_graph

    def __enter__(self) -> bool:
        self.previous_mode, self.anomaly = GradMode.enabled, AnomalyMode.enabled
        self.collector_was_on = gc.isenabled()
        GradMode.enabled = self.create_graph
        AnomalyMode.enabled = False
        gc.disable()
        return self.anomaly

    def __exit__(self, *exc_info) -> bool:
        GradMode.enabled = self.previous_mode
        AnomalyMode.enabled = self.anomaly
        if self.collector_was_on:
            gc.enable()
        return False


def _vjp(node: Node, grad, fast: bool):
    """The node's input gradients: its fast_vjp where allowed, else its vjp.

    Allowed: the pass is not recorded (``fast``) and the op's data are floats (its output,
    not the incoming gradient, decides: a float seed may start a backward pass through
    symbols). Everything else (create_graph, SymPy data) runs the tensor ``vjp``.
    """
    op = node.op
    if fast and op.fast_vjp is not None and node.out.dtype is not _OBJECT:
        return op.fast_vjp(node, grad)
    return op.vjp(node, grad)


def _checked_input_grad(node: Node, parent, grad, create_graph: bool):
    """A VJP's gradient for one input, after the engine's rules: present, of the input's
    shape, and of its dtype (a float32 input gets a float32 gradient)."""
    if grad is None:
        raise NotImplementedError(
            f"{node.op.name}: no VJP for this input (shape {parent.shape}); the op cannot pass a "
            f"gradient to it."
        )
    data = grad._data
    parent_data = parent._data
    if data.shape != parent_data.shape:
        raise RuntimeError(
            f"{node.op.name}: the VJP returned a gradient of shape {data.shape} for an input of "
            f"shape {parent_data.shape}; every gradient must have its input's shape (reduce "
            f"broadcast axes with unbroadcast)."
        )
    dtype = parent_data.dtype
    if data.dtype is not dtype and data.dtype != dtype and dtype.kind != "O":
        if data.dtype.kind == "c" and dtype.kind != "c":
            raise TypeError(
                f"{node.op.name}: its gradient for a real input (shape {parent_data.shape}) is "
                f"complex: complex numbers entered the graph through a constant. minigrad does not "
                f"differentiate complex functions (that needs Wirtinger derivatives); keep the "
                f"computation real, e.g. with separate real and imaginary parts."
            )
        return grad.astype(dtype) if create_graph else Tensor._constant(data.astype(dtype))
    return grad


class _Gradients:
    """The gradients gathered so far in one backward pass, and who owns their memory.

    ``pending`` maps a node (or, in grad(), a leaf's id) to the gradient of that node's
    output. Adding into a gradient in place is allowed only for an array this pass allocated
    itself and handed to nobody (``owned``): a VJP may pass one array to several inputs (add
    gives ``g`` to both), so once a gradient is taken for a VJP its key stops being owned.
    ``handed`` is the memory already given away: the caller's seed gradients and every
    array placed in a leaf's ``.grad``; a leaf never gets an array another one holds.
    """

    __slots__ = ("pending", "owned", "handed", "create_graph")

    def __init__(self, create_graph: bool):
        self.pending: dict = {}
        self.owned: set = set()
        self.handed: set = set()
        self.create_graph = create_graph

    def seed(self, key, grad) -> None:
        """Start from the caller's gradient of a root (never written into, never handed on)."""
        self.add(key, grad)
        data = grad._data
        self.handed.add(id(data.base if data.base is not None else data))

    def take(self, key):
        """The finished gradient of ``key``'s node, which stops being owned (None if none came)."""
        if self.owned:
            self.owned.discard(key)
        return self.pending.pop(key, None)

    def add(self, key, grad) -> bool:
        """Add ``grad`` to the gradient of ``key``; True when it is the first to arrive."""
        previous = self.pending.get(key)
        if previous is None:
            self.pending[key] = grad
            return True
        if self.create_graph:
            self.pending[key] = previous + grad
        elif key in self.owned and previous._data.shape == grad._data.shape:
            np.add(previous._data, grad._data, out=previous._data, casting="unsafe")
        else:
            # asarray: two 0-d arrays add to a NumPy scalar, which cannot be added into later
            self.pending[key] = Tensor._constant(np.asarray(previous._data + grad._data))
            self.owned.add(key)
        return False

    def to_leaf(self, leaf, grad) -> None:
        """Add a finished gradient into a leaf's ``.grad`` (PyTorch's AccumulateGrad).

        A leaf's first gradient (without create_graph) is handed over without a copy when
        its memory is fresh; an array already handed out in this pass, or a read-only one (a
        broadcast view, as sum's VJP makes), is copied, so that changing a ``.grad`` in place
        changes nothing else (PyTorch's rule too).
        """
        if leaf.grad is None and not self.create_graph:
            data = grad._data
            base = data.base if data.base is not None else data
            if id(base) in self.handed or not data.flags.writeable:
                data = base = np.array(data)
            self.handed.add(id(base))
            leaf.grad = Tensor._constant(data)
        elif leaf.grad is None:
            leaf.grad = grad
        elif self.create_graph or leaf.grad.requires_grad:
            leaf.grad = leaf.grad + grad
        else:
            leaf.grad = Tensor._constant(leaf.grad._data + grad._data)


class _Capture:
    """What ``grad()`` adds to the core loop: the inputs whose gradients it returns, and the
    part of the graph that leads to them (the only nodes it visits)."""

    def __init__(self, roots, inputs):
        order = _topological_order([r._node for r in roots if r._node is not None])
        self.inputs = inputs
        self.keys: dict = {}
        for index, tensor in enumerate(inputs):
            self.keys.setdefault(_key(tensor), []).append(index)
        self.relevant: set = set()
        for node in order:
            if node in self.keys or any(self.leads_to_input(p) for p in node.parents):
                self.relevant.add(node)
        self.queue = [(-node.seq, node) for node in reversed(order) if node in self.relevant]  # a heap
        self.results: dict = {}

    def leads_to_input(self, tensor) -> bool:
        node = tensor._node
        return _key(tensor) in self.keys or (node is not None and node in self.relevant)

    def visit(self, node: Node, grad, fast: bool):
        """Keep ``grad`` if ``node`` makes a requested input; then the VJP for the inputs
        that lead to one (needs None: none does)."""
        if node in self.keys:
            self.results[node] = grad
        needs = tuple(need and self.leads_to_input(p) for need, p in zip(node.needs_input_grad, node.parents))
        if True not in needs:
            return None, None
        full_needs, node.needs_input_grad = node.needs_input_grad, needs
        try:
            return needs, _vjp(node, grad, fast)
        finally:
            node.needs_input_grad = full_needs

    def gradients(self, pending: dict, allow_unused: bool) -> tuple:
        """One gradient per input, in order (None for an unused one when allowed)."""
        out = []
        for tensor in self.inputs:
            grad = self.results.get(tensor._node) if tensor._node is not None else pending.get(id(tensor))
            if grad is None and not allow_unused:
                label = f" '{tensor.name}'" if tensor.name else ""
                raise RuntimeError(
                    f"grad: one of the inputs{label} (shape {tensor.shape}) was not used to compute "
                    f"the outputs. Pass allow_unused=True to get None for it."
                )
            out.append(grad)
        return tuple(out)


def _record(node: Node, grad) -> None:

    """Hand a finished gradient to retain_grad() tensors and to record_grads."""
    if node.retained is not None:
        for ref in node.retained:
            tensor = ref()
            if tensor is not None:
                tensor.grad = grad if tensor.grad is None else tensor.grad + grad
    if node.grad_record is not None:
        node.grad_record = grad._data.copy()


def _check_anomaly_backward(node: Node, input_grads) -> None:
    for index, grad in enumerate(input_grads):
        if grad is None or grad.dtype == object:
            continue
        if not np.all(np.isfinite(grad.data)):
            where = f"\nThe op was created at:\n{node.trace}" if node.trace else ""
            raise FloatingPointError(
                f"detect_anomaly: the VJP of op '{node.op.name}' returned NaN or Inf for input "
                f"{index} (shape {grad.shape}).{where}"
            )


# ---------------------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------------------
_SEEDS: dict = {}  # the read-only 1 that seeds backward() of a scalar, per dtype


def _as_grad_tensor(output: Tensor, gradient, function: str) -> Tensor:
    """The gradient a backward pass starts from: ``gradient`` checked, or 1 for a scalar."""
    if gradient is None:
        data = output._data
        if data.ndim != 0:
            raise RuntimeError(
                f"{function}: grad can be implicitly created only for scalar outputs; this output "
                f"has shape {output.shape}. Pass gradient= (e.g. minigrad.ones_like(out)) or "
                f"reduce it to a scalar first (out.sum())."
            )
        seed = _SEEDS.get(data.dtype)
        if seed is None:
            if data.dtype == object:
                from minigrad import backend

                return Tensor._constant(backend.to_object_array(backend.sympy().Integer(1)))
            seed = _SEEDS[data.dtype] = np.ones((), dtype=data.dtype)
            seed.flags.writeable = False  # shared by every backward(), so nothing may change it
        return Tensor._constant(seed)
    grad = gradient if isinstance(gradient, Tensor) else Tensor._constant(np.asarray(gradient, dtype=output.dtype))
    if grad.shape != output.shape:
        raise RuntimeError(
            f"{function}: gradient has shape {grad.shape} but the output has shape "
            f"{output.shape}; they must match."
        )
    return grad


def backward(tensor: Tensor, gradient=None, retain_graph: bool | None = None, create_graph: bool = False) -> None:
    """Accumulate d(tensor)/d(leaf) into every leaf's ``.grad``; see ``Tensor.backward``."""
    if not tensor.requires_grad:
        raise RuntimeError(
            f"backward: this tensor (shape {tensor.shape}) does not require grad and has no "
            f"graph. Create its leaves with requires_grad=True, and do not compute it under "
            f"no_grad()."
        )
    grad = _as_grad_tensor(tensor, gradient, "backward")
    if retain_graph is None:
        retain_graph = create_graph
    run_backward([tensor], [grad], retain_graph, create_graph)


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
):
    """Return d(outputs)/d(inputs) without touching any ``.grad``.

    ``outputs`` and ``inputs`` are tensors or sequences of tensors; the result is a tuple with
    one gradient per input (None for an unused input when ``allow_unused=True``). With
    ``create_graph=True`` the gradients are themselves differentiable.
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(
            f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs; give one each."
        )
    for index, tensor in enumerate(inputs):
        if not tensor.requires_grad:
            raise RuntimeError(
                f"grad: input {index} (shape {tensor.shape}) does not require grad; create it "
                f"with requires_grad=True."
            )
    for index, tensor in enumerate(outputs):
        if not tensor.requires_grad:
            raise RuntimeError(
                f"grad: output {index} (shape {tensor.shape}) does not require grad and has no "
                f"graph; it does not depend on any input that requires grad."
            )
    root_grads = [_as_grad_tensor(o, g, "grad") for o, g in zip(outputs, grad_outputs)]
    if retain_graph is None:
        retain_graph = create_graph
    capture = _Capture(outputs, inputs)
    gradients = run_backward(outputs, root_grads, retain_graph, create_graph, capture)
    return capture.gradients(gradients.pending, allow_unused)


class record_grads(contextlib.ContextDecorator):
    """Keep every node's incoming gradient (``node.grad_record``) during backward.

    For drawing the backward pass: after ``loss.backward()`` inside this context, each
    node of the graph holds the gradient of its output, so a picture can show it.
    """

    def __init__(self, *outputs: Tensor):
        self.outputs = outputs

    def __enter__(self):
        for node in _topological_order([o._node for o in self.outputs if o._node is not None]):
            node.grad_record = True
        return self

    def __exit__(self, *exc_info):
        return False


def _creation_trace() -> str:
    """The user's stack where an op was created (anomaly mode only: it is slow)."""
    import traceback

    package_dir = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frames = [
        frame for frame in traceback.extract_stack(sys._getframe(2))
        if not os.path.abspath(frame.filename).startswith(package_dir)
    ]
    return "".join(traceback.format_list(frames[-4:]))
