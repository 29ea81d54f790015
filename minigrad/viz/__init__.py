"""Draw minigrad graphs with Graphviz: the forward graph, the backward pass, the norms inside.

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
    norms     a fused norm op (named in ``NORM_VIEWS``) or a module parametrization
              (spectral_norm's weight_orig/weight_u/weight_v, weight_norm's weight_g/weight_v)
              is one labelled cluster; expanded, it shows what it computes (spectral norm:
              the power iteration as a dashed no-grad cluster feeding sigma, then
              weight_orig / sigma); ``collapse=True`` draws each as one node
    backward  ``backward=True`` after ``loss.backward()`` run inside
              ``minigrad.autograd.record_grads(loss)``: every box shows d loss / d tensor,
              every op its VJP formula, and the edges point the way gradients flow

Node names in the DOT source are sequential (``t0``, ``op1``, ...) in topological order, so
the same graph gives the same source every time. The walk is iterative (a chain of 100,000
ops draws fine) and above ``max_nodes`` repeated structure is collapsed into ``⋯`` nodes
whose count the title reports.

Anchors: torchviz's ``make_dot`` (colour by role, name and shape on each node, return the
Digraph) and micrograd's ``draw_dot`` (the ``data | grad`` record), with the walk made
iterative.
"""
from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np

from minigrad.tensor import Tensor

__all__ = [
    "draw_graph", "show", "NormView", "NORM_VIEWS", "register_norm_view", "ROLE_COLORS",
    "DEFAULT_MAX_NODES", "DotNotFound", "render", "INSTALL_HINT",
]

#: fill colour of each tensor role (tests and docs refer to these)
ROLE_COLORS = {
    "parameter": "#9ecae1",     # blue: learnable, requires grad, owned by a module / params
    "input": "#a1d99b",         # green: a leaf the user named (a batch) or that requires grad, not a parameter
    "constant": "#e5e5e5",      # grey: a leaf that needs no gradient
    "buffer": "#fdd49e",        # orange: module state such as spectral norm's u and v
    "output": "#fc9272",        # red: what was asked to be drawn
    "intermediate": "#ffffff",  # white: produced by an op
}
OP_COLOR = "#f2f2f2"
NORM_COLOR = "#e9e1f5"          # the lavender of a norm cluster and of a collapsed norm node
NO_GRAD_COLOR = "#f7f7f7"
HIDDEN_COLOR = "#fff7bc"
GRAD_COLOR = "#b30000"

DEFAULT_MAX_NODES = 250
INSTALL_HINT = "apt-get install graphviz"   # macOS: brew install graphviz

_SHORT_EXPRESSION = 40   # characters: a SymPy expression up to this long is shown as itself
_KEEP_CHAIN_ENDS = 2     # ops kept at each end of a collapsed chain


# ---------------------------------------------------------------------------------------
# The hook for norms: op name -> how to draw it
# ---------------------------------------------------------------------------------------
@dataclass
class NormView:
    """How a fused norm op is drawn.

    label           the cluster's title, e.g. "Frobenius norm  ||x||_F = sqrt(sum x^2)"
    composite       ``composite(*inputs, **attrs) -> Tensor``: the same norm built from
                    engine ops; drawn inside the cluster when expanded (it is re-run on
                    copies of the op's inputs). A string "package.module:function" names
                    it without importing it (the norms' own ``*_composed`` twins).
                    None: the cluster holds the fused op alone. It may return None for
                    attrs it does not cover.
    no_grad_inputs  argument indices that come out of a computation done under no_grad
                    (spectral norm's u and v): drawn in a dashed "no grad" cluster
    no_grad_label   what that computation is (the power iteration)
    no_grad_source  the argument it reads (W), drawn as a dashed edge into it
    fallback        the composite to use when the named one cannot be imported
    call            ``call(composite, inputs, attrs)`` when the composite's signature is
                    not the op's (inputs, **attrs)
    """

    label: str
    composite: Callable | str | None = None
    no_grad_inputs: tuple = ()
    no_grad_label: str = ""
    no_grad_source: int | None = None
    fallback: Callable | None = None
    call: Callable | None = None

    def resolve(self) -> Callable | None:
        """The composite as ``f(*inputs, **attrs)``: a "package.module:function" path is
        imported now (so viz needs no import of the norms package), through ``call`` when
        its signature differs from the op's; ``fallback`` when it cannot be imported."""
        function = self.composite
        if isinstance(function, str):
            module_name, _, function_name = function.partition(":")
            try:
                import importlib

                function = getattr(importlib.import_module(module_name), function_name)
            except (ImportError, AttributeError):
                return self.fallback
        if function is None:
            return self.fallback
        if self.call is not None:
            call = self.call
            return lambda *inputs, **attrs: call(function, inputs, attrs)
        return function


POWER_ITERATION_LABEL = "power iteration (no_grad)\nv = normalize(W^T u)\nu = normalize(W v)"


def _frobenius(x, axis=None, keepdims=False, **_):
    from minigrad import ops

    return ops.sqrt(ops.sum_(ops.mul(x, x), axis, keepdims))


def _flatten_for_dim(w, dim=0):
    from minigrad import ops

    if dim not in (None, 0):
        axes = [dim] + [a for a in range(w.ndim) if a != dim]
        w = ops.transpose(w, tuple(axes))
    return ops.reshape(w, (w.shape[0], -1)) if w.ndim != 2 else w


def _spectral(weight, u, v, dim=0, **_):
    from minigrad import ops

    matrix = _flatten_for_dim(weight, dim)
    sigma = ops.sum_(ops.mul(u, ops.matmul(matrix, v)))
    return ops.div(weight, sigma)


def _weight_norm(g, v, dim=0, eps=0.0, **_):
    from minigrad import ops

    axes = None if dim is None else tuple(a for a in range(v.ndim) if a != dim % v.ndim)
    norm = ops.sqrt(ops.sum_(ops.mul(v, v), axes, keepdims=True))
    if eps:
        norm = ops.add(norm, eps)
    return ops.mul(g, ops.div(v, norm))


def _pixel_norm(x, axis=1, eps=1e-8, **_):
    from minigrad import functional, ops

    return ops.div(x, ops.sqrt(ops.add(functional.mean(ops.mul(x, x), axis, keepdims=True), eps)))


def _weight_and_bias(inputs, attrs) -> tuple:
    """The activation norms' optional weight and bias, after x, as their op lays them out."""
    rest = list(inputs[1:])
    weight = rest.pop(0) if attrs.get("has_weight") else None
    bias = rest.pop(0) if attrs.get("has_bias") else None
    return weight, bias


