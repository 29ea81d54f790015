"""Section 1 of the tour: the reference post's numbers reproduced with minigrad.

Spectral norm (singular values before, after the first and the second forward; u and v),
weight norm (g and v, output unchanged, removal), the Frobenius norm of arange(9), and the
PixelNorm section the post left empty.
"""
from __future__ import annotations

import numpy as np

from norms.app.tour.findings import Comparison, TourReport, fmt, say, within

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
        Comparison("spectral norm", "singular values after the 2nd forward", second,
                   post=POST["singular_values_second"]),
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
    say("Spectral norm (the post's Linear(3, 2) weight)")
    say(f"  singular values before      {fmt(before)}   post {fmt(POST['singular_values_before'])}")
    say(f"  after the 1st forward       {fmt(first)}   post {fmt(POST['singular_values_first'])}"
         f"   (sigma = {before[0] / first[0]:.4f})")
    say(f"  after the 2nd forward       {fmt(second)}   post {fmt(POST['singular_values_second'])}"
         f"   (sigma = {sigma2:.4f})")
    say(f"  weight_u {fmt(u2)}   weight_v {fmt(v2)}")
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
        f"v its direction, so the layer's output stays the same ({within(float(np.max(np.abs(after - before))))}"
        f") and removing it gives W back; training then moves a "
        f"row's length and direction separately."
    )
    say("Weight norm (the post's Linear(2, 4) weight)")
    say(f"  weight_g {fmt(g)}   post {fmt(POST['weight_norm_g'])}")
    say(f"  output before {fmt(before)} and after weight_norm {fmt(after)}")
    say(f"  state_dict keys: {keys_normed} -> after removal {keys_removed}")


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
        f"{within(float(np.max(np.abs(np.ravel(x.grad.data) - expected_grad))))}."
    )
    say("Frobenius norm")
    say(f"  ||arange(9).reshape(3, 3)||_F = {norm.item():.4f}  (sqrt(204) = {np.sqrt(204):.4f}; post 14.2829)")
    say(f"  its gradient is x / ||x||: first row {fmt(x.grad.data[0])}")


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
        f"pass matches that closed form {within(report.pixel_norm['grad_error'])}."
    )
    say("PixelNorm (the post's empty section)")
    say("  y = x / sqrt(mean over channels of x^2 + eps): every pixel's channel vector gets RMS 1")
    say(f"  RMS per pixel after the norm {fmt(rms.ravel())}")
    say(f"  gradient against the closed form (w - y*mean(w*y))/rms(x): max error {report.pixel_norm['grad_error']:.1e}")
