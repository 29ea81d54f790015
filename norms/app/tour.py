"""`minigrad tour`: the reference post reproduced, every norm's gradient proved, a model trained.

What a new user runs first (``make tour``). In a couple of minutes it
    1. reproduces the post's numbers with minigrad: spectral norm (singular values before,
       after the first and the second forward; u and v), weight norm (g and v, output
       unchanged, removal), the Frobenius norm of arange(9), and the PixelNorm section the
       post left empty;
    2. checks every norm's gradient three ways (finite differences, SymPy, the closed form)
       and prints one table;
    3. prints two gradients as formulas from the symbolic engine;
    4. trains a small MLP with and without spectral norm on a toy 2-D problem;
    5. trains a small GAN on a ring of 8 Gaussians with and without spectral norm on its
       discriminator, over seeds (norms.app.gan; `minigrad gan` runs the full comparison);
    6. writes graphs (SVG), plots (PNG) and ``report.html`` into ``--out``.
It exits 1 if any check fails or a number of the post is not reproduced.

The post's printed values are rounded to four decimals, so they are compared at 2e-4.
"""
from __future__ import annotations

import html
import os
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# ---------------------------------------------------------------------------------------
# The reference post's numbers (facts, rounded to 4 decimals as printed there)
# ---------------------------------------------------------------------------------------
POST = {
    "spectral_weight": [[-0.4318, 0.1616, -0.1790], [-0.1238, 0.4865, -0.2384]],
    "spectral_bias": [-0.2751, -0.2083],
    "singular_values_before": [0.6741, 0.3147],
    "u_after_first": [-0.7308, -0.6826],
    "v_after_first": [0.7406, -0.5292, 0.4142],
    "singular_values_first": [1.0274, 0.4797],
    "u_after_second": [-0.6609, -0.7505],
    "v_after_second": [0.5971, -0.6719, 0.4382],
    "singular_values_second": [1.0013, 0.4675],
    "weight_norm_v": [[0.5569, 0.1186], [-0.6304, -0.2217], [0.1165, -0.3152], [0.5837, 0.4351]],
    "weight_norm_bias": [-0.0917, 0.4735, -0.4258, -0.3572],
    "weight_norm_g": [0.5694, 0.6682, 0.3360, 0.7280],
    "frobenius_arange9": 14.2829,
}
TOLERANCE = 2e-4
NOT_IN_POST = "not in the post"


@dataclass
class Comparison:
    """One quantity: minigrad's value against the post's, or against what it must equal.

    ``post`` is the post's printed value, None when the post does not print this quantity;
    then ``expected`` is what ``ours`` must equal (a closed form, the value before a
    reparametrisation). ``ours`` may be a bool: a SymPy proof, which has no tolerance.
    """

    section: str
    quantity: str
    ours: object
    post: object = None
    expected: object = None
    tolerance: float = TOLERANCE  # absolute, per entry

    @property
    def reference(self):
        return self.post if self.post is not None else self.expected

    @property
    def ok(self) -> bool:
        if isinstance(self.ours, bool):
            return self.ours
        return bool(np.allclose(self.ours, self.reference, rtol=0, atol=self.tolerance))

    def post_text(self) -> str:
        return _fmt(self.post) if self.post is not None else NOT_IN_POST

    def ours_text(self) -> str:
        if isinstance(self.ours, bool):
            return "proved by SymPy" if self.ours else "not proved"
        values = np.ravel(np.asarray(self.ours, dtype=float))
        difference = float(np.max(np.abs(values - np.ravel(np.asarray(self.reference, dtype=float)))))
        if (self.post is not None and values.size <= 8) or not np.any(self.reference):
            return _fmt(values)  # the post's own numbers, or a deviation (its reference is 0)
        shown = _fmt(values) if values.size <= 4 else f"{values.size} entries"
        return f"{shown}; largest difference {difference:.1e}"

    def tolerance_text(self) -> str:
        return "exact (symbolic)" if isinstance(self.ours, bool) else f"{self.tolerance:.0e}"

    def verdict(self) -> str:
        return "ok" if self.ok else "MISMATCH"


@dataclass
class TourReport:
    """Everything the tour found, for the terminal and for report.html."""

    comparisons: list = field(default_factory=list)
    checks: list = field(default_factory=list)
    formulas: list = field(default_factory=list)
    training: dict = field(default_factory=dict)
    training_baseline: dict = field(default_factory=dict)
    pixel_norm: dict = field(default_factory=dict)
    gan: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    #: one or two sentences per section on what its numbers mean
    meaning: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.comparisons) and all(row["ok"] for row in self.checks)


