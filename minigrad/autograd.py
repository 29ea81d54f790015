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
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from minigrad.tensor import Tensor


class GradMode:
    """Whether ops record themselves on the tape. A class attribute, read on every op."""

    enabled: bool = True


class _GradModeContext(contextlib.ContextDecorator):
    """Shared body of no_grad and enable_grad: set the mode, restore it on exit."""

    mode: bool = True

    def __enter__(self):
        self._previous = GradMode.enabled
        GradMode.enabled = self.mode
        return self

    def __exit__(self, *exc_info):
        GradMode.enabled = self._previous
        return False


class no_grad(_GradModeContext):
    """Context manager (and decorator) under which no op records a graph.

    Use it for evaluation and for optimiser updates: results have ``requires_grad=False``.
    """

    mode = False


class enable_grad(_GradModeContext):
    """Context manager (and decorator) that switches recording back on inside ``no_grad``."""

    mode = True


def is_grad_enabled() -> bool:
    return GradMode.enabled


class AnomalyMode:
    """Set by ``minigrad.detect_anomaly()``: check every result for NaN/Inf (slow path)."""

    enabled: bool = False


class InplaceClock:
    """Counts in-place changes across the whole program.

    Every in-place change (``x += y``, ``x[i] = v``, ``x.data = ...``, an optimiser step)
    ticks the clock and stamps the changed tensor's ``_version`` with the new time. A node
    remembers the time it was created, so "was an input changed after this op ran?" is
    ``input._version > node.stamp``: one int per node instead of a tuple of versions, and
    when the clock has not moved since the node was made, no check at all.
    """

    now: int = 0


def bump_version(tensor) -> None:
    """Record an in-place change of ``tensor`` (see InplaceClock)."""
    InplaceClock.now += 1
    tensor._version = InplaceClock.now
    node = tensor._node
    if node is not None:
        node.stamp = -1  # the op's own output changed: its VJP may not reuse it


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
    def output(self) -> "Tensor":
        """The op's output as a tensor that is still attached to this node.

        Built on demand (never stored) so that a node never references its own output
        tensor: no reference cycle, so a graph is freed as soon as its last tensor goes.
        """
        from minigrad.tensor import Tensor

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


def _tensor_class():
    """minigrad.tensor.Tensor (imported late: tensor.py imports this module)."""
    global _TENSOR
    if _TENSOR is None:
        from minigrad.tensor import Tensor

        _TENSOR = Tensor
    return _TENSOR


_TENSOR = None


