"""The composed functions and primitives in one namespace, like torch.nn.functional.

The functions of ``minigrad.functional`` and the convolutions are re-exported by name;
the layers' own functions (dropout, the pools, the normalisations, the PyTorch-style
losses) are defined here. ``__all__`` is the whole namespace.
"""
import math as _math

import numpy as _np

from minigrad import functional as _F
from minigrad import ops as _ops
from minigrad import random as _random
from minigrad.functional import (
    abs, amax, amin, argmax, argmin, cat, chunk, clamp, exp, expand, flatten_dims, leaky_relu, linear,
    linear_composed, log, log_softmax, logsumexp, masked_fill, matmul, maximum, mean, minimum, mse_loss,
    one_hot, permute, prod, relu, repeat, reshape, sigmoid, softmax, sort, split, sqrt, squeeze, std, tanh,
    topk, transpose, unsqueeze, var, where,
)
from minigrad.ops.conv import _columns, _pair, conv1d, conv2d, conv_transpose2d, output_size
from minigrad.ops.special import erf as _erf
from minigrad.tensor import Tensor as _Tensor
from minigrad.tensor import lift as _lift

__all__ = [
    # from minigrad.functional
    "abs", "amax", "amin", "argmax", "argmin", "cat", "chunk", "clamp", "exp", "expand", "flatten_dims",
    "leaky_relu", "linear", "linear_composed", "log", "log_softmax", "logsumexp", "masked_fill", "matmul",
    "maximum", "mean", "minimum", "mse_loss", "one_hot", "permute", "prod", "relu", "repeat", "reshape",
    "sigmoid", "softmax", "sort", "split", "sqrt", "squeeze", "std", "tanh", "topk", "transpose",
    "unsqueeze", "var", "where",
    # the convolutions
    "conv1d", "conv2d", "conv_transpose2d",
    # defined here
    "gelu", "softplus", "dropout", "embedding", "layer_norm", "batch_norm", "max_pool2d", "avg_pool2d",
    "adaptive_avg_pool2d", "l1_loss", "nll_loss", "cross_entropy", "binary_cross_entropy_with_logits",
]


# ---------------------------------------------------------------------------------------
# Layers' functions with PyTorch's names and arguments (composed from primitives)
# ---------------------------------------------------------------------------------------
def gelu(x, approximate: str = "none"):
    """x * Phi(x) with Phi the standard normal CDF: 0.5 x (1 + erf(x / sqrt 2)).

    ``approximate='tanh'``: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (Hendrycks &
    Gimpel 2016, the form PyTorch offers). The gradient comes from the pieces.
    """
    x = _lift(x)
    if approximate == "tanh":
        inner = _ops.mul(_ops.add(x, _ops.mul(_ops.mul(_ops.mul(x, x), x), 0.044715)), _math.sqrt(2 / _math.pi))
        return _ops.mul(_ops.mul(x, 0.5), _ops.add(_ops.tanh(inner), 1.0))
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _ops.mul(_ops.mul(x, 0.5), _ops.add(_erf(_ops.mul(x, 1 / _math.sqrt(2.0))), 1.0))


def _log1p_exp(z):
    """log(1 + exp(z)) for z = -|t| <= 0 (never overflows)."""
    return _ops.log(_ops.add(_ops.exp(z), 1.0))


