"""Step through a backward pass: one offline HTML page that replays the engine op by op.

    from minigrad.viz import backward_stepper
    page = backward_stepper(loss, params=model)   # runs loss.backward() and records it
    page                                          # in Jupyter / VS Code: shown inline
    page.save("backward.html")                    # one file: open it in any browser, offline

What the page shows
    the graph     drawn by Graphviz as ``draw_graph(..., backward=True, show_grad=False)``
                  draws it (roles by colour, norms as clusters, VJPs on the ops), inlined as
                  SVG; the gradients are not on the boxes: they appear step by step
    forward       one step per op, in creation order: the op and the value it produced
    backward      one step per VJP call, in the order the engine made them (decreasing
                  creation number, see ``minigrad.autograd.run_backward``): the incoming
                  gradient g, the primitive's formula (and, for the elementwise ops, the
                  same VJP as MathML, derived by running the op on SymPy symbols), the
                  gradient sent to each input, and, where a tensor is used more than once,
                  which contribution this is and the running sum
    norms         a fused norm op (spectral_normalize, weight_norm, ...) is one step: the
                  fused VJP is what the engine ran. "Step into norms" inserts the ops of its
                  composite twin (the dashed ops inside the cluster, run backward by the
                  engine on copies of the inputs from the same incoming gradient)
    leaves        a table of every leaf's gradient so far; after the last step it holds
                  exactly what ``backward()`` left in ``.grad``

Keys: ArrowRight / ArrowLeft step, Home / End jump, I switches stepping into norms. The
current step's text is in an ``aria-live`` region, and the steps are ``window.minigradSteps``
(plain objects: ``phase``, ``node``, ``op``, ``grad`` as nested lists, ...), so screen
readers and tests read what is shown.

How the steps are recorded: while the backward pass runs, every primitive's ``vjp`` is
wrapped so that each call (the node, its incoming gradient, the gradients it returns) is
logged in the order the engine makes the calls; the wrappers are removed afterwards.
Nothing is re-derived: the numbers on the page are the engine's own.
"""
from __future__ import annotations

import html
import json
import os
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from minigrad.tensor import Tensor

__all__ = ["backward_stepper", "StepperPage", "BrowserUnavailable", "start_browser", "screenshot",
           "report_section", "DEFAULT_MAX_VALUES"]

#: arrays with more entries than this are summarised on the page instead of listed in full
DEFAULT_MAX_VALUES = 4096


# ---------------------------------------------------------------------------------------
# Recording the engine's VJP calls
# ---------------------------------------------------------------------------------------
@dataclass
class _Call:
    node: Any
    grad: np.ndarray
    results: list   # one array (or None) per input
    method: str = "vjp"   # which of the primitive's VJPs the engine called


def _copy(tensor) -> np.ndarray | None:
    return None if tensor is None else np.array(tensor._data, copy=True)


class _VJPRecorder:
    """While active, every VJP call of the given primitive classes is appended to ``log``.

    Both of a primitive's VJPs are wrapped: ``vjp`` (on tensors) and ``fast_vjp`` (the same
    formula on arrays, which the engine uses when the pass is not recorded). A wrapper is
    set on the class that defines the method (so a subclass that inherits it is not logged
    twice) and the original is put back on exit, even after an error.
    """

    METHODS = ("vjp", "fast_vjp")

    def __init__(self, classes):
        self.log: list = []
        owners = set()
        for cls in classes:
            for method in self.METHODS:
                for base in getattr(cls, "__mro__", ()):
                    if method in vars(base):
                        if vars(base)[method] is not None:
                            owners.add((base, method))
                        break
        self.owners = owners
        self.saved: dict = {}

    def __enter__(self):
        log = self.log
        for owner, method in self.owners:
            descriptor = vars(owner)[method]
            original = getattr(owner, method)

            def wrapped(ctx, grad, _original=original, _method=method):
                results = _original(ctx, grad)
                log.append(_Call(ctx, _copy(grad), [_copy(r) for r in results], _method))
                return results

            self.saved[(owner, method)] = descriptor
            setattr(owner, method, staticmethod(wrapped))
        return self

    def __exit__(self, *exc_info):
        for (owner, method), descriptor in self.saved.items():
            setattr(owner, method, descriptor)
        self.saved.clear()
        return False


# ---------------------------------------------------------------------------------------
# Formulas as MathML
# ---------------------------------------------------------------------------------------
_MATHML_CACHE: dict = {}