def _call_pixel(function, inputs, attrs):
    return function(inputs[0], axis=attrs["axis"], eps=attrs["eps"])


def _call_layer(function, inputs, attrs):
    x = inputs[0]
    weight, bias = _weight_and_bias(inputs, attrs)
    return function(x, x.shape[min(attrs["axis"]):], weight, bias, eps=attrs["eps"])


def _call_rms(function, inputs, attrs):
    x = inputs[0]
    weight, _ = _weight_and_bias(inputs, attrs)
    return function(x, x.shape[min(attrs["axis"]):], weight, eps=attrs["eps"])


def _vector_norm(x, ord=2, axis=None, keepdims=False, **_):
    return _frobenius(x, axis, keepdims) if ord in (2, None) else None


#: op name -> NormView. The norms package adds to it with ``register_norm_view`` (or edits
#: an entry) so that viz itself needs no change when a norm is added.
NORM_VIEWS: dict = {
    "frobenius_norm": NormView("Frobenius norm  ||x||_F = sqrt(sum x^2)", _frobenius),
    "vector_norm": NormView("vector norm  ||x||_p", _vector_norm),
    "matrix_norm": NormView("matrix norm"),
    "spectral_normalize": NormView(
        "spectral norm  W / sigma,  sigma = u^T W v", "norms.spectral:spectral_normalize_composed",
        no_grad_inputs=(1, 2), no_grad_label=POWER_ITERATION_LABEL, no_grad_source=0, fallback=_spectral,
    ),
    "spectral_norm": NormView(
        "spectral norm  W / sigma,  sigma = u^T W v", _spectral,
        no_grad_inputs=(1, 2), no_grad_label=POWER_ITERATION_LABEL, no_grad_source=0,
    ),
    "power_iteration": NormView("power iteration  sigma, u, v"),
    "weight_norm": NormView(
        "weight norm  w = g * v / ||v||", "norms.weight:weight_normalize_composed", fallback=_weight_norm,
    ),
    "pixel_norm": NormView(
        "pixel norm  x / sqrt(mean(x^2, axis) + eps)", "norms.activation:pixel_norm_composed",
        fallback=_pixel_norm, call=_call_pixel,
    ),
    "rms_norm": NormView(
        "RMS norm  x / sqrt(mean(x^2) + eps) * w", "norms.activation:rms_norm_composed", call=_call_rms,
    ),
    "layer_norm": NormView(
        "layer norm  (x - mean) / sqrt(var + eps) * w + b", "norms.activation:layer_norm_composed",
        call=_call_layer,
    ),
    "batch_norm": NormView("batch norm  (x - mean_B) / sqrt(var_B + eps) * w + b"),
}


def register_norm_view(op_name: str, label: str, composite: Callable | None = None, **options) -> NormView:
    """Draw the fused op ``op_name`` as a norm cluster titled ``label``; see ``NormView``."""
    view = NormView(label, composite, **options)
    NORM_VIEWS[op_name] = view
    return view


def _norm_view(op) -> NormView | None:
    view = NORM_VIEWS.get(op.name)
    if view is None and getattr(op, "norm_view", None) is not None:
        view = op.norm_view   # a primitive may also carry its own view
    return view


# ---------------------------------------------------------------------------------------
# The graph as drawn: vertices and edges, built in steps, then emitted
# ---------------------------------------------------------------------------------------
@dataclass
class _Vertex:
    kind: str                      # "tensor", "op", "norm", "note", "hidden"
    tensor: Any = None             # the Tensor of a tensor vertex
    node: Any = None               # the Node of an op vertex (or of a tensor's producer)
    role: str = "intermediate"
    name: str | None = None
    text: str = ""                 # label of a note / hidden / norm vertex
    cluster: str | None = None
    hidden_count: int = 0
    grad: Any = None               # gradient array to show (backward view)
    expanded: bool = False         # inside an expanded fused op (no gradient of its own)
    view: NormView | None = None   # a collapsed norm vertex's view
    ops: list = field(default_factory=list)  # a collapsed norm vertex's nodes


@dataclass
class _Edge:
    src: Any
    dst: Any
    label: str = ""
    style: str = ""


@dataclass
class _Cluster:
    label: str
    parent: str | None = None
    no_grad: bool = False


class _Graph:
    def __init__(self):
        self.vertices: dict = {}   # key -> _Vertex, in topological order
        self.edges: list = []
        self.clusters: dict = {}   # cluster id -> _Cluster
        self.hidden = 0            # number of original nodes folded into "⋯" vertices
        self.total = 0             # number of vertices before any folding

    def preds(self) -> dict:
        result: dict = {key: [] for key in self.vertices}
        for edge in self.edges:
            result[edge.dst].append(edge.src)
        return result

    def succs(self) -> dict:
        result: dict = {key: [] for key in self.vertices}
        for edge in self.edges:
            result[edge.src].append(edge.dst)
        return result


def _tensor_key(tensor: Tensor):
    # A node may hand out several Tensor objects for its output (Node.output builds one on
    # demand), so a produced tensor is identified by its node, a leaf by itself.
    return ("n", id(tensor._node)) if tensor._node is not None else ("l", id(tensor))


def _walk(outputs: list) -> _Graph:
    """Every tensor and op that the outputs depend on, in topological order (iteratively)."""
    graph = _Graph()
    vertices = graph.vertices
    alive = []   # keeps every tensor referenced while ids are in use as keys
    for output in outputs:
        key = _tensor_key(output)
        if key in vertices:
            continue
        stack = [(output, iter(output._node.parents) if output._node is not None else iter(()))]
        entered = {key}
        while stack:
            tensor, pending = stack[-1]
            for parent in pending:
                parent_key = _tensor_key(parent)
                if parent_key in vertices:
                    existing = vertices[parent_key]
                    if parent.name and not existing.tensor.name:
                        existing.tensor = parent
                    continue
                if parent_key in entered:
                    continue
                entered.add(parent_key)
                stack.append((parent, iter(parent._node.parents) if parent._node is not None else iter(())))
                break
            else:
                stack.pop()
                alive.append(tensor)
                key = _tensor_key(tensor)
                node = tensor._node
                if node is not None:
                    op_key = ("o", id(node))
                    vertices[op_key] = _Vertex("op", node=node)
                    many = len(node.parents) > 1
                    for index, parent in enumerate(node.parents):
                        graph.edges.append(_Edge(_tensor_key(parent), op_key, str(index) if many else ""))
                    vertices[key] = _Vertex("tensor", tensor=tensor, node=node)
                    graph.edges.append(_Edge(op_key, key))
                else:
                    vertices[key] = _Vertex("tensor", tensor=tensor)
    graph.alive = alive
    return graph


