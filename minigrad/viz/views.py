"""The registration hooks: how a package tells viz to draw its composite ops as clusters.

viz knows no particular norm. A package that adds a fused op (one primitive standing for a
longer computation) or a module parametrization (a weight recomputed from other tensors
before each forward) registers a view here, and the drawing shows it as one labelled
cluster, expanded into the composite it equals or collapsed into one node:

    register_view("my_norm", "my norm  x / ||x||", composite=my_norm_composed)
    register_parametrization_finder(find_my_parametrizations)

This module imports nothing heavy, so a package can register its views when it is
imported.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class FusedOpView:
    """How a fused op is drawn.

    label           the cluster's title, e.g. "Frobenius norm  ||x||_F = sqrt(sum x^2)"
    composite       ``composite(*inputs, **attrs) -> Tensor``: the same computation built
                    from engine ops; drawn inside the cluster when expanded (it is re-run
                    on copies of the op's inputs). None: the cluster holds the fused op
                    alone. It may return None for attrs it does not cover.
    no_grad_inputs  argument indices that come out of a computation done under no_grad
                    (e.g. vectors from a power iteration): drawn in a dashed "no grad"
                    cluster
    no_grad_label   what that computation is
    no_grad_source  the argument it reads, drawn as a dashed edge into it
    no_grad_source_label  the label of that edge
    call            ``call(composite, inputs, attrs)`` when the composite's signature is
                    not the op's (inputs, **attrs)
    divisor_name    when the expanded composite ends in ``a / b``: the name to give b
                    (when it has none), as a textbook names the divisor
    """

    label: str
    composite: Callable | None = None
    no_grad_inputs: tuple = ()
    no_grad_label: str = ""
    no_grad_source: int | None = None
    no_grad_source_label: str = ""
    call: Callable | None = None
    divisor_name: str | None = None

    def resolve(self) -> Callable | None:
        """The composite as ``f(*inputs, **attrs)`` (through ``call`` when that is given)."""
        function = self.composite
        if function is None or self.call is None:
            return function
        call = self.call
        return lambda *inputs, **attrs: call(function, inputs, attrs)


#: op name -> FusedOpView. Packages add to it with ``register_view``, so that viz itself
#: needs no change when a fused op is added.
FUSED_OP_VIEWS: dict = {}


def register_view(op_name: str, label: str, composite: Callable | None = None, **options) -> FusedOpView:
    """Draw the fused op ``op_name`` as a cluster titled ``label``; see ``FusedOpView``."""
    view = FusedOpView(label, composite, **options)
    FUSED_OP_VIEWS[op_name] = view
    return view


def view_for_op(op) -> FusedOpView | None:
    """The registered view of a primitive (by its name), or the view it carries itself."""
    view = FUSED_OP_VIEWS.get(op.name)
    if view is None and getattr(op, "fused_op_view", None) is not None:
        view = op.fused_op_view
    return view


@dataclass
class ParametrizationView:
    """One module parametrization found by a finder: what to put in its cluster.

    weight          the tensor the parametrization set on the module (the cluster holds
                    every op between the module's leaves and it)
    label           the cluster's title
    no_grad         (tensor or None, name) for each tensor computed without gradient
                    (e.g. power-iteration vectors kept as buffers): each is named ``name``
                    when unnamed and, when it is a leaf in the graph, drawn as a buffer in a
                    dashed "no grad" cluster. When none of them is in the graph but the
                    weight comes from one fused op with ``no_grad_inputs``, the names go to
                    those arguments of the op instead.
    no_grad_source  the tensor that no-grad computation reads (a dashed edge into it)
    no_grad_source_label  the label of that edge
    no_grad_label   what that computation is
    divisor_name    when the weight is ``a / b``: the name to give b (when it has none)
    """

    weight: Any
    label: str
    no_grad: list = field(default_factory=list)
    no_grad_source: Any = None
    no_grad_source_label: str = ""
    no_grad_label: str = ""
    divisor_name: str | None = None


#: functions ``finder(prefix, module) -> list of ParametrizationView`` (``prefix`` is the
#: module's dotted name in the model, "" for the model itself), asked in order for every
#: submodule of a Module passed as ``params``.
PARAMETRIZATION_FINDERS: list = []


def register_parametrization_finder(finder: Callable) -> Callable:
    """Ask ``finder(prefix, module)`` for the parametrizations of every module drawn."""
    if finder not in PARAMETRIZATION_FINDERS:
        PARAMETRIZATION_FINDERS.append(finder)
    return finder


def find_parametrizations(prefix: str, module) -> list:
    """Every registered finder's parametrizations of ``module``, in registration order."""
    found: list = []
    for finder in PARAMETRIZATION_FINDERS:
        found.extend(finder(prefix, module))
    return found