def _vjp_mathml(node) -> str | None:
    """The op's forward and VJP on scalar SymPy symbols, as presentation MathML.

    Only for elementwise primitives, whose VJP on one entry is the same as on scalars: the
    engine runs the op on symbols a, b, ... and backward from the symbol g, so the formula
    is the engine's own VJP, not a transcription. None where there is no symbolic form.
    """
    op = node.op
    if not getattr(op, "__module__", "").endswith("ops.elementwise") or not getattr(op, "symbolic", True):
        return None
    attrs = {k: v for k, v in (node.attrs or {}).items() if not isinstance(v, np.ndarray)}
    if len(attrs) != len(node.attrs or {}):
        return None
    cache_key = (op, tuple(sorted((k, repr(v)) for k, v in attrs.items())), len(node.parents))
    if cache_key in _MATHML_CACHE:
        return _MATHML_CACHE[cache_key]
    result = None
    try:
        import sympy
        from sympy.printing.mathml import mathml

        from minigrad.autograd import enable_grad
        from minigrad.ops.registry import apply
        from minigrad.tensor import symbols

        letters = "abcd"[: len(node.parents)]
        inputs = [symbols(letter) for letter in letters]
        with enable_grad():
            out = apply(op, *inputs, **attrs)
            out.backward(gradient=symbols("g", requires_grad=False))
        rows = [sympy.Eq(sympy.Symbol("out"), out.data.item())]
        for letter, tensor in zip(letters, inputs):
            if tensor.grad is not None:
                rows.append(sympy.Eq(sympy.Symbol(f"grad_{letter}"), tensor.grad.data.item()))
        result = "".join(
            f"<div><math>{mathml(row, printer='presentation')}</math></div>" for row in rows
        )
    except Exception:  # noqa: BLE001 - no symbolic form (max, where, ...): the text formula stays
        result = None
    _MATHML_CACHE[cache_key] = result
    return result


# ---------------------------------------------------------------------------------------
# Values for the page
# ---------------------------------------------------------------------------------------
def _values(array, max_values: int):
    """An array as nested lists of numbers (SymPy entries as text); None when too large."""
    if array is None:
        return None
    array = np.asarray(array)
    if array.size > max_values:
        return None
    if array.dtype == object:
        return np.vectorize(str, otypes=[object])(array).tolist() if array.ndim else str(array.item())
    if array.dtype.kind == "b":
        return array.tolist()
    return array.astype(np.float64, copy=False).tolist()


def _summary(array) -> str:
    from minigrad.viz import summarize

    return "" if array is None else summarize(array, 0 if np.asarray(array).size > 6 else 6)


# ---------------------------------------------------------------------------------------
# The graph as drawn, and the SVG ids of its parts
# ---------------------------------------------------------------------------------------
_PREFIX = {"tensor": "t", "op": "op", "norm": "norm", "note": "note"}


def _svg_ids(graph) -> dict:
    """key -> the id ``viz._emit`` gives that vertex (it numbers vertices in order)."""
    return {key: f"{_PREFIX.get(v.kind, 'hidden')}{number}" for number, (key, v) in enumerate(graph.vertices.items())}


def _input_ids(graph, op_key, ids: dict, count: int) -> list:
    """The SVG id of each argument of the op drawn at ``op_key`` (from the labelled edges)."""
    found: list = [None] * count
    for edge in graph.edges:
        if edge.dst != op_key:
            continue
        if edge.label.isdigit() and int(edge.label) < count:
            found[int(edge.label)] = ids.get(edge.src)
        elif count == 1:
            found[0] = ids.get(edge.src)
    return found


@dataclass
class _Drawn:
    svg: str
    ids: dict                                 # graph key -> svg id
    graph: Any
    node_place: dict = field(default_factory=dict)   # id(node) -> ("node", svg id) / ("cluster", name)
    twins: dict = field(default_factory=dict)        # id(fused node) -> (cluster, [composite nodes])
    fused_ran: dict = field(default_factory=dict)    # cluster -> fused op name


def _draw(output: Tensor, params, title: str, collapse, max_nodes: int, rankdir: str, recorder) -> _Drawn:
    """The backward view of ``draw_graph``, step by step so that its parts can be located."""
    from minigrad import viz

    graph = viz._walk([output])
    graph.total = len(graph.vertices)
    names, parameters, buffers, parametrizations = viz._names_from_params(params)
    viz._assign_roles(graph, [output], names, parameters, buffers)
    viz._attach_grads(graph, True)
    groups = viz._find_groups(graph, parametrizations)
    collapse_norms = collapse if collapse is not None else len(graph.vertices) > max_nodes
    engine_ops = {key: v.node for key, v in graph.vertices.items() if v.kind == "op"}
    recorder.log.clear()
    if collapse_norms:
        viz._collapse_groups(graph, groups)
    else:
        # The composite twins of fused norms are run backward here (by viz), so their VJP
        # calls land in the recorder's log in the engine's order.
        viz._draw_groups(graph, groups, expand=True, backward=True)
    twin_calls = list(recorder.log)
    protected = {k for k, v in graph.vertices.items() if v.kind == "tensor" and (v.role == "output" or v.cluster)}
    protected |= {k for k, v in graph.vertices.items() if v.cluster}
    viz._fit_budget(graph, max_nodes, protected)
    options = {"show_data": True, "show_grad": False, "show_shape": True, "max_elements": 6, "backward": True}
    dot = viz._emit(viz._graphviz(), graph, options, rankdir, title)
    svg = ""
    if viz.dot_available():
        svg = dot.pipe(format="svg", encoding="utf-8")
        svg = svg[svg.find("<svg"):] if "<svg" in svg else ""
    ids = _svg_ids(graph)
    drawn = _Drawn(svg, ids, graph)
    # Ops folded into a "⋯" vertex to fit the node budget: their steps point at that vertex.
    folded = getattr(graph, "folded", {})
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
        cluster = f"cluster_norm{index}"
        if cluster not in graph.clusters:
            continue
        for op_key in group.ops:
            node = engine_ops.get(op_key)
            if node is not None and id(node) not in drawn.node_place:
                # the fused op was replaced by its composite twin: the cluster stands for it
                drawn.node_place[id(node)] = ("cluster", cluster)
                drawn.fused_ran[cluster] = node.op.name
        composite = [
            v.node for k, v in graph.vertices.items()
            if v.kind == "op" and isinstance(k, tuple) and k[:2] == ("x", index)
        ]
        if len(group.ops) == 1 and composite:
            node = engine_ops.get(group.ops[0])
            if node is not None:
                drawn.twins[id(node)] = (cluster, composite)
    drawn.twin_calls = twin_calls
    return drawn