# ---------------------------------------------------------------------------------------
# Names and roles
# ---------------------------------------------------------------------------------------
def _is_module(value) -> bool:
    return hasattr(value, "named_parameters") and hasattr(value, "named_modules")


def _names_from_params(params) -> tuple:
    """(names by id, parameter ids, buffer ids, module parametrizations) from ``params``."""
    names: dict = {}
    parameters: set = set()
    buffers: set = set()
    parametrizations: list = []
    if params is None:
        return names, parameters, buffers, parametrizations
    if _is_module(params):
        for name, tensor in params.named_parameters():
            names[id(tensor)] = name
            parameters.add(id(tensor))
        for name, tensor in params.named_buffers():
            names.setdefault(id(tensor), name)
            buffers.add(id(tensor))
        for prefix, module in params.named_modules():
            # Tensors a pre-hook set as plain attributes (spectral norm's computed weight).
            for attribute, value in vars(module).items():
                if isinstance(value, Tensor) and not attribute.startswith("_"):
                    names.setdefault(id(value), f"{prefix}.{attribute}" if prefix else attribute)
            parametrizations.extend(_find_parametrizations(prefix, module))
        return names, parameters, buffers, parametrizations
    items = params.items() if isinstance(params, dict) else params
    for name, tensor in items:
        if not isinstance(tensor, Tensor):
            raise TypeError(
                f"draw_graph: params[{name!r}] is a {type(tensor).__name__}, not a Tensor; pass "
                f"a dict of name -> Tensor, or a Module"
            )
        names[id(tensor)] = name
        (parameters if tensor.requires_grad else buffers).add(id(tensor))
    return names, parameters, buffers, parametrizations


def _find_parametrizations(prefix: str, module) -> list:
    """Spectral norm and weight norm registered on ``module``, found by their tensor names."""
    found = []
    parameters = module._parameters
    module_buffers = module._buffers
    dotted = (lambda name: f"{prefix}.{name}" if prefix else name)
    for pname in list(parameters):
        if pname.endswith("_orig"):
            base = pname[: -len("_orig")]
            u, v = module_buffers.get(f"{base}_u"), module_buffers.get(f"{base}_v")
            weight = vars(module).get(base)
            iterations = None
            for hook in getattr(module, "_forward_pre_hooks", {}).values():
                owner = getattr(hook, "__self__", hook)
                if getattr(owner, "name", base) == base:
                    iterations = getattr(owner, "n_power_iterations", iterations)
            found.append({
                "kind": "spectral", "module": dotted(base), "weight": weight,
                "source": parameters[pname], "u": u, "v": v, "iterations": iterations,
            })
        if pname.endswith("_g") and f"{pname[:-2]}_v" in parameters:
            base = pname[:-2]
            found.append({"kind": "weight", "module": dotted(base), "weight": vars(module).get(base)})
    return found


def _assign_roles(graph: _Graph, outputs: list, names: dict, parameters: set, buffers: set) -> None:
    from minigrad.nn.module import Parameter

    output_keys = {_tensor_key(t) for t in outputs}
    for key, vertex in graph.vertices.items():
        if vertex.kind != "tensor":
            continue
        tensor = vertex.tensor
        vertex.name = tensor.name or names.get(id(tensor))
        if key in output_keys:
            vertex.role = "output"
        elif tensor._node is not None:
            vertex.role = "intermediate"
        elif id(tensor) in buffers:
            vertex.role = "buffer"
        elif id(tensor) in parameters or isinstance(tensor, Parameter):
            vertex.role = "parameter"
        elif tensor.requires_grad or tensor.name:
            # a leaf the user named (the batch x) is data fed in, whether or not it needs a gradient
            vertex.role = "input"
        else:
            vertex.role = "constant"


# ---------------------------------------------------------------------------------------
# Norm clusters
# ---------------------------------------------------------------------------------------
@dataclass
class _Group:
    label: str
    ops: list                     # op keys, topological order
    output: Any                   # the tensor key the norm produces
    view: NormView | None = None  # when the group is one fused op
    no_grad: dict | None = None   # {"source": key, "outputs": [keys], "label": str}
    spectral: bool = False        # weight / sigma: the divisor is labelled "sigma"


def _find_groups(graph: _Graph, parametrizations: list) -> list:
    vertices = graph.vertices
    groups = []
    taken: set = set()
    for info in parametrizations:
        weight = info["weight"]
        if not isinstance(weight, Tensor) or weight._node is None:
            continue
        out_key = _tensor_key(weight)
        if out_key not in vertices:
            continue
        # The parametrization's ops: everything between its leaves and the weight it sets.
        members, stack = set(), [weight._node]
        while stack:
            node = stack.pop()
            if ("o", id(node)) in members:
                continue
            members.add(("o", id(node)))
            stack.extend(p._node for p in node.parents if p._node is not None)
        ops = [key for key in vertices if key in members]
        view = _norm_view(vertices[ops[0]].node.op) if len(ops) == 1 else None
        if info["kind"] == "spectral":
            label = f"spectral_norm({info['module']})\nweight = weight_orig / sigma,  sigma = u^T W v"
            no_grad = None
            # u and v as the graph holds them: the buffers themselves, or the snapshots of
            # them that the hook handed to a fused op (the arguments its view names).
            pairs = [
                (_tensor_key(tensor), suffix) for tensor, suffix in ((info["u"], "_u"), (info["v"], "_v"))
                if isinstance(tensor, Tensor) and _tensor_key(tensor) in vertices
            ]
            if not pairs and view is not None and view.no_grad_inputs:
                parents = vertices[ops[0]].node.parents
                pairs = [
                    (_tensor_key(parents[i]), suffix) for i, suffix in zip(view.no_grad_inputs, ("_u", "_v"))
                    if i < len(parents)
                ]
            for key, suffix in pairs:
                vertex = vertices[key]
                vertex.name = vertex.name or f"{info['module']}{suffix}"
                if vertex.tensor._node is None:
                    vertex.role = "buffer"
            outputs = [key for key, _ in pairs if vertices[key].tensor._node is None]
            if outputs:
                times = f" x {info['iterations']}" if info["iterations"] else ""
                no_grad = {
                    "source": _tensor_key(info["source"]), "outputs": outputs,
                    "label": POWER_ITERATION_LABEL + times,
                }
        else:
            label = f"weight_norm({info['module']})\nweight = g * v / ||v||"
            no_grad = None
        if view is not None:
            label += f"\n(fused op '{vertices[ops[0]].node.op.name}')"
        groups.append(_Group(label, ops, out_key, view, no_grad, spectral=info["kind"] == "spectral"))
        taken.update(ops)
    for key, vertex in vertices.items():
        if vertex.kind != "op" or key in taken:
            continue
        view = _norm_view(vertex.node.op)
        if view is None:
            continue
        node = vertex.node
        out_key = next(e.dst for e in graph.edges if e.src == key)
        no_grad = None
        if view.no_grad_inputs:
            outputs = [
                _tensor_key(node.parents[i]) for i in view.no_grad_inputs
                if i < len(node.parents) and node.parents[i]._node is None
            ]
            if outputs:
                source = view.no_grad_source
                no_grad = {
                    "source": _tensor_key(node.parents[source]) if source is not None and source < len(node.parents) else None,
                    "outputs": outputs, "label": view.no_grad_label,
                }
        groups.append(_Group(f"{view.label}\n(fused op '{node.op.name}')", [key], out_key, view, no_grad,
                             spectral=bool(view.no_grad_inputs)))
    return groups


