"""minigrad.viz: rendered pictures of every example, the node budget, the backward view, no dot.

The SVG tests render with Graphviz's real `dot` (CI installs it; `make setup` does too) and
read the result back: node names, shapes and op labels in the text, fill colours by role.
"""
from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import minigrad as mg
from minigrad import viz
from norms.app import graph_examples
from minigrad.autograd import record_grads
from minigrad.viz import ROLE_COLORS, draw_graph

HAVE_DOT = viz.dot_available()
needs_dot = pytest.mark.skipif(not HAVE_DOT, reason="Graphviz's dot is not installed (apt-get install graphviz)")
SVG = "{http://www.w3.org/2000/svg}"
NODE_NAME = re.compile(r"^(t|op|norm|note|hidden|label)\d+$")


# ---------------------------------------------------------------------------------------
# Helpers that read pictures back
# ---------------------------------------------------------------------------------------
def svg_nodes(path) -> dict:
    """node name -> {"texts": [...], "fills": [...], "class": str} from a rendered SVG."""
    tree = ET.parse(path)
    nodes = {}
    for group in tree.iter(f"{SVG}g"):
        classes = group.get("class", "")
        if not classes.startswith("node"):
            continue
        title = group.find(f"{SVG}title").text
        texts = [t.text or "" for t in group.iter(f"{SVG}text")]
        fills = [p.get("fill") for p in group.iter() if p.get("fill") not in (None, "none")]
        nodes[title] = {"texts": texts, "fills": fills, "class": classes, "id": group.get("id")}
    return nodes


def node_named(nodes: dict, name: str) -> dict:
    matches = [n for n in nodes.values() if n["texts"] and n["texts"][0] == name]
    assert len(matches) == 1, f"expected one node named {name!r}, found {len(matches)}"
    return matches[0]


def all_text(nodes: dict) -> str:
    return "\n".join(t for n in nodes.values() for t in n["texts"])


def dot_nodes(source: str) -> dict:
    """node name -> attribute text, from DOT source (one statement per line)."""
    result = {}
    for line in source.splitlines():
        match = re.match(r"\s*(\w+) \[(.*)\]$", line)
        if match and match.group(1) not in ("graph", "node", "edge"):
            result[match.group(1)] = match.group(2)
    return result


def cluster_block(source: str, name: str) -> str:
    """The DOT text of ``subgraph name { ... }``, nested clusters included."""
    start = source.index(f"subgraph {name} {{")
    depth = 0
    for position in range(start, len(source)):
        if source[position] == "{":
            depth += 1
        elif source[position] == "}":
            depth -= 1
            if depth == 0:
                return source[start:position]
    raise AssertionError(f"unterminated {name}")


def grad_row_numbers(attributes: str) -> list:
    """The numbers in a tensor label's grad row."""
    match = re.search(r'<FONT COLOR="#b30000">grad (.*?)</FONT>', attributes)
    assert match, f"no grad row in {attributes[:200]}"
    text = re.sub(r"<[^>]+>", " ", match.group(1))
    return [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?|nan|inf", text)]


def tooltip_grad(attributes: str) -> np.ndarray:
    match = re.search(r"; grad=(.*?)\"", attributes)
    assert match, attributes[:200]
    return np.array(eval(match.group(1)), dtype=float)  # our own repr of a list


# ---------------------------------------------------------------------------------------
# 1. Every CLI example rendered to SVG, read back
# ---------------------------------------------------------------------------------------
EXPECTED = {
    "frobenius": {"names": ["x", "norm"], "shapes": ["(3, 3) float64", "() float64"], "ops": ["sqrt", "sum", "mul"]},
    "spectral-norm": {
        "names": ["weight_orig", "weight_u", "weight_v", "bias", "weight", "x", "loss"],
        "shapes": ["(2, 3) float64", "(2,) float64", "(3,) float64", "(4, 3) float64"],
        "ops": ["linear", "matmul", "div"],
    },
    "weight-norm": {
        "names": ["weight_g", "weight_v", "bias", "weight", "x", "loss"],
        "shapes": ["(2, 1) float64", "(2, 3) float64"],
        "ops": ["linear", "sqrt", "div"],
    },
    "pixel-norm": {"names": ["x", "c", "loss"], "shapes": ["(1, 3, 2, 2) float64"], "ops": ["sqrt", "div", "mul"]},
    "mlp": {
        "names": ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "x", "loss"],
        "shapes": ["(4, 3) float64", "(2, 4) float64", "(5, 3) float64", "(5, 2) float64"],
        "ops": ["linear", "tanh", "cross_entropy"],
    },
    "mlp-spectral": {
        "names": ["fc1.weight_orig", "fc1.weight_u", "fc1.weight_v", "fc2.weight_orig", "fc2.weight_u",
                  "fc2.weight_v", "fc1.weight", "x", "loss"],
        "shapes": ["(4, 3) float64", "(2, 4) float64", "(4,) float64"],
        "ops": ["linear", "tanh", "cross_entropy", "matmul"],
    },
}
PARAMETERS = {
    "spectral-norm": ["weight_orig", "bias"], "weight-norm": ["weight_g", "weight_v", "bias"],
    "mlp": ["fc1.weight", "fc2.bias"], "mlp-spectral": ["fc1.weight_orig", "fc2.weight_orig"],
}
BUFFERS = {
    "spectral-norm": ["weight_u", "weight_v"],
    "mlp-spectral": ["fc1.weight_u", "fc1.weight_v", "fc2.weight_u", "fc2.weight_v"],
}