def run_backward(
    roots: Sequence["Tensor"],
    root_grads: Sequence,
    retain_graph: bool,
    create_graph: bool,
    inputs: Sequence["Tensor"] | None = None,
    allow_unused: bool = False,
):
    """Propagate ``root_grads`` from ``roots`` back through the graph.

    With ``inputs=None`` (``Tensor.backward``) gradients are accumulated into the ``.grad``
    of every leaf that requires one. With ``inputs`` given (``minigrad.grad``) nothing is
    accumulated: the gradients of exactly those tensors are returned, and only the part
    of the graph that leads to them is visited.

    This loop is the engine's hot path in backward: it keeps per-node work to a dict
    lookup, the VJP call, and a shape check per input.
    """
    constant = _tensor_class()._constant

    # grads maps a node (or, in grad(), a leaf's id) to the gradient of that node's output.
    grads: dict = {}
    # Keys whose gradient array was allocated by ``accumulate`` itself and is referenced
    # nowhere else, so further contributions may be added into it in place. Ownership is
    # tied to the key, not to the array: once a gradient is handed to a VJP it may be
    # shared (add passes one array to both inputs), so popping a key ends its ownership.
    owned: set = set()

    def accumulate(key, grad):
        previous = grads.get(key)
        if previous is None:
            grads[key] = grad
        elif create_graph:
            grads[key] = previous + grad
        elif key in owned and previous._data.shape == grad._data.shape:
            np.add(previous._data, grad._data, out=previous._data, casting="unsafe")
        else:
            # asarray: two 0-d arrays add to a NumPy scalar, which cannot be added into later
            grads[key] = constant(np.asarray(previous._data + grad._data))
            owned.add(key)

    # The nodes still to visit, as a heap of (-creation number, node): every consumer of a
    # node was created after it, so visiting in decreasing creation number runs a node's
    # VJP only once all of its gradient has arrived. backward() pushes a node when its
    # first gradient arrives, so no separate pass over the graph is needed; grad() visits
    # only the nodes that lead to the requested inputs, found beforehand.
    capture = relevant = None
    if inputs is None:
        queue = []
        for root in roots:
            if root._node is not None and (-root._node.seq, root._node) not in queue:
                queue.append((-root._node.seq, root._node))
        if len(queue) > 1:
            heapq.heapify(queue)
    else:
        order = _topological_order([r._node for r in roots if r._node is not None])
        capture = {}
        for index, tensor in enumerate(inputs):
            capture.setdefault(_key(tensor), []).append(index)
        # Keep only the nodes from which a requested input can be reached.
        relevant = set()
        for node in order:
            if node in capture or any(
                _key(p) in capture or (p._node is not None and p._node in relevant) for p in node.parents
            ):
                relevant.add(node)
        queue = [(-node.seq, node) for node in reversed(order) if node in relevant]  # a heap

    # handed: memory already owned by someone (the seed gradients), or given to a leaf's .grad.
    handed = set()
    for root, grad in zip(roots, root_grads):
        accumulate(_key(root), grad)
        data = grad._data
        handed.add(id(data.base if data.base is not None else data))

    clock_now = InplaceClock.now
    # A primitive's array-level fast_vjp is used only when the backward pass is not
    # recorded and the data are floats; the tensor vjp does everything else.
    fast = USE_FAST_VJP and not create_graph
    anomaly = AnomalyMode.enabled
    results = {}
    pop = grads.pop
    discover = capture is None
    heappush, heappop = heapq.heappush, heapq.heappop
    previous_mode = GradMode.enabled
    GradMode.enabled = create_graph
    # Backward allocates many short-lived objects and builds no reference cycles (nodes
    # never point at their outputs), so the cyclic collector has nothing to find here;
    # pausing it saves its repeated walks over every live object of the program.
    collector_was_on = gc.isenabled()
    gc.disable()
    # Under anomaly mode the ops a VJP runs are not checked one by one: the VJP's results
    # are, below, so the error names the op whose gradient went wrong, not a helper op.
    AnomalyMode.enabled = False
    try:
        while queue:
            node = heappop(queue)[1]
            grad = pop(node, None)
            if grad is None:
                continue
            if owned:
                owned.discard(node)
            if node.out is None:
                raise RuntimeError(_freed_message(node))
            if node.stamp != clock_now:
                _check_versions(node)
            if node.extras is not None:
                _record(node, grad)
            needs = node.needs_input_grad
            if capture is not None:
                if node in capture:
                    results[node] = grad
                needs = tuple(
                    need and (_key(p) in capture or (p._node is not None and p._node in relevant))
                    for need, p in zip(needs, node.parents)
                )
                if True not in needs:
                    continue
                full_needs, node.needs_input_grad = node.needs_input_grad, needs
                try:
                    input_grads = _vjp(node, grad, fast)
                finally:
                    node.needs_input_grad = full_needs
            else:
                # (_vjp written out: one call less per node on the hot path)
                op = node.op
                if fast and op.fast_vjp is not None and node.out.dtype is not _OBJECT:
                    input_grads = op.fast_vjp(node, grad)
                else:
                    input_grads = op.vjp(node, grad)
            if anomaly:
                _check_anomaly_backward(node, input_grads)
            for parent, need, parent_grad in zip(node.parents, needs, input_grads):
                if not need:
                    continue
                if parent_grad is None:
                    raise NotImplementedError(
                        f"{node.op.name}: no VJP for this input (shape {parent.shape}); the op "
                        f"cannot pass a gradient to it."
                    )
                data = parent_grad._data
                parent_data = parent._data
                if data.shape != parent_data.shape:
                    raise RuntimeError(
                        f"{node.op.name}: the VJP returned a gradient of shape {data.shape} "
                        f"for an input of shape {parent_data.shape}; every gradient must have "
                        f"its input's shape (reduce broadcast axes with unbroadcast)."
                    )
                dtype = parent_data.dtype
                if data.dtype is not dtype and data.dtype != dtype and dtype != object:
                    if data.dtype.kind == "c" and dtype.kind != "c":
                        raise TypeError(
                            f"{node.op.name}: its gradient for a real input (shape "
                            f"{parent_data.shape}) is complex: complex numbers entered the "
                            f"graph through a constant. minigrad does not differentiate "
                            f"complex functions (that needs Wirtinger derivatives); keep the "
                            f"computation real, e.g. with separate real and imaginary parts."
                        )
                    parent_grad = (parent_grad.astype(dtype) if create_graph
                                   else constant(data.astype(dtype)))
                parent_node = parent._node
                if parent_node is None:
                    if capture is None:
                        if parent.grad is None and not create_graph:
                            parent.grad = _unshared(parent_grad, handed, constant)
                        else:
                            _accumulate_leaf(parent, parent_grad, create_graph)
                    elif id(parent) in capture:
                        accumulate(id(parent), parent_grad)
                elif parent_node in grads:
                    accumulate(parent_node, parent_grad)
                else:
                    grads[parent_node] = parent_grad
                    if discover:
                        heappush(queue, (-parent_node.seq, parent_node))
            if not retain_graph:
                node.out = None
                node.saved = None
    finally:
        GradMode.enabled = previous_mode
        AnomalyMode.enabled = anomaly
        if collector_was_on:
            gc.enable()

    if capture is None:
        return None
    out = []
    for tensor in inputs:
        grad = results.get(tensor._node) if tensor._node is not None else grads.get(id(tensor))
        if grad is None and not allow_unused:
            label = f" '{tensor.name}'" if tensor.name else ""
            raise RuntimeError(
                f"grad: one of the inputs{label} (shape {tensor.shape}) was not used to compute "
                f"the outputs. Pass allow_unused=True to get None for it."
            )
        out.append(grad)
    return out