def _collapse_groups(graph: _Graph, groups: list) -> None:
    """Each norm becomes one node: its inputs in, its output out."""
    vertices = graph.vertices
    for index, group in enumerate(groups):
        members = set(group.ops)
        inner_tensors = {e.dst for e in graph.edges if e.src in members} - {group.output}
        members |= inner_tensors
        inputs = []
        for edge in graph.edges:
            if edge.dst in members and edge.src not in members and edge.src not in inputs:
                inputs.append(edge.src)
        nodes = [vertices[k].node for k in group.ops]
        title = group.label.split("\n")[0]
        norm_key = ("norm", index)
        new_vertices = {}
        for key, vertex in vertices.items():
            if key == group.ops[0]:
                new_vertices[norm_key] = _Vertex("norm", text=title, view=group.view, ops=nodes)
            if key not in members:
                new_vertices[key] = vertex
        graph.vertices = vertices = new_vertices
        single = len(group.ops) == 1 and len(inputs) > 1
        graph.edges = [e for e in graph.edges if e.src not in members and e.dst not in members]
        graph.edges += [_Edge(src, norm_key, str(i) if single else "") for i, src in enumerate(inputs)]
        graph.edges.append(_Edge(norm_key, group.output))


def _draw_groups(graph: _Graph, groups: list, expand: bool, backward: bool = False) -> None:
    """Put each norm's ops into a labelled cluster; expand fused ops into their composite."""
    for index, group in enumerate(groups):
        cluster = f"cluster_norm{index}"
        graph.clusters[cluster] = _Cluster(group.label)
        members = set(group.ops)
        for key in group.ops:
            graph.vertices[key].cluster = cluster
        for edge in graph.edges:
            if edge.src in members and edge.dst != group.output:
                graph.vertices[edge.dst].cluster = cluster
        if group.no_grad:
            inner = f"cluster_norm{index}_nograd"
            graph.clusters[inner] = _Cluster("no gradient", parent=cluster, no_grad=True)
            note_key = ("note", index)
            graph.vertices = _insert_before(graph.vertices, group.ops[0], note_key, _Vertex(
                "note", text=group.no_grad["label"], cluster=inner))
            for key in group.no_grad["outputs"]:
                graph.vertices[key].cluster = inner
                graph.edges.append(_Edge(note_key, key, style="dashed"))
            source = group.no_grad["source"]
            if source in graph.vertices:
                graph.edges.append(_Edge(source, note_key, "W (detached)", style="dashed"))
        if expand and group.view is not None and group.view.resolve() is not None and len(group.ops) == 1:
            fused_op = graph.vertices[group.ops[0]].node.op
            expanded, with_grads = _expand_fused(graph, group.ops[0], group.view, cluster, index, backward)
            if expanded:
                graph.clusters[cluster].label += "\ndrawn as the composite it equals (dashed ops)"
            if with_grads:
                graph.clusters[cluster].label += "\n(gradients inside: recomputed through the composite)"
            if expanded and backward and getattr(fused_op, "formula", ""):
                graph.clusters[cluster].label += "\nfused VJP: " + _wrap(fused_op.formula, 60)
        if group.spectral:
            _name_sigma(graph, group.output)


def _name_sigma(graph: _Graph, output_key) -> None:
    """Call the divisor of weight_orig / sigma "sigma", as the textbook does."""
    producer = next((e.src for e in graph.edges if e.dst == output_key), None)
    if producer is None or graph.vertices[producer].kind != "op":
        return
    if graph.vertices[producer].node.op.name != "div":
        return
    divisor = next((e.src for e in graph.edges if e.dst == producer and e.label == "1"), None)
    vertex = graph.vertices.get(divisor)
    if vertex is not None and vertex.kind == "tensor" and not vertex.name:
        vertex.name = "sigma"


def _insert_before(vertices: dict, before, key, vertex) -> dict:
    result = {}
    for existing, value in vertices.items():
        if existing == before:
            result[key] = vertex
        result[existing] = value
    return result


