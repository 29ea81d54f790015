"""Activation norms: PixelNorm, LayerNorm, RMSNorm and BatchNorm, each a fused primitive.

All four divide the input by a root-mean-square taken over some axes ("the group"):

    x_c  = x - mean(x)   (LayerNorm, BatchNorm: centred)     or   x   (PixelNorm, RMSNorm)
    r    = sqrt(mean(x_c^2) + eps)
    xhat = x_c / r
    y    = xhat * weight + bias          (the affine part, where the norm has one)

and so all four share one closed-form VJP. With gh = G * weight (G the incoming gradient),
means over the group:

    centred:      grad_x = (gh - mean(gh) - xhat * mean(gh * xhat)) / r
    not centred:  grad_x = (gh - xhat * mean(gh * xhat)) / r
    grad_weight = sum of G * xhat over the other axes,  grad_bias = sum of G over them

For BatchNorm over N values this is the classic
dx = (1/N) * (weight / sigma) * (N * G - sum(G) - xhat * sum(G * xhat)), sigma = r
(Ioffe & Szegedy 2015, section 3; derived step by step in Kratzert's "Understanding the
backward pass through Batch Normalization Layer", 2016). Where the group is a pixel's
channels it is ProGAN's pixelwise feature normalisation (Karras et al. 2018, section 4.2);
over a sample's trailing axes it is LayerNorm (Ba, Kiros & Hinton 2016); without centring,
RMSNorm (Zhang & Sennrich 2019).

The groups
    pixel_norm   the ``axis`` (channels), no affine part
    layer_norm   the trailing ``normalized_shape`` axes; weight, bias of that shape
    rms_norm     the trailing ``normalized_shape`` axes; weight of that shape
    batch_norm   every axis but 1 (the batch and the length of a (N, C, L) input);
                 weight, bias of shape (C,)

Each comes as a fused primitive (closed-form VJP, written with engine ops, so second
derivatives work), a ``*_composed`` twin built from engine ops, a function with PyTorch's
signature, and a Module. NaN in the input propagates: it makes its whole group NaN (one
sample's row for LayerNorm, a whole channel for BatchNorm), never a finite wrong number;
the tests pin this down.
"""
from __future__ import annotations

import numpy as np

from minigrad import backend, ops
from minigrad import functional as F
from minigrad.autograd import no_grad
from minigrad.nn.module import Module, Parameter
from minigrad.ops.registry import Primitive, apply, register
from minigrad.tensor import Tensor, lift
from norms._validate import check_eps

__all__ = [
    "pixel_norm", "pixel_norm_composed", "PixelNorm",
    "layer_norm", "layer_norm_composed", "LayerNorm",
    "rms_norm", "rms_norm_composed", "RMSNorm",
    "batch_norm", "batch_norm_composed", "BatchNorm1d",
    "PixelNormOp", "LayerNormOp", "RMSNormOp", "BatchNormOp",
]


# ---------------------------------------------------------------------------------------
# The shared forward and VJP
# ---------------------------------------------------------------------------------------
def _other_axes(ndim: int, axes: tuple) -> tuple:
    return tuple(a for a in range(ndim) if a not in axes)


def _count(shape: tuple, axes: tuple) -> int:
    return int(np.prod([shape[a] for a in axes])) if axes else 1


def _overflow_scale(x: np.ndarray, axes: tuple) -> np.ndarray:
    """max(max |x|, 1) per group: dividing by it first keeps x^2 from overflowing.

    sqrt(mean(x^2) + eps) = s * sqrt(mean((x/s)^2) + eps/s^2) for any s > 0, so the
    result does not depend on s; s >= 1 only ever shrinks values (1e300 stays finite),
    and tiny inputs need no scaling because eps dominates their mean square anyway.
    """
    return np.maximum(np.max(np.abs(x), axis=axes, keepdims=True), 1.0)


def _standardize_array(x: np.ndarray, axes: tuple, eps: float, centre: bool) -> np.ndarray:
    """xhat = x_c / sqrt(mean(x_c^2) + eps) on raw arrays (float or SymPy)."""
    count = _count(x.shape, axes)
    if centre:
        x = x - np.sum(x, axis=axes, keepdims=True) / count
    if x.dtype == object:
        return x / backend.sqrt(np.sum(x * x, axis=axes, keepdims=True) / count + eps)
    scale = _overflow_scale(x, axes)
    x = x / scale
    return x / np.sqrt(np.sum(x * x, axis=axes, keepdims=True) / count + eps / scale / scale)