_OBJECT = np.dtype(object)
#: MINIGRAD_NO_FAST_VJP=1 runs every backward pass on the tensor VJPs alone (the teaching
#: path): the results must not change, which the test suite can be run this way to show
USE_FAST_VJP = os.environ.get("MINIGRAD_NO_FAST_VJP", "").strip().lower() not in ("1", "true", "yes", "on")


def _vjp(node: Node, grad, fast: bool):
    """The node's input gradients: its fast_vjp where allowed (see run_backward), else vjp.

    Allowed: the pass is not recorded and the op's data are floats (its output, not the
    incoming gradient, decides: a float seed may start a backward pass through symbols).
    """
    op = node.op
    if fast and op.fast_vjp is not None and node.out.dtype is not _OBJECT:
        return op.fast_vjp(node, grad)
    return op.vjp(node, grad)


def _record(node: Node, grad) -> None:
    """Hand a finished gradient to retain_grad() tensors and to record_grads."""
    if node.retained is not None:
        for ref in node.retained:
            tensor = ref()
            if tensor is not None:
                tensor.grad = grad if tensor.grad is None else tensor.grad + grad
    if node.grad_record is not None:
        node.grad_record = grad._data.copy()


def _accumulate_leaf(leaf: "Tensor", grad: "Tensor", create_graph: bool) -> None:
    """Add a finished gradient into a leaf's ``.grad`` (PyTorch's AccumulateGrad).

    (A leaf's first gradient without create_graph is handed over by ``_unshared``.)
    """
    if leaf.grad is None:
        leaf.grad = grad
    elif create_graph or leaf.grad.requires_grad:
        leaf.grad = leaf.grad + grad
    else:
        leaf.grad = _tensor_class()._constant(leaf.grad._data + grad._data)


def _unshared(grad: "Tensor", handed: set, constant) -> "Tensor":
    """A leaf's first gradient, as a tensor of its own whose array no other leaf holds.

    A VJP may pass one array to several inputs (add gives ``g`` to both), and the seed
    gradient is the caller's array (or the shared read-only 1). So that a ``.grad`` can be
    changed in place without changing anything else (PyTorch's rule too), an array whose
    memory was already handed out in this backward pass is copied, and so is a read-only
    one (a broadcast view, as sum's VJP makes). Fresh arrays, the usual case, are not.
    """
    data = grad._data
    base = data.base if data.base is not None else data
    if id(base) in handed or not data.flags.writeable:
        data = np.array(data)
        base = data
    handed.add(id(base))
    return constant(data)


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


def _as_grad_tensor(output: "Tensor", gradient, function: str) -> "Tensor":
    Tensor = _tensor_class()
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


def backward(tensor: "Tensor", gradient=None, retain_graph: bool | None = None, create_graph: bool = False) -> None:
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
    from minigrad.tensor import Tensor

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
    result = run_backward(outputs, root_grads, retain_graph, create_graph, inputs=inputs, allow_unused=allow_unused)
    return tuple(result)


class record_grads(contextlib.ContextDecorator):
    """Keep every node's incoming gradient (``node.grad_record``) during backward.

    For drawing the backward pass: after ``loss.backward()`` inside this context, each
    node of the graph holds the gradient of its output, so a picture can show it.
    """

    def __init__(self, *outputs: "Tensor"):
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