# ---------------------------------------------------------------------------------------
# The steps
# ---------------------------------------------------------------------------------------
def _label(vertex, fallback: str) -> str:
    if vertex is None:
        return fallback
    shape = tuple(vertex.tensor.shape) if vertex.tensor is not None else ()
    if vertex.name:
        return f"{vertex.name} {shape}"
    if vertex.role == "intermediate" and vertex.node is not None:
        return f"output of {vertex.node.op.name} {shape}"
    return f"{vertex.role} {shape}"


class _StepBuilder:
    def __init__(self, drawn: _Drawn, output: Tensor, max_values: int):
        self.drawn = drawn
        self.graph = drawn.graph
        self.ids = drawn.ids
        self.output = output
        self.max_values = max_values
        self.steps: list = []
        self.key_of_id = {v: k for k, v in self.ids.items()}

    # where things are drawn ---------------------------------------------------------------
    def place(self, node) -> tuple:
        return self.drawn.node_place.get(id(node), (None, None))

    def tensor_id(self, tensor) -> str | None:
        from minigrad.viz import _tensor_key

        return self.ids.get(_tensor_key(tensor))

    def output_id(self, node, twin_index=None) -> str | None:
        """The SVG id of the tensor ``node`` produced (a composite's result is drawn as the
        fused op's output, so it is found by the edge out of the op)."""
        key = ("n", id(node))
        if twin_index is not None and ("x", twin_index, key) in self.ids:
            return self.ids[("x", twin_index, key)]
        kind, where = self.place(node)
        if kind == "node":
            for edge in self.graph.edges:
                if self.ids.get(edge.src) == where:
                    return self.ids.get(edge.dst)
        return self.ids.get(key)

    def input_ids(self, node) -> list:
        kind, where = self.place(node)
        if kind == "node":
            key = self.key_of_id[where]
            if self.graph.vertices[key].kind == "op":
                return _input_ids(self.graph, key, self.ids, len(node.parents))
        return [self.tensor_id(p) for p in node.parents]

    def name_of(self, svg_id, tensor) -> str:
        vertex = self.graph.vertices.get(self.key_of_id.get(svg_id)) if svg_id else None
        fallback = f"{tensor.name or 'tensor'} {tuple(tensor.shape)}"
        return _label(vertex, fallback)

    def pack(self, array) -> dict:
        values = _values(array, self.max_values)
        shape = list(np.shape(array)) if array is not None else None
        return {"values": values, "shape": shape, "summary": _summary(array) if values is None else ""}

    # forward -----------------------------------------------------------------------------
    def forward(self, nodes: list, leaves: list, twin_nodes: dict) -> None:
        self.steps.append({
            "phase": "forward", "path": "both", "node": None, "op": "leaves", "cluster": None,
            "text": "Forward pass. The leaves: " + ", ".join(name for name, _, _ in leaves) + ".",
            "inputs": [svg for _, svg, _ in leaves], "out": None, "value": None,
        })
        for node in nodes:
            twin = twin_nodes.get(id(node))
            if twin is not None:
                cluster, composite = twin
                index = int(cluster[len("cluster_norm"):])
                for inner in sorted(composite, key=lambda n: n.seq):
                    self.forward_step(inner, "into", cluster, index,
                                      note=f" (composite twin of '{node.op.name}', run on copies of its inputs)")
            self.forward_step(node, "both", None, None)

    def forward_step(self, node, path: str, cluster, twin_index, note: str = "") -> None:
        kind, where = self.place(node)
        out_id = self.output_id(node, twin_index)
        value = node.out if node.out is not None else None
        packed = self.pack(value)
        ins = self.input_ids(node)
        names = [self.name_of(i, p) for i, p in zip(ins, node.parents)]
        fused = kind == "cluster"
        text = (f"Forward: {node.op.name}({', '.join(names)}) -> {self.name_of(out_id, node.output) if node.out is not None else 'output'}"
                f"{' (one fused op: the whole cluster)' if fused else ''}{note}.")
        self.steps.append({
            "phase": "forward", "path": path, "node": where if kind in ("node", "hidden") else None,
            "hidden": where if kind == "hidden" else None,
            "cluster": where if fused else cluster, "op": node.op.name, "text": text,
            "inputs": ins, "out": out_id, "value": packed,
        })

    # backward ----------------------------------------------------------------------------
    def backward(self, calls: list, seed: np.ndarray, leaf_tensors: dict, initial: dict, twin_calls: dict) -> None:
        out_id = self.tensor_id(self.output)
        self.steps.append({
            "phase": "backward", "path": "both", "node": out_id, "op": "seed", "cluster": None,
            "text": f"Backward pass. Seed: d {self.name_of(out_id, self.output).split(' ')[0]} / d itself = "
                    f"{_summary(seed)}.",
            "grad": _values(seed, self.max_values), "gradShape": list(seed.shape), "out": out_id,
            "sends": [], "formula": "", "mathml": None, "engine": True,
        })
        # Count the contributions each tensor receives, to show "k of n" as they arrive.
        from minigrad.autograd import _key

        totals: dict = {}
        for call in calls:
            for parent, result in zip(call.node.parents, call.results):
                if result is not None:
                    totals[_key(parent)] = totals.get(_key(parent), 0) + 1
        received: dict = {}
        running: dict = {key: np.array(value, copy=True) for key, value in initial.items()}
        for call in calls:
            node = call.node
            twin = twin_calls.get(id(node))
            if twin is not None:
                cluster, inner_calls, index = twin
                for inner in inner_calls:
                    self.backward_step(inner, "into", cluster, index, None, None, None, leaf_tensors)
            self.backward_step(call, "both", None, None, totals, received, running, leaf_tensors)

    def backward_step(self, call: _Call, path: str, cluster, twin_index, totals, received, running, leaf_tensors) -> None:
        from minigrad.autograd import _key

        node = call.node
        kind, where = self.place(node)
        fused = kind == "cluster"
        out_id = self.output_id(node, twin_index)
        ins = self.input_ids(node)
        sends = []
        for index, (parent, svg, result) in enumerate(zip(node.parents, ins, call.results)):
            if result is None:
                continue
            entry = {"index": index, "to": svg, "name": self.name_of(svg, parent), "grad": _values(result, self.max_values),
                     "shape": list(result.shape), "summary": "" if result.size <= self.max_values else _summary(result),
                     "leaf": False, "count": 1, "of": 1, "accumulated": None}
            if totals is not None:
                key = _key(parent)
                received[key] = received.get(key, 0) + 1
                if key in running:
                    running[key] = running[key] + result
                else:
                    running[key] = np.array(result, copy=True)
                entry["count"], entry["of"] = received[key], totals[key]
                entry["accumulated"] = _values(running[key], self.max_values)
                entry["leaf"] = parent._node is None
                if entry["leaf"]:
                    entry["leafName"] = leaf_tensors.get(id(parent), entry["name"])
            else:
                entry["twin"] = True
            sends.append(entry)
        names = ", ".join(f"{s['name']}" + (f" (contribution {s['count']} of {s['of']})" if s["of"] > 1 else "")
                          for s in sends)
        if fused:
            text = (f"Backward: the engine ran the fused VJP of '{node.op.name}' (one step for the whole "
                    f"cluster); it sends gradients to {names or 'no input'}.")
        elif path == "into":
            text = (f"Inside the norm: {node.op.name}, a composite-twin op (run by the engine on copies "
                    f"of the fused op's inputs, not part of the real backward pass); it sends gradients to "
                    f"{names or 'no input'}.")
        else:
            text = f"Backward: VJP of {node.op.name}; it sends gradients to {names or 'no input'}."
        self.steps.append({
            "phase": "backward", "path": path, "node": where if kind in ("node", "hidden") else None,
            "hidden": where if kind == "hidden" else None,
            "cluster": where if fused else cluster, "op": node.op.name, "text": text,
            "grad": _values(call.grad, self.max_values), "gradShape": list(call.grad.shape),
            "gradSummary": "" if call.grad.size <= self.max_values else _summary(call.grad),
            "out": out_id, "sends": sends, "formula": getattr(node.op, "formula", "") or "",
            "mathml": _vjp_mathml(node), "engine": path != "into", "fused": fused,
        })


