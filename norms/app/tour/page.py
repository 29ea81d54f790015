"""Section 6 of the tour: the graphs (SVG), the plots (PNG) and report.html, written into ``--out``."""
from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from norms.app.tour.findings import TOLERANCE, TourReport, fmt

# ---------------------------------------------------------------------------------------
# 6. Files: graphs, plots, report.html
# ---------------------------------------------------------------------------------------
def write_graphs(report: TourReport, out: Path) -> None:
    from minigrad import viz
    from norms.app import graph_examples

    for name in ("spectral-norm", "weight-norm", "pixel-norm", "mlp-spectral"):
        for backward in (False, True):
            stem = f"graph-{name}{'-backward' if backward else ''}"
            dot = graph_examples.build(name, backward=backward)
            try:
                viz.render(dot, str(out / f"{stem}.svg"))
                report.files[stem] = f"{stem}.svg"
            except viz.DotNotFound as error:
                viz.render(dot, str(out / f"{stem}.dot"))
                report.files[stem] = f"{stem}.dot"
                if "dot" not in " ".join(report.notes):
                    report.notes.append(str(error.args[0] if error.args else error))


def write_plots(report: TourReport, spectral: dict | None, out: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        report.notes.append("matplotlib is not installed (pip install minigrad[dev]): no plots")
        return
    if spectral is not None:
        _plot_singular_values(plt, spectral, report, out)
    if report.training:
        _plot_training(plt, report, out)


def _plot_singular_values(plt, spectral: dict, report: TourReport, out: Path) -> None:
    figure, axis = plt.subplots(figsize=(5, 3.2))
    positions = np.arange(2)
    for offset, (key, label) in enumerate((("before", "before"), ("first", "1st forward"), ("second", "2nd forward"))):
        axis.bar(positions + (offset - 1) * 0.27, spectral[key], width=0.27, label=label)
    axis.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
    axis.set_xticks(positions, ["sigma_1", "sigma_2"])
    axis.set_title("Singular values of the post's weight")
    axis.legend()
    figure.tight_layout()
    figure.savefig(out / "singular-values.png", dpi=110)
    plt.close(figure)
    report.files["singular-values"] = "singular-values.png"


def _plot_training(plt, report: TourReport, out: Path) -> None:
    figure, axis = plt.subplots(figsize=(5, 3.2))
    for label, style in (("plain", "-"), ("spectral norm", "--")):
        if label not in report.training:
            continue
        sigmas = report.training[label]["sigmas"]
        for layer in range(sigmas.shape[1]):
            axis.plot(sigmas[:, layer], style, label=f"{label}, layer {layer + 1}")
    axis.set_xlabel("step")
    axis.set_ylabel("largest singular value")
    axis.set_title("sigma_max per layer during training")
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(out / "sigma-per-layer.png", dpi=110)
    plt.close(figure)
    report.files["sigma-per-layer"] = "sigma-per-layer.png"

    figure, axis = plt.subplots(figsize=(5, 3.2))
    for label, result in report.training.items():
        axis.plot(result["losses"], label=label)
    axis.set_yscale("log")  # the scaled runs start an order of magnitude higher
    axis.set_xlabel("step")
    axis.set_ylabel("cross-entropy")
    axis.set_title("Training loss")
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(out / "loss.png", dpi=110)
    plt.close(figure)
    report.files["loss"] = "loss.png"


def _table(headers: list, rows: list, css: str = "") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    klass = f" class='{css}'" if css else ""
    return f"<table{klass}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


COMPARISON_HEADERS = ["quantity", "the post", "minigrad", "tolerance (absolute, per entry)", "verdict"]


def _comparisons(report: TourReport, section: str) -> str:
    rows = [(c.quantity, c.post_text(), c.ours_text(), c.tolerance_text(), c.verdict())
            for c in report.comparisons if c.section == section]
    return _table(COMPARISON_HEADERS, rows, "comparisons") if rows else ""


def _meaning(report: TourReport, key: str) -> str:
    text = report.meaning.get(key)
    if not text:
        return ""
    return "".join(f"<p class='meaning'>{html.escape(line)}</p>" for line in text.split("\n"))


def write_html(report: TourReport, out: Path) -> Path:
    """report.html: every table with its tolerance and verdict, each section closed by what it means."""
    from minigrad.verification.checks import FD_RTOL

    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>minigrad tour</title>",
        "<style>body{font-family:sans-serif;max-width:980px;margin:2em auto;line-height:1.4}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;font-size:90%}"
        "img{max-width:100%;border:1px solid #eee;margin:0.5em 0}"
        "pre{background:#f6f6f6;padding:0.6em;white-space:pre-wrap;overflow-wrap:anywhere}"
        "p.meaning{border-left:3px solid #9bb;padding-left:0.6em}</style>",
        "</head><body><h1>minigrad tour</h1>",
        f"<p>Status: <b>{'every check passed' if report.ok else 'SOME CHECKS FAILED'}</b>. The post prints four "
        f"decimals, so its numbers are matched to {TOLERANCE:g}; a quantity the post does not print is compared "
        f"with what it must equal, at the tolerance shown.</p>",
        "<h2>The reference post, reproduced</h2>",
    ]
    for section in ("spectral norm", "weight norm", "Frobenius norm", "PixelNorm"):
        parts.append(f"<h3>{html.escape(section)}</h3>")
        parts.append(_comparisons(report, section))
        parts.append(_meaning(report, section))
    check_rows = [
        (r["norm"], r["shape"], f"{r['fd']:.1e}", f"{FD_RTOL:.0e} relative", r["sympy"], r["closed"],
         "ok" if r["ok"] else "FAILED")
        for r in report.checks
    ]
    parts += [
        "<h2>Every norm's gradient, three ways</h2>",
        _table(["norm", "shape", "finite differences (max rel. error)", "tolerance", "SymPy (exact)",
                "closed form (exact)", "verdict"], check_rows, "checks"),
        _meaning(report, "checks"),
        "<h2>Gradients as formulas</h2>",
    ]
    for title, text, latex in report.formulas:
        parts.append(f"<h3>{html.escape(title)}</h3><pre>{html.escape(text)}</pre>"
                     f"<p>LaTeX: <code>{html.escape(latex)}</code></p>")
    parts.append(_comparisons(report, "formulas"))
    parts.append(_meaning(report, "formulas"))
    if report.training:
        steps = len(next(iter(report.training.values()))["losses"])
        parts.append("<h2>Training with and without spectral norm</h2>")
        parts.append(f"<p>A 2-32-32-2 tanh MLP on two moons (256 points), SGD with momentum 0.9, {steps} steps. "
                     "The Lipschitz bound is the product of the layers' sigma_max times the scales; the steepest "
                     "slope is the largest ||d(logit_1 - logit_0)/dx|| over the data.</p>")
        rows = [
            (label, f"{r['input_scale']:g}", f"{r['logit_scale']:g}", fmt(r["sigmas"][-1]),
             f"{r['lipschitz_bound']:.1f}", f"{r['slope']:.2f}", f"{r['bent']:.0%}", f"{r['losses'][-1]:.4f}",
             f"{r['accuracy']:.1%}")
            for label, r in report.training.items()
        ]
        if report.training_baseline:
            base = report.training_baseline
            rows.append(("linear classifier (no hidden layer)", "1", "1", "-", "-", "-", "-",
                         f"{base['loss']:.4f}", f"{base['accuracy']:.1%}"))
        parts.append(_table(["model", "input scale", "logit scale", "final sigma_max per layer", "Lipschitz bound",
                             "steepest slope", "pre-activations with |h| > 1", "final loss", "accuracy"],
                            rows, "training"))
        parts.append(_comparisons(report, "training"))
        parts.append(_meaning(report, "training"))
    if report.gan:
        summary, config = report.gan["summary"], report.gan["config"]
        parts.append("<h2>Spectral norm in a GAN</h2>")
        parts.append(f"<p>A GAN on a ring of 8 Gaussians (radius 2, std 0.02): G maps 2-d noise through two hidden "
                     f"layers of {config.hidden} ReLU units to the plane, D maps a point through two of "
                     f"{config.hidden} LeakyReLU units to a logit; non-saturating loss, Adam (lr "
                     f"{config.lr_discriminator:g}, betas {tuple(config.betas)}), batch {config.batch}, "
                     f"{config.steps} steps, {summary['seeds']} seeds; the two arms differ only in spectral norm on "
                     f"every layer of D. A sample is high quality within 3 std of a centre; a mode is covered "
                     f"when at least 20 of {config.eval_samples} samples are high quality at it.</p>")
        rows = []
        for arm in ("with_spectral_norm", "without_spectral_norm"):
            row = summary[arm]
            modes = f"{row['modes_median']:g} ({row['modes_range'][0]}-{row['modes_range'][1]})"
            rows.append((arm.replace("_", " "), modes,
                         f"{row['high_quality_median']:.1%}", fmt(row["sigmas_median"]),
                         f"{row['lipschitz_bound_median']:.3f}", f"{row['lipschitz_measured_median']:.3f}",
                         f"{row['seconds']:.1f}"))
        parts.append(_table(["discriminator", "modes covered of 8: median (range)", "high quality (median)",
                             "final sigma_max per layer (median)", "product of sigmas (median)",
                             "steepest measured gradient (median)", "seconds (all seeds)"], rows, "gan"))
        parts.append(_comparisons(report, "GAN"))
        for key in ("gan-ring-samples", "gan-ring-lipschitz"):
            if key in report.files:
                parts.append(f"<img src='{report.files[key]}' alt='{key}'>")
        parts.append(_meaning(report, "GAN"))
    plots = [key for key in ("singular-values", "sigma-per-layer", "loss") if key in report.files]
    if plots:
        parts.append("<h2>Plots</h2>")
        for key in plots:
            parts.append(f"<img src='{report.files[key]}' alt='{key}'>")
        parts.append("<p class='meaning'>The first plot is the post's weight before and after spectral norm: "
                     "dividing by sigma brings sigma_1 to about 1 (up, for this weight) and keeps sigma_2 in the "
                     "same ratio to it. The next two follow training (the loss on a log scale): without spectral "
                     "norm sigma_max grows in every layer; with it, it stays at 1.</p>")
    graphs = [(key, name) for key, name in report.files.items() if key.startswith("graph-")]
    if graphs:
        parts.append("<h2>Graphs</h2>")
        for key, name in graphs:
            if name.endswith(".svg"):
                parts.append(f"<h3>{html.escape(key[6:])}</h3><img src='{name}' alt='{key}'>")
            else:
                parts.append(f"<p><a href='{name}'>{html.escape(name)}</a> (Graphviz source)</p>")
        parts.append("<p class='meaning'>Blue boxes are parameters, orange buffers (spectral norm's u and v, made "
                     "by the power iteration in the dashed no-grad cluster), green the input, grey constants and "
                     "red the output; each norm is a lavender cluster. The backward graphs add every tensor's "
                     "gradient and every op's VJP.</p>")
        from minigrad.viz import stepper  # the spectral-norm layer's backward pass, op by op
        from norms.app import graph_examples

        output, params, title = graph_examples.EXAMPLES["spectral-norm"]()
        parts.append(stepper.report_section(stepper.backward_stepper(output, params=params, title=title), out))
    if report.notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in report.notes) + "</ul>")
    parts.append("</body></html>")
    path = out / "report.html"
    path.write_text("\n".join(part for part in parts if part), encoding="utf-8")
    return path