def _standardize(x: Tensor, axes: tuple, eps: float, centre: bool) -> tuple:
    """(xhat, r) built from engine ops: the VJPs and the composed twins both use it.

    On numbers r is computed as s * sqrt(mean((x/s)^2) + eps/s^2) with the constant
    s = max(max|x|, 1) (see _overflow_scale): the same function, without overflow.
    """
    if centre:
        x = ops.sub(x, F.mean(x, axes, keepdims=True))
    if x.dtype == object:
        r = ops.sqrt(ops.add(F.mean(ops.mul(x, x), axes, keepdims=True), eps))
        return ops.div(x, r), r
    scale = Tensor._constant(_overflow_scale(x.data, axes))
    scaled = ops.div(x, scale)
    root = ops.sqrt(ops.add(F.mean(ops.mul(scaled, scaled), axes, keepdims=True), ops.div(ops.div(eps, scale), scale)))
    return ops.div(scaled, root), ops.mul(scale, root)


def _param_axes(ndim: int, axes: tuple, on_group: bool) -> tuple:
    """Where the weight lives: on the group's axes (LayerNorm, RMSNorm) or off them (BatchNorm)."""
    return axes if on_group else _other_axes(ndim, axes)


def _param_view(shape: tuple, param_axes: tuple) -> tuple:
    """The weight's shape as it broadcasts against x: x's sizes on its axes, 1 elsewhere."""
    return tuple(size if a in param_axes else 1 for a, size in enumerate(shape))


class _GroupNorm(Primitive):
    """Shared forward and VJP of the four norms (see the module docstring for the formulas).

    Inputs: x, then the weight if ``has_weight``, then the bias if ``has_bias``, each of
    the shape of x along the parameter axes. Subclasses set ``centre`` and ``on_group``.
    """

    centre: bool = True
    on_group: bool = True

    @classmethod
    def forward(cls, ctx, x, *params, axis, eps, has_weight=False, has_bias=False):
        y = _standardize_array(x, axis, eps, cls.centre)
        view = _param_view(x.shape, _param_axes(x.ndim, axis, cls.on_group))
        if has_weight:
            y = y * params[0].reshape(view)
        if has_bias:
            y = y + params[-1].reshape(view)
        return y

    @classmethod
    def vjp(cls, ctx, grad):
        x, *params = ctx.parents
        axes, eps = ctx.attrs["axis"], ctx.attrs["eps"]
        has_weight = ctx.attrs.get("has_weight", False)
        has_bias = ctx.attrs.get("has_bias", False)
        param_axes = _param_axes(x.ndim, axes, cls.on_group)
        others = _other_axes(x.ndim, param_axes)
        xhat, r = _standardize(x, axes, eps, cls.centre)
        needs = ctx.needs_input_grad
        grads = []
        if needs[0]:
            gh = ops.mul(grad, ops.reshape(params[0], _param_view(x.shape, param_axes))) if has_weight else grad
            inner = ops.mul(xhat, F.mean(ops.mul(gh, xhat), axes, keepdims=True))
            if cls.centre:
                inner = ops.add(inner, F.mean(gh, axes, keepdims=True))
            grads.append(ops.div(ops.sub(gh, inner), r))
        else:
            grads.append(None)
        if has_weight:
            grads.append(ops.sum_(ops.mul(grad, xhat), others) if needs[1] else None)
        if has_bias:
            grads.append(ops.sum_(grad, others) if needs[-1] else None)
        return tuple(grads)


def _affine(y: Tensor, weight, bias, param_axes: tuple) -> Tensor:
    """y * weight + bias with the parameters laid along ``param_axes`` (for the twins)."""
    view = _param_view(y.shape, param_axes)
    if weight is not None:
        y = ops.mul(y, ops.reshape(weight, view))
    if bias is not None:
        y = ops.add(y, ops.reshape(bias, view))
    return y


def _apply_group(op, x: Tensor, weight, bias, axes: tuple, eps: float) -> Tensor:
    inputs = [x] + [p for p in (weight, bias) if p is not None]
    return apply(op, *inputs, axis=axes, eps=float(eps),
                 has_weight=weight is not None, has_bias=bias is not None)


def _check_param(param, expected: tuple, what: str, function: str, x: Tensor):
    if param is None:
        return None
    param = lift(param, x)
    if param.shape != expected:
        raise ValueError(f"{function}: {what} must have shape {expected}, got {param.shape} (input {x.shape})")
    return param