def _expand_fused(graph: _Graph, op_key, view: NormView, cluster: str, index: int, backward: bool) -> tuple:
    """Replace a fused op by the graph of its composite twin, re-run on copies of its inputs.

    In the backward view the composite is also run backward from the fused op's recorded
    output gradient, so the tensors inside show their gradients (the fused VJP itself
    keeps none). Returns (expanded?, inner gradients computed?).
    """
    from minigrad.autograd import enable_grad, record_grads

    node = graph.vertices[op_key].node
    stand_ins = [Tensor(parent.data, requires_grad=True) for parent in node.parents]
    try:
        with enable_grad():
            result = view.resolve()(*stand_ins, **dict(node.attrs or {}))
    except Exception:  # noqa: BLE001 - a composite that does not fit leaves the fused op drawn
        return False, False
    out_key = next(e.dst for e in graph.edges if e.src == op_key)
    if not isinstance(result, Tensor) or result._node is None or result.shape != graph.vertices[out_key].tensor.shape:
        return False, False
    inner = _walk([result])
    with_grads = False
    record = node.grad_record
    if backward and isinstance(record, np.ndarray):
        try:
            with enable_grad(), record_grads(result):
                result.backward(gradient=Tensor(record), retain_graph=True)
            with_grads = True
        except Exception:  # noqa: BLE001 - the picture is still right without inner gradients
            with_grads = False
    mapping = {("l", id(s)): _tensor_key(p) for s, p in zip(stand_ins, node.parents)}
    mapping[_tensor_key(result)] = out_key
    new_vertices = {}
    for key, vertex in graph.vertices.items():
        if key == op_key:
            for inner_key, inner_vertex in inner.vertices.items():
                if inner_key in mapping:
                    continue
                inner_vertex.cluster = cluster
                inner_vertex.expanded = True
                if inner_vertex.kind == "tensor":
                    leaf = inner_vertex.tensor._node is None
                    inner_vertex.role = "constant" if leaf else "intermediate"
                    if with_grads and not leaf and isinstance(inner_vertex.node.grad_record, np.ndarray):
                        inner_vertex.grad = inner_vertex.node.grad_record
                new_vertices[("x", index, inner_key)] = inner_vertex
            continue
        new_vertices[key] = vertex
    graph.vertices = new_vertices
    graph.edges = [e for e in graph.edges if e.src != op_key and e.dst != op_key]
    rename = (lambda k: mapping.get(k, ("x", index, k)))
    graph.edges += [_Edge(rename(e.src), rename(e.dst), e.label) for e in inner.edges]
    graph.alive.extend(inner.alive + stand_ins)
    return True, with_grads


# ---------------------------------------------------------------------------------------
# Staying within the node budget
# ---------------------------------------------------------------------------------------
def _chains(graph: _Graph, protected: set) -> list:
    """Maximal runs of ops each feeding only the next (the repeated layers of a deep graph)."""
    preds, succs = graph.preds(), graph.succs()
    vertices = graph.vertices
    next_op: dict = {}
    for key, vertex in vertices.items():
        if vertex.kind not in ("op", "norm"):
            continue
        outs = succs[key]
        if len(outs) != 1 or outs[0] in protected:
            continue
        tensor_key = outs[0]
        consumers = succs[tensor_key]
        if len(consumers) != 1 or vertices[consumers[0]].kind not in ("op", "norm"):
            continue
        consumer = consumers[0]
        produced_inputs = [p for p in preds[consumer] if preds[p]]
        if len(set(produced_inputs)) == 1:
            next_op[key] = consumer
    has_prev = set(next_op.values())
    chains = []
    for key in vertices:
        if key in next_op and key not in has_prev:
            chain = [key]
            while chain[-1] in next_op:
                chain.append(next_op[chain[-1]])
            chains.append(chain)
    return chains


def _op_summary(vertices: list) -> str:
    counts = Counter(v.node.op.name if v.kind == "op" else (v.text or v.kind) for v in vertices if v.kind in ("op", "norm"))
    parts = [f"{name} x{count:,}" for name, count in counts.most_common(3)]
    if len(counts) > 3:
        parts.append(f"{len(counts) - 3} more kinds")
    return ", ".join(parts)


def _fold(graph: _Graph, hidden: set, fold_key, label: str) -> None:
    """Replace the vertices in ``hidden`` by one "⋯" vertex wired to what they touched."""
    vertices = graph.vertices
    hidden_vertices = [vertices[k] for k in hidden]
    count = len(hidden)
    graph.folded = {**getattr(graph, "folded", {}), **dict.fromkeys(hidden, fold_key)}  # read by the stepper
    kinds = _op_summary(hidden_vertices)
    text = f"{label}\n{count:,} nodes hidden" + (f"\n({kinds})" if kinds else "")
    first = next(k for k in vertices if k in hidden)
    new_vertices = {}
    for key, vertex in vertices.items():
        if key == first:
            new_vertices[fold_key] = _Vertex("hidden", text=text, hidden_count=count)
        if key not in hidden:
            new_vertices[key] = vertex
    graph.vertices = new_vertices
    edges, seen = [], set()
    for edge in graph.edges:
        src = fold_key if edge.src in hidden else edge.src
        dst = fold_key if edge.dst in hidden else edge.dst
        if src == dst == fold_key:
            continue
        if fold_key in (src, dst):
            if (src, dst) in seen:
                continue
            seen.add((src, dst))
            edges.append(_Edge(src, dst, "", "dashed"))
        else:
            edges.append(edge)
    graph.edges = edges
    graph.hidden += count


def _fit_budget(graph: _Graph, max_nodes: int, protected: set) -> None:
    """Fold long repeated chains, then (if still too big) all but the part near the outputs."""
    if len(graph.vertices) <= max_nodes:
        return
    for number, chain in enumerate(sorted(_chains(graph, protected), key=len, reverse=True)):
        if len(graph.vertices) <= max_nodes:
            break
        if len(chain) < 2 * _KEEP_CHAIN_ENDS + 2:
            break
        succs = graph.succs()
        middle = chain[_KEEP_CHAIN_ENDS:-_KEEP_CHAIN_ENDS]
        hidden = set(middle)
        # the tensors between hidden ops, including the one feeding the first kept op after
        for key in middle:
            hidden.update(k for k in succs[key] if k not in protected)
        preds = graph.preds()
        # leaves that feed nothing but hidden ops (a constant per step) go too
        for key in list(hidden):
            for src in preds[key]:
                if not preds[src] and src not in protected and all(d in hidden for d in succs[src]):
                    hidden.add(src)
        names = [graph.vertices[k].node.op.name for k in middle if graph.vertices[k].kind == "op"]
        period = _period(names)
        label = f"⋯ {len(names) // max(period, 1):,} repeats of [{' > '.join(names[:period])}]" if period else "⋯ repeated chain"
        _fold(graph, hidden, ("hidden", "chain", number), label)
    if len(graph.vertices) <= max_nodes:
        return
    # Keep the vertices nearest the outputs (breadth first against the edges).
    preds = graph.preds()
    keep: list = []
    kept: set = set()
    queue = [k for k in graph.vertices if graph.vertices[k].role == "output"] or [list(graph.vertices)[-1]]
    budget = max(max_nodes - 1, 1)
    position = 0
    for key in queue:
        kept.add(key)
    while position < len(queue) and len(kept) < budget:
        key = queue[position]
        position += 1
        for src in preds[key]:
            if src not in kept and len(kept) < budget:
                kept.add(src)
                queue.append(src)
    hidden = {k for k in graph.vertices if k not in kept}
    if hidden:
        _fold(graph, hidden, ("hidden", "rest"), "⋯ the rest of the graph")


def _period(names: list) -> int:
    for period in range(1, min(8, len(names)) + 1):
        if all(names[i] == names[i % period] for i in range(len(names))):
            return period
    return 0


