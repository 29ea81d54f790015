"""``draw_graph``: the steps from tensors to a ``graphviz.Digraph``, and the DOT it emits.

The steps, each in its own module:

    walk          graph.walk             every tensor and op the outputs depend on
    roles         roles.assign_roles     names and colours; gradients for the backward view
    clusters      clusters.find_groups   registered fused ops and parametrizations, then
                                         drawn as clusters or collapsed into one node
    budget        budget.fit_budget      repeated chains folded into "⋯" nodes
    DOT           emit                   labels (labels.py), clusters, edges

``prepare`` and ``arrange`` run the first three; the backward stepper runs them too, so the
page shows the picture ``draw_graph`` draws. Node names are sequential in topological order
(``svg_ids``), so the same graph gives the same source every time.
"""
from __future__ import annotations

from minigrad.tensor import Tensor
from minigrad.viz.budget import DEFAULT_MAX_NODES, fit_budget, protected_keys
from minigrad.viz.clusters import collapse_groups, draw_groups, find_groups
from minigrad.viz.graph import Graph, walk
from minigrad.viz.labels import (
    GRAD_COLOR, HIDDEN_COLOR, NO_GRAD_COLOR, NORM_COLOR, OP_COLOR, group_label, op_label, tensor_label,
)
from minigrad.viz.roles import assign_roles, attach_grads, names_from_params

INSTALL_HINT = "apt-get install graphviz"   # macOS: brew install graphviz

_PREFIX = {"tensor": "t", "op": "op", "norm": "norm", "note": "note"}


def load_graphviz():
    """The ``graphviz`` Python package, or an ImportError saying how to install it."""
    try:
        import graphviz
    except ImportError as error:  # pragma: no cover - depends on the install
        raise ImportError(
            "minigrad.viz needs the 'graphviz' Python package: pip install graphviz "
            "(and, to render pictures, Graphviz itself: `" + INSTALL_HINT + "`)"
        ) from error
    return graphviz


def prepare(outputs: list, params, attach: bool, backward: bool) -> tuple:
    """(graph, groups, note on missing gradients): the walk, names and roles, the groups.

    ``attach``: put each tensor's gradient on its vertex (the note is None otherwise).
    """
    graph = walk(outputs)
    graph.total = len(graph.vertices)
    names, parameters, buffers, parametrizations = names_from_params(params)
    assign_roles(graph, outputs, names, parameters, buffers)
    grad_note = attach_grads(graph, backward) if attach else None
    groups = find_groups(graph, parametrizations)
    return graph, groups, grad_note


def arrange(graph: Graph, groups: list, collapse: bool | None, max_nodes: int, backward: bool) -> None:
    """Draw the groups as clusters (or collapse them) and fold the graph into ``max_nodes``."""
    collapse_all = collapse if collapse is not None else len(graph.vertices) > max_nodes
    if collapse_all:
        collapse_groups(graph, groups)
    else:
        draw_groups(graph, groups, expand=True, backward=backward)
    fit_budget(graph, max_nodes, protected_keys(graph))


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
    collapse      True: each registered fused op or parametrization is one node. False:
                  they are clusters with their inside drawn. None: clusters, unless the
                  graph is above ``max_nodes``
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
    graphviz = load_graphviz()
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
    graph, groups, grad_note = prepare(outputs_list, params, show_grad or backward, backward)
    arrange(graph, groups, collapse, max_nodes, backward)
    options = {
        "show_data": show_data, "show_grad": show_grad, "show_shape": show_shape,
        "max_elements": max_elements, "backward": backward,
    }
    heading = _title(graph, title, outputs_list, backward, grad_note, max_nodes)
    return emit(graphviz, graph, options, rankdir, heading)


def _title(graph: Graph, title, outputs, backward: bool, grad_note, max_nodes: int) -> str:
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


def svg_ids(graph: Graph) -> dict:
    """key -> the DOT (and SVG) id of that vertex: its kind's prefix and its position."""
    return {key: f"{_PREFIX.get(v.kind, 'hidden')}{number}" for number, (key, v) in enumerate(graph.vertices.items())}