def _fmt(values) -> str:
    array = np.atleast_1d(np.asarray(values, dtype=float))
    return "(" + ", ".join(f"{v:.4f}" for v in array) + ")"


def _within(error: float) -> str:
    """'exactly' for 0, else 'to within 1e-16': how closely two computations agree."""
    return "exactly" if error == 0 else f"to within {error:.0e}"


def _say(text: str = "") -> None:
    print(text, flush=True)


# ---------------------------------------------------------------------------------------
# 1. The post's sections
# ---------------------------------------------------------------------------------------
def reproduce_spectral_norm(report: TourReport) -> dict:
    """The post's spectral-norm example on a Linear(3, 2) with its printed weight.

    The post's first forward started from a random u we cannot know; PyTorch stores the u
    and v of that forward, so loading them and running one *eval* forward (no iteration)
    gives the weight the post saw after its first forward. Its second forward is a
    training forward: one power-iteration step from that u, then the new sigma.
    """
    import minigrad as mg
    from minigrad import nn
    from norms import spectral_norm

    layer = nn.Linear(3, 2)
    layer.weight.data = np.array(POST["spectral_weight"])
    layer.bias.data = np.array(POST["spectral_bias"])
    before = np.linalg.svd(layer.weight.data, compute_uv=False)
    spectral_norm(layer, n_power_iterations=1)
    layer.weight_u.data = np.array(POST["u_after_first"])
    layer.weight_v.data = np.array(POST["v_after_first"])
    layer.eval()
    layer(mg.ones(3))
    first_weight = layer.weight.data.copy()
    first = np.linalg.svd(first_weight, compute_uv=False)
    layer.train()
    layer(mg.ones(3))
    second = np.linalg.svd(layer.weight.data, compute_uv=False)
    u2, v2 = layer.weight_u.data.copy(), layer.weight_v.data.copy()
    sigma2 = float(u2 @ layer.weight_orig.data @ v2)
    rows = [
        Comparison("spectral norm", "singular values before", before, post=POST["singular_values_before"]),
        Comparison("spectral norm", "singular values after the 1st forward", first, post=POST["singular_values_first"]),
        Comparison("spectral norm", "singular values after the 2nd forward", second, post=POST["singular_values_second"]),
        Comparison("spectral norm", "weight_u after the 2nd forward", u2, post=POST["u_after_second"]),
        Comparison("spectral norm", "weight_v after the 2nd forward", v2, post=POST["v_after_second"]),
    ]
    report.comparisons.extend(rows)
    report.meaning["spectral norm"] = (
        f"Spectral norm divides W by u^T W v, an estimate of its largest singular value from power iteration; "
        f"one step per forward leaves the estimate short, so after the first forward W/sigma still has "
        f"sigma_max {first[0]:.4f}, and the second forward's step brings it to {second[0]:.4f}. "
        f"Matching u and v to four decimals shows that minigrad runs PyTorch's iteration step for step."
    )
    _say("Spectral norm (the post's Linear(3, 2) weight)")
    _say(f"  singular values before      {_fmt(before)}   post {_fmt(POST['singular_values_before'])}")
    _say(f"  after the 1st forward       {_fmt(first)}   post {_fmt(POST['singular_values_first'])}"
         f"   (sigma = {before[0] / first[0]:.4f})")
    _say(f"  after the 2nd forward       {_fmt(second)}   post {_fmt(POST['singular_values_second'])}"
         f"   (sigma = {sigma2:.4f})")
    _say(f"  weight_u {_fmt(u2)}   weight_v {_fmt(v2)}")
    return {"before": before, "first": first, "second": second}