def _merge_hidden(steps: list) -> list:
    """Runs of steps inside one folded "⋯" vertex become one step each (per phase).

    A merged step keeps what stays visible: the gradient entering the run, the last
    gradient sent to each drawn tensor, and every leaf's running sum (so the leaves'
    table still ends equal to ``.grad``).
    """
    merged: list = []
    for step in steps:
        previous = merged[-1] if merged else None
        if step.get("hidden") is None:
            merged.append(step)
            continue
        if (previous is None or previous.get("hidden") != step["hidden"] or previous["phase"] != step["phase"]
                or previous["path"] != step["path"]):
            previous = dict(step, ops=[], sends=[] if step["phase"] == "backward" else None)
            merged.append(previous)
        previous["ops"].append(step["op"])
        previous["out"] = step["out"]
        if step["phase"] == "backward":
            kept = [s for s in previous["sends"] if not any(
                (s["leaf"] and n["leaf"] and s.get("leafName") == n.get("leafName")) or (s["to"] and s["to"] == n["to"])
                for n in step["sends"] if n["leaf"] or n["to"])]
            previous["sends"] = kept + [n for n in step["sends"] if n["leaf"] or n["to"]]
        else:
            previous["value"] = step["value"]
    for step in merged:
        ops = step.get("ops")
        if not ops or len(ops) < 2:
            continue
        kinds = ", ".join(f"{name} x{count:,}" for name, count in Counter(ops).most_common(3))
        if step["phase"] == "backward":
            what = "VJP calls inside the collapsed part of the graph ({}), in the engine's order; the gradients that leave it are shown"
        else:
            what = "ops inside the collapsed part of the graph ({}), in creation order"
        step.update(op="\u22ef", formula="", mathml=None,
                    text=f"{step['phase'].capitalize()}: {len(ops):,} " + what.format(kinds) + ".")
    return merged


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
        return f"<StepperPage {self.title!r}: {len(self.steps)} steps ({backward} backward); save(path) or show in Jupyter>"


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
    from minigrad import viz
    from minigrad.autograd import record_grads
    from minigrad.ops.registry import REGISTRY

    if not isinstance(output, Tensor):
        raise TypeError(f"backward_stepper: expected a minigrad Tensor, got a {type(output).__name__}")
    if output._node is None:
        raise ValueError(
            "backward_stepper: this tensor was made by no op (it is a leaf), so there is no backward "
            "pass to step through; pass the result of a computation, e.g. the loss"
        )
    if max_nodes is None:
        max_nodes = viz.DEFAULT_MAX_NODES
    if max_nodes < 1:
        raise ValueError(f"backward_stepper: max_nodes must be at least 1, got {max_nodes}")
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"backward_stepper: rankdir must be 'TB', 'LR', 'BT' or 'RL', got {rankdir!r}")
    if max_values < 1:
        raise ValueError(f"backward_stepper: max_values must be at least 1, got {max_values}")
    graph = viz._walk([output])
    nodes = sorted((v.node for v in graph.vertices.values() if v.kind == "op"), key=lambda n: n.seq)
    freed = [n for n in nodes if n.freed]
    if freed:
        raise RuntimeError(
            f"backward_stepper: the graph was freed by an earlier backward() (op '{freed[0].op.name}'); "
            f"build the output again, or call the first backward() with retain_graph=True"
        )
    names, parameters, buffers, _ = viz._names_from_params(params)
    viz._assign_roles(graph, [output], names, parameters, buffers)
    leaves = [v for v in graph.vertices.values() if v.kind == "tensor" and v.node is None and v.tensor.requires_grad]
    leaf_names = {id(v.tensor): v.name or f"{v.role} {tuple(v.tensor.shape)}" for v in leaves}
    initial = {id(v.tensor): np.array(v.tensor.grad.data, copy=True) for v in leaves if v.tensor.grad is not None}

    classes = set(REGISTRY.values()) | {n.op for n in nodes}
    recorder = _VJPRecorder(classes)
    from minigrad.autograd import _as_grad_tensor

    seed = _as_grad_tensor(output, gradient, "backward_stepper")
    with recorder:
        with record_grads(output):
            output.backward(gradient=seed if gradient is not None else None, retain_graph=True)
        calls = list(recorder.log)
        heading = title or f"backward pass of {output.name or 'the output'}"
        drawn = _draw(output, params, heading, collapse, max_nodes, rankdir, recorder)

    builder = _StepBuilder(drawn, output, max_values)
    leaf_rows = [(leaf_names[id(v.tensor)], builder.tensor_id(v.tensor), v.tensor) for v in leaves]
    # Group the twins' VJP calls by the fused node they stand for (in the engine's order).
    twin_calls: dict = {}
    for fused_id, (cluster, composite) in drawn.twins.items():
        members = {id(n) for n in composite}
        inner = [c for c in drawn.twin_calls if id(c.node) in members]
        if inner:
            twin_calls[fused_id] = (cluster, inner, int(cluster[len("cluster_norm"):]))
    builder.forward(nodes, leaf_rows, drawn.twins)
    builder.backward(calls, np.asarray(seed.data), leaf_names, initial, twin_calls)
    builder.steps = _merge_hidden(builder.steps)
    leaf_info = [{"name": name, "id": svg, "shape": list(t.shape),
                  "initial": _values(initial.get(id(t)), max_values)} for name, svg, t in leaf_rows]
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
        notes.append(f"Graphviz's `dot` is not installed, so the picture is missing ({viz.INSTALL_HINT}).")
    page = _page(heading, drawn.svg, builder.steps, leaf_info, notes)
    return StepperPage(page, builder.steps, heading)