def _vertex_entry(vertex, name: str, options: dict) -> tuple:
    """(label, attributes) of one vertex in the DOT source."""
    backward = options["backward"]
    if vertex.kind == "tensor":
        label, tooltip = tensor_label(vertex, options)
        attrs = {"shape": "plain", "tooltip": tooltip, "id": name, "class": f"tensor {vertex.role}"}
        if vertex.expanded:
            attrs["class"] += " expanded"
    elif vertex.kind == "op":
        label = op_label(vertex, backward)
        attrs = {"shape": "ellipse", "style": "filled", "fillcolor": OP_COLOR, "margin": "0.06,0.01",
                 "height": "0.3", "id": name, "class": "op",
                 "tooltip": f"{vertex.node.op.name}: {getattr(vertex.node.op, 'formula', '')}"}
        if vertex.expanded:
            attrs["style"] = "filled,dashed"
    elif vertex.kind == "norm":
        label = group_label(vertex, backward)
        attrs = {"shape": "box", "style": "rounded,filled,bold", "fillcolor": NORM_COLOR, "id": name,
                 "class": "norm", "peripheries": "2"}
    elif vertex.kind == "note":
        label = vertex.text.replace("\n", "\\l") + "\\l"
        # the wide right margin keeps the first line clear of the note's folded corner
        attrs = {"shape": "note", "style": "filled,dashed", "fillcolor": NO_GRAD_COLOR, "id": name,
                 "class": "note", "fontsize": "9", "margin": "0.22,0.06"}
    else:
        label = vertex.text.replace("\n", "\\n")
        attrs = {"shape": "box", "style": "filled,dashed", "fillcolor": HIDDEN_COLOR, "id": name,
                 "class": "hidden"}
    return label, attrs


def emit(graphviz, graph: Graph, options: dict, rankdir: str, title: str):
    """The ``graphviz.Digraph`` of ``graph``: vertices, clusters (with their titles), edges.

    options: show_data, show_grad, show_shape, max_elements, backward (as in draw_graph).
    """
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
    ids = svg_ids(graph)
    entries: dict = {}   # cluster -> list of (name, label, attrs)
    for key, vertex in graph.vertices.items():
        label, attrs = _vertex_entry(vertex, ids[key], options)
        entries.setdefault(vertex.cluster, []).append((ids[key], label, attrs))

    for name, label, attrs in entries.get(None, []):
        dot.node(name, label, **attrs)
    children: dict = {}
    for cluster_id, cluster in graph.clusters.items():
        children.setdefault(cluster.parent, []).append(cluster_id)
    titles = {cluster_id: f"label{number}" for number, cluster_id in enumerate(graph.clusters)}

    # A cluster's title is a text node on top of its contents, not Graphviz's cluster label:
    # dot routes edges around nodes but straight through a cluster label, so an edge entering
    # the cluster from above (into a no-grad computation) would cross the title.
    # Clusters nest at most a few levels (group > no-grad), so plain recursion suffices.
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


def _title_edges(graph: Graph, titles: dict, ids: dict) -> list:
    """Invisible edges that put each cluster's title above everything in the cluster.

    The title points at every vertex of the cluster (nested clusters included) that no edge
    from inside the cluster reaches, and at the titles of the clusters nested in it; in
    drawing order, so the source is the same on every run.
    """
    members: dict = {cluster_id: {} for cluster_id in graph.clusters}   # dicts: ordered sets
    for key, vertex in graph.vertices.items():
        cluster_id = vertex.cluster
        while cluster_id is not None and cluster_id in graph.clusters:
            members[cluster_id][key] = None
            cluster_id = graph.clusters[cluster_id].parent
    edges = []
    for cluster_id, inside in members.items():
        reached = {edge.dst for edge in graph.edges if edge.src in inside and edge.dst in inside}
        edges += [(titles[cluster_id], ids[key]) for key in inside if key not in reached and key in ids]
        parent = graph.clusters[cluster_id].parent
        if parent in titles:
            edges.append((titles[parent], titles[cluster_id]))
    return edges