# ---------------------------------------------------------------------------------------
# Labels
# ---------------------------------------------------------------------------------------
def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _lines(text: str, align: str = "LEFT") -> str:
    """Text with its line breaks as HTML-label breaks (left-aligned inside a table cell)."""
    if align != "LEFT":
        return "<BR/>".join(_escape(line) for line in text.split("\n"))
    return '<BR ALIGN="LEFT"/>'.join(_escape(line) for line in text.split("\n")) + '<BR ALIGN="LEFT"/>'


def _format_number(value) -> str:
    return f"{float(value):.4g}"


def summarize(array, max_elements: int = 6) -> str:
    """A short text for an array: in full when small, else min/mean/max (or a symbolic hint)."""
    array = np.asarray(array)
    if array.dtype == object:
        texts = [str(x) for x in array.reshape(-1)]
        if array.size <= max_elements and all(len(t) <= _SHORT_EXPRESSION for t in texts):
            if array.ndim == 0:
                return texts[0]
            return np.array2string(array, separator=", ", formatter={"all": str}, max_line_width=60)
        longest = max((len(t) for t in texts), default=0)
        return f"symbolic, {array.size} entries (longest {longest} chars)"
    if array.dtype.kind == "b":
        return np.array2string(array, separator=", ") if array.size <= max_elements else f"bool, {int(array.sum())} true"
    if array.size == 0:
        return "empty"
    if array.size <= max_elements:
        if array.ndim == 0:
            return _format_number(array)
        return np.array2string(array, separator=", ", formatter={"all": _format_number}, max_line_width=60)
    values = array.astype(np.float64, copy=False)
    return f"min {_format_number(values.min())}  mean {_format_number(values.mean())}  max {_format_number(values.max())}"


def _full_precision(array) -> str:
    array = np.asarray(array)
    if array.dtype == object:
        return str(array.tolist())
    return repr(array.tolist())


def _dtype_text(array) -> str:
    return "sympy" if array.dtype == object else str(array.dtype)


def _tensor_label(vertex: _Vertex, options: dict) -> tuple:
    tensor = vertex.tensor
    color = ROLE_COLORS.get(vertex.role, "#ffffff")
    rows = []
    header = vertex.name or ("" if vertex.role == "intermediate" else vertex.role)
    if vertex.name and vertex.role not in ("intermediate",):
        header = f"{vertex.name}"
    if header:
        rows.append(f"<B>{_escape(header)}</B>")
    if options["show_shape"]:
        rows.append(_escape(f"{tuple(tensor.shape)} {_dtype_text(tensor.data)}"))
    if options["show_data"]:
        rows.append(_lines("data " + summarize(tensor.data, options["max_elements"])))
    grad = vertex.grad
    if options["show_grad"] and grad is not None:
        rows.append(f'<FONT COLOR="{GRAD_COLOR}">{_lines("grad " + summarize(grad, options["max_elements"]))}</FONT>')
    elif options["backward"] and options["show_grad"]:
        inside = vertex.expanded and tensor._node is not None
        note = "grad: inside the fused op" if inside else "grad: none"
        rows.append(f'<FONT COLOR="#888888">{_escape(note)}</FONT>')
    if not rows:
        rows.append(" ")
    cells = "".join(f'<TR><TD ALIGN="LEFT" BALIGN="LEFT">{row}</TD></TR>' for row in rows)
    label = f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3" BGCOLOR="{color}">{cells}</TABLE>>'
    tooltip = f"{vertex.name or 'tensor'} {tuple(tensor.shape)}: data={_full_precision(tensor.data)}"
    if grad is not None:
        tooltip += f"; grad={_full_precision(grad)}"
    return label, tooltip


def _attrs_text(attrs: dict | None) -> str:
    if not attrs:
        return ""
    parts = []
    for name, value in attrs.items():
        if isinstance(value, np.ndarray) or value is None or value is False:
            continue
        text = f"{name}={value}"
        if len(text) <= 24:
            parts.append(text)
    return ", ".join(parts)


def _wrap(text: str, width: int = 44) -> str:
    out = []
    for line in text.split("\n"):
        while len(line) > width:
            cut = line.rfind(" ", 0, width)
            cut = cut if cut > 0 else width
            out.append(line[:cut])
            line = line[cut:].lstrip()
        out.append(line)
    return "\n".join(out)


def _op_label(vertex: _Vertex, backward: bool) -> str:
    op = vertex.node.op
    text = f"<B>{_escape(op.name)}</B>"
    attrs = _attrs_text(vertex.node.attrs)
    if attrs:
        text += f'<BR/><FONT POINT-SIZE="9">{_escape(attrs)}</FONT>'
    if backward and getattr(op, "formula", ""):
        text += f'<BR/><FONT POINT-SIZE="9" COLOR="{GRAD_COLOR}">{_lines("VJP: " + _wrap(op.formula), "CENTER")}</FONT>'
    return f"<{text}>"


def _norm_label(vertex: _Vertex, backward: bool) -> str:
    text = f"<B>{_escape(vertex.text.split(chr(10))[0])}</B>"
    names = sorted({node.op.name for node in vertex.ops})
    if vertex.view is not None:
        text += f'<BR/><FONT POINT-SIZE="9">{_lines(_wrap(vertex.view.label), "CENTER")}</FONT>'
    else:
        text += f'<BR/><FONT POINT-SIZE="9">{_escape(", ".join(names)[:60])}</FONT>'
    if backward:
        formulas = [f"{n.op.name}: {n.op.formula}" for n in vertex.ops if getattr(n.op, "formula", "")]
        if len(vertex.ops) == 1 and formulas:
            text += f'<BR/><FONT POINT-SIZE="9" COLOR="{GRAD_COLOR}">{_lines("VJP: " + _wrap(formulas[0]), "CENTER")}</FONT>'
        else:
            text += f'<BR/><FONT POINT-SIZE="9" COLOR="{GRAD_COLOR}">VJP: chain rule through {len(vertex.ops)} ops</FONT>'
    return f"<{text}>"


# ---------------------------------------------------------------------------------------
# Gradients for the backward view
# ---------------------------------------------------------------------------------------
def _attach_grads(graph: _Graph, backward: bool) -> str | None:
    """Set each tensor vertex's gradient; return a note when intermediate ones are missing."""
    missing = False
    for vertex in graph.vertices.values():
        if vertex.kind != "tensor" or vertex.expanded:
            continue
        tensor = vertex.tensor
        if tensor.grad is not None:
            vertex.grad = tensor.grad.data
        elif vertex.node is not None:
            record = vertex.node.grad_record
            if isinstance(record, np.ndarray):
                vertex.grad = record
            elif record is None:
                missing = True
    if backward and missing:
        return ("gradients of intermediate tensors were not recorded: run backward() inside "
                "`with minigrad.autograd.record_grads(loss):`")
    return None


