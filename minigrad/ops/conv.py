"""Convolution primitives: conv2d, its transpose, and the weight gradient of conv2d.

Shapes (PyTorch's layouts): input x (N, C, H, W), weight w (O, C/groups, kh, kw), output
y (N, O, Ho, Wo) with Ho = floor((H + 2 ph - dh (kh - 1) - 1) / sh) + 1 (the same for W).

    y[n, o, i, j] = sum_{c, p, q} x_pad[n, g(o) C/g + c, i sh + p dh, j sw + q dw] w[o, c, p, q]

The forward is "im2col": NumPy's sliding_window_view lists every receptive field (a view,
no copy), the strides and dilation are slices of it, and one matrix product per group
does the sums. The three primitives are closed under differentiation, which is what makes
second derivatives (and the SymPy world) work: conv2d is bilinear in (x, w), so

    grad_x = conv_transpose2d(g, w)    (the adjoint of x -> conv2d(x, w): each output
                                       gradient is spread back over the entries of its
                                       receptive field, "col2im")
    grad_w = conv2d_weight(x, g)       (the correlation of the input with the output
                                       gradient, summed over the batch)

and the same bilinearity gives the VJPs of the other two. References: Dumoulin & Visin,
"A guide to convolution arithmetic for deep learning" (2016), section 4 (transposed
convolution as the gradient of convolution); PyTorch's torch/nn/grad.py
(conv2d_input, conv2d_weight) states the same identities.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from minigrad.ops.elementwise import add
from minigrad.ops.registry import Primitive, apply, register
from minigrad.ops.shape import reshape
from minigrad.tensor import Tensor, lift

_NO_ZERO_D = "a convolution needs (N, C, H, W) inputs and an (O, C/groups, kh, kw) weight; 0-d has no spatial axes"


def _pad(x: np.ndarray, padding: tuple) -> np.ndarray:
    ph, pw = padding
    if not ph and not pw:
        return x
    out = np.zeros(x.shape[:2] + (x.shape[2] + 2 * ph, x.shape[3] + 2 * pw), dtype=x.dtype)
    if x.dtype == object:
        out[...] = 0
    out[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]] = x
    return out


def _columns(x: np.ndarray, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple, out_hw: tuple) -> np.ndarray:
    """The receptive fields of x as (N, C, Ho, Wo, kh, kw): a strided view, no copy."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out_hw
    span = ((kh - 1) * dh + 1, (kw - 1) * dw + 1)
    windows = sliding_window_view(_pad(x, padding), span, axis=(2, 3))
    return windows[:, :, : (ho - 1) * sh + 1: sh, : (wo - 1) * sw + 1: sw, ::dh, ::dw]