def softplus(x, beta: float = 1.0, threshold: float = 20.0):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (PyTorch's rule).

    Computed as max(bx, 0) + log(1 + exp(-|bx|)) with both pieces picked by where, so
    nothing overflows and the gradient at 0 is 1/2 = sigmoid(0).
    """
    x = _lift(x)
    scaled = _ops.mul(x, float(beta))
    positive = scaled.data > 0
    smooth = _ops.add(_ops.where(positive, scaled, 0.0), _log1p_exp(_ops.where(positive, _ops.neg(scaled), scaled)))
    return _ops.where(scaled.data > threshold, x, _ops.div(smooth, float(beta)))


def dropout(x, p: float = 0.5, training: bool = True):
    """Zero each entry with probability p and scale the rest by 1 / (1 - p) (training only).

    The mask comes from minigrad's generator (``minigrad.manual_seed``), so it differs
    from PyTorch's draws for the same seed.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability has to be between 0 and 1, but got {p}")
    x = _lift(x)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return _ops.mul(x, 0.0)
    keep = _random.generator().random(x.shape) >= p
    return _ops.mul(x, _Tensor._constant((keep / (1.0 - p)).astype(x.dtype)))


def embedding(indices, weight):
    """Rows of ``weight`` (num_embeddings, dim) picked by integer ``indices``; the gradient adds up per row."""
    data = _np.asarray(indices.data if isinstance(indices, _Tensor) else indices)
    if data.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {data.dtype}")
    weight = _lift(weight)
    if data.size and (data.min() < 0 or data.max() >= weight.shape[0]):
        raise IndexError(f"embedding: indices must be in [0, {weight.shape[0] - 1}], got {data.min()} to {data.max()}")
    return _ops.getitem(weight, data.astype(_np.intp))


def layer_norm(x, normalized_shape, weight=None, bias=None, eps: float = 1e-5):
    """(x - mean) / sqrt(var + eps) over the last len(normalized_shape) axes (population var)."""
    x = _lift(x)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if x.shape[x.ndim - len(shape):] != shape:
        raise ValueError(f"layer_norm: input of shape {x.shape} does not end in normalized_shape {shape}")
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    centred = _ops.sub(x, _F.mean(x, axes, keepdim=True))
    variance = _F.mean(_ops.mul(centred, centred), axes, keepdim=True)
    out = _ops.div(centred, _ops.sqrt(_ops.add(variance, eps)))
    if weight is not None:
        out = _ops.mul(out, weight)
    return out if bias is None else _ops.add(out, bias)


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5):
    """Normalise each channel (axis 1) over the batch and spatial axes.

    Training: the batch's mean and population variance normalise, and the running
    statistics move towards the batch's mean and *sample* variance (n - 1), as PyTorch.
    Eval: the running statistics normalise.
    """
    x = _lift(x)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of shape (N, C, ...), got {x.shape}")
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    if training:
        count = x.size // x.shape[1]
        if count <= 1:
            raise ValueError(
                f"batch_norm: expected more than 1 value per channel when training, got input of shape {x.shape}"
            )
        mean = _F.mean(x, axes, keepdim=True)
        centred = _ops.sub(x, mean)
        variance = _F.mean(_ops.mul(centred, centred), axes, keepdim=True)
        if running_mean is not None:
            batch_mean = mean.data.reshape(-1)
            batch_var = variance.data.reshape(-1) * count / (count - 1)
            running_mean.data = (1 - momentum) * running_mean.data + momentum * batch_mean
            running_var.data = (1 - momentum) * running_var.data + momentum * batch_var
    else:
        centred = _ops.sub(x, _ops.reshape(running_mean, shape))
        variance = _ops.reshape(running_var, shape)
    out = _ops.div(centred, _ops.sqrt(_ops.add(variance, eps)))
    if weight is not None:
        out = _ops.mul(out, _ops.reshape(weight, shape))
    return out if bias is None else _ops.add(out, _ops.reshape(bias, shape))


def _pool_geometry(function, kernel_size, stride, padding):
    kernel = _pair(kernel_size, "kernel_size", function, 1)
    stride = kernel if stride is None or stride == () else _pair(stride, "stride", function, 1)
    padding = _pair(padding, "padding", function, 0)
    if any(2 * p > k for p, k in zip(padding, kernel)):
        raise ValueError(f"{function}: padding {padding} should be at most half of the kernel size {kernel}")
    return kernel, stride, padding


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1):
    """The largest entry of each window of (N, C, H, W); the gradient goes to that entry.

    Composed: NumPy finds each window's first largest entry, and getitem picks it (so the
    gradient is getitem's: scattered back to the picked places; overlapping windows add).
    Padding counts as -inf, as in PyTorch.
    """
    x = _lift(x)
    if x.ndim != 4:
        raise ValueError(f"max_pool2d: expected an input of shape (N, C, H, W), got {x.shape}")
    kernel, stride, padding = _pool_geometry("max_pool2d", kernel_size, stride, padding)
    dilation = _pair(dilation, "dilation", "max_pool2d", 1)
    n, c, h, w = x.shape
    out_hw = tuple(output_size(x.shape[2 + a], kernel[a], stride[a], padding[a], dilation[a]) for a in (0, 1))
    if min(out_hw) < 1:
        raise ValueError(f"max_pool2d: the window {kernel} does not fit the input {x.shape[2:]}")
    flat_index = _np.arange(h * w, dtype=_np.float64).reshape(1, 1, h, w)
    padded = _np.full((n, c, h + 2 * padding[0], w + 2 * padding[1]), -_np.inf)
    padded[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w] = x.data
    where_from = _np.full((1, 1) + padded.shape[2:], -1.0)
    where_from[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w] = flat_index
    windows = _columns(padded, kernel, stride, (0, 0), dilation, out_hw).reshape(n, c, *out_hw, -1)
    sources = _columns(where_from, kernel, stride, (0, 0), dilation, out_hw).reshape(1, 1, *out_hw, -1)
    best = _np.argmax(windows, axis=-1)[..., None]
    picked = _np.take_along_axis(_np.broadcast_to(sources, windows.shape), best, axis=-1)[..., 0].astype(_np.intp)
    rows, cols = _np.divmod(picked, w)
    batch = _np.arange(n).reshape(n, 1, 1, 1)
    channel = _np.arange(c).reshape(1, c, 1, 1)
    return _ops.getitem(x, (batch, channel, rows, cols))