def test_examples_cover_the_cli_list():
    assert set(graph_examples.EXAMPLES) == set(EXPECTED)


# ---------------------------------------------------------------------------------------
# Geometry read back from the SVG: text inside its box, edges clear of cluster titles
# ---------------------------------------------------------------------------------------
#: Space kept between a line of text and any line of its box. Viewers draw text a few
#: percent wider or narrower than dot measured it (hinting, another font for Helvetica),
#: so text that merely touches a border at dot's widths is drawn across it.
CLEARANCE = 2.0


def _numbers(text: str) -> list:
    values = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", text)]
    return list(zip(values[0::2], values[1::2]))


def dot_text_widths(texts: set) -> dict:
    """(string, font size, bold) -> its width as dot measures it, from one run of ``dot``.

    Each string is laid out alone in a margin-free box, so the box is the text (the SVG
    writes a run of spaces as a space and non-breaking spaces, measured as drawn).
    """
    keys = sorted(texts)
    lines = ['digraph widths { node [shape=box margin=0 width=0 height=0 fontname="Helvetica"];']
    for index, (text, size, bold) in enumerate(keys):
        escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\xa0", "&#160;")
        if bold:
            escaped = f"<B>{escaped}</B>"
        lines.append(f"n{index} [fontsize={size} label=<{escaped}>];")
    lines.append("}")
    svg = subprocess.run(["dot", "-Tsvg"], input="\n".join(lines), capture_output=True, text=True, check=True).stdout
    widths = {}
    for group in ET.fromstring(svg).iter(f"{SVG}g"):
        if group.get("class") == "node":
            xs = [x for x, _ in _numbers(group.find(f"{SVG}polygon").get("points"))]
            widths[keys[int(group.find(f"{SVG}title").text[1:])]] = max(xs) - min(xs)
    return widths


def svg_texts(group) -> list:
    """The text lines drawn in ``group``: (string, size, bold, x0, baseline y)."""
    found = []
    for element in group.iter(f"{SVG}text"):
        found.append((element.text or "", float(element.get("font-size", "14")),
                      element.get("font-weight") == "bold", element.get("text-anchor", "start"),
                      float(element.get("x")), float(element.get("y"))))
    return found


def _placed(text, widths) -> tuple:
    """(x0, x1, top, bottom) of one text line drawn at the width dot measures."""
    string, size, bold, anchor, x, y = text
    width = widths[(string, size, bold)]
    x0 = x if anchor == "start" else x - width / 2 if anchor == "middle" else x - width
    return x0, x0 + width, y - 0.8 * size, y + 0.2 * size


def _span(polygon, y: float):
    """The horizontal extent of ``polygon`` on the line at height ``y`` (None if it misses it)."""
    crossings = []
    for (x1, y1), (x2, y2) in zip(polygon, polygon[1:] + polygon[:1]):
        if min(y1, y2) <= y <= max(y1, y2):
            crossings += [x1, x2] if y1 == y2 else [x1 + (y - y1) * (x2 - x1) / (y2 - y1)]
    return (min(crossings), max(crossings)) if crossings else None