# ---------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------
_STYLE = """
body{font-family:system-ui,Helvetica,Arial,sans-serif;margin:0;color:#222}
header{padding:8px 12px;border-bottom:1px solid #ddd;background:#fafafa;display:flex;flex-wrap:wrap;gap:8px;align-items:center}
header h1{font-size:16px;margin:0 12px 0 0}
button{font-size:14px;padding:3px 10px}
#mg-main{display:flex;height:calc(100vh - 50px)}
#mg-graph{flex:1 1 55%;overflow:auto;border-right:1px solid #ddd;padding:6px}
#mg-graph svg{max-width:100%;height:auto}
#mg-panel{flex:1 1 45%;overflow:auto;padding:8px 12px;font-size:14px}
#mg-live{font-size:15px;background:#fff8e6;border-left:4px solid #e6a100;padding:6px 8px;margin:0 0 8px}
.mg-phase{font-weight:bold;text-transform:uppercase;font-size:12px;color:#666}
table.mg-array{border-collapse:collapse;margin:2px 0 6px}
table.mg-array td{border:1px solid #ddd;padding:1px 5px;font-family:monospace;font-size:12px;text-align:right}
table.mg-leaves{border-collapse:collapse}
table.mg-leaves td,table.mg-leaves th{border-bottom:1px solid #eee;padding:3px 6px;vertical-align:top;text-align:left}
.mg-formula{font-family:monospace;background:#f4f4f4;padding:4px 6px;white-space:pre-wrap}
.mg-send{border:1px solid #ddd;border-radius:4px;padding:4px 6px;margin:4px 0}
.mg-send.mg-acc{border-color:#e6a100;background:#fffbf0}
.mg-notes{font-size:12px;color:#555}
.mg-mathml{font-size:17px;margin:4px 0 2px 6px}
g.mg-current{filter:drop-shadow(0 0 4px #d62728) drop-shadow(0 0 2px #d62728)}
g.mg-current ellipse,g.mg-current polygon{stroke:#d62728;stroke-width:3px}
g.mg-outgrad{filter:drop-shadow(0 0 4px #1f77b4)}
g.mg-ingrad{filter:drop-shadow(0 0 4px #2ca02c)}
g.mg-done ellipse{fill:#d9f0d3}
g.cluster.mg-current > polygon,g.cluster.mg-current > path{stroke:#d62728;stroke-width:4px}
"""

