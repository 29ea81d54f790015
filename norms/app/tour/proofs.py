"""Sections 2 and 3 of the tour: every norm's gradient checked three ways, and two gradients as formulas."""
from __future__ import annotations

import numpy as np

from norms.app.tour.findings import Comparison, TourReport, say

# ---------------------------------------------------------------------------------------
# 2. Every norm's gradient, three ways
# ---------------------------------------------------------------------------------------
def norm_checks(quick: bool) -> list:
    """(label, function of tensors, shapes, domain, closed-form key) for each norm."""
    import norms
    from minigrad.tensor import Tensor

    rng = np.random.default_rng(7)
    u3, v3 = rng.standard_normal(2), rng.standard_normal(3)
    u3, v3 = u3 / np.linalg.norm(u3), v3 / np.linalg.norm(v3)
    u_const, v_const = Tensor._constant(u3), Tensor._constant(v3)
    rows = [
        ("Frobenius", lambda x: norms.frobenius_norm(x), [(2, 3)], "real", "frobenius"),
        ("vector 2-norm", lambda x: norms.vector_norm(x, ord=2), [(4,)], "real", "vector_2"),
        ("vector p=3 norm", lambda x: norms.vector_norm(x, ord=3), [(3,)], "nonzero", "vector_p"),
        ("spectral (u, v constant)", lambda w: norms.spectral_normalize(w, u_const, v_const), [(2, 3)], "real",
         "spectral"),
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
    say("Every norm's gradient, three ways")
    header = f"  {'norm':26s} {'shape':10s} {'finite diff. rel. err':>22s}  {'SymPy':22s} {'closed form':12s}"
    say(header)
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
        say(f"  {label:26s} {row['shape']:10s} {row['fd']:22.1e}  {row['sympy']:22s} {closed:12s}{mark}")
        for text in record.reports:
            say("    " + text.replace("\n", "\n    "))
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

    say("Gradients as formulas (from the symbolic engine)")
    w = mg.symbols("w", (2, 2))
    norm = frobenius_norm(w)
    norm.backward()
    entry = sympy.simplify(w.grad.data[0, 0])
    text = f"d||W||_F / dw_0_0 = {entry}   (so dF/dW = W / ||W||_F)"
    report.formulas.append(("Frobenius norm, W of shape 2x2", text, sympy.latex(entry)))
    say("  " + text)

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
    latex = sympy.latex(sympy.simplify(w.grad.data[0, 0]))
    report.formulas.append(("Spectral norm, u = (3/5, 4/5), v = (4/5, -3/5)", text, latex))
    report.comparisons.append(Comparison("formulas", "spectral gradient at entry (0, 0), against "
                                         "G/sigma - (<G,W>/sigma^2) u v^T", bool(same)))
    report.meaning["formulas"] = (
        "Both formulas are the engine's own backward pass run on SymPy symbols instead of floats, so the "
        "gradient a student reads is the one the engine computes; the spectral one simplifies to the textbook "
        "closed form (u and v held constant, as PyTorch does in the backward pass)."
    )
    say("  " + text)