def reproduce_weight_norm(report: TourReport) -> None:
    """The post's weight-norm example: g from the rows of v, output unchanged, removal."""
    import minigrad as mg
    from minigrad import nn
    from norms import remove_weight_norm, weight_norm

    layer = nn.Linear(2, 4)
    layer.weight.data = np.array(POST["weight_norm_v"])
    layer.bias.data = np.array(POST["weight_norm_bias"])
    before = layer(mg.ones(2)).data.copy()
    weight_norm(layer, name="weight")
    g = layer.weight_g.data.ravel().copy()
    after = layer(mg.ones(2)).data.copy()
    keys_normed = list(layer.state_dict())
    remove_weight_norm(layer)
    keys_removed = list(layer.state_dict())
    restored = layer.weight.data
    report.comparisons.append(Comparison("weight norm", "weight_g (the norm of each row of W)", g,
                                         post=POST["weight_norm_g"]))
    report.comparisons.append(Comparison("weight norm", "output after weight_norm, against the output before",
                                         after, expected=before, tolerance=1e-12))
    report.comparisons.append(Comparison("weight norm", "weight after remove_weight_norm (the post's W)",
                                         np.ravel(restored), post=np.ravel(POST["weight_norm_v"])))
    report.meaning["weight norm"] = (
        f"weight_norm writes each row of W as g * v / ||v||: g is the row's length (the post's four values) and "
        f"v its direction, so the layer's output stays the same ({_within(float(np.max(np.abs(after - before))))}"
        f") and removing it gives W back; training then moves a "
        f"row's length and direction separately."
    )
    _say("Weight norm (the post's Linear(2, 4) weight)")
    _say(f"  weight_g {_fmt(g)}   post {_fmt(POST['weight_norm_g'])}")
    _say(f"  output before {_fmt(before)} and after weight_norm {_fmt(after)}")
    _say(f"  state_dict keys: {keys_normed} -> after removal {keys_removed}")


def reproduce_frobenius(report: TourReport) -> None:
    import minigrad as mg
    from norms import frobenius_norm

    x = mg.arange(9, dtype=np.float64).reshape(3, 3)
    x.requires_grad_()
    norm = frobenius_norm(x)
    norm.backward()
    expected_grad = np.ravel(x.data / norm.item())
    report.comparisons.append(Comparison("Frobenius norm", "||arange(9)||_F", [norm.item()],
                                         post=[POST["frobenius_arange9"]]))
    report.comparisons.append(Comparison("Frobenius norm", "gradient, against the closed form x / ||x||_F",
                                         np.ravel(x.grad.data), expected=expected_grad, tolerance=1e-12))
    report.meaning["Frobenius norm"] = (
        f"||arange(9)||_F = sqrt(0^2 + 1^2 + ... + 8^2) = sqrt(204) = {np.sqrt(204):.4f}. Its gradient is "
        f"x / ||x||_F, the unit vector along x, and the backward pass gives it "
        f"{_within(float(np.max(np.abs(np.ravel(x.grad.data) - expected_grad))))}."
    )
    _say("Frobenius norm")
    _say(f"  ||arange(9).reshape(3, 3)||_F = {norm.item():.4f}  (sqrt(204) = {np.sqrt(204):.4f}; post 14.2829)")
    _say(f"  its gradient is x / ||x||: first row {_fmt(x.grad.data[0])}")


def fill_pixel_norm(report: TourReport) -> None:
    """The section the post left empty: PixelNorm (Karras et al., 2018, ProGAN).

    Each pixel's feature vector (the values across channels at one position) is divided by
    its root mean square, so after the norm every pixel's channel vector has RMS 1.
    """
    import minigrad as mg
    from norms import pixel_norm

    mg.manual_seed(0)
    x = mg.randn(1, 4, 2, 2, requires_grad=True)  # (batch, channels, height, width)
    y = pixel_norm(x, axis=1)
    rms = np.sqrt(np.mean(y.data**2, axis=1))
    weights = mg.randn(1, 4, 2, 2)
    (y * weights).sum().backward()
    # Closed form per pixel: r = rms(x), grad = (w - y * mean(w * y)) / r
    r = np.sqrt(np.mean(x.data**2, axis=1, keepdims=True) + 1e-8)
    closed = (weights.data - y.data * np.mean(weights.data * y.data, axis=1, keepdims=True)) / r
    report.pixel_norm = {"rms_after": rms.ravel().tolist(), "grad_error": float(np.max(np.abs(closed - x.grad.data)))}
    report.comparisons.append(Comparison("PixelNorm", "RMS of every pixel's channels after the norm, against 1",
                                         rms.ravel(), expected=np.ones(4), tolerance=1e-6))
    report.comparisons.append(Comparison("PixelNorm", "gradient, against the closed form (w - y mean(w y)) / rms(x)",
                                         np.ravel(x.grad.data), expected=np.ravel(closed), tolerance=1e-10))
    report.meaning["PixelNorm"] = (
        "The post left this section empty. PixelNorm (Karras et al., 2018) divides each pixel's channel vector "
        "by its root mean square, so every pixel leaves with RMS 1 (up to eps = 1e-8); its gradient removes the "
        "part of the upstream gradient along the output before dividing by the RMS, and the engine's backward "
        f"pass matches that closed form {_within(report.pixel_norm['grad_error'])}."
    )
    _say("PixelNorm (the post's empty section)")
    _say("  y = x / sqrt(mean over channels of x^2 + eps): every pixel's channel vector gets RMS 1")
    _say(f"  RMS per pixel after the norm {_fmt(rms.ravel())}")
    _say(f"  gradient against the closed form (w - y*mean(w*y))/rms(x): max error {report.pixel_norm['grad_error']:.1e}")


