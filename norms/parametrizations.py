"""Spectral norm and weight norm as parametrizations (PyTorch's newer API).

    norms.parametrizations.spectral_norm(conv)   # conv.weight = W / sigma(W) on each access
    norms.parametrizations.weight_norm(linear)   # linear.weight = g * v / ||v|| on each access

Built on ``minigrad.nn.utils.parametrize``, with the behaviour and state_dict keys of
``torch.nn.utils.parametrizations`` (PyTorch 2.13):

spectral norm   keys ``parametrizations.weight.original``, ``parametrizations.weight.0._u``
                and ``._v``. Registration runs 15 power iterations (the old API runs none);
                the iteration order is u first: u = normalize(W v), then
                v = normalize(W^T u). Each access of ``m.weight`` in training mode runs
                ``n_power_iterations`` more; eval mode runs none. sigma = u^T W v with u
                and v constants, so the gradient is the old API's
                dL/dW = G/sigma - (<G, W>/sigma^2) u v^T. A 1-d weight is only normalised
                (W / max(||W||, eps)). ``dim`` defaults to 0, or 1 for ConvTranspose.
weight norm     keys ``parametrizations.weight.original0`` (g, the norms over every axis but
                ``dim``, keepdims-shaped) and ``original1`` (v). weight = g * v / ||v||;
                ``dim=None`` (or -1, as in PyTorch) takes the norm of the whole tensor.

References: Miyato et al. 2018 (spectral norm), Salimans & Kingma 2016 (weight norm);
PyTorch, torch/nn/utils/parametrizations.py (the behaviour matched here).
"""
from __future__ import annotations

import numpy as np

from minigrad import ops
from minigrad.autograd import no_grad
from minigrad.nn.module import Module
from minigrad.nn.utils.parametrize import register_parametrization
from minigrad.random import generator
from minigrad.tensor import Tensor
from norms._validate import check_dim
from norms.spectral import _matrix_array, spectral_normalize

__all__ = ["spectral_norm", "weight_norm", "SpectralNormParametrization", "WeightNormParametrization"]


def _normalize(vector: np.ndarray, eps: float) -> np.ndarray:
    return vector / max(float(np.linalg.norm(vector)), eps)


class SpectralNormParametrization(Module):
    """W -> W / sigma(W), with sigma from power iteration kept in buffers ``_u`` and ``_v``."""

    def __init__(self, weight: Tensor, n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12):
        super().__init__()
        if isinstance(n_power_iterations, bool) or not isinstance(n_power_iterations, (int, np.integer)) \
                or n_power_iterations <= 0:
            raise ValueError(
                f"spectral_norm: Expected n_power_iterations to be positive, but got "
                f"n_power_iterations={n_power_iterations}"
            )
        if not (isinstance(eps, (int, float)) and np.isfinite(eps) and eps > 0):
            raise ValueError(f"spectral_norm: eps must be a finite number > 0, got {eps!r}")
        if weight.ndim == 0 or weight.size == 0:
            raise ValueError(f"spectral_norm: the weight (shape {weight.shape}) needs at least one axis and one entry")
        self.dim = 0
        if weight.ndim > 1:
            self.dim = check_dim(dim, weight.ndim, "spectral_norm", f"a weight of shape {weight.shape}")
        self.eps = float(eps)
        self.n_power_iterations = int(n_power_iterations)
        if weight.ndim > 1:
            matrix = _matrix_array(weight.data, self.dim)
            rng = generator()
            u = _normalize(rng.standard_normal(matrix.shape[0]).astype(weight.dtype), self.eps)
            v = _normalize(rng.standard_normal(matrix.shape[1]).astype(weight.dtype), self.eps)
            self.register_buffer("_u", Tensor(u))
            self.register_buffer("_v", Tensor(v))
            self._power_method(matrix, 15)

    def _power_method(self, matrix: np.ndarray, iterations: int) -> None:
        """u = normalize(W v), then v = normalize(W^T u), ``iterations`` times (u first)."""
        u, v = self._u.data, self._v.data
        for _ in range(iterations):
            u = _normalize(matrix @ v, self.eps)
            v = _normalize(matrix.T @ u, self.eps)
        self._u.data, self._v.data = u, v

    def forward(self, weight: Tensor) -> Tensor:
        if weight.ndim == 1:
            return ops.div(weight, max(float(np.linalg.norm(weight.data)), self.eps))
        if self.training:
            with no_grad():
                self._power_method(_matrix_array(weight.data, self.dim), self.n_power_iterations)
        u = Tensor._constant(self._u.data.copy())
        v = Tensor._constant(self._v.data.copy())
        return spectral_normalize(weight, u, v, self.dim)

    def right_inverse(self, value: Tensor) -> Tensor:
        # (PyTorch's choice: the stored original is the tensor itself, not a rescaled one)
        return value

    def extra_repr(self) -> str:
        return f"n_power_iterations={self.n_power_iterations}, dim={self.dim}, eps={self.eps}"


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12,
                  dim: int | None = None) -> Module:
    """Register spectral norm on ``module.<name>`` as a parametrization; returns the module."""
    weight = module._parameters.get(name) if isinstance(name, str) else None
    if weight is None:
        raise ValueError(
            f"spectral_norm: Module '{type(module).__name__}' has no parameter or buffer with name '{name}'"
        )
    if dim is None:
        dim = 1 if type(module).__name__.startswith("ConvTranspose") else 0
    parametrization = SpectralNormParametrization(weight, n_power_iterations, dim, eps)
    return register_parametrization(module, name, parametrization)


class WeightNormParametrization(Module):
    """(g, v) -> g * v / ||v||, the norm over every axis but ``dim`` (None: the whole tensor)."""

    def __init__(self, dim: int | None = 0):
        super().__init__()
        self.dim = dim

    def _axes(self, ndim: int) -> tuple:
        if self.dim is None or self.dim == -1:  # (PyTorch's _weight_norm reads -1 as "no dim")
            return tuple(range(ndim))
        dim = self.dim % max(ndim, 1)
        return tuple(a for a in range(ndim) if a != dim)

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        norm = ops.sqrt(ops.sum_(ops.mul(weight_v, weight_v), self._axes(weight_v.ndim), keepdims=True))
        return ops.mul(weight_v, ops.div(weight_g, norm))

    def right_inverse(self, weight: Tensor) -> tuple:
        data = weight.data
        g = np.sqrt(np.sum(data * data, axis=self._axes(data.ndim), keepdims=True))
        return Tensor(g.astype(data.dtype)), Tensor(data.copy())

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Register weight norm on ``module.<name>`` as a parametrization; returns the module.

    Keys ``parametrizations.<name>.original0`` (g) and ``original1`` (v), as PyTorch.
    """
    weight = module._parameters.get(name) if isinstance(name, str) else None
    if weight is None:
        raise ValueError(f"weight_norm: Module '{type(module).__name__}' has no parameter with name '{name}'")
    if dim is not None and not -weight.ndim <= dim < max(weight.ndim, 1):
        raise IndexError(f"weight_norm: dim {dim} is out of range for a weight of shape {weight.shape}")
    return register_parametrization(module, name, WeightNormParametrization(dim), unsafe=True)
