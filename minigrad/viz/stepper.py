"""Step through a backward pass: one offline HTML page that replays the engine op by op.

    from minigrad.viz import backward_stepper
    page = backward_stepper(loss, params=model)   # runs loss.backward() and records it
    page                                          # in Jupyter / VS Code: shown inline
    page.save("backward.html")                    # one file: open it in any browser, offline

What the page shows
    the graph     drawn by Graphviz as ``draw_graph(..., backward=True, show_grad=False)``
                  draws it (roles by colour, fused ops as clusters, VJPs on the ops),
                  inlined as SVG; the gradients are not on the boxes: they appear step by step
    forward       one step per op, in creation order: the op and the value it produced
    backward      one step per VJP call, in the order the engine made them (decreasing
                  creation number, see ``minigrad.autograd.run_backward``): the incoming
                  gradient g, the primitive's formula (and, for the elementwise ops, the
                  same VJP as MathML, derived by running the op on SymPy symbols), the
                  gradient sent to each input, and, where a tensor is used more than once,
                  which contribution this is and the running sum
    fused ops     a fused op drawn as a cluster (one with a registered view, see
                  ``minigrad.viz.views``) is one step: the fused VJP is what the engine
                  ran. The page's "step into" switch inserts the ops of its composite twin
                  (the dashed ops inside the cluster, run backward by the engine on copies
                  of the inputs from the same incoming gradient)
    leaves        a table of every leaf's gradient so far; after the last step it holds
                  exactly what ``backward()`` left in ``.grad``

Keys: ArrowRight / ArrowLeft step, Home / End jump, I switches stepping into clusters. The
current step's text is in an ``aria-live`` region, and the steps are ``window.minigradSteps``
(plain objects: ``phase``, ``node``, ``op``, ``grad`` as nested lists, ...), so screen
readers and tests read what is shown.

How the steps are recorded: see ``minigrad.viz.steps``. The page's HTML and script are in
``minigrad.viz.page``; the headless browser for tests and screenshots in
``minigrad.viz.browser``.
"""
from __future__ import annotations

import html
import os
from pathlib import Path

import numpy as np

from minigrad.tensor import Tensor
from minigrad.viz.browser import BrowserUnavailable, screenshot, start_browser
from minigrad.viz.budget import DEFAULT_MAX_NODES
from minigrad.viz.clusters import cluster_id, cluster_index, is_composite_key
from minigrad.viz.dot import INSTALL_HINT, arrange, emit, load_graphviz, prepare, svg_ids
from minigrad.viz.graph import tensor_key, walk
from minigrad.viz.output import dot_available
from minigrad.viz.page import page_html
from minigrad.viz.roles import assign_roles, names_from_params
from minigrad.viz.steps import Drawn, StepBuilder, VJPRecorder, merge_hidden, page_values

__all__ = ["backward_stepper", "StepperPage", "BrowserUnavailable", "start_browser", "screenshot",
           "report_section", "DEFAULT_MAX_VALUES"]

#: arrays with more entries than this are summarised on the page instead of listed in full
DEFAULT_MAX_VALUES = 4096


def _draw(output: Tensor, params, title: str, collapse, max_nodes: int, rankdir: str, recorder) -> Drawn:
    """The backward view of ``draw_graph``, step by step so that its parts can be located."""
    graph, groups, _ = prepare([output], params, attach=True, backward=True)
    engine_ops = {key: v.node for key, v in graph.vertices.items() if v.kind == "op"}
    recorder.log.clear()
    # The composite twins of fused ops are run backward while the groups are drawn, so
    # their VJP calls land in the recorder's log in the engine's order.
    arrange(graph, groups, collapse, max_nodes, backward=True)
    twin_calls = list(recorder.log)
    options = {"show_data": True, "show_grad": False, "show_shape": True, "max_elements": 6, "backward": True}
    dot = emit(load_graphviz(), graph, options, rankdir, title)
    svg = ""
    if dot_available():
        svg = dot.pipe(format="svg", encoding="utf-8")
        svg = svg[svg.find("<svg"):] if "<svg" in svg else ""
    ids = svg_ids(graph)
    drawn = Drawn(svg, ids, graph, twin_calls=twin_calls)
    # Ops folded into a "⋯" vertex to fit the node budget: their steps point at that vertex.
    folded = graph.folded
    for key in folded:
        target = key
        while target in folded and target not in graph.vertices:
            target = folded[target]
        if key in engine_ops and target in ids:
            drawn.node_place[id(engine_ops[key])] = ("hidden", ids[target])
    for key, vertex in graph.vertices.items():
        if vertex.kind == "op":
            drawn.node_place[id(vertex.node)] = ("node", ids[key])
        elif vertex.kind == "norm":
            for node in vertex.ops:
                drawn.node_place[id(node)] = ("node", ids[key])
    for index, group in enumerate(groups):
        cluster = cluster_id(index)
        if cluster not in graph.clusters:
            continue
        for op_key in group.ops:
            node = engine_ops.get(op_key)
            if node is not None and id(node) not in drawn.node_place:
                # the fused op was replaced by its composite twin: the cluster stands for it
                drawn.node_place[id(node)] = ("cluster", cluster)
                drawn.fused_ran[cluster] = node.op.name
        composite = [v.node for k, v in graph.vertices.items() if v.kind == "op" and is_composite_key(k, index)]
        if len(group.ops) == 1 and composite:
            node = engine_ops.get(group.ops[0])
            if node is not None:
                drawn.twins[id(node)] = (cluster, composite)
    return drawn