# ---------------------------------------------------------------------------------------
# The public function
# ---------------------------------------------------------------------------------------
def draw_graph(
    *outputs: Tensor,
    params=None,
    show_data: bool = True,
    show_grad: bool = True,
    show_shape: bool = True,
    max_elements: int = 6,
    rankdir: str = "TB",
    collapse: bool | None = None,
    title: str | None = None,
    backward: bool = False,
    max_nodes: int = DEFAULT_MAX_NODES,
):
    """The graph that computed ``outputs``, as a ``graphviz.Digraph`` (nothing is rendered).

    params        names for tensors: a dict name -> Tensor (those that require grad are
                  drawn as parameters, the others as buffers), or a Module (its
                  named_parameters, named_buffers, and the weights its parametrizations set)
    show_data, show_grad, show_shape
                  which rows each tensor box has
    max_elements  tensors with at most this many entries are shown in full
    rankdir       Graphviz layout direction: "TB" (top to bottom) or "LR"
    collapse      True: each norm is one node. False: norms are clusters with their
                  inside drawn. None: clusters, unless the graph is above ``max_nodes``
    title         text above the picture (the collapse and backward notes are appended)
    backward      show each tensor's gradient and each op's VJP; arrows point the way the
                  gradient flows. Run ``loss.backward()`` inside
                  ``minigrad.autograd.record_grads(loss)`` first so that the gradients of
                  intermediate tensors are kept.
    max_nodes     the node budget: above it, repeated chains and then the part of the graph
                  far from the outputs are folded into "⋯" nodes, counted in the title

    Render with ``dot.render(path, format="svg")`` or ``minigrad.viz.render(dot, path)``;
    in Jupyter the Digraph (or ``show(t)``) displays itself.
    """
    graphviz = _graphviz()
    if not outputs:
        raise ValueError("draw_graph: give at least one tensor to draw, e.g. draw_graph(loss)")
    for index, output in enumerate(outputs):
        if not isinstance(output, Tensor):
            raise TypeError(
                f"draw_graph: argument {index} is a {type(output).__name__}, not a minigrad Tensor"
            )
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"draw_graph: rankdir must be 'TB', 'LR', 'BT' or 'RL', got {rankdir!r}")
    if max_nodes < 1:
        raise ValueError(f"draw_graph: max_nodes must be at least 1, got {max_nodes}")
    outputs_list = list(outputs)
    graph = _walk(outputs_list)
    graph.total = len(graph.vertices)
    names, parameters, buffers, parametrizations = _names_from_params(params)
    _assign_roles(graph, outputs_list, names, parameters, buffers)
    grad_note = _attach_grads(graph, backward) if (show_grad or backward) else None

    groups = _find_groups(graph, parametrizations)
    collapse_norms = collapse if collapse is not None else len(graph.vertices) > max_nodes
    if collapse_norms:
        _collapse_groups(graph, groups)
    else:
        _draw_groups(graph, groups, expand=True, backward=backward)

    protected = {k for k, v in graph.vertices.items() if v.kind == "tensor" and (v.role == "output" or v.cluster)}
    protected |= {k for k, v in graph.vertices.items() if v.cluster}
    _fit_budget(graph, max_nodes, protected)

    options = {
        "show_data": show_data, "show_grad": show_grad, "show_shape": show_shape,
        "max_elements": max_elements, "backward": backward,
    }
    return _emit(graphviz, graph, options, rankdir, _title(graph, title, outputs_list, backward, grad_note, max_nodes))


def _title(graph: _Graph, title, outputs, backward: bool, grad_note, max_nodes: int) -> str:
    lines = []
    if title:
        lines.append(title)
    elif backward:
        name = outputs[0].name or "the output"
        lines.append(f"backward pass of {name}: each box shows d {name} / d tensor (grad), each op its VJP")
    if graph.hidden:
        lines.append(
            f"collapsed: {graph.hidden:,} of {graph.total:,} nodes hidden (node budget {max_nodes:,})"
        )
    if grad_note:
        lines.append(grad_note)
    return "\n".join(lines)