def _check_eps(eps, owner: str) -> float:
    """eps as a finite float > 0: it keeps sqrt(mean(x^2) + eps) away from 0."""
    return check_eps(eps, owner, "it is added to the mean square before the square root", "1e-5")


def _check_flag(value, what: str, owner: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: {what} must be True or False, got {value!r}")
    return bool(value)


def _check_int_axis(axis, owner: str) -> int:
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{owner}: axis must be an int (the channel axis), got {axis!r}")
    return int(axis)


# ---------------------------------------------------------------------------------------
# PixelNorm
# ---------------------------------------------------------------------------------------
@register
class PixelNormOp(_GroupNorm):
    """y = x / sqrt(mean(x^2 over axis) + eps): every pixel's feature vector to unit RMS.

    grad_x = (G - y * mean(G * y)) / r,  r = sqrt(mean(x^2) + eps).
    Karras, Aila, Laine, Lehtinen, "Progressive Growing of GANs", ICLR 2018, eq. in 4.2.
    """

    name = "pixel_norm"
    no_zero_d = "normalises over the channel axis of a (batch, channels, ...) input"
    formula = "r = sqrt(mean(x^2)+eps), y = x/r: grad_x = (g - y*mean(g*y)) / r"
    centre = False
    examples = [
        (((2, 3, 2, 2),), {"axis": (1,), "eps": 1e-8}),
        (((4, 3),), {"axis": (1,), "eps": 1e-8}),
    ]


def pixel_norm(x, axis: int = 1, eps: float = 1e-8) -> Tensor:
    """ProGAN's pixel norm: x / sqrt(mean(x^2 over ``axis``) + eps), one fused node."""
    x = lift(x)
    axes = ops.normalize_axis(axis, x.ndim, "pixel_norm")
    return _apply_group(PixelNormOp, x, None, None, axes, eps)


def pixel_norm_composed(x, axis: int = 1, eps: float = 1e-8) -> Tensor:
    """The same pixel norm from mul, sum, div, add and sqrt (the twin)."""
    x = lift(x)
    axes = ops.normalize_axis(axis, x.ndim, "pixel_norm")
    return _standardize(x, axes, eps, centre=False)[0]


class PixelNorm(Module):
    """Module form of :func:`pixel_norm` (no parameters)."""

    def __init__(self, axis: int = 1, eps: float = 1e-8):
        super().__init__()
        self.axis = _check_int_axis(axis, "PixelNorm")
        self.eps = _check_eps(eps, "PixelNorm")

    def forward(self, x):
        return pixel_norm(x, self.axis, self.eps)

    def extra_repr(self) -> str:
        return f"axis={self.axis}, eps={self.eps}"


# ---------------------------------------------------------------------------------------
# LayerNorm and RMSNorm: over the trailing normalized_shape axes
# ---------------------------------------------------------------------------------------
def _trailing_axes(x: Tensor, normalized_shape, function: str) -> tuple:
    shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or x.ndim < k or tuple(x.shape[x.ndim - k:]) != shape:
        raise ValueError(
            f"{function}: Given normalized_shape={list(shape)}, expected input with shape "
            f"[*, {', '.join(str(s) for s in shape)}], but got input of size {list(x.shape)}"
        )
    return tuple(range(x.ndim - k, x.ndim))


@register
class LayerNormOp(_GroupNorm):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the trailing axes (biased var).

    grad_x = (gh - mean(gh) - xhat * mean(gh * xhat)) / r with gh = G * weight;
    grad_weight = sum_batch(G * xhat), grad_bias = sum_batch(G).
    Ba, Kiros, Hinton, "Layer Normalization", arXiv:1607.06450 (2016); PyTorch LayerNorm.
    """

    name = "layer_norm"
    no_zero_d = "normalises over the trailing normalized_shape axes"
    formula = "gh = g*w: grad_x = (gh - mean(gh) - xhat*mean(gh*xhat))/r, grad_w = sum(g*xhat)"
    examples = [
        (((4, 3), (3,), (3,)), {"axis": (1,), "eps": 1e-5, "has_weight": True, "has_bias": True}),
        (((2, 3, 4), (3, 4), (3, 4)), {"axis": (1, 2), "eps": 1e-5, "has_weight": True, "has_bias": True}),
        (((3, 4),), {"axis": (1,), "eps": 1e-5}),
    ]


def layer_norm(x, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """PyTorch's F.layer_norm: normalise over the trailing ``normalized_shape`` axes."""
    x = lift(x)
    axes = _trailing_axes(x, normalized_shape, "layer_norm")
    shape = tuple(x.shape[a] for a in axes)
    weight = _check_param(weight, shape, "weight", "layer_norm", x)
    bias = _check_param(bias, shape, "bias", "layer_norm", x)
    return _apply_group(LayerNormOp, x, weight, bias, axes, eps)


def layer_norm_composed(x, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """The same layer norm from mean, sub, mul, sqrt, div, add (the twin)."""
    x = lift(x)
    axes = _trailing_axes(x, normalized_shape, "layer_norm")
    return _affine(_standardize(x, axes, eps, centre=True)[0], weight, bias, axes)


def _shape_tuple(normalized_shape, owner: str = "LayerNorm") -> tuple:
    """normalized_shape as a non-empty tuple of positive ints (an int n means (n,))."""
    sizes = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else normalized_shape
    try:
        sizes = tuple(sizes)
    except TypeError:
        sizes = None
    if (
        not sizes
        or any(isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n <= 0 for n in sizes)
    ):
        raise ValueError(
            f"{owner}: normalized_shape must be a positive int or a non-empty sequence of "
            f"positive ints (the trailing axes to normalise), got {normalized_shape!r}"
        )
    return tuple(int(n) for n in sizes)


class LayerNorm(Module):
    """PyTorch's nn.LayerNorm: weight ones and bias zeros of ``normalized_shape``."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, dtype=np.float64):
        super().__init__()
        self.normalized_shape = _shape_tuple(normalized_shape, "LayerNorm")
        self.eps = _check_eps(eps, "LayerNorm")
        self.elementwise_affine = _check_flag(elementwise_affine, "elementwise_affine", "LayerNorm")
        bias = _check_flag(bias, "bias", "LayerNorm")
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
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


@register
class RMSNormOp(_GroupNorm):
    """y = x / sqrt(mean(x^2) + eps) * weight over the trailing axes (no centring, no bias).

    grad_x = (gh - xhat * mean(gh * xhat)) / r with gh = G * weight; grad_weight = sum_batch(G * xhat).
    Zhang & Sennrich, "Root Mean Square Layer Normalization", NeurIPS 2019; PyTorch RMSNorm.
    """

    name = "rms_norm"
    no_zero_d = "normalises over the trailing axes"
    formula = "gh = g*w: grad_x = (gh - xhat*mean(gh*xhat))/r, grad_w = sum(g*xhat)"
    centre = False
    examples = [
        (((4, 3), (3,)), {"axis": (1,), "eps": 1e-6, "has_weight": True}),
        (((2, 3, 4),), {"axis": (1, 2), "eps": 1e-6}),
    ]


def _rms_eps(x: Tensor, eps) -> float:
    """PyTorch's default: eps None means the machine epsilon of the input's dtype."""
    if eps is not None:
        return float(eps)
    return float(np.finfo(x.dtype).eps) if x.dtype != object else float(np.finfo(np.float64).eps)


def rms_norm(x, normalized_shape, weight=None, eps: float | None = None) -> Tensor:
    """PyTorch's F.rms_norm: x / sqrt(mean(x^2) + eps) * weight over the trailing axes."""
    x = lift(x)
    axes = _trailing_axes(x, normalized_shape, "rms_norm")
    weight = _check_param(weight, tuple(x.shape[a] for a in axes), "weight", "rms_norm", x)
    return _apply_group(RMSNormOp, x, weight, None, axes, _rms_eps(x, eps))


def rms_norm_composed(x, normalized_shape, weight=None, eps: float | None = None) -> Tensor:
    """The same RMS norm from mean, mul, sqrt, div (the twin)."""
    x = lift(x)
    axes = _trailing_axes(x, normalized_shape, "rms_norm")
    return _affine(_standardize(x, axes, _rms_eps(x, eps), centre=False)[0], weight, None, axes)


class RMSNorm(Module):
    """PyTorch's nn.RMSNorm: weight ones of ``normalized_shape``; eps None = machine eps."""

    def __init__(self, normalized_shape, eps: float | None = None, elementwise_affine: bool = True,
                 dtype=np.float64):
        super().__init__()
        self.normalized_shape = _shape_tuple(normalized_shape, "RMSNorm")
        self.eps = None if eps is None else _check_eps(eps, "RMSNorm")
        self.elementwise_affine = _check_flag(elementwise_affine, "elementwise_affine", "RMSNorm")
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=dtype))
        else:
            self.register_parameter("weight", None)

    def forward(self, x):
        return rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