_SCRIPT = r"""
(function () {
  "use strict";
  var steps = window.minigradSteps;
  var leaves = window.minigradLeaves;
  var mode = "over";
  var order = [];
  var position = 0;
  var svg = document.querySelector("#mg-graph svg");

  function visible(step) { return step.path === "both" || step.path === mode; }
  function rebuild(keepIndex) {
    order = [];
    for (var i = 0; i < steps.length; i++) { if (visible(steps[i])) order.push(i); }
    position = 0;
    for (var j = 0; j < order.length; j++) { if (order[j] <= keepIndex) position = j; }
  }
  function clusterElement(name) {
    if (!svg || !name) return null;
    var groups = svg.querySelectorAll("g.cluster");
    for (var i = 0; i < groups.length; i++) {
      var title = groups[i].querySelector("title");
      if (title && title.textContent === name) return groups[i];
    }
    return null;
  }
  function element(id) { return id ? document.getElementById(id) : null; }
  function mark(el, cls) { if (el) el.classList.add(cls); }
  function fmt(x) {
    if (typeof x !== "number") return String(x);
    if (x === 0) return "0";
    var a = Math.abs(x);
    return (a >= 1e4 || a < 1e-3) ? x.toExponential(3) : String(Number(x.toPrecision(4)));
  }
  function full(x) { return JSON.stringify(x); }
  function arrayHTML(values, summary) {
    if (values === null || values === undefined) return "<span>" + escapeText(summary || "(not shown)") + "</span>";
    if (!Array.isArray(values)) return "<table class='mg-array'><tr><td title='" + full(values) + "'>" + fmt(values) + "</td></tr></table>";
    var rows = Array.isArray(values[0]) ? values : [values];
    var out = "<table class='mg-array'>";
    for (var r = 0; r < rows.length; r++) {
      out += "<tr>";
      var row = Array.isArray(rows[r]) ? rows[r] : [rows[r]];
      for (var c = 0; c < row.length; c++) {
        var cell = Array.isArray(row[c]) ? JSON.stringify(row[c]) : fmt(row[c]);
        out += "<td title='" + escapeText(full(row[c])) + "'>" + escapeText(cell) + "</td>";
      }
      out += "</tr>";
    }
    return out + "</table>";
  }
  function escapeText(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/'/g, "&#39;").replace(/"/g, "&quot;");
  }
  function leafState(upTo) {
    var state = {};
    for (var i = 0; i < leaves.length; i++) state[leaves[i].name] = leaves[i].initial;
    for (var k = 0; k <= upTo; k++) {
      var step = steps[k];
      if (step.phase !== "backward" || !step.engine || !step.sends) continue;
      for (var s = 0; s < step.sends.length; s++) {
        var send = step.sends[s];
        if (send.leaf) state[send.leafName] = send.accumulated;
      }
    }
    return state;
  }
  function render() {
    var index = order[position];
    var step = steps[index];
    var marked = document.querySelectorAll(".mg-current,.mg-outgrad,.mg-ingrad,.mg-done");
    for (var m = 0; m < marked.length; m++) marked[m].classList.remove("mg-current", "mg-outgrad", "mg-ingrad", "mg-done");
    for (var p = 0; p < position; p++) {
      var earlier = steps[order[p]];
      if (earlier.phase === step.phase && earlier.op !== "seed") mark(element(earlier.node), "mg-done");
    }
    mark(element(step.node), "mg-current");
    mark(clusterElement(step.cluster), "mg-current");
    if (step.phase === "backward") {
      if (step.op !== "seed") mark(element(step.out), "mg-outgrad");
      (step.sends || []).forEach(function (send) { mark(element(send.to), "mg-ingrad"); });
    } else {
      mark(element(step.out), "mg-outgrad");
      (step.inputs || []).forEach(function (id) { mark(element(id), "mg-ingrad"); });
    }
    var target = element(step.node) || clusterElement(step.cluster);
    if (target && target.scrollIntoView) target.scrollIntoView({block: "nearest", inline: "nearest"});

    document.getElementById("mg-counter").textContent = "step " + (position + 1) + " of " + order.length;
    document.getElementById("mg-live").textContent = step.text;
    var body = "<div class='mg-phase'>" + step.phase + (step.path === "into" ? " · inside the norm (composite twin)" : "") + "</div>";
    if (step.phase === "forward") {
      if (step.value) body += "<h3>value</h3>" + arrayHTML(step.value.values, step.value.summary);
    } else {
      body += "<h3>incoming gradient g" + (step.op === "seed" ? " (the seed)" : "") + "</h3>" + arrayHTML(step.grad, step.gradSummary);
      if (step.formula) body += "<h3>VJP of " + escapeText(step.op) + "</h3><div class='mg-formula'>" + escapeText(step.formula) + "</div>";
      if (step.mathml) body += "<div class='mg-mathml'>" + step.mathml + "</div>";
      if (step.sends && step.sends.length) {
        body += "<h3>gradients sent to the inputs</h3>";
        step.sends.forEach(function (send) {
          var acc = send.of > 1;
          body += "<div class='mg-send" + (acc ? " mg-acc" : "") + "'><b>input " + send.index + ": " + escapeText(send.name) + "</b>";
          if (acc) body += " — contribution " + send.count + " of " + send.of + " (this tensor is used " + send.of + " times; its gradient is the sum)";
          body += arrayHTML(send.grad, send.summary);
          if (acc && send.accumulated !== null) body += "<div>sum so far:</div>" + arrayHTML(send.accumulated, "");
          body += "</div>";
        });
      }
    }
    document.getElementById("mg-step").innerHTML = body;
    var state = leafState(index);
    var rows = "";
    for (var i = 0; i < leaves.length; i++) {
      var value = state[leaves[i].name];
      rows += "<tr data-name='" + escapeText(leaves[i].name) + "' data-value='" + escapeText(JSON.stringify(value === undefined ? null : value)) + "'><th>" + escapeText(leaves[i].name) + "</th><td>" +
        (value === null || value === undefined ? "<i>no gradient yet</i>" : arrayHTML(value, "")) + "</td></tr>";
    }
    document.getElementById("mg-leaf-grads").innerHTML = rows;
    document.getElementById("mg-mode").textContent = mode === "into" ? "Step over norms (fused VJP)" : "Step into norms (composite ops)";
    document.getElementById("mg-mode").setAttribute("aria-pressed", mode === "into" ? "true" : "false");
    window.minigradCurrent = {index: index, position: position, mode: mode, count: order.length};
  }
  function go(to) { position = Math.max(0, Math.min(order.length - 1, to)); render(); }
  function toggle() { var keep = order[position]; mode = mode === "over" ? "into" : "over"; rebuild(keep); render(); }
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === "ArrowRight") { go(position + 1); event.preventDefault(); }
    else if (event.key === "ArrowLeft") { go(position - 1); event.preventDefault(); }
    else if (event.key === "Home") { go(0); event.preventDefault(); }
    else if (event.key === "End") { go(order.length - 1); event.preventDefault(); }
    else if (event.key === "i" || event.key === "I") { toggle(); event.preventDefault(); }
  });
  document.getElementById("mg-first").addEventListener("click", function () { go(0); });
  document.getElementById("mg-prev").addEventListener("click", function () { go(position - 1); });
  document.getElementById("mg-next").addEventListener("click", function () { go(position + 1); });
  document.getElementById("mg-last").addEventListener("click", function () { go(order.length - 1); });
  document.getElementById("mg-mode").addEventListener("click", toggle);
  window.minigradGo = go;
  window.minigradToggleNorms = toggle;
  rebuild(0);
  render();
})();
"""


