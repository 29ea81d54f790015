"""The graphs behind ``minigrad graph EXAMPLE --out FILE``: small models worth looking at.

    minigrad graph spectral-norm --out sn.svg             # the forward graph
    minigrad graph mlp-spectral --out mlp.svg --backward   # gradients and VJPs
    python -m norms.app.graph_examples mlp --out mlp.dot    # the same, without the CLI

Each example builds its graph with the norms package (spectral_norm, weight_norm,
frobenius_norm, pixel_norm), whose fused ops are drawn as clusters through the views that
``norms.views`` registers. The output format follows the suffix: .svg, .png, .pdf need
Graphviz's ``dot``; .dot is the DOT text, .html the page that steps through backward.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

import minigrad as mg
from minigrad import nn, viz
from minigrad.autograd import record_grads
from norms import frobenius_norm, pixel_norm, spectral_norm, weight_norm


# ---------------------------------------------------------------------------------------
# The examples: each returns (output, params, title)
# ---------------------------------------------------------------------------------------
class MLP(nn.Module):
    """3 -> 4 -> 2 with tanh, small enough to read every number in the picture."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.fc2 = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc2(mg.tanh(self.fc1(x)))


def _named(tensor, name: str):
    tensor.name = name
    return tensor


def example_frobenius():
    x = mg.tensor(np.arange(9.0).reshape(3, 3), requires_grad=True, name="x")
    return _named(frobenius_norm(x), "norm"), None, "Frobenius norm of arange(9) (= 14.2829)"


def _linear_example(parametrize, title: str):
    mg.manual_seed(0)
    layer = parametrize(nn.Linear(3, 2))
    x = mg.tensor(np.random.default_rng(1).standard_normal((4, 3)), name="x")
    y = layer(x)
    return _named(mg.mean(y * y), "loss"), layer, title


def example_spectral_norm():
    return _linear_example(spectral_norm, "Linear(3, 2) with spectral_norm: loss = mean(y^2)")


def example_weight_norm():
    return _linear_example(weight_norm, "Linear(3, 2) with weight_norm: loss = mean(y^2)")


def example_pixel_norm():
    rng = np.random.default_rng(2)
    x = mg.tensor(rng.standard_normal((1, 3, 2, 2)), requires_grad=True, name="x")
    c = mg.tensor(rng.standard_normal((1, 3, 2, 2)), name="c")
    y = pixel_norm(x, axis=1)
    return _named(mg.sum(y * c), "loss"), None, "PixelNorm over channels: loss = sum(pixel_norm(x) * c)"


def _mlp_example(parametrize, title: str):
    mg.manual_seed(0)
    model = MLP()
    if parametrize is not None:
        parametrize(model.fc1)
        parametrize(model.fc2)
    rng = np.random.default_rng(3)
    x = mg.tensor(rng.standard_normal((5, 3)), name="x")
    target = np.array([0, 1, 1, 0, 1])
    loss = mg.cross_entropy(model(x), target)
    return _named(loss, "loss"), model, title


def example_mlp():
    return _mlp_example(None, "MLP 3-4-2 (tanh), cross-entropy loss")


def example_mlp_spectral():
    return _mlp_example(spectral_norm, "MLP 3-4-2 with spectral_norm on both Linear layers")


EXAMPLES: dict = {
    "frobenius": example_frobenius,
    "spectral-norm": example_spectral_norm,
    "weight-norm": example_weight_norm,
    "pixel-norm": example_pixel_norm,
    "mlp": example_mlp,
    "mlp-spectral": example_mlp_spectral,
}


def build(example: str, backward: bool = False, **options):
    """The Digraph of ``example`` (after a recorded backward pass when ``backward``)."""
    if example not in EXAMPLES:
        raise KeyError(f"unknown example {example!r}; choose one of {', '.join(EXAMPLES)}")
    output, params, title = EXAMPLES[example]()
    if backward:
        with record_grads(output):
            output.backward()
        title += " (backward pass)"
    return viz.draw_graph(output, params=params, title=title, backward=backward, **options)


# ---------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The arguments of ``minigrad graph`` (shared by the CLI and ``python -m``)."""
    parser.add_argument("example", choices=list(EXAMPLES), help="which graph to draw")
    parser.add_argument("--out", required=True, help="output file: .svg, .png, .pdf (need Graphviz), .dot, "
                        "or .html (a page that steps through backward)")
    parser.add_argument("--backward", action="store_true", help="draw the backward pass: gradients and VJPs")
    parser.add_argument("--collapse", action="store_true", help="draw each norm as one node")
    parser.add_argument("--max-nodes", type=int, default=viz.DEFAULT_MAX_NODES, help="node budget")
    parser.add_argument("--rankdir", default="TB", choices=["TB", "LR"], help="layout direction")
    return parser


def _check_request(example: str, out: str) -> None:
    """Refuse an unknown example, an unknown format or an output folder that does not exist."""
    import os

    from norms.app.cli import CommandError

    if example not in EXAMPLES:
        raise CommandError(f"no example named {example!r}; choose one of {', '.join(EXAMPLES)}")
    suffix = out.rsplit(".", 1)[-1].lower() if "." in os.path.basename(out) else ""
    if suffix not in viz.FORMATS + ("html",):
        raise CommandError(f"cannot tell the format of --out {out!r}; end it in .svg, .png, .pdf, .dot or .html")
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise CommandError(f"cannot write --out {out!r}: the folder {folder} does not exist; create it first "
                           f"or write somewhere else")
    if not os.access(folder, os.W_OK):
        raise CommandError(f"cannot write --out {out!r}: no permission to write in {folder}; "
                           f"write somewhere else")


def run(args) -> int:
    """``minigrad graph``: draw an example and write it; returns the exit code (2 for bad input)."""
    from norms.app.cli import CommandError

    _check_request(args.example, args.out)
    if args.out.lower().endswith(".html"):   # the interactive page that steps through backward
        output, params, title = EXAMPLES[args.example]()
        page = viz.backward_stepper(
            output, params=params, title=title, collapse=True if getattr(args, "collapse", False) else None,
            max_nodes=getattr(args, "max_nodes", viz.DEFAULT_MAX_NODES), rankdir=getattr(args, "rankdir", "TB"))
        try:
            page.save(args.out)
        except OSError as error:
            raise CommandError(f"cannot write --out {args.out!r}: {error.strerror or error}; "
                               f"write somewhere else") from None
        print(f"wrote {args.out}")
        return 0
    dot = build(
        args.example, backward=getattr(args, "backward", False),
        collapse=True if getattr(args, "collapse", False) else None,
        max_nodes=getattr(args, "max_nodes", viz.DEFAULT_MAX_NODES),
        rankdir=getattr(args, "rankdir", "TB"),
    )
    try:
        viz.render(dot, args.out)
    except viz.DotNotFound as error:
        raise CommandError(str(error.args[0] if error.args else error)) from None
    except OSError as error:
        raise CommandError(f"cannot write --out {args.out!r}: {error.strerror or error}; "
                           f"write somewhere else") from None
    print(f"wrote {args.out}")
    return 0


def main(argv=None) -> int:
    """``python -m norms.app.graph_examples``: the same as ``minigrad graph``."""
    from norms.app.cli import CommandError

    parser = add_arguments(argparse.ArgumentParser(prog="minigrad graph", description=__doc__.split("\n")[0]))
    try:
        return run(parser.parse_args(argv))
    except CommandError as error:
        print(f"minigrad graph: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