# ---------------------------------------------------------------------------------------
# The page object
# ---------------------------------------------------------------------------------------
class StepperPage:
    """A self-contained HTML page that steps through one backward pass.

    ``html`` is the page; ``steps`` the list behind ``window.minigradSteps``. In a notebook
    it shows inline (an iframe holding the page, so several pages do not clash); ``save``
    writes the one file.
    """

    def __init__(self, html_text: str, steps: list, title: str):
        self.html = html_text
        self.steps = steps
        self.title = title

    def save(self, path) -> str:
        """Write the page to ``path`` (UTF-8); returns the path."""
        path = os.fspath(path)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(self.html)
        return path

    def _repr_html_(self) -> str:
        return (f'<iframe srcdoc="{html.escape(self.html, quote=True)}" title="{html.escape(self.title)}" '
                f'style="width:100%;height:680px;border:1px solid #ddd"></iframe>')

    def __repr__(self) -> str:
        backward = sum(1 for s in self.steps if s["phase"] == "backward" and s["engine"])
        return (f"<StepperPage {self.title!r}: {len(self.steps)} steps ({backward} backward); "
                f"save(path) or show in Jupyter>")


def backward_stepper(
    output: Tensor,
    params=None,
    *,
    gradient=None,
    title: str | None = None,
    collapse: bool | None = None,
    max_nodes: int | None = None,
    rankdir: str = "TB",
    max_values: int = DEFAULT_MAX_VALUES,
) -> StepperPage:
    """Run ``output.backward(gradient)`` and return a page that replays it op by op.

    The backward pass is the engine's ordinary one (gradients accumulate into every leaf's
    ``.grad`` as ``backward()`` does; the graph is retained, and every node keeps the
    gradient that reached it, so ``draw_graph(..., backward=True)`` works afterwards).
    params, collapse, max_nodes, rankdir  as in ``minigrad.viz.draw_graph``
    max_values   arrays with more entries are summarised (min/mean/max), not listed
    """
    from minigrad.autograd import _as_grad_tensor, record_grads
    from minigrad.ops.registry import REGISTRY

    if not isinstance(output, Tensor):
        raise TypeError(f"backward_stepper: expected a minigrad Tensor, got a {type(output).__name__}")
    if output._node is None:
        raise ValueError(
            "backward_stepper: this tensor was made by no op (it is a leaf), so there is no backward "
            "pass to step through; pass the result of a computation, e.g. the loss"
        )
    if max_nodes is None:
        max_nodes = DEFAULT_MAX_NODES
    if max_nodes < 1:
        raise ValueError(f"backward_stepper: max_nodes must be at least 1, got {max_nodes}")
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"backward_stepper: rankdir must be 'TB', 'LR', 'BT' or 'RL', got {rankdir!r}")
    if max_values < 1:
        raise ValueError(f"backward_stepper: max_values must be at least 1, got {max_values}")
    graph = walk([output])
    nodes = sorted((v.node for v in graph.vertices.values() if v.kind == "op"), key=lambda n: n.seq)
    freed = [n for n in nodes if n.freed]
    if freed:
        raise RuntimeError(
            f"backward_stepper: the graph was freed by an earlier backward() (op '{freed[0].op.name}'); "
            f"build the output again, or call the first backward() with retain_graph=True"
        )
    names, parameters, buffers, _ = names_from_params(params)
    assign_roles(graph, [output], names, parameters, buffers)
    leaves = [v for v in graph.vertices.values() if v.kind == "tensor" and v.node is None and v.tensor.requires_grad]
    leaf_names = {id(v.tensor): v.name or f"{v.role} {tuple(v.tensor.shape)}" for v in leaves}
    initial = {tensor_key(v.tensor): np.array(v.tensor.grad.data, copy=True)
               for v in leaves if v.tensor.grad is not None}

    classes = set(REGISTRY.values()) | {n.op for n in nodes}
    recorder = VJPRecorder(classes)
    seed = _as_grad_tensor(output, gradient, "backward_stepper")
    with recorder:
        with record_grads(output):
            output.backward(gradient=seed if gradient is not None else None, retain_graph=True)
        calls = list(recorder.log)
        heading = title or f"backward pass of {output.name or 'the output'}"
        drawn = _draw(output, params, heading, collapse, max_nodes, rankdir, recorder)

    builder = StepBuilder(drawn, output, max_values)
    leaf_rows = [(leaf_names[id(v.tensor)], builder.tensor_id(v.tensor), v.tensor) for v in leaves]
    # Group the twins' VJP calls by the fused node they stand for (in the engine's order).
    twin_calls: dict = {}
    for fused_id, (cluster, composite) in drawn.twins.items():
        members = {id(n) for n in composite}
        inner = [c for c in drawn.twin_calls if id(c.node) in members]
        if inner:
            twin_calls[fused_id] = (cluster, inner, cluster_index(cluster))
    builder.forward(nodes, leaf_rows, drawn.twins)
    builder.backward(calls, np.asarray(seed.data), leaf_names, initial, twin_calls)
    builder.steps = merge_hidden(builder.steps)
    leaf_info = [{"name": name, "id": svg, "shape": list(t.shape),
                  "initial": page_values(initial.get(tensor_key(t)), max_values)} for name, svg, t in leaf_rows]
    notes = []
    for cluster, op_name in drawn.fused_ran.items():
        label = drawn.graph.clusters[cluster].label.split("\n")[0]
        notes.append(f"{label}: the engine ran the fused VJP of '{op_name}' (one step). Switch on "
                     f"\"step into norms\" to see the composite twin's ops, drawn dashed inside the cluster.")
    if initial:
        notes.append("Some leaves already had a .grad before this backward pass: their sums start from it.")
    if drawn.graph.hidden:
        notes.append(f"The graph was collapsed to fit {max_nodes} nodes: the ops inside a \u22ef node are one step.")
    if not drawn.svg:
        notes.append(f"Graphviz's `dot` is not installed, so the picture is missing ({INSTALL_HINT}).")
    page = page_html(heading, drawn.svg, builder.steps, leaf_info, notes)
    return StepperPage(page, builder.steps, heading)


