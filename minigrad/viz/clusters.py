"""Clusters: a registered fused op or module parametrization drawn as one labelled group.

``find_groups`` finds them (through the hooks in ``minigrad.viz.views``); then either
``draw_groups`` puts each group's ops in a cluster, expanding a fused op into the graph of
the composite it equals, or ``collapse_groups`` replaces each group by one node.

Names the stepper relies on: cluster ``i`` is ``cluster_id(i)``, and the vertices of the
composite expanded in it have keys ``composite_key(i, inner_key)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from minigrad.tensor import Tensor
from minigrad.viz.graph import Cluster, Edge, Graph, Vertex, insert_before, tensor_key, walk
from minigrad.viz.labels import wrap
from minigrad.viz.views import FusedOpView, view_for_op

_CLUSTER_PREFIX = "cluster_norm"
_COMPOSITE = "x"   # first item of the key of a vertex of an expanded composite


def cluster_id(index: int) -> str:
    """The DOT name of the cluster of group ``index``."""
    return f"{_CLUSTER_PREFIX}{index}"


def cluster_index(cluster: str) -> int:
    """The group index of the cluster named ``cluster`` (the inverse of ``cluster_id``)."""
    return int(cluster[len(_CLUSTER_PREFIX):])


def composite_key(index: int, key) -> tuple:
    """The key, in the drawn graph, of the vertex ``key`` of group ``index``'s composite."""
    return (_COMPOSITE, index, key)


def is_composite_key(key, index: int) -> bool:
    """True when ``key`` is a vertex of the composite expanded in group ``index``."""
    return isinstance(key, tuple) and key[:2] == (_COMPOSITE, index)


@dataclass
class Group:
    """One cluster to draw: its title, its ops, the tensor it produces."""

    label: str
    ops: list                     # op keys, topological order
    output: Any                   # the tensor key the group produces
    view: FusedOpView | None = None  # when the group is one fused op
    no_grad: dict | None = None   # {"source": key, "source_label": str, "outputs": [keys], "label": str}
    divisor_name: str | None = None   # the name of b when the output is a / b


def _parametrization_ops(graph: Graph, weight: Tensor) -> list:
    """The ops between a parametrization's leaves and the weight it sets (topological order)."""
    members, stack = set(), [weight._node]
    while stack:
        node = stack.pop()
        if ("o", id(node)) in members:
            continue
        members.add(("o", id(node)))
        stack.extend(p._node for p in node.parents if p._node is not None)
    return [key for key in graph.vertices if key in members]


def _parametrization_group(graph: Graph, found) -> Group | None:
    """The group of one ``ParametrizationView``, naming its no-grad tensors on the way."""
    vertices = graph.vertices
    weight = found.weight
    if not isinstance(weight, Tensor) or weight._node is None:
        return None
    out_key = tensor_key(weight)
    if out_key not in vertices:
        return None
    ops = _parametrization_ops(graph, weight)
    view = view_for_op(vertices[ops[0]].node.op) if len(ops) == 1 else None
    label = found.label
    no_grad = None
    if found.no_grad:
        # The no-grad tensors as the graph holds them: the tensors themselves, or the
        # arguments of the one fused op that its view says come from no_grad.
        pairs = [
            (tensor_key(tensor), name) for tensor, name in found.no_grad
            if isinstance(tensor, Tensor) and tensor_key(tensor) in vertices
        ]
        if not pairs and view is not None and view.no_grad_inputs:
            parents = vertices[ops[0]].node.parents
            pairs = [
                (tensor_key(parents[i]), name) for i, (_, name) in zip(view.no_grad_inputs, found.no_grad)
                if i < len(parents)
            ]
        for key, name in pairs:
            vertex = vertices[key]
            vertex.name = vertex.name or name
            if vertex.tensor._node is None:
                vertex.role = "buffer"
        outputs = [key for key, _ in pairs if vertices[key].tensor._node is None]
        if outputs:
            source = found.no_grad_source
            no_grad = {
                "source": tensor_key(source) if isinstance(source, Tensor) else None,
                "source_label": found.no_grad_source_label, "outputs": outputs, "label": found.no_grad_label,
            }
    if view is not None:
        label += f"\n(fused op '{vertices[ops[0]].node.op.name}')"
    return Group(label, ops, out_key, view, no_grad, divisor_name=found.divisor_name)


def find_groups(graph: Graph, parametrizations: list) -> list:
    """The groups to draw: each module parametrization, then each fused op with a view."""
    vertices = graph.vertices
    groups = []
    taken: set = set()
    for found in parametrizations:
        group = _parametrization_group(graph, found)
        if group is not None:
            groups.append(group)
            taken.update(group.ops)
    for key, vertex in vertices.items():
        if vertex.kind != "op" or key in taken:
            continue
        view = view_for_op(vertex.node.op)
        if view is None:
            continue
        node = vertex.node
        out_key = next(e.dst for e in graph.edges if e.src == key)
        no_grad = None
        if view.no_grad_inputs:
            outputs = [
                tensor_key(node.parents[i]) for i in view.no_grad_inputs
                if i < len(node.parents) and node.parents[i]._node is None
            ]
            if outputs:
                source = view.no_grad_source
                no_grad = {
                    "source": tensor_key(node.parents[source])
                    if source is not None and source < len(node.parents) else None,
                    "source_label": view.no_grad_source_label, "outputs": outputs, "label": view.no_grad_label,
                }
        groups.append(Group(f"{view.label}\n(fused op '{node.op.name}')", [key], out_key, view, no_grad,
                            divisor_name=view.divisor_name))
    return groups