# ---------------------------------------------------------------------------------------
# BatchNorm: over the batch (and length) axes, per channel
# ---------------------------------------------------------------------------------------
@register
class BatchNormOp(_GroupNorm):
    """Training-mode batch norm of (N, C) or (N, C, L): per channel, batch statistics.

    y = (x - mean_B) / sqrt(var_B + eps) * weight + bias  (var_B biased, over N (and L)).
    The classic backward, m = number of values per channel, sigma = sqrt(var_B + eps):
        grad_x = (1/m) * (weight/sigma) * (m*G - sum(G) - xhat * sum(G * xhat))
        grad_weight = sum(G * xhat),  grad_bias = sum(G)
    Ioffe & Szegedy, "Batch Normalization", ICML 2015, section 3.
    """

    name = "batch_norm"
    no_zero_d = "normalises over the batch axis of a (batch, features, ...) input"
    formula = "grad_x = (1/m)*(w/sigma)*(m*g - sum(g) - xhat*sum(g*xhat)), grad_w = sum(g*xhat)"
    on_group = False
    examples = [
        (((5, 3), (3,), (3,)), {"axis": (0,), "eps": 1e-5, "has_weight": True, "has_bias": True}),
        (((4, 2, 3), (2,), (2,)), {"axis": (0, 2), "eps": 1e-5, "has_weight": True, "has_bias": True}),
        (((5, 3),), {"axis": (0,), "eps": 1e-5}),
    ]