def text_overflows(path) -> list:
    """Every text line of every node that is wider than its box, or crosses a line drawn in it.

    A line of text must keep ``CLEARANCE`` from its box's outline at its top, middle and
    baseline (so a note's folded corner counts) and from every other line drawn in the
    node (the fold's edges). Widths are dot's own, for the exact strings the SVG draws.
    Cluster titles (text nodes) must lie inside their cluster's outline.
    """
    root = ET.parse(path).getroot()
    groups = [g for g in root.iter(f"{SVG}g") if g.get("class", "").startswith(("node", "cluster"))]
    texts = {t[:3] for g in groups for t in svg_texts(g)}
    widths = dot_text_widths(texts) if texts else {}
    clusters = []
    for group in groups:
        if group.get("class") == "cluster":
            outline = group.find(f"{SVG}polygon")
            outline = outline if outline is not None else group.find(f"{SVG}path")
            points = _numbers(outline.get("points") or outline.get("d"))
            clusters.append((group.find(f"{SVG}title").text, points))
    problems = []
    for group in groups:
        if not group.get("class").startswith("node"):
            continue
        name = group.find(f"{SVG}title").text
        polygons = [_numbers(p.get("points")) for p in group.iter(f"{SVG}polygon")]
        ellipses = [tuple(float(e.get(k)) for k in ("cx", "cy", "rx", "ry")) for e in group.iter(f"{SVG}ellipse")]
        strokes = [_numbers(p.get("points")) for p in group.iter(f"{SVG}polyline")]
        for text in svg_texts(group):
            x0, x1, top, bottom = _placed(text, widths)
            if not polygons and not ellipses:   # a cluster's title: inside the cluster's outline
                inside = [c for c, points in clusters
                          if min(p[0] for p in points) + CLEARANCE <= x0 and x1 <= max(p[0] for p in points) - CLEARANCE
                          and min(p[1] for p in points) <= top and bottom <= max(p[1] for p in points)]
                if not inside:
                    problems.append(f"{name}: {text[0]!r} lies outside every cluster")
                continue
            for y in (top, (top + bottom) / 2, text[5]):
                spans = [s for s in (_span(p, y) for p in polygons) if s]
                spans += [(cx - rx * (1 - ((y - cy) / ry) ** 2) ** 0.5, cx + rx * (1 - ((y - cy) / ry) ** 2) ** 0.5)
                          for cx, cy, rx, ry in ellipses if abs(y - cy) < ry]
                left = min((s[0] for s in spans), default=math.inf)
                right = max((s[1] for s in spans), default=-math.inf)
                if x0 < left + CLEARANCE or x1 > right - CLEARANCE:
                    problems.append(f"{name}: {text[0]!r} spans x {x0:.1f}..{x1:.1f} at y {y:.1f}, "
                                    f"its box {left:.1f}..{right:.1f}")
                    break
            for stroke in strokes:
                for (ax, ay), (bx, by) in zip(stroke, stroke[1:]):
                    crosses_x = min(ax, bx) <= x1 + CLEARANCE and max(ax, bx) >= x0 - CLEARANCE
                    crosses_y = min(ay, by) <= bottom and max(ay, by) >= top
                    if crosses_x and crosses_y:
                        problems.append(f"{name}: {text[0]!r} crosses a line of its box at ({ax:.1f}, {ay:.1f})")
    return problems


def _bezier_points(d: str, steps: int = 24) -> list:
    """Points along an SVG path of cubic Bezier segments (what dot draws for an edge)."""
    points = _numbers(d)
    sampled = [points[0]]
    for start in range(0, len(points) - 3, 3):
        p0, p1, p2, p3 = points[start:start + 4]
        for step in range(1, steps + 1):
            t = step / steps
            a, b, c, e = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t ** 2, t ** 3
            sampled.append((a * p0[0] + b * p1[0] + c * p2[0] + e * p3[0],
                            a * p0[1] + b * p1[1] + c * p2[1] + e * p3[1]))
    return sampled


def edges_through_titles(path) -> list:
    """Every edge that passes through the text of a cluster's title (a title node, or a label)."""
    root = ET.parse(path).getroot()
    titles = [g for g in root.iter(f"{SVG}g") if "cluster-title" in g.get("class", "") or g.get("class") == "cluster"]
    texts = [t for g in titles for t in svg_texts(g)]
    widths = dot_text_widths({t[:3] for t in texts}) if texts else {}
    boxes = [(t[0], _placed(t, widths)) for t in texts]
    crossings = []
    for group in root.iter(f"{SVG}g"):
        if group.get("class") != "edge":
            continue
        edge = group.find(f"{SVG}title").text
        for curve in group.iter(f"{SVG}path"):
            for x, y in _bezier_points(curve.get("d")):
                hit = next((text for text, (x0, x1, top, bottom) in boxes if x0 < x < x1 and top < y < bottom), None)
                if hit is not None:
                    crossings.append(f"edge {edge} crosses the title line {hit!r}")
                    break
    return crossings


@needs_dot
@pytest.mark.parametrize("backward", [False, True], ids=["forward", "backward"])
@pytest.mark.parametrize("example", sorted(EXPECTED))
def test_example_text_fits_its_boxes_and_edges_clear_titles(example, backward, tmp_path):
    out = tmp_path / f"{example}.svg"
    assert graph_examples.main([example, "--out", str(out), *(["--backward"] if backward else [])]) == 0
    assert text_overflows(out) == []
    assert edges_through_titles(out) == []