def _emit(graphviz, graph: _Graph, options: dict, rankdir: str, title: str):
    dot = graphviz.Digraph(
        "minigrad",
        graph_attr={"rankdir": rankdir, "fontname": "Helvetica", "fontsize": "12", "nodesep": "0.25",
                    "ranksep": "0.35"},
        node_attr={"fontname": "Helvetica", "fontsize": "10"},
        edge_attr={"fontname": "Helvetica", "fontsize": "9", "arrowsize": "0.7"},
    )
    if title:
        dot.attr(label=title.replace("\n", "\\n"), labelloc="t", labeljust="l")
    backward = options["backward"]
    ids: dict = {}
    entries: dict = {}   # cluster -> list of (name, label, attrs)
    for number, (key, vertex) in enumerate(graph.vertices.items()):
        if vertex.kind == "tensor":
            name = f"t{number}"
            label, tooltip = _tensor_label(vertex, options)
            attrs = {"shape": "plain", "tooltip": tooltip, "id": name, "class": f"tensor {vertex.role}"}
            if vertex.expanded:
                attrs["class"] += " expanded"
        elif vertex.kind == "op":
            name = f"op{number}"
            label = _op_label(vertex, backward)
            attrs = {"shape": "ellipse", "style": "filled", "fillcolor": OP_COLOR, "margin": "0.06,0.01",
                     "height": "0.3", "id": name, "class": "op",
                     "tooltip": f"{vertex.node.op.name}: {getattr(vertex.node.op, 'formula', '')}"}
            if vertex.expanded:
                attrs["style"] = "filled,dashed"
        elif vertex.kind == "norm":
            name = f"norm{number}"
            label = _norm_label(vertex, backward)
            attrs = {"shape": "box", "style": "rounded,filled,bold", "fillcolor": NORM_COLOR, "id": name,
                     "class": "norm", "peripheries": "2"}
        elif vertex.kind == "note":
            name = f"note{number}"
            label = vertex.text.replace("\n", "\\l") + "\\l"
            # the wide right margin keeps the first line clear of the note's folded corner
            attrs = {"shape": "note", "style": "filled,dashed", "fillcolor": NO_GRAD_COLOR, "id": name,
                     "class": "note", "fontsize": "9", "margin": "0.22,0.06"}
        else:
            name = f"hidden{number}"
            label = vertex.text.replace("\n", "\\n")
            attrs = {"shape": "box", "style": "filled,dashed", "fillcolor": HIDDEN_COLOR, "id": name,
                     "class": "hidden"}
        ids[key] = name
        entries.setdefault(vertex.cluster, []).append((name, label, attrs))

    for name, label, attrs in entries.get(None, []):
        dot.node(name, label, **attrs)
    children: dict = {}
    for cluster_id, cluster in graph.clusters.items():
        children.setdefault(cluster.parent, []).append(cluster_id)
    titles = {cluster_id: f"label{number}" for number, cluster_id in enumerate(graph.clusters)}

    # A cluster's title is a text node on top of its contents, not Graphviz's cluster label:
    # dot routes edges around nodes but straight through a cluster label, so an edge entering
    # the cluster from above (W into the power iteration) would cross the title.
    # Clusters nest at most a few levels (norm > no-grad), so plain recursion suffices.
    def emit_cluster(parent_graph, cluster_id):
        cluster = graph.clusters[cluster_id]
        with parent_graph.subgraph(name=cluster_id) as sub:
            if cluster.no_grad:
                sub.attr(label="", style="dashed,filled", fillcolor=NO_GRAD_COLOR, color="#999999")
                title_attrs = {"fontsize": "10", "fontcolor": "#555555"}
            else:
                sub.attr(label="", style="rounded,filled", fillcolor=NORM_COLOR, color="#8c6bb1")
                title_attrs = {"fontsize": "11"}
            sub.node(titles[cluster_id], cluster.label.replace("\n", "\\n"), shape="plaintext", margin="0.02",
                     height="0", id=titles[cluster_id], **{"class": "cluster-title"}, **title_attrs)
            for name, label, attrs in entries.get(cluster_id, []):
                sub.node(name, label, **attrs)
            for child in children.get(cluster_id, []):
                emit_cluster(sub, child)

    for cluster_id in children.get(None, []):
        emit_cluster(dot, cluster_id)
    for source, target in _title_edges(graph, titles, ids):
        dot.edge(source, target, style="invis")

    for edge in graph.edges:
        if edge.src not in ids or edge.dst not in ids:
            continue
        attrs = {}
        if edge.label:
            attrs["label"] = edge.label
        if edge.style:
            attrs["style"] = edge.style
        if backward:
            attrs["dir"] = "back"
            attrs["color"] = GRAD_COLOR if not edge.style else "#999999"
        dot.edge(ids[edge.src], ids[edge.dst], **attrs)
    return dot


def _title_edges(graph: _Graph, titles: dict, ids: dict) -> list:
    """Invisible edges that put each cluster's title above everything in the cluster.

    The title points at every vertex of the cluster (nested clusters included) that no edge
    from inside the cluster reaches, and at the titles of the clusters nested in it.
    """
    members: dict = {cluster_id: set() for cluster_id in graph.clusters}
    for key, vertex in graph.vertices.items():
        cluster_id = vertex.cluster
        while cluster_id is not None and cluster_id in graph.clusters:
            members[cluster_id].add(key)
            cluster_id = graph.clusters[cluster_id].parent
    edges = []
    for cluster_id, inside in members.items():
        reached = {edge.dst for edge in graph.edges if edge.src in inside and edge.dst in inside}
        edges += [(titles[cluster_id], ids[key]) for key in inside if key not in reached and key in ids]
        parent = graph.clusters[cluster_id].parent
        if parent in titles:
            edges.append((titles[parent], titles[cluster_id]))
    return edges


# ---------------------------------------------------------------------------------------
# Rendering and Jupyter
# ---------------------------------------------------------------------------------------
class DotNotFound(RuntimeError):
    """Graphviz's ``dot`` program is not on PATH (only .dot output works without it)."""


def _graphviz():
    try:
        import graphviz
    except ImportError as error:  # pragma: no cover - depends on the install
        raise ImportError(
            "minigrad.viz needs the 'graphviz' Python package: pip install graphviz "
            "(and, to render pictures, Graphviz itself: `" + INSTALL_HINT + "`)"
        ) from error
    return graphviz


def dot_available() -> bool:
    return shutil.which("dot") is not None


FORMATS = ("svg", "png", "pdf", "dot")


def render(dot, path: str) -> str:
    """Write ``dot`` to ``path``; the format comes from the suffix (.svg, .png, .pdf, .dot).

    ``.dot`` needs nothing installed; the others need Graphviz's ``dot`` and raise
    ``DotNotFound`` (a one-line message with the install command) without it.
    """
    suffix = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    if suffix not in FORMATS:
        raise ValueError(f"render: unknown output format {suffix!r} in {path!r}; use one of .svg, .png, .pdf, .dot")
    if suffix == "dot":
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(dot.source)
        return path
    if not dot_available():
        raise DotNotFound(
            f"cannot write {path}: Graphviz's `dot` is not on PATH; install it with "
            f"`{INSTALL_HINT}` (macOS: `brew install graphviz`), or write .dot instead"
        )
    data = dot.pipe(format=suffix)
    with open(path, "wb") as handle:
        handle.write(data)
    return path


class GraphView:
    """What ``show`` returns: displays as SVG in Jupyter, and as DOT text without Graphviz."""

    def __init__(self, digraph):
        self.digraph = digraph

    @property
    def source(self) -> str:
        return self.digraph.source

    def _repr_mimebundle_(self, include=None, exclude=None):
        if dot_available():
            return {"image/svg+xml": self.digraph.pipe(format="svg", encoding="utf-8")}
        return {"text/plain": f"(Graphviz's `dot` is not installed: {INSTALL_HINT})\n{self.digraph.source}"}

    def _repr_svg_(self):
        return self.digraph.pipe(format="svg", encoding="utf-8") if dot_available() else None

    def render(self, path: str) -> str:
        return render(self.digraph, path)

    def __repr__(self) -> str:
        return f"<GraphView of {self.source.count(' [') } elements; display it in Jupyter or .render(path)>"


def show(*outputs: Tensor, **options) -> GraphView:
    """``draw_graph(*outputs, **options)`` wrapped to display inline in Jupyter."""
    return GraphView(draw_graph(*outputs, **options))


from minigrad.viz.stepper import backward_stepper  # noqa: E402,F401  (the interactive page; its own module)
