"""BatchNorm2d and LayerNorm with PyTorch's parameters, buffers and state_dict keys.

These are the working layers, composed from the functions in ``nn.functional``; their
gradients come from the primitives they are built of.
"""
from __future__ import annotations

import numpy as np

from minigrad.nn import functional as F
from minigrad.nn.module import Module, Parameter
from minigrad.tensor import Tensor


class BatchNorm2d(Module):
    """Per-channel batch normalisation of (N, C, H, W) (Ioffe & Szegedy 2015).

    Parameters ``weight`` (ones), ``bias`` (zeros); buffers ``running_mean`` (zeros),
    ``running_var`` (ones) and ``num_batches_tracked``, as in PyTorch. Training uses the
    batch's statistics and updates the running ones with ``momentum`` (the running
    variance with the sample variance, n - 1); eval uses the running ones.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True,
                 track_running_stats: bool = True, dtype=np.float64):
        super().__init__()
        if not isinstance(num_features, (int, np.integer)) or num_features <= 0:
            raise ValueError(f"BatchNorm2d: num_features must be a positive int, got {num_features!r}")
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype=dtype))
            self.bias = Parameter(np.zeros(num_features, dtype=dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype=dtype)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype=dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def forward(self, x):
        if getattr(x, "ndim", None) != 4:
            raise ValueError(f"BatchNorm2d: expected a 4-d input (N, C, H, W), got shape {getattr(x, 'shape', None)}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm2d: input has {x.shape[1]} channels, the layer expects {self.num_features}")
        use_batch = self.training or self.running_mean is None
        momentum = self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data = self.num_batches_tracked.data + 1
            if momentum is None:  # a cumulative average, as PyTorch does with momentum=None
                momentum = 1.0 / float(self.num_batches_tracked.data)
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, use_batch,
                            momentum if momentum is not None else 0.1, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"


class LayerNorm(Module):
    """(x - mean) / sqrt(var + eps) over the trailing ``normalized_shape`` (Ba et al. 2016).

    Parameters ``weight`` (ones) and ``bias`` (zeros) of that shape, as in PyTorch.
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 dtype=np.float64):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
        self.normalized_shape = tuple(int(s) for s in shape)
        self.eps, self.elementwise_affine = float(eps), elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=dtype))
            if bias:
                self.bias = Parameter(np.zeros(self.normalized_shape, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