@needs_dot
def test_the_overflow_check_finds_text_wider_than_its_box(tmp_path):
    """The checks above fail on the faults they look for: a fixed-width box, a note's fold,
    a title an edge runs through."""
    graph = "\n".join([
        'digraph { node [fontname="Helvetica" fontsize=10];',
        'narrow [shape=box fixedsize=true width=0.5 label="a label far wider than half an inch"];',
        'fold [shape=note margin="0.02,0.02" label="power iteration (no_grad)\\lv = normalize(W^T u)\\l"];',
        'subgraph cluster_a { label=""; '
        'title [shape=plaintext class="cluster-title" label="a wide cluster title line"];'
        ' inside; title -> inside [style=invis]; }',
        'above -> inside [constraint=false]; above -> title [style=invis];',
        'subgraph cluster_b { label="a cluster label, which dot draws edges through"; inner; }',
        'top -> inner; }',
    ])
    path = tmp_path / "faults.svg"
    path.write_text(subprocess.run(["dot", "-Tsvg"], input=graph, capture_output=True, text=True, check=True).stdout)
    problems = text_overflows(path)
    assert any(p.startswith("narrow: 'a label far wider than half an inch'") for p in problems), problems
    assert any(p.startswith("fold: 'power iteration (no_grad)'") for p in problems), problems
    assert not any(p.startswith(("title", "inside", "above")) for p in problems), problems
    assert edges_through_titles(path) == [
        "edge top->inner crosses the title line 'a cluster label, which dot draws edges through'"]


@needs_dot
@pytest.mark.parametrize("example", sorted(EXPECTED))
def test_example_svg_content(example, tmp_path):
    out = tmp_path / f"{example}.svg"
    assert graph_examples.main([example, "--out", str(out)]) == 0
    nodes = svg_nodes(out)
    text = all_text(nodes)
    expected = EXPECTED[example]
    for name in expected["names"]:
        node_named(nodes, name)
    for shape in expected["shapes"]:
        assert shape in text, f"{shape} missing from {example}"
    op_names = {n["texts"][0] for n in nodes.values() if n["class"].startswith("node op")}
    for op in expected["ops"]:
        assert op in op_names, f"op {op} missing from {example}: {sorted(op_names)}"
    # The output carries the output colour, parameters theirs, u and v the buffer colour.
    output_name = "norm" if example == "frobenius" else "loss"
    assert ROLE_COLORS["output"] in node_named(nodes, output_name)["fills"]
    for name in PARAMETERS.get(example, []):
        assert ROLE_COLORS["parameter"] in node_named(nodes, name)["fills"], name
    for name in BUFFERS.get(example, []):
        node = node_named(nodes, name)
        assert ROLE_COLORS["buffer"] in node["fills"], name
        assert ROLE_COLORS["parameter"] not in node["fills"]
    # The batch x is an input (green), whether or not it requires grad; never "constant".
    x = node_named(nodes, "x")
    assert ROLE_COLORS["input"] in x["fills"] and x["class"] == "node tensor input"
    # Node names are the sequential ones, never a raw id().
    for title, node in nodes.items():
        assert NODE_NAME.match(title), title
        assert node["id"] == title
    svg = out.read_text()
    for element_id in re.findall(r'id="([^"]+)"', svg):
        assert re.match(r"^(a_)?((t|op|norm|note|hidden|label)\d+|graph\d|clust\d+|edge\d+)$", element_id), element_id
    for title in re.findall(r"<title>([^<]+)</title>", svg):
        assert not re.search(r"\d{6,}", title), title


@needs_dot
def test_spectral_norm_cluster_shows_power_iteration_feeding_sigma(tmp_path):
    out = tmp_path / "sn.svg"
    assert graph_examples.main(["spectral-norm", "--out", str(out)]) == 0
    svg = out.read_text()
    # Each cluster's title is a text node drawn first inside it (SVG does not nest clusters,
    # so membership is read from the DOT source).
    nodes = svg_nodes(out)
    titles = {title: " ".join(node["texts"]) for title, node in nodes.items() if "cluster-title" in node["class"]}
    assert len(titles) == 2
    source = graph_examples.build("spectral-norm").source
    norm_title, = [t for t in titles.values() if t.startswith("spectral_norm(weight)")]
    assert "fused op 'spectral_normalize'" in norm_title   # norms.spectral's op
    assert "drawn as the composite it equals" in norm_title
    assert "weight_orig / sigma" in norm_title
    assert list(titles.values()).count("no gradient") == 1
    no_grad_block = cluster_block(source, "cluster_norm0_nograd")
    assert re.search(r'label\d+ \[label="no gradient" class="cluster-title"', no_grad_block)
    # the titles sit above everything in their cluster: invisible edges from each title
    assert len(re.findall(r"label\d+ -> \w+ \[style=invis\]", source)) >= 3
    no_grad_block = cluster_block(source, "cluster_norm0_nograd")
    for name in ("<B>weight_u</B>", "<B>weight_v</B>", "power iteration (no_grad)", "v = normalize(W^T u)"):
        assert name in no_grad_block, name
    norm_block = cluster_block(source, "cluster_norm0")
    assert "<B>matmul</B>" in norm_block and "<B>div</B>" in norm_block    # sigma, then W / sigma
    assert "<B>weight_orig</B>" not in norm_block and "<B>linear</B>" not in norm_block
    # ... and W reaches the iteration only as a detached (dashed) edge.
    dashed = [line for line in source.splitlines() if "W (detached)" in line]
    assert len(dashed) == 1 and "style=dashed" in dashed[0]
    assert "weight_orig" in svg


