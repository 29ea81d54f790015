"""norms: spectral, weight, matrix/vector and activation norms on the minigrad engine."""
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