# ---------------------------------------------------------------------------------------
# 2. Every norm's gradient, three ways
# ---------------------------------------------------------------------------------------
def norm_checks(quick: bool) -> list:
    """(label, function of tensors, shapes, domain, closed-form key) for each norm."""
    import norms
    from minigrad.tensor import Tensor
    from minigrad.nn import functional as F  # noqa: F401 - keeps imports symmetrical

    rng = np.random.default_rng(7)
    u3, v3 = rng.standard_normal(2), rng.standard_normal(3)
    u3, v3 = u3 / np.linalg.norm(u3), v3 / np.linalg.norm(v3)
    u_const, v_const = Tensor._constant(u3), Tensor._constant(v3)
    rows = [
        ("Frobenius", lambda x: norms.frobenius_norm(x), [(2, 3)], "real", "frobenius"),
        ("vector 2-norm", lambda x: norms.vector_norm(x, ord=2), [(4,)], "real", "vector_2"),
        ("vector p=3 norm", lambda x: norms.vector_norm(x, ord=3), [(3,)], "nonzero", "vector_p"),
        ("spectral (u, v constant)", lambda w: norms.spectral_normalize(w, u_const, v_const), [(2, 3)], "real", "spectral"),
        ("power iteration, 1 step", lambda w: norms.power_iteration(w, u_const, n_iter=1)[0], [(2, 3)], "real", None),
        ("weight norm", lambda g, v: norms.weight_normalize(g, v, dim=0), [(2, 1), (2, 3)], "nonzero", "weight_norm"),
        ("PixelNorm", lambda x: norms.pixel_norm(x, axis=1), [(1, 3, 2)], "nonzero", "pixel_norm"),
        ("LayerNorm", lambda x: norms.layer_norm(x, (3,)), [(2, 3)], "distinct", "layer_norm"),
        ("RMSNorm", lambda x: norms.rms_norm(x, (3,), eps=1e-6), [(2, 3)], "nonzero", "rms_norm"),
        ("BatchNorm (training)", lambda x: norms.batch_norm(x, training=True), [(3, 2)], "distinct", "batch_norm"),
    ]
    if quick:
        rows = [row for row in rows if row[0] in ("Frobenius", "spectral (u, v constant)", "weight norm", "PixelNorm")]
    return rows


def run_norm_checks(report: TourReport, quick: bool) -> None:
    from minigrad.verification.checks import CheckEntry, run_entry

    try:
        from norms import derivations
    except ImportError:  # pragma: no cover - derivations ship with norms
        derivations = None
    _say("Every norm's gradient, three ways")
    header = f"  {'norm':26s} {'shape':10s} {'finite diff. rel. err':>22s}  {'SymPy':22s} {'closed form':12s}"
    _say(header)
    for label, fn, shapes, domain, closed_key in norm_checks(quick):
        entry = CheckEntry(name=label, fn=fn, shapes=tuple(shapes), domain=domain, symbolic=True,
                           smooth=False, kind="norm")
        record = run_entry(entry, symbolic=True, second_order=False, budget=3.0 if quick else 10.0)
        closed = "-"
        closed_ok = True
        if closed_key and derivations is not None and hasattr(derivations, "prove"):
            proof = derivations.prove(closed_key)
            closed, closed_ok = ("proved" if proof else "FAILED"), bool(proof)
        row = {
            "norm": label, "shape": " ".join("x".join(map(str, s)) for s in shapes),
            "fd": record.fd_max_rel_error, "fd_ok": record.fd_ok, "sympy": record.symbolic,
            "sympy_ok": record.symbolic_ok, "closed": closed, "ok": record.ok and closed_ok,
            "reports": record.reports,
        }
        report.checks.append(row)
        mark = "" if row["ok"] else "   <-- FAILED"
        _say(f"  {label:26s} {row['shape']:10s} {row['fd']:22.1e}  {row['sympy']:22s} {closed:12s}{mark}")
        for text in record.reports:
            _say("    " + text.replace("\n", "\n    "))
    _say_checks_meaning(report)