def _batch_axes(x: Tensor, function: str) -> tuple:
    if x.ndim not in (2, 3):
        raise ValueError(f"{function}: expected 2D or 3D input (got {x.ndim}D input)")
    return (0,) if x.ndim == 2 else (0, 2)


def batch_norm(x, running_mean=None, running_var=None, weight=None, bias=None,
               training: bool = False, momentum: float | None = 0.1, eps: float = 1e-5) -> Tensor:
    """PyTorch's F.batch_norm for (N, C) and (N, C, L) inputs.

    training=True: normalise with the batch's mean and biased variance (one fused node),
    and when running statistics are given update them in place,
        running_mean <- (1 - momentum) * running_mean + momentum * mean_B
        running_var  <- (1 - momentum) * running_var  + momentum * var_B * m / (m - 1)
    (the unbiased variance for the running estimate, as PyTorch).
    training=False: y = (x - running_mean) / sqrt(running_var + eps) * weight + bias, the
    statistics constants.
    """
    x = lift(x)
    axes = _batch_axes(x, "batch_norm")
    channels = x.shape[1]
    weight = _check_param(weight, (channels,), "weight", "batch_norm", x)
    bias = _check_param(bias, (channels,), "bias", "batch_norm", x)
    for label, stat in (("running_mean", running_mean), ("running_var", running_var)):
        if stat is not None and tuple(stat.shape) != (channels,):
            raise ValueError(
                f"batch_norm: {label} should contain {channels} elements not {int(np.prod(stat.shape))} "
                f"(input of shape {x.shape} has {channels} channels on axis 1)"
            )
    count = _count(x.shape, axes)
    if training:
        if count <= 1:
            raise ValueError(
                f"Expected more than 1 value per channel when training, got input size {x.shape}"
            )
        updates = _running_updates(x, running_mean, running_var, momentum, axes)
        out = _apply_group(BatchNormOp, x, weight, bias, axes, eps)
        # Committed only now: a forward that raised above has left the statistics alone.
        for stat, value in updates:
            stat.data = value
        return out
    if running_mean is None or running_var is None:
        raise ValueError("batch_norm: eval mode (training=False) needs running_mean and running_var")
    view = _param_view(x.shape, (1,))
    mean = Tensor._constant(np.asarray(running_mean.data).reshape(view))
    scale = Tensor._constant(1.0 / np.sqrt(np.asarray(running_var.data).reshape(view) + eps))
    return _affine(ops.mul(ops.sub(x, mean), scale), weight, bias, (1,))


def _check_momentum(momentum, owner: str, allow_none: bool) -> float | None:
    if momentum is None and allow_none:
        return None
    if isinstance(momentum, (bool, np.bool_)) or not isinstance(momentum, (int, float, np.integer, np.floating)):
        raise TypeError(
            f"{owner}: momentum must be a float in [0, 1]{' or None' if allow_none else ''}, got "
            f"{momentum!r} ({type(momentum).__name__})"
        )
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(
            f"{owner}: momentum must be in [0, 1] (the weight of the new batch in the running "
            f"averages), got {momentum!r}; PyTorch's default is 0.1"
            + (", and None means a cumulative average." if allow_none else ".")
        )
    return float(momentum)


