"""norms: spectral, weight, matrix/vector and activation norms on the minigrad engine.

``norms.derivations`` (the SymPy closed forms) is loaded on first use, so that
``import norms`` does not pay for importing SymPy.
"""
#: minigrad's register() holds the norms' primitives to the engine's rule: each lists examples
#: for the checks in every world, a 0-d operand among them (see minigrad.ops.registry).
__minigrad_library__ = True

import os as _os
from importlib import import_module

from minigrad import numeric_warnings as _numeric_warnings

from norms.spectral import remove_spectral_norm, spectral_norm, spectral_normalize, spectral_normalize_composed
from norms.weight import remove_weight_norm, weight_norm, weight_norm_init, weight_normalize, weight_normalize_composed
from norms.activation import (
    BatchNorm1d, LayerNorm, PixelNorm, RMSNorm, batch_norm, batch_norm_composed, layer_norm, layer_norm_composed,
    pixel_norm, pixel_norm_composed, rms_norm, rms_norm_composed,
)
from norms.functional import (
    frobenius_norm, frobenius_norm_composed, matrix_norm, matrix_norm_composed, norm, normalize,
    power_iteration, vector_norm, vector_norm_composed,
)
from norms import views as views  # registers how the norms are drawn with minigrad.viz

# NumPy's warnings from inside the norms' ops are restated as the engine's are: one line at the
# user's call, naming the op.
_numeric_warnings.restate_warnings_from(_os.path.dirname(_os.path.abspath(__file__)))

__all__ = [
    "spectral_normalize", "spectral_normalize_composed", "spectral_norm", "remove_spectral_norm",
    "weight_normalize", "weight_normalize_composed", "weight_norm", "remove_weight_norm", "weight_norm_init",
    "PixelNorm", "LayerNorm", "RMSNorm", "BatchNorm1d", "pixel_norm", "pixel_norm_composed", "layer_norm",
    "layer_norm_composed", "rms_norm", "rms_norm_composed", "batch_norm", "batch_norm_composed",
    "frobenius_norm", "frobenius_norm_composed", "vector_norm", "vector_norm_composed", "matrix_norm",
    "matrix_norm_composed", "norm", "normalize", "power_iteration",
]

_LAZY_SUBMODULES = ("derivations",)


def __getattr__(name: str):
    """Import ``norms.derivations`` when it is first named as an attribute."""
    if name in _LAZY_SUBMODULES:
        return import_module(f"norms.{name}")
    raise AttributeError(f"module 'norms' has no attribute {name!r}")


def __dir__() -> list:
    return sorted(set(globals()) | set(_LAZY_SUBMODULES))