def _say_checks_meaning(report: TourReport) -> None:
    """What the three-way table means, from its numbers."""
    from minigrad.verification.checks import FD_RTOL

    rows = report.checks
    if not rows:
        return
    failed = [row["norm"] for row in rows if not row["ok"]]
    worst = max(row["fd"] for row in rows)
    proved = sum(1 for row in rows if row["sympy"] == "proved")
    if failed:
        report.meaning["checks"] = (f"{len(failed)} of {len(rows)} norms failed a check ({', '.join(failed)}): "
                                    f"their backward pass does not compute their derivative; the reports say where.")
        return
    report.meaning["checks"] = (
        f"All {len(rows)} norms pass: finite differences agree with the backward pass to {worst:.0e} relative "
        f"(tolerance {FD_RTOL:.0e}); SymPy proved {proved} of them equal to sympy.diff and matched the rest exactly "
        f"at rational points; the textbook closed forms are proved by SymPy on their own. "
        f"A wrong VJP fails the first two columns: try `MINIGRAD_PLANT_BUG=mul minigrad check --op mul`."
    )


# ---------------------------------------------------------------------------------------
# 3. Gradients as formulas
# ---------------------------------------------------------------------------------------
def print_formulas(report: TourReport) -> None:
    import sympy

    import minigrad as mg
    from norms import frobenius_norm, spectral_normalize

    _say("Gradients as formulas (from the symbolic engine)")
    w = mg.symbols("w", (2, 2))
    norm = frobenius_norm(w)
    norm.backward()
    entry = sympy.simplify(w.grad.data[0, 0])
    text = f"d||W||_F / dw_0_0 = {entry}   (so dF/dW = W / ||W||_F)"
    report.formulas.append(("Frobenius norm, W of shape 2x2", text, sympy.latex(entry)))
    _say("  " + text)

    # Spectral norm with u, v constants: the gradient of <G, W/sigma> for a fixed G.
    w = mg.symbols("w", (2, 2))
    u = mg.tensor(np.array([sympy.Rational(3, 5), sympy.Rational(4, 5)], dtype=object))
    v = mg.tensor(np.array([sympy.Rational(4, 5), sympy.Rational(-3, 5)], dtype=object))
    g = mg.symbols("g", (2, 2), requires_grad=False)
    out = (spectral_normalize(w, u, v) * g).sum()
    out.backward()
    sigma = sum(u.data[i] * w.data[i, j] * v.data[j] for i in range(2) for j in range(2))
    inner = sum(g.data[i, j] * w.data[i, j] for i in range(2) for j in range(2))
    closed = g.data[0, 0] / sigma - inner / sigma**2 * u.data[0] * v.data[0]
    same = sympy.simplify(w.grad.data[0, 0] - closed) == 0
    text = (f"d<G, W/sigma>/dw_0_0 = {sympy.simplify(w.grad.data[0, 0])}\n"
            f"    which is G/sigma - (<G,W>/sigma^2) u v^T at entry (0, 0): {'proved' if same else 'NOT proved'}")
    report.formulas.append(("Spectral norm, u = (3/5, 4/5), v = (4/5, -3/5)", text, sympy.latex(sympy.simplify(w.grad.data[0, 0]))))
    report.comparisons.append(Comparison("formulas", "spectral gradient at entry (0, 0), against "
                                         "G/sigma - (<G,W>/sigma^2) u v^T", bool(same)))
    report.meaning["formulas"] = (
        "Both formulas are the engine's own backward pass run on SymPy symbols instead of floats, so the "
        "gradient a student reads is the one the engine computes; the spectral one simplifies to the textbook "
        "closed form (u and v held constant, as PyTorch does in the backward pass)."
    )
    _say("  " + text)


# ---------------------------------------------------------------------------------------
# 4. Training with and without spectral norm
# ---------------------------------------------------------------------------------------
def two_moons(count: int, rng: np.random.Generator) -> tuple:
    """Two interleaved half circles with a little noise: a small non-linear 2-D problem."""
    half = count // 2
    angle = rng.uniform(0, np.pi, count)
    upper = np.stack([np.cos(angle[:half]), np.sin(angle[:half])], axis=1)
    lower = np.stack([1 - np.cos(angle[half:]), 0.5 - np.sin(angle[half:])], axis=1)
    points = np.concatenate([upper, lower]) + rng.normal(0, 0.1, (count, 2))
    labels = np.concatenate([np.zeros(half, dtype=int), np.ones(count - half, dtype=int)])
    return points, labels


