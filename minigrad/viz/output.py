"""Writing a drawing to a file (SVG, PNG, PDF, DOT) and showing it in Jupyter.

Only ``.dot`` works without Graphviz's ``dot`` program; the pictures need it, and without it
``render`` raises ``DotNotFound`` with the install command while ``show`` falls back to the
DOT text.
"""
from __future__ import annotations

import shutil

from minigrad.tensor import Tensor
from minigrad.viz.dot import INSTALL_HINT, draw_graph

FORMATS = ("svg", "png", "pdf", "dot")


class DotNotFound(RuntimeError):
    """Graphviz's ``dot`` program is not on PATH (only .dot output works without it)."""


def dot_available() -> bool:
    """True when Graphviz's ``dot`` program is on PATH (needed for SVG, PNG and PDF)."""
    return shutil.which("dot") is not None


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
