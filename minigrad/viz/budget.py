"""Staying within the node budget: repeated chains, then the far part, folded into "⋯" nodes.

A deep graph (a chain of 100,000 ops, many repeated layers) would be unreadable and slow to
lay out. Above ``max_nodes`` the middle of each long chain of ops is folded into one "⋯"
vertex that says how many repeats of what it hides; if that is not enough, everything
beyond the ``max_nodes`` vertices nearest the outputs is folded into one more.
"""
from __future__ import annotations

from collections import Counter

from minigrad.viz.graph import Edge, Graph, Vertex

DEFAULT_MAX_NODES = 250
_KEEP_CHAIN_ENDS = 2     # ops kept at each end of a collapsed chain


def protected_keys(graph: Graph) -> set:
    """The vertices no fold may hide: the outputs and everything inside a cluster."""
    protected = {k for k, v in graph.vertices.items() if v.kind == "tensor" and (v.role == "output" or v.cluster)}
    protected |= {k for k, v in graph.vertices.items() if v.cluster}
    return protected


def _chains(graph: Graph, protected: set) -> list:
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
    counts = Counter(
        v.node.op.name if v.kind == "op" else (v.text or v.kind) for v in vertices if v.kind in ("op", "norm")
    )
    parts = [f"{name} x{count:,}" for name, count in counts.most_common(3)]
    if len(counts) > 3:
        parts.append(f"{len(counts) - 3} more kinds")
    return ", ".join(parts)


def _fold(graph: Graph, hidden: set, fold_key, label: str) -> None:
    """Replace the vertices in ``hidden`` by one "⋯" vertex wired to what they touched."""
    vertices = graph.vertices
    # in drawing order, so that ties in the summary come out the same on every run
    hidden_vertices = [vertex for key, vertex in vertices.items() if key in hidden]
    count = len(hidden)
    graph.folded.update(dict.fromkeys(hidden, fold_key))
    kinds = _op_summary(hidden_vertices)
    text = f"{label}\n{count:,} nodes hidden" + (f"\n({kinds})" if kinds else "")
    first = next(k for k in vertices if k in hidden)
    new_vertices = {}
    for key, vertex in vertices.items():
        if key == first:
            new_vertices[fold_key] = Vertex("hidden", text=text, hidden_count=count)
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
            edges.append(Edge(src, dst, "", "dashed"))
        else:
            edges.append(edge)
    graph.edges = edges
    graph.hidden += count


def fit_budget(graph: Graph, max_nodes: int, protected: set) -> None:
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
        if period:
            label = f"⋯ {len(names) // max(period, 1):,} repeats of [{' > '.join(names[:period])}]"
        else:
            label = "⋯ repeated chain"
        _fold(graph, hidden, ("hidden", "chain", number), label)
    if len(graph.vertices) <= max_nodes:
        return
    # Keep the vertices nearest the outputs (breadth first against the edges).
    preds = graph.preds()
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
    """The shortest period (at most 8) with which ``names`` repeats; 0 when there is none."""
    for period in range(1, min(8, len(names)) + 1):
        if all(names[i] == names[i % period] for i in range(len(names))):
            return period
    return 0