def report_section(page: StepperPage, out, stem: str = "backward-stepper") -> str:
    """Save ``page`` into folder ``out`` (and a PNG of one step when a browser is available);
    return the HTML that embeds it in a report: a heading, the page in a frame, and a closing
    paragraph (class "meaning", as the tour's report closes each section) on what it shows."""
    out = Path(out)
    path = page.save(out / f"{stem}.html")
    picture = ""
    try:
        screenshot(path, out / f"{stem}.png")
        picture = f" A still of one step is <code>{stem}.png</code>."
    except BrowserUnavailable:
        pass
    return (f"<h2>Step through the backward pass</h2><p>{html.escape(page.title)}: click into the frame and use "
            f"the arrow keys, or open <code>{stem}.html</code> on its own (it works offline).{picture}</p>"
            f"<iframe src='{stem}.html' title='{html.escape(page.title)}' "
            f"style='width:100%;height:640px;border:1px solid #ccc'></iframe>"
            f"<p class='meaning'>Each backward step is one VJP call the engine made, in the engine's order (the op "
            f"created last runs first). Where a tensor is used twice its gradient arrives in contributions that are "
            f"summed before its producer runs; a norm's cluster is the one fused VJP the engine ran, and stepping "
            f"into it replays the composite ops, which reach the same gradient. After the last step the leaves' "
            f"table holds exactly the .grad that backward() left.</p>")