def collapse_groups(graph: Graph, groups: list) -> None:
    """Each group becomes one node: its inputs in, its output out."""
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
        group_key = ("norm", index)
        new_vertices = {}
        for key, vertex in vertices.items():
            if key == group.ops[0]:
                new_vertices[group_key] = Vertex("norm", text=title, view=group.view, ops=nodes)
            if key not in members:
                new_vertices[key] = vertex
        graph.vertices = vertices = new_vertices
        single = len(group.ops) == 1 and len(inputs) > 1
        graph.edges = [e for e in graph.edges if e.src not in members and e.dst not in members]
        graph.edges += [Edge(src, group_key, str(i) if single else "") for i, src in enumerate(inputs)]
        graph.edges.append(Edge(group_key, group.output))


def draw_groups(graph: Graph, groups: list, expand: bool, backward: bool = False) -> None:
    """Put each group's ops into a labelled cluster; expand fused ops into their composite."""
    for index, group in enumerate(groups):
        cluster = cluster_id(index)
        graph.clusters[cluster] = Cluster(group.label)
        members = set(group.ops)
        for key in group.ops:
            graph.vertices[key].cluster = cluster
        for edge in graph.edges:
            if edge.src in members and edge.dst != group.output:
                graph.vertices[edge.dst].cluster = cluster
        if group.no_grad:
            inner = f"{cluster}_nograd"
            graph.clusters[inner] = Cluster("no gradient", parent=cluster, no_grad=True)
            note_key = ("note", index)
            graph.vertices = insert_before(graph.vertices, group.ops[0], note_key, Vertex(
                "note", text=group.no_grad["label"], cluster=inner))
            for key in group.no_grad["outputs"]:
                graph.vertices[key].cluster = inner
                graph.edges.append(Edge(note_key, key, style="dashed"))
            source = group.no_grad["source"]
            if source in graph.vertices:
                graph.edges.append(Edge(source, note_key, group.no_grad["source_label"], style="dashed"))
        if expand and group.view is not None and group.view.resolve() is not None and len(group.ops) == 1:
            fused_op = graph.vertices[group.ops[0]].node.op
            expanded, with_grads = expand_fused(graph, group.ops[0], group.view, cluster, index, backward)
            if expanded:
                graph.clusters[cluster].label += "\ndrawn as the composite it equals (dashed ops)"
            if with_grads:
                graph.clusters[cluster].label += "\n(gradients inside: recomputed through the composite)"
            if expanded and backward and getattr(fused_op, "formula", ""):
                graph.clusters[cluster].label += "\nfused VJP: " + wrap(fused_op.formula, 60)
        if group.divisor_name:
            name_divisor(graph, group.output, group.divisor_name)


def name_divisor(graph: Graph, output_key, name: str) -> None:
    """Call b in the group's output a / b ``name`` (when b has no name), as a textbook does."""
    producer = next((e.src for e in graph.edges if e.dst == output_key), None)
    if producer is None or graph.vertices[producer].kind != "op":
        return
    if graph.vertices[producer].node.op.name != "div":
        return
    divisor = next((e.src for e in graph.edges if e.dst == producer and e.label == "1"), None)
    vertex = graph.vertices.get(divisor)
    if vertex is not None and vertex.kind == "tensor" and not vertex.name:
        vertex.name = name


def expand_fused(graph: Graph, op_key, view: FusedOpView, cluster: str, index: int, backward: bool) -> tuple:
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
    inner = walk([result])
    with_grads = False
    record = node.grad_record
    if backward and isinstance(record, np.ndarray):
        try:
            with enable_grad(), record_grads(result):
                result.backward(gradient=Tensor(record), retain_graph=True)
            with_grads = True
        except Exception:  # noqa: BLE001 - the picture is still right without inner gradients
            with_grads = False
    mapping = {("l", id(s)): tensor_key(p) for s, p in zip(stand_ins, node.parents)}
    mapping[tensor_key(result)] = out_key
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
                new_vertices[composite_key(index, inner_key)] = inner_vertex
            continue
        new_vertices[key] = vertex
    graph.vertices = new_vertices
    graph.edges = [e for e in graph.edges if e.src != op_key and e.dst != op_key]

    def rename(key):
        return mapping.get(key, composite_key(index, key))

    graph.edges += [Edge(rename(e.src), rename(e.dst), e.label) for e in inner.edges]
    graph.alive.extend(inner.alive + stand_ins)
    return True, with_grads