def _running_updates(x: Tensor, running_mean, running_var, momentum, axes: tuple) -> list:
    """The new running statistics as (buffer, new array) pairs, not yet written.

        running_mean <- (1 - momentum) * running_mean + momentum * mean_B
        running_var  <- (1 - momentum) * running_var  + momentum * var_B * m / (m - 1)
    """
    if running_mean is None or running_var is None or x.dtype == object:
        return []
    momentum = _check_momentum(momentum, "batch_norm", allow_none=False)
    mean = x.data.mean(axis=axes)
    var = x.data.var(axis=axes, ddof=1)
    return [
        (running_mean, (1 - momentum) * running_mean.data + momentum * mean),
        (running_var, (1 - momentum) * running_var.data + momentum * var),
    ]


def batch_norm_composed(x, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """Training-mode batch norm (batch statistics) from mean, sub, mul, sqrt, div (the twin)."""
    x = lift(x)
    axes = _batch_axes(x, "batch_norm")
    return _affine(_standardize(x, axes, eps, centre=True)[0], weight, bias, (1,))


class BatchNorm1d(Module):
    """PyTorch's nn.BatchNorm1d over (N, C) or (N, C, L) inputs.

    Buffers ``running_mean`` (zeros), ``running_var`` (ones) and ``num_batches_tracked``
    when ``track_running_stats``; parameters ``weight`` (ones) and ``bias`` (zeros) when
    ``affine``. Training mode normalises with batch statistics and updates the running
    ones (``momentum=None``: a cumulative average, factor 1/num_batches_tracked); eval mode
    uses the running statistics, or the batch's when none are tracked.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, dtype=np.float64):
        super().__init__()
        if (isinstance(num_features, (bool, np.bool_)) or not isinstance(num_features, (int, np.integer))
                or num_features <= 0):
            raise ValueError(
                f"BatchNorm1d: num_features must be a positive int (the number of channels, axis 1 "
                f"of the input), got {num_features!r}"
            )
        self.num_features = int(num_features)
        self.eps = _check_eps(eps, "BatchNorm1d")
        self.momentum = _check_momentum(momentum, "BatchNorm1d", allow_none=True)
        self.affine = _check_flag(affine, "affine", "BatchNorm1d")
        self.track_running_stats = _check_flag(track_running_stats, "track_running_stats", "BatchNorm1d")
        if affine:
            self.weight = Parameter(np.ones(self.num_features, dtype=dtype))
            self.bias = Parameter(np.zeros(self.num_features, dtype=dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(self.num_features, dtype=dtype)))
            self.register_buffer("running_var", Tensor(np.ones(self.num_features, dtype=dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def forward(self, x):
        x = lift(x)
        _batch_axes(x, "BatchNorm1d")
        if x.shape[1] != self.num_features:
            raise ValueError(
                f"BatchNorm1d: input of shape {x.shape} has {x.shape[1]} channels on axis 1; "
                f"this layer was built for num_features={self.num_features}"
            )
        if self.training and _count(x.shape, _batch_axes(x, "BatchNorm1d")) <= 1:
            # Checked before the counter moves, so a rejected batch leaves no trace.
            raise ValueError(
                f"Expected more than 1 value per channel when training, got input size {x.shape}"
            )
        factor = 0.0 if self.momentum is None else self.momentum
        updating = self.training and self.track_running_stats and self.num_batches_tracked is not None
        if updating:
            batches = self.num_batches_tracked.data + 1      # a temporary until the forward succeeds
            if self.momentum is None:
                factor = 1.0 / float(batches)
        if self.training:
            # Batch statistics; the running ones are computed aside and committed at the end,
            # so a forward that raises changes no buffer.
            out = batch_norm(x, None, None, self.weight, self.bias, True, factor, self.eps)
            if updating:
                updates = _running_updates(x, self.running_mean, self.running_var, factor,
                                           _batch_axes(x, "BatchNorm1d"))
                with no_grad():
                    for stat, value in updates:
                        stat.data = value
                    self.num_batches_tracked.data = batches
            return out
        use_batch = self.running_mean is None
        return batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                          use_batch, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")