def avg_pool2d(x, kernel_size, stride=None, padding=0, count_include_pad: bool = True):
    """The mean of each window of (N, C, H, W): a conv2d with a constant 1/(kh kw) kernel per channel."""
    x = _lift(x)
    if x.ndim != 4:
        raise ValueError(f"avg_pool2d: expected an input of shape (N, C, H, W), got {x.shape}")
    kernel, stride, padding = _pool_geometry("avg_pool2d", kernel_size, stride, padding)
    c = x.shape[1]
    ones = _Tensor._constant(_np.ones((c, 1) + kernel, dtype=x.dtype))
    total = conv2d(x, ones, stride=stride, padding=padding, groups=c)
    if count_include_pad or padding == (0, 0):
        return _ops.mul(total, 1.0 / (kernel[0] * kernel[1]))
    counts = conv2d(_Tensor._constant(_np.ones((1, 1) + x.shape[2:], dtype=x.dtype)),
                    _Tensor._constant(_np.ones((1, 1) + kernel, dtype=x.dtype)), stride=stride, padding=padding)
    return _ops.div(total, counts.data)


def adaptive_avg_pool2d(x, output_size):
    """Means over PyTorch's adaptive bins: bin i spans [floor(i H / oh), ceil((i + 1) H / oh))."""
    x = _lift(x)
    if x.ndim != 4:
        raise ValueError(f"adaptive_avg_pool2d: expected an input of shape (N, C, H, W), got {x.shape}")
    oh, ow = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    oh, ow = oh or x.shape[2], ow or x.shape[3]
    h, w = x.shape[2:]
    if (oh, ow) == (1, 1):
        return _F.mean(x, (2, 3), keepdim=True)
    rows = []
    for i in range(oh):
        top, bottom = (i * h) // oh, -(-((i + 1) * h) // oh)
        row = [_F.mean(x[:, :, top:bottom, (j * w) // ow: -(-((j + 1) * w) // ow)], (2, 3)) for j in range(ow)]
        rows.append(_ops.stack(row, axis=-1))
    return _ops.stack(rows, axis=-2)


# Losses -----------------------------------------------------------------------------------
def l1_loss(input, target, reduction: str = "mean"):
    """|input - target|, reduced; the gradient at a tie is 0 (sign(0), as PyTorch)."""
    input, target = _lift(input), _lift(target)
    if input.shape != target.shape:
        raise ValueError(f"l1_loss: input shape {input.shape} and target shape {target.shape} differ; they must match")
    return _F._reduce(_ops.abs_(_ops.sub(input, target)), reduction, "l1_loss")


def _class_last(x):
    """(N, C, d1, ...) -> (N d1 ..., C): the class axis last, one row per prediction."""
    if x.ndim <= 2:
        return x
    moved = _ops.transpose(x, (0,) + tuple(range(2, x.ndim)) + (1,))
    return _ops.reshape(moved, (-1, x.shape[1]))


def nll_loss(input, target, weight=None, ignore_index: int = -100, reduction: str = "mean"):
    """-input[i, target_i] * weight[target_i], reduced: 'mean' divides by the sum of the weights used.

    Targets equal to ``ignore_index`` count nothing (not even in the mean's divisor).
    """
    input = _lift(input)
    labels = _np.asarray(target.data if isinstance(target, _Tensor) else target)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"nll_loss: target must hold class indices (integers), got dtype {labels.dtype}")
    if input.ndim < 1 or labels.shape != (input.shape[:1] + input.shape[2:] if input.ndim > 1 else ()):
        raise ValueError(f"nll_loss: input of shape {input.shape} needs a target of shape "
                         f"{input.shape[:1] + input.shape[2:]}, got {labels.shape}")
    scores = _class_last(input if input.ndim > 1 else _ops.reshape(input, (1, -1)))
    labels = labels.reshape(-1)
    classes = scores.shape[1]
    used = labels != ignore_index
    if _np.any(used & ((labels < 0) | (labels >= classes))):
        raise IndexError(f"nll_loss: target classes must be in [0, {classes - 1}] (or ignore_index={ignore_index})")
    safe = _np.where(used, labels, 0)
    w = _np.ones(classes) if weight is None else _np.asarray(weight.data if isinstance(weight, _Tensor) else weight)
    row_weight = (w[safe] * used).astype(input.dtype)
    picked = _ops.getitem(scores, (_np.arange(len(safe)), safe))
    losses = _ops.neg(_ops.mul(picked, _Tensor._constant(row_weight)))
    if reduction == "mean":
        return _ops.div(_ops.sum_(losses), float(row_weight.sum()))
    if reduction == "none":
        return _ops.reshape(losses, _np.asarray(target.data if isinstance(target, _Tensor) else target).shape)
    return _F._reduce(losses, reduction, "nll_loss")


def cross_entropy(input, target, weight=None, ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0):
    """Softmax cross-entropy with PyTorch's arguments: class indices or probabilities as target.

    With label smoothing e over C classes the target is (1 - e) one_hot + e / C, so the
    loss is (1 - e) nll + e * mean_c(-weight_c log p_c); ignored rows count nothing, and
    'mean' divides by the summed weights of the used rows' targets (PyTorch's rule).
    Without weights, ignored targets or smoothing on (N, C) logits it is one fused op.
    """
    input = _lift(input)
    labels = _np.asarray(target.data if isinstance(target, _Tensor) else target)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    plain = weight is None and label_smoothing == 0.0 and input.ndim == 2
    if plain and (labels.dtype.kind not in "iu" or not _np.any(labels == ignore_index)):
        return _F.cross_entropy(input, target, reduction)
    log_probs = _F.log_softmax(input, dim=1 if input.ndim > 1 else 0)
    if labels.dtype.kind not in "iu":  # class probabilities
        probs = _lift(target, input)
        if label_smoothing:
            probs = _ops.add(_ops.mul(probs, 1.0 - label_smoothing), label_smoothing / input.shape[1])
        terms = _ops.mul(probs, log_probs)
        if weight is not None:
            terms = _ops.mul(terms, _ops.reshape(_lift(weight, input), (1, -1) + (1,) * (input.ndim - 2)))
        per_row = _ops.neg(_ops.sum_(terms, 1))
        return _F._reduce(per_row, reduction, "cross_entropy")
    nll = nll_loss(log_probs, labels, weight, ignore_index, reduction)
    if not label_smoothing:
        return nll
    rows = _class_last(log_probs)
    flat = labels.reshape(-1)
    used = (flat != ignore_index).astype(input.dtype)
    if weight is None:
        w = _np.ones(rows.shape[1])
    else:
        w = _np.asarray(weight.data if isinstance(weight, _Tensor) else weight)
    smooth = _ops.neg(_ops.sum_(_ops.mul(rows, _Tensor._constant(w.astype(input.dtype))), 1))
    smooth = _ops.mul(smooth, _Tensor._constant(used))
    if reduction == "mean":
        divisor = float((w[_np.where(flat != ignore_index, flat, 0)] * used).sum())
        smooth = _ops.div(_ops.sum_(smooth), divisor)
    elif reduction == "sum":
        smooth = _ops.sum_(smooth)
    else:
        smooth = _ops.reshape(smooth, labels.shape)
    classes = rows.shape[1]
    return _ops.add(_ops.mul(nll, 1.0 - label_smoothing), _ops.mul(smooth, label_smoothing / classes))


def binary_cross_entropy_with_logits(input, target, weight=None, reduction: str = "mean", pos_weight=None):
    """-(p y log s(x) + (1 - y) log(1 - s(x))) with s the sigmoid, computed stably:
    (1 - y) x + (1 + (p - 1) y) (log(1 + exp(-|x|)) + max(-x, 0)), p = pos_weight (default 1)."""
    input, target = _lift(input), _lift(target)
    if input.shape != target.shape:
        raise ValueError(
            f"binary_cross_entropy_with_logits: input shape {input.shape} and target shape {target.shape} differ"
        )
    negative = input.data < 0
    softplus_neg = _ops.add(_ops.where(negative, _ops.neg(input), 0.0),
                            _log1p_exp(_ops.where(negative, input, _ops.neg(input))))
    scale = 1.0 if pos_weight is None else _ops.add(_ops.mul(_ops.sub(_lift(pos_weight, input), 1.0), target), 1.0)
    loss = _ops.add(_ops.mul(_ops.sub(1.0, target), input), _ops.mul(scale, softplus_neg))
    if weight is not None:
        loss = _ops.mul(loss, weight)
    return _F._reduce(loss, reduction, "binary_cross_entropy_with_logits")