def test_collapse_true_draws_each_norm_as_one_node():
    source = graph_examples.build("mlp-spectral", collapse=True).source
    nodes = dot_nodes(source)
    norms = [name for name in nodes if name.startswith("norm")]
    assert len(norms) == 2
    assert "cluster_" not in source and "power iteration" not in source
    # the collapsed norm consumes weight_orig, u, v and produces the weight
    expanded = dot_nodes(graph_examples.build("mlp-spectral").source)
    assert len(nodes) < len(expanded)
    for norm in norms:
        inputs = re.findall(rf"(\w+) -> {norm}\b", source)
        assert len(inputs) == 3


def test_same_graph_same_source():
    assert graph_examples.build("mlp-spectral").source == graph_examples.build("mlp-spectral").source


# ---------------------------------------------------------------------------------------
# A fused norm op, drawn through the FUSED_OP_VIEWS hook
# ---------------------------------------------------------------------------------------
@pytest.fixture
def fused_norm():
    from minigrad.ops.registry import Primitive, apply, register, unregister

    class _TestFrobenius(Primitive):
        name = "test_frobenius_norm"
        formula = "grad_x = g * x / ||x||_F"

        @staticmethod
        def forward(ctx, x):
            return np.sqrt(np.sum(x * x))

        @staticmethod
        def vjp(ctx, grad):
            (x,) = ctx.parents
            return (grad * x / ctx.output,)

    register(_TestFrobenius)
    viz.register_view("test_frobenius_norm", "Frobenius norm ||x||_F",
                           composite=lambda x: mg.sqrt(mg.sum(x * x)))
    try:
        yield lambda x: apply(_TestFrobenius, x)
    finally:
        unregister("test_frobenius_norm")
        viz.FUSED_OP_VIEWS.pop("test_frobenius_norm", None)


def test_fused_norm_is_a_cluster_expanded_into_its_composite(fused_norm):
    x = mg.tensor([[3.0, 0.0], [0.0, 4.0]], requires_grad=True, name="x")
    y = fused_norm(x)
    y.name = "norm"
    source = draw_graph(y).source
    assert "subgraph cluster_norm0" in source
    assert "Frobenius norm ||x||_F" in source and "fused op 'test_frobenius_norm'" in source
    cluster = source.split("subgraph cluster_norm0")[1]
    for op in ("<B>mul</B>", "<B>sum</B>", "<B>sqrt</B>"):
        assert op in cluster
    assert "expanded" in cluster  # inner tensors marked as the expansion of the fused op
    assert "data 5" in source     # the composite's result is the fused op's output (norm = 5)
    collapsed = draw_graph(y, collapse=True).source
    assert "cluster" not in collapsed and "<B>mul</B>" not in collapsed
    assert len([n for n in dot_nodes(collapsed) if n.startswith("norm")]) == 1


def test_fused_norm_backward_view_recomputes_inner_gradients(fused_norm):
    x = mg.tensor([[3.0, 0.0], [0.0, 4.0]], requires_grad=True, name="x")
    y = fused_norm(x)
    with record_grads(y):
        y.backward()
    source = draw_graph(y, backward=True).source
    assert "recomputed through the composite" in source
    cluster = cluster_block(source, "cluster_norm0")
    # x*x feeds sum then sqrt: its gradient is 1 / (2 ||x||) = 0.1 in every entry
    inner = [a for n, a in dot_nodes(cluster).items() if "expanded" in a and "data [[9, 0]" in a]
    assert len(inner) == 1
    np.testing.assert_allclose(tooltip_grad(inner[0]), np.full((2, 2), 0.1), rtol=1e-12)
    np.testing.assert_allclose(tooltip_grad(dot_nodes(source)["t0"]), x.grad.data, rtol=0)


@pytest.mark.parametrize("norm", ["pixel_norm", "layer_norm", "rms_norm", "weight_norm"])
def test_norms_fused_ops_are_expanded_clusters(norm):
    norms = pytest.importorskip("norms")
    rng = np.random.default_rng(0)
    x = mg.tensor(rng.standard_normal((2, 3)), requires_grad=True, name="x")
    w = mg.tensor(rng.standard_normal(3), requires_grad=True, name="w")
    b = mg.tensor(rng.standard_normal(3), requires_grad=True, name="b")
    y = {
        "pixel_norm": lambda: norms.pixel_norm(x, axis=1),
        "layer_norm": lambda: norms.layer_norm(x, (3,), w, b),
        "rms_norm": lambda: norms.rms_norm(x, (3,), w),
        "weight_norm": lambda: norms.weight_normalize(mg.tensor([[2.0], [1.0]], requires_grad=True), x),
    }[norm]()
    loss = mg.sum(y * mg.tensor(rng.standard_normal(y.shape)))
    with record_grads(loss):
        loss.backward()
    source = draw_graph(loss, backward=True).source
    cluster = cluster_block(source, "cluster_norm0")
    assert f"fused op '{norm}'" in cluster and "drawn as the composite" in cluster
    assert "<B>sqrt</B>" in cluster and "style=\"filled,dashed\"" in cluster
    assert "recomputed through the composite" in cluster
    collapsed = draw_graph(loss, collapse=True).source
    assert "cluster" not in collapsed and "<B>sqrt</B>" not in collapsed


