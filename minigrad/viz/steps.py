"""The steps of the backward stepper: the engine's VJP calls, recorded, and turned into steps.

While the backward pass runs, every primitive's ``vjp`` (and ``fast_vjp``) is wrapped so that
each call (the node, its incoming gradient, the gradients it returns) is logged in the order
the engine makes the calls; the wrappers are removed afterwards. ``StepBuilder`` turns the
forward ops and that log into the page's steps, each pointing at the SVG ids of what it
shows. Nothing is re-derived: the numbers on the page are the engine's own.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from minigrad.tensor import Tensor
from minigrad.viz.clusters import cluster_index, composite_key
from minigrad.viz.graph import tensor_key
from minigrad.viz.labels import summarize

# ---------------------------------------------------------------------------------------
# Recording the engine's VJP calls
# ---------------------------------------------------------------------------------------
@dataclass
class Call:
    """One VJP call the engine made: the node, its incoming gradient, what it returned."""

    node: Any
    grad: np.ndarray
    results: list   # one array (or None) per input
    method: str = "vjp"   # which of the primitive's VJPs the engine called


def _copy(tensor) -> np.ndarray | None:
    return None if tensor is None else np.array(tensor._data, copy=True)


class VJPRecorder:
    """While active, every VJP call of the given primitive classes is appended to ``log``.

    Both of a primitive's VJPs are wrapped: ``vjp`` (on tensors) and ``fast_vjp`` (the same
    formula on arrays, which the engine uses when the pass is not recorded). A wrapper of the
    same kind (static or class method) is set on the class that defines the method (so a
    subclass that inherits it is not logged twice) and the original is put back on exit,
    even after an error.
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
        for owner, method in self.owners:
            descriptor = vars(owner)[method]
            self.saved[(owner, method)] = descriptor
            setattr(owner, method, self._wrap(descriptor, method))
        return self

    def _wrap(self, descriptor, method: str):
        """A method of the same kind as ``descriptor`` that logs each call."""
        log = self.log

        def record(ctx, grad, results):
            log.append(Call(ctx, _copy(grad), [_copy(r) for r in results], method))
            return results

        if isinstance(descriptor, classmethod):
            # Kept a classmethod: a subclass that inherits the VJP must still be its ``cls``
            # (the shared VJP of a family of ops reads the subclass's settings from it).
            function = descriptor.__func__

            def wrapped_class(cls, ctx, grad):
                return record(ctx, grad, function(cls, ctx, grad))

            return classmethod(wrapped_class)
        function = descriptor.__func__ if isinstance(descriptor, staticmethod) else descriptor

        def wrapped(ctx, grad):
            return record(ctx, grad, function(ctx, grad))

        return staticmethod(wrapped)

    def __exit__(self, *exc_info):
        for (owner, method), descriptor in self.saved.items():
            setattr(owner, method, descriptor)
        self.saved.clear()
        return False


# ---------------------------------------------------------------------------------------
# Formulas as MathML
# ---------------------------------------------------------------------------------------
_MATHML_CACHE: dict = {}


def vjp_mathml(node) -> str | None:
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
def page_values(array, max_values: int):
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


def summary_text(array) -> str:
    """``summarize`` for the page: in full up to 6 entries, else min/mean/max."""
    return "" if array is None else summarize(array, 0 if np.asarray(array).size > 6 else 6)


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


@dataclass
class Drawn:
    """The stepper's picture and where each engine node is drawn in it."""

    svg: str
    ids: dict                                 # graph key -> svg id
    graph: Any
    node_place: dict = field(default_factory=dict)   # id(node) -> ("node", svg id) / ("cluster", name)
    twins: dict = field(default_factory=dict)        # id(fused node) -> (cluster, [composite nodes])
    fused_ran: dict = field(default_factory=dict)    # cluster -> fused op name
    twin_calls: list = field(default_factory=list)   # the composites' VJP calls, in the engine's order


class StepBuilder:
    """The page's steps: one per forward op, one per VJP call, each naming the SVG ids it shows."""

    def __init__(self, drawn: Drawn, output: Tensor, max_values: int):
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
        return self.ids.get(tensor_key(tensor))

    def output_id(self, node, twin_index=None) -> str | None:
        """The SVG id of the tensor ``node`` produced (a composite's result is drawn as the
        fused op's output, so it is found by the edge out of the op)."""
        key = ("n", id(node))
        if twin_index is not None and composite_key(twin_index, key) in self.ids:
            return self.ids[composite_key(twin_index, key)]
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
        values = page_values(array, self.max_values)
        shape = list(np.shape(array)) if array is not None else None
        return {"values": values, "shape": shape, "summary": summary_text(array) if values is None else ""}

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
                index = cluster_index(cluster)
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
        produced = self.name_of(out_id, node.output) if node.out is not None else "output"
        text = (f"Forward: {node.op.name}({', '.join(names)}) -> {produced}"
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
                    f"{summary_text(seed)}.",
            "grad": page_values(seed, self.max_values), "gradShape": list(seed.shape), "out": out_id,
            "sends": [], "formula": "", "mathml": None, "engine": True,
        })
        # Count the contributions each tensor receives, to show "k of n" as they arrive.
        totals: dict = {}
        for call in calls:
            for parent, result in zip(call.node.parents, call.results):
                if result is not None:
                    totals[tensor_key(parent)] = totals.get(tensor_key(parent), 0) + 1
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

    def backward_step(self, call: Call, path: str, cluster, twin_index, totals, received, running,
                      leaf_tensors) -> None:
        node = call.node
        kind, where = self.place(node)
        fused = kind == "cluster"
        out_id = self.output_id(node, twin_index)
        ins = self.input_ids(node)
        sends = []
        for index, (parent, svg, result) in enumerate(zip(node.parents, ins, call.results)):
            if result is None:
                continue
            entry = {"index": index, "to": svg, "name": self.name_of(svg, parent),
                     "grad": page_values(result, self.max_values), "shape": list(result.shape),
                     "summary": "" if result.size <= self.max_values else summary_text(result),
                     "leaf": False, "count": 1, "of": 1, "accumulated": None}
            if totals is not None:
                key = tensor_key(parent)
                received[key] = received.get(key, 0) + 1
                if key in running:
                    running[key] = running[key] + result
                else:
                    running[key] = np.array(result, copy=True)
                entry["count"], entry["of"] = received[key], totals[key]
                entry["accumulated"] = page_values(running[key], self.max_values)
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
            "grad": page_values(call.grad, self.max_values), "gradShape": list(call.grad.shape),
            "gradSummary": "" if call.grad.size <= self.max_values else summary_text(call.grad),
            "out": out_id, "sends": sends, "formula": getattr(node.op, "formula", "") or "",
            "mathml": vjp_mathml(node), "engine": path != "into", "fused": fused,
        })


def merge_hidden(steps: list) -> list:
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
            what = ("VJP calls inside the collapsed part of the graph ({}), in the engine's order; the gradients "
                    "that leave it are shown")
        else:
            what = "ops inside the collapsed part of the graph ({}), in creation order"
        step.update(op="\u22ef", formula="", mathml=None,
                    text=f"{step['phase'].capitalize()}: {len(ops):,} " + what.format(kinds) + ".")
    return merged