def _progress(step: int, total: int, label: str, loss: float) -> None:
    """A one-line progress bar; redrawn in place on a terminal, four lines otherwise."""
    interactive = sys.stdout.isatty()
    if not interactive and step != total and step % max(1, total // 4):
        return
    width = 24
    filled = int(width * step / total)
    end = "\n" if step == total or not interactive else "\r"
    print(f"  {label:36s} [{'#' * filled}{'.' * (width - filled)}] {step:4d}/{total}  loss {loss:.4f}", end=end, flush=True)


#: The training runs: (label, spectral norm on every layer, input scale, logit scale, learning rate).
#: A scale c on the inputs or the logits lets a network of 1-Lipschitz layers have slope up to c;
#: the learning rate is divided by the logit scale so that the first steps have the same size.
TRAINING_RUNS = (
    ("plain", False, 1.0, 1.0, 0.1),
    ("spectral norm", True, 1.0, 1.0, 0.1),
    ("spectral norm, logits x25", True, 1.0, 25.0, 0.1 / 25),
    ("spectral norm, inputs x5, logits x5", True, 5.0, 5.0, 0.1 / 5),
)


def _mlp_parts(model, inputs, input_scale: float, logit_scale: float) -> tuple:
    """The logits of the 2-32-32-2 tanh MLP and its two hidden pre-activations (before tanh)."""
    import minigrad as mg

    first = model[0](inputs * input_scale)
    second = model[2](mg.tanh(first))
    logits = model[4](mg.tanh(second)) * logit_scale
    return logits, (first, second)


def _steepest_slope(model, points: np.ndarray, input_scale: float, logit_scale: float) -> float:
    """The largest ||d(logit_1 - logit_0)/dx|| over the data: how fast the decision can change."""
    import minigrad as mg

    x = mg.tensor(points, requires_grad=True)
    logits, _ = _mlp_parts(model, x, input_scale, logit_scale)
    (logits[:, 1] - logits[:, 0]).sum().backward()
    return float(np.max(np.linalg.norm(x.grad.data, axis=1)))


def _linear_baseline(inputs, labels: np.ndarray, steps: int) -> dict:
    """A linear classifier (no hidden layer) trained the same way: what a straight boundary gets."""
    import minigrad as mg
    from minigrad import nn, optim
    from minigrad.nn import functional as F

    mg.manual_seed(1)
    model = nn.Linear(2, 2)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(inputs), labels)
        loss.backward()
        opt.step()
    with mg.no_grad():
        accuracy = float(np.mean(np.argmax(model(inputs).data, axis=1) == labels))
    return {"accuracy": accuracy, "loss": loss.item()}


def train_one(label: str, use_sn: bool, input_scale: float, logit_scale: float, lr: float,
              points: np.ndarray, labels: np.ndarray, steps: int) -> dict:
    """Train the 2-32-32-2 tanh MLP once; return its losses, sigma_max per layer and step, and measures."""
    import minigrad as mg
    from minigrad import nn, optim
    from minigrad.nn import functional as F
    from norms import spectral_norm

    inputs = mg.tensor(points)
    mg.manual_seed(1)
    model = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 2))
    layers = [model[0], model[2], model[4]]
    if use_sn:
        for layer in layers:
            spectral_norm(layer)
        # Warm start: u and v begin as random draws, so let the power iteration settle
        # (15 steps, as PyTorch's newer parametrization does at registration) before
        # training; afterwards one step per forward keeps up with the small updates.
        with mg.no_grad():
            for _ in range(15):
                model(inputs * input_scale)
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    losses, sigmas = [], []
    for step in range(1, steps + 1):
        opt.zero_grad()
        logits, _ = _mlp_parts(model, inputs, input_scale, logit_scale)
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        sigmas.append([float(np.linalg.svd(layer.weight.data, compute_uv=False)[0]) for layer in layers])
        _progress(step, steps, label, losses[-1])
    model.eval()
    with mg.no_grad():
        logits, hidden = _mlp_parts(model, inputs, input_scale, logit_scale)
    accuracy = float(np.mean(np.argmax(logits.data, axis=1) == labels))
    pre_activations = np.concatenate([np.ravel(h.data) for h in hidden])
    final_sigmas = np.array(sigmas[-1])
    return {
        "losses": losses, "sigmas": np.array(sigmas), "accuracy": accuracy,
        "input_scale": input_scale, "logit_scale": logit_scale, "spectral_norm": use_sn,
        # A bound on the network's Lipschitz constant: tanh has slope <= 1.
        "lipschitz_bound": float(np.prod(final_sigmas) * input_scale * logit_scale),
        "slope": _steepest_slope(model, points, input_scale, logit_scale),
        # where tanh bends: |h| > 1 (tanh'(1) = 0.42); below it tanh is close to linear
        "bent": float(np.mean(np.abs(pre_activations) > 1.0)),
    }