# ---------------------------------------------------------------------------------------
# A module parametrization, drawn through the finder hook (viz knows no particular norm)
# ---------------------------------------------------------------------------------------
class _Rescaled(mg.nn.Module):
    """weight = raw / sum(raw * s), s a state updated without gradient (a stand-in for any parametrization)."""

    def __init__(self):
        super().__init__()
        self.raw = mg.nn.Parameter(np.array([[1.0, 2.0], [3.0, 4.0]]))
        self._s = mg.tensor([2.0, 3.0])    # underscored: no name from the module itself

    def forward(self, x):
        self.weight = self.raw / mg.sum(self.raw * self._s)
        return mg.matmul(x, self.weight)


def _find_rescaled(prefix: str, module) -> list:
    if not isinstance(module, _Rescaled):
        return []
    return [viz.ParametrizationView(
        weight=module.weight, label=f"rescaled({prefix or 'model'})\nweight = raw / sum(raw * s)",
        no_grad=[(module._s, "rescaled_s")], no_grad_source=module.raw, no_grad_source_label="raw (read)",
        no_grad_label="s: updated without gradient", divisor_name="total",
    )]


@pytest.fixture
def rescaled_finder():
    from minigrad.viz.views import PARAMETRIZATION_FINDERS

    viz.register_parametrization_finder(_find_rescaled)
    try:
        yield
    finally:
        PARAMETRIZATION_FINDERS.remove(_find_rescaled)


def _rescaled_loss():
    model = _Rescaled()
    loss = mg.sum(model(mg.tensor([[1.0, -1.0]], name="x")))
    loss.name = "loss"
    return loss, model


def test_registered_parametrization_is_a_cluster_with_its_no_grad_part(rescaled_finder):
    loss, model = _rescaled_loss()
    source = draw_graph(loss, params=model).source
    cluster = cluster_block(source, "cluster_norm0")
    assert 'label="rescaled(model)\\nweight = raw / sum(raw * s)"' in cluster
    for op in ("<B>mul</B>", "<B>sum</B>", "<B>div</B>"):
        assert op in cluster, op
    assert "<B>matmul</B>" not in cluster
    no_grad = cluster_block(source, "cluster_norm0_nograd")
    assert "s: updated without gradient" in no_grad
    # the no-grad tensor takes the finder's name and the buffer colour
    assert f'BGCOLOR="{ROLE_COLORS["buffer"]}"><TR><TD ALIGN="LEFT" BALIGN="LEFT"><B>rescaled_s</B>' in no_grad
    # raw reaches the no-grad note by a dashed edge with the finder's label
    labelled = [line for line in source.splitlines() if 'label="raw (read)"' in line]
    assert len(labelled) == 1 and "style=dashed" in labelled[0]
    # the divisor of the weight (sum(raw * s) = 2 + 6 + 6 + 12) is named as the finder asked
    total, = [a for a in dot_nodes(cluster).values() if "<B>total</B>" in a]
    assert "data 26<" in total
    collapsed = draw_graph(loss, params=model, collapse=True).source
    assert "cluster" not in collapsed and "<B>rescaled(model)</B>" in collapsed


def test_without_its_finder_a_parametrization_is_plain_ops():
    loss, model = _rescaled_loss()
    source = draw_graph(loss, params=model).source
    assert "cluster" not in source and "rescaled_s" not in source and "<B>total</B>" not in source


def test_viz_names_no_norms_module():
    # The drawing engine learns about the norms only through the hooks that norms.views fills.
    from pathlib import Path

    folder = Path(viz.__file__).parent
    named = [(path.name, line) for path in sorted(folder.glob("*.py")) for line in path.read_text().splitlines()
             if re.search(r"\bnorms\.\w|\bimport norms\b|_orig\b|n_power_iterations", line)]
    assert named == []
    assert {"spectral_normalize", "weight_norm", "pixel_norm"} <= set(viz.FUSED_OP_VIEWS)   # filled by norms


