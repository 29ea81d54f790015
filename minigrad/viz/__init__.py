"""Draw minigrad graphs with Graphviz: the forward graph, the backward pass, the fused ops inside.

    from minigrad.viz import draw_graph
    dot = draw_graph(loss, params=model)       # a graphviz.Digraph: nothing is rendered yet
    dot.source                                 # the DOT text (needs no Graphviz install)
    dot.render("graph", format="svg")          # needs Graphviz's `dot` on PATH

What the picture shows
    tensors   boxes with name, shape and dtype, data and grad (a small tensor in full, a
              large one as min/mean/max; a short SymPy expression as itself), coloured by
              role: parameter, input (a named leaf such as the batch x, or one that
              requires grad), constant (an unnamed leaf), buffer, output (``ROLE_COLORS``)
    ops       small ellipses between the boxes; an edge into an op that takes several
              inputs carries the argument index (0, 1, ...)
    clusters  a fused op with a registered view (``register_view``) or a module
              parametrization that a registered finder reports
              (``register_parametrization_finder``) is one labelled cluster; expanded, it
              shows the composite it equals (a computation done without gradient, such as
              a power iteration, as a dashed cluster feeding it); ``collapse=True`` draws
              each as one node. The packages that define such ops register their views
              when they are imported.
    backward  ``backward=True`` after ``loss.backward()`` run inside
              ``minigrad.autograd.record_grads(loss)``: every box shows d loss / d tensor,
              every op its VJP formula, and the edges point the way gradients flow

Node names in the DOT source are sequential (``t0``, ``op1``, ...) in topological order, so
the same graph gives the same source every time. The walk is iterative (a chain of 100,000
ops draws fine) and above ``max_nodes`` repeated structure is collapsed into ``⋯`` nodes
whose count the title reports. ``backward_stepper`` makes an offline page that replays a
backward pass op by op on the same picture.

The modules, in the order a drawing is made: ``views`` (the registration hooks), ``graph``
(the walk), ``roles``, ``clusters``, ``budget``, ``labels``, ``dot`` (``draw_graph``),
``output`` (files and Jupyter), and ``stepper`` with ``steps``, ``page`` and ``browser``.

Anchors: torchviz's ``make_dot`` (colour by role, name and shape on each node, return the
Digraph) and micrograd's ``draw_dot`` (the ``data | grad`` record), with the walk made
iterative.
"""
from importlib import import_module

# The hooks are imported now: they are light, and a package registers its views with them
# when it is imported. Everything else is imported on first use (drawing needs graphviz,
# the stepper its page), so that registering costs an importing package next to nothing.
from minigrad.viz.views import (
    FUSED_OP_VIEWS, FusedOpView, ParametrizationView, register_view, register_parametrization_finder,
)

#: public name -> the module that defines it
_LAZY = {
    "draw_graph": "dot", "INSTALL_HINT": "dot",
    "DEFAULT_MAX_NODES": "budget",
    "ROLE_COLORS": "labels", "summarize": "labels",
    "render": "output", "show": "output", "GraphView": "output", "DotNotFound": "output",
    "dot_available": "output", "FORMATS": "output",
    "backward_stepper": "stepper", "StepperPage": "stepper",
}

__all__ = [
    "draw_graph", "show", "FusedOpView", "FUSED_OP_VIEWS", "register_view", "ParametrizationView",
    "register_parametrization_finder", "ROLE_COLORS", "DEFAULT_MAX_NODES", "DotNotFound", "render",
    "INSTALL_HINT", "FORMATS", "GraphView", "dot_available", "summarize", "backward_stepper", "StepperPage",
]


def __getattr__(name: str):
    """Import the module that defines the public name ``name`` when it is first used."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'minigrad.viz' has no attribute {name!r}")
    value = getattr(import_module(f"minigrad.viz.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list:
    return sorted(set(globals()) | set(_LAZY))