def train_models(report: TourReport, steps: int) -> None:
    """Train the MLP of ``TRAINING_RUNS`` on two moons and explain the accuracy each one reaches."""
    import minigrad as mg

    rng = np.random.default_rng(0)
    points, labels = two_moons(256, rng)
    _say(f"Training a 2-32-32-2 tanh MLP on two moons ({len(points)} points), SGD with momentum, {steps} steps")
    results = {}
    for label, use_sn, input_scale, logit_scale, lr in TRAINING_RUNS:
        result = train_one(label, use_sn, input_scale, logit_scale, lr, points, labels, steps)
        results[label] = result
        _say(f"    largest singular value per layer: {_fmt(result['sigmas'][-1])}; "
             f"training accuracy {result['accuracy']:.1%}")
    report.training = results
    report.training_baseline = _linear_baseline(mg.tensor(points), labels, steps)
    sn_sigmas = np.concatenate([r["sigmas"] for r in results.values() if r["spectral_norm"]])
    worst = float(np.max(np.abs(sn_sigmas - 1.0)))
    report.comparisons.append(Comparison(
        "training", "largest |sigma_max - 1| of a spectral-normed layer, over every layer and step",
        [worst], expected=[0.0], tolerance=0.05))
    _say(f"  with spectral norm, sigma_max stayed within {worst:.2%} of 1 in every layer at every step")
    report.meaning["training"] = training_meaning(results, report.training_baseline)
    for sentence in report.meaning["training"].split("\n"):
        _say(textwrap.fill(sentence, width=100, initial_indent="  ", subsequent_indent="  "))


def training_meaning(results: dict, baseline: dict) -> str:
    """Two sentences (one per line) on why spectral norm costs accuracy here, and how to get it back."""
    plain, sn = results["plain"], results["spectral norm"]
    logits_only = results["spectral norm, logits x25"]
    scaled = results["spectral norm, inputs x5, logits x5"]
    versus_linear = "below" if sn["accuracy"] < baseline["accuracy"] else "about"
    first = (
        f"With sigma_max = 1 in every layer and tanh's slope at most 1, the network is 1-Lipschitz: its logit "
        f"difference can change by at most sqrt(2) = 1.41 per unit of input (measured: {sn['slope']:.2f}), "
        f"while the plain network's layers grew to sigma_max {_fmt(plain['sigmas'][-1])} and its logit difference "
        f"changes by up to {plain['slope']:.1f}; so the logits stay small (final loss {sn['losses'][-1]:.3f} "
        f"against {plain['losses'][-1]:.3f}), {sn['bent']:.0%} of the hidden pre-activations reach |h| > 1 where "
        f"tanh bends (plain: {plain['bent']:.0%}), and the nearly linear network gets {sn['accuracy']:.1%}, "
        f"{versus_linear} a linear classifier's {baseline['accuracy']:.1%}, against the plain network's "
        f"{plain['accuracy']:.1%}."
    )
    second = (
        f"Spectral norm bounds the slope but the bound need not be 1: inputs x5 and logits x5 keep every layer "
        f"at sigma_max 1 and allow a slope of 25, which gives {scaled['accuracy']:.1%} ({scaled['bent']:.0%} of "
        f"pre-activations bend, steepest slope {scaled['slope']:.1f}), while the same factor 25 on the logits "
        f"alone only sharpens a nearly linear function ({logits_only['accuracy']:.1%}, {logits_only['bent']:.0%} bend)."
    )
    return first + "\n" + second


