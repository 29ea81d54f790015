"""Labels: what each tensor box, op ellipse and collapsed group says, and the colours.

A tensor box is an HTML-like Graphviz table: name, shape and dtype, data and grad (a small
tensor in full, a large one as min/mean/max, a short SymPy expression as itself), filled
with the colour of its role. An op shows its name and attributes, and in the backward view
its VJP formula.
"""
from __future__ import annotations

import numpy as np

from minigrad.viz.graph import Vertex

#: fill colour of each tensor role (tests and docs refer to these)
ROLE_COLORS = {
    "parameter": "#9ecae1",     # blue: learnable, requires grad, owned by a module / params
    "input": "#a1d99b",         # green: a leaf the user named (a batch) or that requires grad, not a parameter
    "constant": "#e5e5e5",      # grey: a leaf that needs no gradient
    "buffer": "#fdd49e",        # orange: module state, such as vectors kept between steps
    "output": "#fc9272",        # red: what was asked to be drawn
    "intermediate": "#ffffff",  # white: produced by an op
}
OP_COLOR = "#f2f2f2"
NORM_COLOR = "#e9e1f5"          # the lavender of a cluster and of a collapsed group's node
NO_GRAD_COLOR = "#f7f7f7"
HIDDEN_COLOR = "#fff7bc"
GRAD_COLOR = "#b30000"

_SHORT_EXPRESSION = 40   # characters: a SymPy expression up to this long is shown as itself


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
        if array.size <= max_elements:
            return np.array2string(array, separator=", ")
        return f"bool, {int(array.sum())} true"
    if array.size == 0:
        return "empty"
    if array.size <= max_elements:
        if array.ndim == 0:
            return _format_number(array)
        return np.array2string(array, separator=", ", formatter={"all": _format_number}, max_line_width=60)
    values = array.astype(np.float64, copy=False)
    low, mean, high = (_format_number(value) for value in (values.min(), values.mean(), values.max()))
    return f"min {low}  mean {mean}  max {high}"


def _full_precision(array) -> str:
    array = np.asarray(array)
    if array.dtype == object:
        return str(array.tolist())
    return repr(array.tolist())


def _dtype_text(array) -> str:
    return "sympy" if array.dtype == object else str(array.dtype)


def tensor_label(vertex: Vertex, options: dict) -> tuple:
    """(the HTML-like label, the tooltip with every digit) of a tensor vertex."""
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


def wrap(text: str, width: int = 44) -> str:
    """``text`` with each line broken at spaces to at most ``width`` characters."""
    out = []
    for line in text.split("\n"):
        while len(line) > width:
            cut = line.rfind(" ", 0, width)
            cut = cut if cut > 0 else width
            out.append(line[:cut])
            line = line[cut:].lstrip()
        out.append(line)
    return "\n".join(out)


def op_label(vertex: Vertex, backward: bool) -> str:
    """The label of an op: its name and attributes, and its VJP formula when ``backward``."""
    op = vertex.node.op
    text = f"<B>{_escape(op.name)}</B>"
    attrs = _attrs_text(vertex.node.attrs)
    if attrs:
        text += f'<BR/><FONT POINT-SIZE="9">{_escape(attrs)}</FONT>'
    if backward and getattr(op, "formula", ""):
        text += f'<BR/><FONT POINT-SIZE="9" COLOR="{GRAD_COLOR}">{_lines("VJP: " + wrap(op.formula), "CENTER")}</FONT>'
    return f"<{text}>"


def group_label(vertex: Vertex, backward: bool) -> str:
    """The label of a collapsed group: its title, what it computes, and its VJP when ``backward``."""
    text = f"<B>{_escape(vertex.text.split(chr(10))[0])}</B>"
    names = sorted({node.op.name for node in vertex.ops})
    if vertex.view is not None:
        text += f'<BR/><FONT POINT-SIZE="9">{_lines(wrap(vertex.view.label), "CENTER")}</FONT>'
    else:
        text += f'<BR/><FONT POINT-SIZE="9">{_escape(", ".join(names)[:60])}</FONT>'
    if backward:
        formulas = [f"{n.op.name}: {n.op.formula}" for n in vertex.ops if getattr(n.op, "formula", "")]
        if len(vertex.ops) == 1 and formulas:
            vjp = _lines("VJP: " + wrap(formulas[0]), "CENTER")
        else:
            vjp = f"VJP: chain rule through {len(vertex.ops)} ops"
        text += f'<BR/><FONT POINT-SIZE="9" COLOR="{GRAD_COLOR}">{vjp}</FONT>'
    return f"<{text}>"