def _script_json(value) -> str:
    """JSON that is safe inside a <script> element (NaN and Infinity stay JavaScript values)."""
    text = json.dumps(value, separators=(",", ":"), allow_nan=True)
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def _page(title: str, svg: str, steps: list, leaves: list, notes: list) -> str:
    has_twins = any(step["path"] == "into" for step in steps)
    notes_html = "".join(f"<li>{html.escape(note)}</li>" for note in notes)
    mode_button = (
        '<button id="mg-mode" type="button" aria-pressed="false" title="key: I">Step into norms</button>'
        if has_twins else '<button id="mg-mode" type="button" hidden>Step into norms</button>'
    )
    return "".join([
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        "<header>",
        f"<h1>{html.escape(title.splitlines()[0] if title else 'backward pass')}</h1>",
        '<button id="mg-first" type="button" title="key: Home">&#x00AB; first</button>',
        '<button id="mg-prev" type="button" title="key: ArrowLeft">&#x25C0; back</button>',
        '<button id="mg-next" type="button" title="key: ArrowRight">next &#x25B6;</button>',
        '<button id="mg-last" type="button" title="key: End">last &#x00BB;</button>',
        mode_button,
        '<span id="mg-counter"></span>',
        "</header><div id='mg-main'>",
        f"<div id='mg-graph' aria-label='the computation graph'>{svg}</div>",
        "<div id='mg-panel'>",
        "<p id='mg-live' role='status' aria-live='polite'></p>",
        "<div id='mg-step'></div>",
        "<h3>gradients of the leaves so far</h3><table class='mg-leaves'><tbody id='mg-leaf-grads'></tbody></table>",
        f"<ul class='mg-notes'>{notes_html}</ul>",
        "<p class='mg-notes'>Keys: &#x2192; next, &#x2190; back, Home first, End last"
        + (", I step into / over norms" if has_twins else "") + ". Hover a number for all its digits.</p>",
        "</div></div>",
        f"<script>window.minigradSteps={_script_json(steps)};window.minigradLeaves={_script_json(leaves)};</script>",
        f"<script>{_SCRIPT}</script>",
        "</body></html>",
    ])