def train_gan(report: TourReport, quick: bool, out: Path) -> None:
    """The ring-of-8-Gaussians GAN with and without spectral norm (norms.app.gan), into the report."""
    from norms.app import gan

    seeds, config = (2, gan.TOUR_QUICK_RING) if quick else (5, gan.QUICK_RING)
    _say(f"Training a GAN on a ring of 8 Gaussians, {seeds} seeds x {config.steps} steps, with and without "
         f"spectral norm on the discriminator")
    result = gan.tour_run(quick, out)
    report.gan = result
    report.files.update(result["files"])
    for line in gan.ring_table(result["summary"]).split("\n"):
        _say("  " + line)
    report.comparisons.append(Comparison(
        "GAN", "largest excess of D's measured Lipschitz constant over the product of its layers' sigmas "
               "(0 when the bound holds), every evaluation, both arms", [result["excess"]], expected=[0.0],
        tolerance=1e-9))
    report.meaning["GAN"] = gan.tour_meaning(result)
    for sentence in report.meaning["GAN"].split("\n"):
        _say(textwrap.fill(sentence, width=100, initial_indent="  ", subsequent_indent="  "))


# ---------------------------------------------------------------------------------------
# 5. Files: graphs, plots, report.html
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
        "img{max-width:100%;border:1px solid #eee;margin:0.5em 0}pre{background:#f6f6f6;padding:0.6em;white-space:pre-wrap;overflow-wrap:anywhere}"
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
        parts.append(f"<h3>{html.escape(title)}</h3><pre>{html.escape(text)}</pre><p>LaTeX: <code>{html.escape(latex)}</code></p>")
    parts.append(_comparisons(report, "formulas"))
    parts.append(_meaning(report, "formulas"))
    if report.training:
        steps = len(next(iter(report.training.values()))["losses"])
        parts.append("<h2>Training with and without spectral norm</h2>")
        parts.append(f"<p>A 2-32-32-2 tanh MLP on two moons (256 points), SGD with momentum 0.9, {steps} steps. "
                     "The Lipschitz bound is the product of the layers' sigma_max times the scales; the steepest "
                     "slope is the largest ||d(logit_1 - logit_0)/dx|| over the data.</p>")
        rows = [
            (label, f"{r['input_scale']:g}", f"{r['logit_scale']:g}", _fmt(r["sigmas"][-1]),
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
            rows.append((arm.replace("_", " "), f"{row['modes_median']:g} ({row['modes_range'][0]}-{row['modes_range'][1]})",
                         f"{row['high_quality_median']:.1%}", _fmt(row["sigmas_median"]),
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


# ---------------------------------------------------------------------------------------
def _prepare_out(out: Path, option: str = "--out") -> None:
    from norms.app.cli import prepare_out_folder

    prepare_out_folder(out, option)


def run(args) -> int:
    """``minigrad tour [--quick] [--out DIR]``: returns 0 when every number and check holds, else 1."""
    quick = bool(getattr(args, "quick", False))
    out = Path(getattr(args, "out", None) or "minigrad-tour")
    _prepare_out(out)
    started = time.perf_counter()
    report = TourReport()
    _say(f"minigrad tour{' (quick)' if quick else ''}\n")
    spectral = reproduce_spectral_norm(report)
    _say()
    reproduce_weight_norm(report)
    _say()
    reproduce_frobenius(report)
    _say()
    fill_pixel_norm(report)
    _say()
    run_norm_checks(report, quick)
    _say()
    print_formulas(report)
    _say()
    train_models(report, 40 if quick else 300)
    _say()
    train_gan(report, quick, out)
    _say()
    write_graphs(report, out)
    write_plots(report, spectral, out)
    page = write_html(report, out)
    failed = [c for c in report.comparisons if not c.ok]
    failed_checks = [row for row in report.checks if not row["ok"]]
    _say(f"Wrote {len(report.files)} graphs and plots, and the report: {os.path.abspath(page)}")
    for note in report.notes:
        _say(f"  note: {note}")
    if failed or failed_checks:
        for c in failed:
            _say(f"MISMATCH {c.section}: {c.quantity}: expected {c.post_text() if c.post is not None else _fmt(c.expected)}"
                 f", minigrad {c.ours_text()} (tolerance {c.tolerance_text()})")
        for row in failed_checks:
            _say(f"FAILED check: {row['norm']}")
        return 1
    _say(f"Every number of the post reproduced and every check passed ({time.perf_counter() - started:.1f} s).")
    return 0


def run_train(args) -> int:
    """``minigrad train [--steps N] [--out DIR]``: the tour's training runs alone, with their plots."""
    from norms.app.cli import CommandError

    steps = int(getattr(args, "steps", 300))
    if steps < 1:
        raise CommandError(f"--steps must be a positive number of training steps, got {steps}; try --steps 300")
    out = Path(args.out) if getattr(args, "out", None) else None
    if out is not None:
        _prepare_out(out)
    report = TourReport()
    train_models(report, steps)
    if out is not None:
        write_plots(report, None, out)
    return 0