def test_same_graph_same_source_in_a_fresh_process():
    # Vertex keys hold id()s, which differ between runs: nothing emitted may follow their hash order.
    program = ("from norms.app import graph_examples; import hashlib; "
               "print(hashlib.sha256(graph_examples.build('pixel-norm', max_nodes=12).source.encode()).hexdigest(), "
               "hashlib.sha256(graph_examples.build('mlp-spectral').source.encode()).hexdigest())")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    runs = {subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True,
                           check=True).stdout for _ in range(3)}
    assert len(runs) == 1


# ---------------------------------------------------------------------------------------
# 2. The node budget on a graph of 100,000 ops
# ---------------------------------------------------------------------------------------
def test_deep_chain_is_collapsed_within_budget():
    x = mg.tensor(0.5, requires_grad=True, name="x")
    y = x
    for _ in range(100_000):
        y = mg.tanh(y)
    y.name = "out"
    limit = sys.getrecursionlimit()
    dot = draw_graph(y, max_nodes=40)
    assert sys.getrecursionlimit() == limit
    nodes = dot_nodes(dot.source)
    assert len(nodes) <= 40
    title = re.search(r'label="(.*?)" labeljust', dot.source).group(1)
    match = re.search(r"collapsed: ([\d,]+) of ([\d,]+) nodes hidden \(node budget 40\)", title)
    assert match, title
    hidden, total = (int(g.replace(",", "")) for g in match.groups())
    assert total == 200_001                      # 100,000 ops + 100,000 results + x
    assert hidden == total - (len(nodes) - 1)    # everything not drawn, minus the "⋯" node
    assert "repeats of [tanh]" in dot.source and "tanh x99,996" in dot.source


def test_wide_graph_is_truncated_within_budget():
    x = mg.tensor(np.arange(3.0), requires_grad=True, name="x")
    parts = [mg.sum(x * float(i)) for i in range(300)]
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    for budget in (25, 100):
        source = draw_graph(total, max_nodes=budget).source
        assert len(dot_nodes(source)) <= budget
        assert "nodes hidden" in source


def test_small_graph_is_not_collapsed():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    source = draw_graph((x * x).sum()).source
    assert "hidden" not in source


# ---------------------------------------------------------------------------------------
# 3. The backward view shows the gradients the tensors have
# ---------------------------------------------------------------------------------------
def test_backward_view_gradients_equal_grad_values():
    output, model, _ = graph_examples.EXAMPLES["mlp-spectral"]()
    with record_grads(output):
        output.backward()
    source = draw_graph(output, params=model, backward=True).source
    nodes = dot_nodes(source)
    by_name = {}
    for name, attributes in nodes.items():
        match = re.search(r"<B>([\w.]+)</B>", attributes)
        if name.startswith("t") and match:
            by_name[match.group(1)] = attributes
    checked = 0
    for name, param in model.named_parameters():
        attributes = by_name[name]
        grad = param.grad.data
        # the full-precision value (tooltip) is exactly .grad
        np.testing.assert_array_equal(tooltip_grad(attributes), grad)
        shown = grad_row_numbers(attributes)
        if grad.size <= 6:
            np.testing.assert_allclose(shown, grad.reshape(-1), rtol=1e-3, atol=1e-12)
        else:
            np.testing.assert_allclose(shown, [grad.min(), grad.mean(), grad.max()], rtol=1e-3, atol=1e-12)
        checked += 1
    assert checked == 4   # fc1.weight_orig, fc1.bias, fc2.weight_orig, fc2.bias
    # the loss's own gradient is 1, and each op shows its VJP formula
    np.testing.assert_array_equal(tooltip_grad(by_name["loss"]), 1.0)
    assert "VJP: d(a@b): grad_a = g @ b^T" in source
    assert "VJP: grad_z = (softmax(z) - onehot(t)) * g / N" in source
    assert "dir=back" in source
    # intermediate tensors carry the recorded gradients too
    assert sum("grad=" in a for a in nodes.values()) > 10
    assert "not recorded" not in source


def test_backward_view_says_when_gradients_were_not_recorded():
    x = mg.tensor([1.0, 2.0], requires_grad=True, name="x")
    y = mg.sum(mg.tanh(x))
    y.backward()
    source = draw_graph(y, backward=True).source
    assert "gradients of intermediate tensors were not recorded" in source
    assert "record_grads" in source
    np.testing.assert_array_equal(tooltip_grad(dot_nodes(source)["t0"]), x.grad.data)


