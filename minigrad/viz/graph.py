"""The graph as drawn: vertices and edges found by an iterative walk from the outputs.

Every later step (roles, clusters, the node budget, labels, DOT) edits or reads a ``Graph``;
nothing here knows how it will look. Keys identify what a vertex stands for:

    ("l", id(tensor))    a leaf tensor
    ("n", id(node))      the tensor a node produced
    ("o", id(node))      the op of a node
    other tuples         vertices added later (notes, collapsed groups, "⋯" folds, the ops
                         of an expanded composite)

``Graph.vertices`` is kept in topological order: the DOT node names are numbered in it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from minigrad.tensor import Tensor


@dataclass
class Vertex:
    """One thing drawn: a tensor box, an op, a collapsed group, a note or a "⋯" fold."""

    kind: str                      # "tensor", "op", "norm" (a collapsed group), "note", "hidden"
    tensor: Any = None             # the Tensor of a tensor vertex
    node: Any = None               # the Node of an op vertex (or of a tensor's producer)
    role: str = "intermediate"
    name: str | None = None
    text: str = ""                 # label of a note / hidden / collapsed-group vertex
    cluster: str | None = None
    hidden_count: int = 0
    grad: Any = None               # gradient array to show (backward view)
    expanded: bool = False         # inside an expanded fused op (no gradient of its own)
    view: Any = None               # a collapsed group's FusedOpView (when it is one fused op)
    ops: list = field(default_factory=list)  # a collapsed group's nodes


@dataclass
class Edge:
    """An arrow from ``src`` to ``dst`` (vertex keys); ``label`` is the argument index."""

    src: Any
    dst: Any
    label: str = ""
    style: str = ""


@dataclass
class Cluster:
    """A labelled box around vertices; ``no_grad`` marks a computation done without gradient."""

    label: str
    parent: str | None = None
    no_grad: bool = False


class Graph:
    """Vertices in topological order, edges, and clusters; built in steps, then emitted."""

    def __init__(self):
        self.vertices: dict = {}   # key -> Vertex, in topological order
        self.edges: list = []
        self.clusters: dict = {}   # cluster id -> Cluster
        self.hidden = 0            # number of original vertices folded into "⋯" vertices
        self.total = 0             # number of vertices before any folding
        self.folded: dict = {}     # key of a folded vertex -> key of the "⋯" vertex it went into
        self.alive: list = []      # every tensor referenced, so that the ids used as keys stay unique

    def preds(self) -> dict:
        """key -> the keys of the vertices with an edge into it."""
        result: dict = {key: [] for key in self.vertices}
        for edge in self.edges:
            result[edge.dst].append(edge.src)
        return result

    def succs(self) -> dict:
        """key -> the keys of the vertices it has an edge to."""
        result: dict = {key: [] for key in self.vertices}
        for edge in self.edges:
            result[edge.src].append(edge.dst)
        return result


def tensor_key(tensor: Tensor) -> tuple:
    """The vertex key of ``tensor``: its producing node's, or its own for a leaf."""
    # A node may hand out several Tensor objects for its output (Node.output builds one on
    # demand), so a produced tensor is identified by its node, a leaf by itself.
    return ("n", id(tensor._node)) if tensor._node is not None else ("l", id(tensor))


def _parents(tensor: Tensor):
    return iter(tensor._node.parents) if tensor._node is not None else iter(())


def walk(outputs: list) -> Graph:
    """Every tensor and op that the outputs depend on, in topological order (iteratively).

    A depth-first walk with an explicit stack, so a chain of 100,000 ops needs no
    recursion. Each op is a vertex between its inputs and its output tensor; the edge into
    an op that takes several inputs carries the argument index.
    """
    graph = Graph()
    vertices = graph.vertices
    alive = graph.alive
    for output in outputs:
        key = tensor_key(output)
        if key in vertices:
            continue
        stack = [(output, _parents(output))]
        entered = {key}
        while stack:
            tensor, pending = stack[-1]
            for parent in pending:
                parent_key = tensor_key(parent)
                if parent_key in vertices:
                    existing = vertices[parent_key]
                    if parent.name and not existing.tensor.name:
                        existing.tensor = parent
                    continue
                if parent_key in entered:
                    continue
                entered.add(parent_key)
                stack.append((parent, _parents(parent)))
                break
            else:
                stack.pop()
                alive.append(tensor)
                key = tensor_key(tensor)
                node = tensor._node
                if node is not None:
                    op_key = ("o", id(node))
                    vertices[op_key] = Vertex("op", node=node)
                    many = len(node.parents) > 1
                    for index, parent in enumerate(node.parents):
                        graph.edges.append(Edge(tensor_key(parent), op_key, str(index) if many else ""))
                    vertices[key] = Vertex("tensor", tensor=tensor, node=node)
                    graph.edges.append(Edge(op_key, key))
                else:
                    vertices[key] = Vertex("tensor", tensor=tensor)
    return graph


def insert_before(vertices: dict, before, key, vertex: Vertex) -> dict:
    """``vertices`` with ``key: vertex`` placed just before the key ``before``."""
    result = {}
    for existing, value in vertices.items():
        if existing == before:
            result[key] = vertex
        result[existing] = value
    return result
