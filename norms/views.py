"""How the norms are drawn: their views, registered with ``minigrad.viz`` when norms is imported.

Two kinds of view (see ``minigrad.viz.views``):

fused ops         each fused norm primitive is drawn as a cluster titled with its formula,
                  expanded into its ``*_composed`` twin (the same norm from engine ops), or
                  collapsed into one node. Spectral normalisation's u and v come from a
                  power iteration run without gradient: a dashed no-grad cluster that reads
                  W, and the divisor of W / sigma is named "sigma".
parametrizations  ``spectral_norm(module)`` (parameter ``<name>_orig``, buffers ``<name>_u``,
                  ``<name>_v``) and ``weight_norm(module)`` (parameters ``<name>_g``,
                  ``<name>_v``) are recognised by those names; the cluster holds every op
                  from the parameters to the weight the hook sets.

This module imports only the registration hooks (no graphviz), so ``import norms`` stays
cheap.
"""
from __future__ import annotations

from minigrad.viz.views import ParametrizationView, register_view, register_parametrization_finder
from norms.activation import layer_norm_composed, pixel_norm_composed, rms_norm_composed
from norms.functional import frobenius_norm_composed
from norms.spectral import spectral_normalize_composed
from norms.weight import weight_normalize_composed

POWER_ITERATION_LABEL = "power iteration (no_grad)\nv = normalize(W^T u)\nu = normalize(W v)"
SPECTRAL_LABEL = "spectral norm  W / sigma,  sigma = u^T W v"
DETACHED_WEIGHT = "W (detached)"   # the power iteration reads W's values, not its graph


# ---------------------------------------------------------------------------------------
# Fused ops: the composite twin, called with the op's inputs and attributes
# ---------------------------------------------------------------------------------------
def _weight_and_bias(inputs, attrs) -> tuple:
    """The activation norms' optional weight and bias, after x, as their op lays them out."""
    rest = list(inputs[1:])
    weight = rest.pop(0) if attrs.get("has_weight") else None
    bias = rest.pop(0) if attrs.get("has_bias") else None
    return weight, bias


def _call_pixel(function, inputs, attrs):
    return function(inputs[0], axis=attrs["axis"], eps=attrs["eps"])


def _call_layer(function, inputs, attrs):
    x = inputs[0]
    weight, bias = _weight_and_bias(inputs, attrs)
    return function(x, x.shape[min(attrs["axis"]):], weight, bias, eps=attrs["eps"])


def _call_rms(function, inputs, attrs):
    x = inputs[0]
    weight, _ = _weight_and_bias(inputs, attrs)
    return function(x, x.shape[min(attrs["axis"]):], weight, eps=attrs["eps"])


def register_fused_views() -> None:
    """Register the cluster view of every fused norm op with ``minigrad.viz``."""
    register_view("frobenius_norm", "Frobenius norm  ||x||_F = sqrt(sum x^2)", frobenius_norm_composed)
    # the general-p op (p other than 0, 2, +-inf) is drawn as the fused op alone
    register_view("vector_norm", "vector norm  ||x||_p")
    register_view(
        "spectral_normalize", SPECTRAL_LABEL, spectral_normalize_composed,
        no_grad_inputs=(1, 2), no_grad_label=POWER_ITERATION_LABEL, no_grad_source=0,
        no_grad_source_label=DETACHED_WEIGHT, divisor_name="sigma",
    )
    register_view("weight_norm", "weight norm  w = g * v / ||v||", weight_normalize_composed)
    register_view("pixel_norm", "pixel norm  x / sqrt(mean(x^2, axis) + eps)", pixel_norm_composed,
                       call=_call_pixel)
    register_view("rms_norm", "RMS norm  x / sqrt(mean(x^2) + eps) * w", rms_norm_composed, call=_call_rms)
    register_view("layer_norm", "layer norm  (x - mean) / sqrt(var + eps) * w + b", layer_norm_composed,
                       call=_call_layer)
    register_view("batch_norm", "batch norm  (x - mean_B) / sqrt(var_B + eps) * w + b")


# ---------------------------------------------------------------------------------------
# Module parametrizations: found by the names spectral_norm and weight_norm give tensors
# ---------------------------------------------------------------------------------------
def _power_iterations(module, base: str):
    """``n_power_iterations`` of the spectral_norm hook that sets ``module.<base>``, or None."""
    iterations = None
    for hook in getattr(module, "_forward_pre_hooks", {}).values():
        owner = getattr(hook, "__self__", hook)
        if getattr(owner, "name", base) == base:
            iterations = getattr(owner, "n_power_iterations", iterations)
    return iterations


def find_parametrizations(prefix: str, module) -> list:
    """spectral_norm and weight_norm registered on ``module``, found by their tensor names."""
    found = []
    parameters = module._parameters
    buffers = module._buffers

    def dotted(name: str) -> str:
        return f"{prefix}.{name}" if prefix else name

    for pname in list(parameters):
        if pname.endswith("_orig"):
            base = pname[: -len("_orig")]
            iterations = _power_iterations(module, base)
            times = f" x {iterations}" if iterations else ""
            found.append(ParametrizationView(
                weight=vars(module).get(base),
                label=f"spectral_norm({dotted(base)})\nweight = weight_orig / sigma,  sigma = u^T W v",
                no_grad=[(buffers.get(f"{base}_u"), f"{dotted(base)}_u"),
                         (buffers.get(f"{base}_v"), f"{dotted(base)}_v")],
                no_grad_source=parameters[pname],
                no_grad_source_label=DETACHED_WEIGHT,
                no_grad_label=POWER_ITERATION_LABEL + times,
                divisor_name="sigma",
            ))
        if pname.endswith("_g") and f"{pname[:-2]}_v" in parameters:
            base = pname[:-2]
            found.append(ParametrizationView(
                weight=vars(module).get(base), label=f"weight_norm({dotted(base)})\nweight = g * v / ||v||",
            ))
    return found


register_fused_views()
register_parametrization_finder(find_parametrizations)