# ---------------------------------------------------------------------------------------
# 4. Without dot on PATH
# ---------------------------------------------------------------------------------------
def test_without_dot_dot_output_works_and_svg_fails_with_hint(tmp_path, monkeypatch, capsys):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert not viz.dot_available()
    dot_file = tmp_path / "mlp.dot"
    assert graph_examples.main(["mlp", "--out", str(dot_file)]) == 0
    assert dot_file.read_text().startswith("digraph minigrad {")
    capsys.readouterr()
    svg_file = tmp_path / "mlp.svg"
    assert graph_examples.main(["mlp", "--out", str(svg_file)]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "apt-get install graphviz" in err and "Traceback" not in err
    assert not svg_file.exists()


def test_without_dot_cli_subprocess(tmp_path):
    env = dict(os.environ, PATH=str(tmp_path))
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    program = "import sys; from norms.app.cli import main; sys.exit(main(sys.argv[1:]))"
    command = [sys.executable, "-c", program, "graph"]
    ok = subprocess.run(command + ["frobenius", "--out", str(tmp_path / "f.dot")], env=env, capture_output=True,
                        text=True)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(command + ["frobenius", "--out", str(tmp_path / "f.svg")], env=env, capture_output=True,
                         text=True)
    assert bad.returncode != 0
    assert bad.stderr.strip().count("\n") == 0 and "apt-get install graphviz" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_unknown_example_and_format_are_one_line_errors(tmp_path, capsys):
    from norms.app.cli import CommandError

    assert graph_examples.main(["mlp", "--out", str(tmp_path / "x.jpg")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"minigrad graph: cannot tell the format of --out '{tmp_path / 'x.jpg'}'; end it in .svg")
    args = type("Args", (), {"example": "nope", "out": str(tmp_path / "x.dot"), "backward": False})()
    with pytest.raises(CommandError, match="no example named 'nope'; choose one of frobenius"):
        graph_examples.run(args)
    assert not (tmp_path / "x.dot").exists()


# ---------------------------------------------------------------------------------------
# Labels: names, roles, symbolic data, summaries; Jupyter
# ---------------------------------------------------------------------------------------
def test_names_from_params_dict_and_roles():
    w = mg.tensor([[1.0, 2.0]], requires_grad=True)
    state = mg.tensor([3.0])
    x = mg.tensor([[1.0], [1.0]], requires_grad=True)
    y = mg.sum(mg.matmul(x, w) * state)
    source = draw_graph(y, params={"w": w, "state": state}).source
    assert f'BGCOLOR="{ROLE_COLORS["parameter"]}"><TR><TD ALIGN="LEFT" BALIGN="LEFT"><B>w</B>' in source
    assert f'BGCOLOR="{ROLE_COLORS["buffer"]}"><TR><TD ALIGN="LEFT" BALIGN="LEFT"><B>state</B>' in source
    assert f'BGCOLOR="{ROLE_COLORS["input"]}"' in source        # x: requires grad, not a parameter
    assert f'BGCOLOR="{ROLE_COLORS["output"]}"' in source
    with pytest.raises(TypeError, match="params\\['w'\\] is a list"):
        draw_graph(y, params={"w": [1.0]})


def test_symbolic_labels_show_short_expressions():
    x = mg.symbols("x", (2,))
    y = mg.sum(x * x)
    source = draw_graph(y).source
    assert "x_0**2 + x_1**2" in source and "sympy" in source
    big = mg.symbols("a", (3, 3))
    z = mg.sum(mg.matmul(big, big))
    assert "symbolic, 1 entries (longest" in draw_graph(z).source


def test_summaries():
    assert viz.summarize(np.array([1.0, 2.5])) == "[1, 2.5]"
    assert viz.summarize(np.arange(10.0)) == "min 0  mean 4.5  max 9"
    assert viz.summarize(np.array(3.0)) == "3"


def test_show_displays_in_jupyter():
    y = mg.sum(mg.tensor([1.0, 2.0], requires_grad=True) * 2.0)
    view = viz.show(y)
    assert view.source.startswith("digraph minigrad {")
    bundle = view._repr_mimebundle_()
    if HAVE_DOT:
        assert "<svg" in bundle["image/svg+xml"]
    else:
        assert "apt-get install graphviz" in bundle["text/plain"]
    assert hasattr(draw_graph(y), "_repr_mimebundle_")   # the Digraph displays itself too
    assert not hasattr(mg.Tensor, "_repr_svg_")


def test_bad_arguments():
    with pytest.raises(ValueError, match="at least one tensor"):
        draw_graph()
    with pytest.raises(TypeError, match="not a minigrad Tensor"):
        draw_graph(np.zeros(2))
    with pytest.raises(ValueError, match="rankdir"):
        draw_graph(mg.tensor(1.0), rankdir="up")


def test_several_outputs_share_one_graph():
    x = mg.tensor([1.0, -2.0], requires_grad=True, name="x")
    h = mg.tanh(x)
    a, b = mg.sum(h), mg.sum(h * h)
    a.name, b.name = "a", "b"
    source = draw_graph(a, b, rankdir="LR").source
    nodes = dot_nodes(source)
    assert sum("<B>tanh</B>" in attrs for attrs in nodes.values()) == 1     # drawn once
    assert sum(f'BGCOLOR="{ROLE_COLORS["output"]}"' in attrs for attrs in nodes.values()) == 2
    assert "rankdir=LR" in source