def output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _conv_forward(x, w, stride, padding, dilation, groups):
    n, _, h, width = x.shape
    o, cg, kh, kw = w.shape
    ho = output_size(h, kh, stride[0], padding[0], dilation[0])
    wo = output_size(width, kw, stride[1], padding[1], dilation[1])
    cols = _columns(x, (kh, kw), stride, padding, dilation, (ho, wo))
    # (G, N, Ho, Wo, Cg kh kw) @ (G, Cg kh kw, Og) -> (G, N, Ho, Wo, Og)
    cols = cols.reshape(n, groups, cg, ho, wo, kh, kw).transpose(1, 0, 3, 4, 2, 5, 6)
    cols = cols.reshape(groups, n * ho * wo, cg * kh * kw)
    kernels = w.reshape(groups, o // groups, cg * kh * kw).transpose(0, 2, 1)
    out = np.matmul(cols, kernels).reshape(groups, n, ho, wo, o // groups)
    return np.ascontiguousarray(out.transpose(1, 0, 4, 2, 3)).reshape(n, o, ho, wo)


def _conv_transpose_forward(y, w, stride, padding, dilation, groups, out_hw):
    """The adjoint of x -> conv2d(x, w) for an x of spatial size ``out_hw`` (col2im)."""
    n, o, ho, wo = y.shape
    _, cg, kh, kw = w.shape
    # (G, N Ho Wo, Og) @ (G, Og, Cg kh kw) -> every output gradient times its kernel
    spread = y.reshape(n, groups, o // groups, ho * wo).transpose(1, 0, 3, 2).reshape(groups, n * ho * wo, o // groups)
    kernels = w.reshape(groups, o // groups, cg * kh * kw)
    cols = np.matmul(spread, kernels).reshape(groups, n, ho, wo, cg, kh, kw)
    cols = cols.transpose(1, 0, 4, 5, 6, 2, 3).reshape(n, groups * cg, kh, kw, ho, wo)
    return _col2im(cols, out_hw, stride, padding, dilation, np.result_type(y, w))


def _col2im(cols, out_hw, stride, padding, dilation, dtype) -> np.ndarray:
    """Add each tap's share (N, C, kh, kw, Ho, Wo) back where conv2d read it; (N, C) x ``out_hw``.

    Tap (p, q) of output (i, j) read the padded input at (i sh + p dh, j sw + q dw): one
    strided slice per tap collects all of them, and the padding is cut off at the end.
    """
    n, c, kh, kw, ho, wo = cols.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    h, width = out_hw
    full = np.zeros((n, c, h + 2 * ph, width + 2 * pw), dtype=dtype)
    if full.dtype == object:
        full[...] = 0
    for p in range(kh):
        for q in range(kw):
            rows = slice(p * dh, p * dh + (ho - 1) * sh + 1, sh)
            columns = slice(q * dw, q * dw + (wo - 1) * sw + 1, sw)
            full[:, :, rows, columns] += cols[:, :, p, q]
    return full[:, :, ph:ph + h, pw:pw + width]


def _conv_weight_forward(x, g, kernel, stride, padding, dilation, groups):
    """sum over n, i, j of x's receptive field times g: the gradient of conv2d's weight."""
    n, c, _, _ = x.shape
    _, o, ho, wo = g.shape
    kh, kw = kernel
    cg = c // groups
    cols = _columns(x, kernel, stride, padding, dilation, (ho, wo))
    cols = cols.reshape(n, groups, cg, ho, wo, kh, kw).transpose(1, 2, 5, 6, 0, 3, 4)
    cols = cols.reshape(groups, cg * kh * kw, n * ho * wo)
    grads = g.reshape(n, groups, o // groups, ho * wo).transpose(1, 0, 3, 2).reshape(groups, n * ho * wo, o // groups)
    out = np.matmul(cols, grads)  # (G, Cg kh kw, Og)
    return np.ascontiguousarray(out.transpose(0, 2, 1)).reshape(o, cg, kh, kw)


# ---------------------------------------------------------------------------------------
# Fast paths for float data (the same sums, as a few large matrix products)
# ---------------------------------------------------------------------------------------
# The im2col functions above are the readable versions and serve SymPy data. On floats the
# column matrix is laid out (N, G, Cg kh kw, Ho Wo), so the output comes out of one batched
# product already in (N, O, Ho, Wo) order, and the forward keeps it for the weight gradient;
# the input gradient is one batched product and kh kw strided additions. test_conv
# checks these against the readable versions.
def _column_matrix(x, kernel, stride, padding, dilation, out_hw, groups):
    """The receptive fields as (N, G, Cg kh kw, Ho Wo), copied once into that layout."""
    n, c = x.shape[:2]
    view = _columns(x, kernel, stride, padding, dilation, out_hw)  # (N, C, Ho, Wo, kh, kw)
    matrix = np.ascontiguousarray(view.transpose(0, 1, 4, 5, 2, 3))  # rows read along Wo
    return matrix.reshape(n, groups, (c // groups) * kernel[0] * kernel[1], out_hw[0] * out_hw[1])


def _fast_conv(x, w, stride, padding, dilation, groups):
    """(output, column matrix): one batched matrix product per image and group."""
    n = x.shape[0]
    o, cg, kh, kw = w.shape
    out_hw = tuple(output_size(x.shape[2 + a], w.shape[2 + a], stride[a], padding[a], dilation[a]) for a in (0, 1))
    matrix = _column_matrix(x, (kh, kw), stride, padding, dilation, out_hw, groups)
    out = np.matmul(w.reshape(groups, o // groups, cg * kh * kw), matrix)  # (N, G, Og, Ho Wo)
    return out.reshape(n, o, *out_hw), matrix


def _fast_conv_weight_from_columns(matrix, g, weight_shape, groups):
    n = g.shape[0]
    grads = g.reshape(n, groups, weight_shape[0] // groups, -1)
    return np.add.reduce(np.matmul(grads, matrix.swapaxes(-1, -2)), axis=0).reshape(weight_shape)


def _fast_conv_transpose(y, w, stride, padding, dilation, groups, out_hw):
    n, o, ho, wo = y.shape
    _, cg, kh, kw = w.shape
    og = o // groups
    # every output gradient times every tap: (G, Cg kh kw, Og) @ (N, G, Og, Ho Wo), no copy of y
    cols = np.matmul(w.reshape(groups, og, cg * kh * kw).swapaxes(1, 2), y.reshape(n, groups, og, ho * wo))
    cols = cols.reshape(n, groups * cg, kh, kw, ho, wo)
    return _col2im(cols, out_hw, stride, padding, dilation, np.result_type(y, w))


def _fast_conv_weight(x, g, kernel, stride, padding, dilation, groups):
    matrix = _column_matrix(x, kernel, stride, padding, dilation, g.shape[2:], groups)
    o = g.shape[1]
    return _fast_conv_weight_from_columns(matrix, g, (o, x.shape[1] // groups) + tuple(kernel), groups)

_GEOMETRY = {"stride": (1, 1), "padding": (0, 0), "dilation": (1, 1), "groups": 1}
_GEOMETRY_KEYS = tuple(_GEOMETRY)
_STRIDED = {"stride": (2, 1), "padding": (1, 0), "dilation": (1, 2), "groups": 2}


@register
class Conv2d(Primitive):
    name = "conv2d"
    formula = "grad_x = conv_transpose2d(g, w), grad_w = conv2d_weight(x, g)"
    no_zero_d = _NO_ZERO_D
    examples = [
        (((1, 1, 3, 3), (1, 1, 2, 2)), dict(_GEOMETRY)),
        (((2, 2, 4, 4), (2, 1, 2, 2)), dict(_STRIDED)),
    ]

    @staticmethod
    def forward(ctx, x, w, stride, padding, dilation, groups):
        if x.dtype == object:
            return _conv_forward(x, w, stride, padding, dilation, groups)
        out, matrix = _fast_conv(x, w, stride, padding, dilation, groups)
        if ctx is not None and ctx.needs_input_grad[1]:
            ctx.saved = matrix  # the weight gradient reuses the columns (fast_vjp)
        return out

    @staticmethod
    def vjp(ctx, grad):
        x, w = ctx.parents
        return _bilinear_vjp(ctx, (ConvTranspose2d, grad, w, {"out_hw": x.shape[2:]}),
                             (Conv2dWeight, x, grad, {"kernel": w.shape[2:]}))

    @staticmethod
    def fast_vjp(ctx, grad):
        # vjp's two products on the float arrays, the weight's from the saved columns
        x, w = ctx.parents
        need_x, need_w = ctx.needs_input_grad
        stride, padding, dilation, groups = (ctx.attrs[k] for k in _GEOMETRY_KEYS)
        g = grad._data
        grad_x = grad_w = None
        if need_x:
            grad_x = Tensor._constant(_fast_conv_transpose(g, w._data, stride, padding, dilation, groups, x.shape[2:]))
        if need_w:
            matrix = ctx.saved if ctx.saved is not None else _column_matrix(
                x._data, w.shape[2:], stride, padding, dilation, g.shape[2:], groups)
            grad_w = Tensor._constant(_fast_conv_weight_from_columns(matrix, g, w.shape, groups))
        return grad_x, grad_w


@register
class ConvTranspose2d(Primitive):
    """The transposed convolution: the adjoint of conv2d in its input.

    y (N, O, Ho, Wo) with weight (O, C/groups, kh, kw) gives (N, C) x ``out_hw``. By
    bilinearity, grad_y = conv2d(g, w) and grad_w = conv2d_weight(g, y).
    """

    name = "conv_transpose2d"
    formula = "grad_y = conv2d(g, w), grad_w = conv2d_weight(g, y)"
    no_zero_d = _NO_ZERO_D
    examples = [
        (((1, 1, 2, 2), (1, 1, 2, 2)), dict(_GEOMETRY, out_hw=(3, 3))),
        (((2, 2, 3, 2), (2, 1, 2, 2)), dict(_STRIDED, out_hw=(4, 4))),
    ]

    @staticmethod
    def forward(ctx, y, w, stride, padding, dilation, groups, out_hw):
        if y.dtype == object:
            return _conv_transpose_forward(y, w, stride, padding, dilation, groups, out_hw)
        return _fast_conv_transpose(y, w, stride, padding, dilation, groups, out_hw)

    @staticmethod
    def vjp(ctx, grad):
        y, w = ctx.parents
        return _bilinear_vjp(ctx, (Conv2d, grad, w, {}), (Conv2dWeight, grad, y, {"kernel": w.shape[2:]}))


@register
class Conv2dWeight(Primitive):
    """The weight gradient of conv2d: the correlation of x with g, summed over the batch.

    Bilinear in (x, g): with V the incoming gradient (weight-shaped),
    grad_x = conv_transpose2d(g, V) and grad_g = conv2d(x, V).
    """

    name = "conv2d_weight"
    formula = "grad_x = conv_transpose2d(g, V), grad_g = conv2d(x, V)"
    no_zero_d = _NO_ZERO_D
    examples = [
        (((1, 1, 3, 3), (1, 1, 2, 2)), dict(_GEOMETRY, kernel=(2, 2))),
        (((2, 2, 4, 4), (2, 2, 3, 2)), dict(_STRIDED, kernel=(2, 2))),
    ]

    @staticmethod
    def forward(ctx, x, g, kernel, stride, padding, dilation, groups):
        if x.dtype == object:
            return _conv_weight_forward(x, g, kernel, stride, padding, dilation, groups)
        return _fast_conv_weight(x, g, kernel, stride, padding, dilation, groups)

    @staticmethod
    def vjp(ctx, grad):
        x, g = ctx.parents
        return _bilinear_vjp(ctx, (ConvTranspose2d, g, grad, {"out_hw": x.shape[2:]}), (Conv2d, x, grad, {}))


def _bilinear_vjp(ctx, first: tuple, second: tuple) -> tuple:
    """The two input gradients of a convolution primitive, each another one of the three.

    ``first`` and ``second`` are (primitive, left operand, right operand, extra attrs) for
    the gradient of input 0 and input 1; both keep the node's stride, padding, dilation and
    groups. A gradient no input needs is not computed (None).
    """
    geometry = {k: ctx.attrs[k] for k in _GEOMETRY_KEYS}
    return tuple(
        apply(op, left, right, **extra, **geometry) if need else None
        for need, (op, left, right, extra) in zip(ctx.needs_input_grad, (first, second))
    )


# ---------------------------------------------------------------------------------------
def _pair(value, name: str, function: str, minimum: int) -> tuple:
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    whole = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= minimum for v in pair)
    if len(pair) != 2 or not whole:
        raise ValueError(f"{function}: {name} must be an int >= {minimum} or a pair of them, got {value!r}")
    return tuple(int(v) for v in pair)


def _check(function: str, x: Tensor, w: Tensor, groups: int, in_axis: int) -> None:
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(
            f"{function}: expected a 4-d input (N, C, H, W) and a 4-d weight, got shapes {x.shape} and {w.shape}"
        )
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{function}: groups must be a positive int, got {groups!r}")
    channels = w.shape[0] if in_axis == 0 else w.shape[1] * groups
    if x.shape[1] != channels or w.shape[0] % groups:
        raise ValueError(
            f"{function}: input of shape {x.shape} has {x.shape[1]} channels, but the weight of shape "
            f"{w.shape} with groups={groups} expects {channels} (and {w.shape[0]} divisible by groups)"
        )


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1) -> Tensor:
    """2-D convolution (PyTorch's cross-correlation) of (N, C, H, W) with (O, C/groups, kh, kw), plus bias."""
    x, weight = lift(x), lift(weight)
    stride, dilation = _pair(stride, "stride", "conv2d", 1), _pair(dilation, "dilation", "conv2d", 1)
    padding = _pair(padding, "padding", "conv2d", 0)
    _check("conv2d", x, weight, groups, in_axis=1)
    for axis in (0, 1):
        if output_size(x.shape[2 + axis], weight.shape[2 + axis], stride[axis], padding[axis], dilation[axis]) < 1:
            raise ValueError(
                f"conv2d: the kernel {weight.shape[2:]} (dilation {dilation}) does not fit the padded input "
                f"{x.shape[2:]} (padding {padding}); the output would be empty"
            )
    out = apply(Conv2d, x, weight, stride=stride, padding=padding, dilation=dilation, groups=int(groups))
    return out if bias is None else add(out, reshape(bias, (1, -1, 1, 1)))


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups: int = 1,
                     dilation=1) -> Tensor:
    """Transposed 2-D convolution of (N, C_in, H, W) with (C_in, C_out/groups, kh, kw), plus bias.

    Output size: (H - 1) sh - 2 ph + dh (kh - 1) + output_padding + 1 (PyTorch's formula).
    """
    x, weight = lift(x), lift(weight)
    stride = _pair(stride, "stride", "conv_transpose2d", 1)
    dilation = _pair(dilation, "dilation", "conv_transpose2d", 1)
    padding = _pair(padding, "padding", "conv_transpose2d", 0)
    output_padding = _pair(output_padding, "output_padding", "conv_transpose2d", 0)
    _check("conv_transpose2d", x, weight, groups, in_axis=0)
    if any(op >= max(s, d) for op, s, d in zip(output_padding, stride, dilation)):
        raise ValueError(
            f"conv_transpose2d: output_padding {output_padding} must be smaller than the stride {stride} "
            f"or the dilation {dilation}"
        )
    out_hw = tuple(
        (x.shape[2 + a] - 1) * stride[a] - 2 * padding[a] + dilation[a] * (weight.shape[2 + a] - 1)
        + output_padding[a] + 1
        for a in (0, 1)
    )
    if min(out_hw) < 1:
        raise ValueError(f"conv_transpose2d: the output size {out_hw} is empty; reduce the padding {padding}")
    out = apply(ConvTranspose2d, x, weight, stride=stride, padding=padding, dilation=dilation,
                groups=int(groups), out_hw=out_hw)
    return out if bias is None else add(out, reshape(bias, (1, -1, 1, 1)))


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1) -> Tensor:
    """1-D convolution of (N, C, L) with (O, C/groups, k): conv2d on a height of 1."""
    x, weight = lift(x), lift(weight)
    if x.ndim != 3 or weight.ndim != 3:
        raise ValueError(
            f"conv1d: expected a 3-d input (N, C, L) and a 3-d weight, got shapes {x.shape} and {weight.shape}"
        )
    out = conv2d(reshape(x, x.shape[:2] + (1, x.shape[2])), reshape(weight, weight.shape[:2] + (1, weight.shape[2])),
                 None, _with_height(stride, "stride"), _with_height(padding, "padding"),
                 _with_height(dilation, "dilation"), groups)
    out = reshape(out, out.shape[:2] + (out.shape[3],))
    return out if bias is None else add(out, reshape(bias, (1, -1, 1)))


def _with_height(value, name: str) -> tuple:
    """conv1d's ``name`` (an int or a 1-tuple) as conv2d's pair over a height of 1.

    The height axis has stride and dilation 1 and padding 0, so it stays of length 1.
    """
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ValueError(f"conv1d: {name} must be an int or a 1-tuple, got {value!r}")
        value = value[0]
    return (0 if name == "padding" else 1, value)