# ---------------------------------------------------------------------------------------
# A headless browser (for the tests and the tour's screenshot)
# ---------------------------------------------------------------------------------------
class BrowserUnavailable(RuntimeError):
    """No headless Chromium with its driver (or no Selenium) on this machine."""


CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)


def start_browser(width: int = 1400, height: int = 900):
    """A Selenium driver for headless Chromium with a fresh profile, its console log kept.

    Raises ``BrowserUnavailable`` (one line saying what is missing) when Selenium,
    Chromium or chromedriver is absent. The caller quits the driver; the profile folder is
    removed on ``driver.quit()``.
    """
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as error:
        raise BrowserUnavailable("selenium is not installed (pip install 'selenium>=4')") from error
    binary = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")
                   if shutil.which(name)), None)
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        raise BrowserUnavailable("no Chromium and chromedriver on PATH (make browser, or apt-get install chromium chromium-driver)")
    profile = tempfile.mkdtemp(prefix="minigrad-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        driver = webdriver.Chrome(service=Service(driver_path), options=options)
    except Exception as error:  # noqa: BLE001 - any start-up failure means "no usable browser"
        shutil.rmtree(profile, ignore_errors=True)
        raise BrowserUnavailable(f"Chromium did not start: {str(error).splitlines()[0]}") from error
    quit_driver = driver.quit

    def quit_and_clean():
        try:
            quit_driver()
        finally:
            shutil.rmtree(profile, ignore_errors=True)

    driver.quit = quit_and_clean
    return driver


def screenshot(page_path, png_path, step: int | None = None, width: int = 1400, height: int = 820) -> str:
    """Open the saved page in headless Chromium, go to ``step`` (default: the first backward
    step that sends a gradient to two inputs) and save a PNG of the window."""
    driver = start_browser(width, height)
    try:
        driver.get(Path(page_path).resolve().as_uri())
        if step is None:
            step = driver.execute_script(
                "var s=window.minigradSteps;for(var i=0;i<s.length;i++){if(s[i].phase==='backward'&&s[i].sends"
                "&&s[i].sends.length>1&&s[i].path==='both')return i;}return 0;")
        driver.execute_script(
            "var want=arguments[0];window.minigradGo(0);for(var k=0;k<window.minigradSteps.length;k++){"
            "if(window.minigradCurrent.index>=want)break;window.minigradGo(window.minigradCurrent.position+1);}",
            step)
        driver.save_screenshot(os.fspath(png_path))
    finally:
        driver.quit()
    return os.fspath(png_path)


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
