"""Weight normalisation (Salimans & Kingma, 2016), with PyTorch's module API.

    w = g * v / ||v||

The norm runs over every axis but ``dim``, so each output unit (dim=0) gets its own
length g and direction v / ||v||: the length is learnt apart from the direction.

References
    T. Salimans, D. P. Kingma, "Weight Normalization: A Simple Reparameterization to
    Accelerate Training of Deep Neural Networks", NeurIPS 2016, arXiv:1602.07868
    (equations 2-4 for the gradient, section 3 for the data-dependent initialisation).
    PyTorch, torch/nn/utils/weight_norm.py (the behaviour matched here).

What this module offers
    weight_normalize(g, v, dim, eps)           fused primitive g * v / ||v||, closed-form VJP
    weight_normalize_composed(g, v, dim, eps)  the same from engine ops (the check's twin)
    weight_norm(module, name, dim)             the parametrization, as a forward pre-hook
    remove_weight_norm(module, name)           back to a plain parameter
    weight_norm_init(module, x)                data-dependent initialisation of g and b

Where we differ from PyTorch on purpose: PyTorch divides by ||v|| with no floor, so a zero
slice of v gives 0/0 = NaN in the weight and in every gradient. We divide by
max(||v||, eps) with eps = 1e-12 (as F.normalize does): for ||v|| >= eps nothing changes
(the results equal PyTorch's), and a slice with ||v|| < eps gives w = g * v / eps, so v = 0
gives w = 0 and finite gradients grad_g = 0, grad_v = g * G / eps.

Registration checks its arguments (a weight with at least one entry, ``dim`` in range) and
computes g, v and the first weight before it changes the module, so a call that raises
leaves the module as it was; a forward changes no parameter (it only recomputes
``module.<name>``).
"""
from __future__ import annotations

import numpy as np

from minigrad import ops
from minigrad.autograd import no_grad
from minigrad.nn.layers import Linear, Sequential
from minigrad.nn.module import Module, Parameter
from minigrad.ops.registry import Primitive, apply, register
from minigrad.tensor import Tensor, lift
from norms._validate import check_dim, check_eps
from norms.functional import FrobeniusNorm, frobenius_norm

__all__ = [
    "WeightNorm", "WeightNormalize", "weight_normalize", "weight_normalize_composed",
    "weight_norm", "remove_weight_norm", "weight_norm_init", "norm_except_dim",
]

DEFAULT_EPS = 1e-12


def _reduced_axes(ndim: int, dim: int | None) -> tuple:
    """The axes the norm runs over: all of them for dim None, else all but ``dim``."""
    return tuple(range(ndim)) if dim is None else tuple(a for a in range(ndim) if a != dim)


def _kept_shape(shape: tuple, axes: tuple) -> tuple:
    return tuple(1 if axis in axes else size for axis, size in enumerate(shape))


def _g_shape(shape: tuple, dim: int | None) -> tuple:
    """g's shape: () for the whole tensor, else ``shape`` with every axis but dim set to 1."""
    if dim is None:
        return ()
    return tuple(size if axis == dim else 1 for axis, size in enumerate(shape))


def _sum_of_squares(v: np.ndarray, dim: int | None) -> np.ndarray:
    """sum v^2 over every axis but ``dim``, without forming v^2 (one read of v)."""
    letters = "abcdefghijklmnopqrstuvwxyz"[: v.ndim]
    kept = "" if dim is None else letters[dim]
    return np.einsum(f"{letters},{letters}->{kept}", v, v)


def _slice_norms(v: np.ndarray, dim: int | None) -> np.ndarray:
    """||v||_2 over every axis but ``dim``, keepdims-shaped (all axes for dim None).

    The plain sqrt(sum v^2), one read of v, when no square can have overflowed or lost
    digits to underflow: every slice's sum of squares is at most the largest float and at
    least length * tiny / eps (length: entries per slice), so the squares that underflowed
    change it by under one rounding. Otherwise (NaN, Inf, zero or tiny slices, 1e300
    entries) and for SymPy data, the scaled norm of norms.functional, which never overflows
    but makes several passes over v.
    """
    axes = _reduced_axes(v.ndim, dim)
    if v.dtype.kind == "f" and v.size:
        squares = _sum_of_squares(v, dim)
        info = np.finfo(v.dtype)
        length = v.size // (1 if dim is None else v.shape[dim])
        if np.all((squares >= length * (info.tiny / info.eps)) & (squares <= info.max)):
            return np.sqrt(squares).reshape(_kept_shape(v.shape, axes))
    return FrobeniusNorm.forward(None, v, axes, True)


def norm_except_dim(v: np.ndarray, dim: int | None) -> np.ndarray:
    """||v||_2 over every axis but ``dim`` (keepdims-shaped; a 0-d array for dim None)."""
    norm = _slice_norms(v, dim)
    return norm.reshape(()) if dim is None else norm


@register
class WeightNormalize(Primitive):
    """w = g * v / max(||v||, eps), the norm over every axis of v but ``dim`` (all for None).

    Per slice, with G the incoming gradient, s = sum(G * v) and n = ||v|| (n >= eps):

        grad_g = s / n
        grad_v = (g / n) * (G - v * s / n^2)

    i.e. G projected off v and scaled by g/n (Salimans & Kingma 2016, eq. 3; PyTorch's
    weight_norm backward). A slice with n < eps is the linear map g * v / eps, whose
    gradients are grad_g = s / eps, grad_v = g * G / eps.

    The forward keeps n for the backward; a recorded backward (create_graph=True)
    rebuilds it from engine ops instead, so that it is differentiated as well.
    """

    name = "weight_norm"
    formula = "s = sum(g_w*v), n = ||v||: grad_g = s/n, grad_v = (g/n)*(g_w - v*s/n^2)"
    domain = "nonzero"
    examples = [
        (((3, 1), (3, 4)), {"dim": 0, "eps": DEFAULT_EPS}),
        (((1, 4), (3, 4)), {"dim": 1, "eps": DEFAULT_EPS}),
        (((), (3, 4)), {"dim": None, "eps": DEFAULT_EPS}),
        (((1, 3, 1), (2, 3, 2)), {"dim": 1, "eps": DEFAULT_EPS}),
    ]

    @staticmethod
    def forward(ctx, g, v, dim, eps):
        norm = _slice_norms(v, dim)
        if ctx is not None:
            ctx.saved = norm
        if v.dtype != object:
            norm = np.maximum(norm, eps)   # SymPy symbols are never zero, so no floor there
        # v * (g / n) as PyTorch: one short division, then one pass over v.
        return v * (g / norm)

    @staticmethod
    def vjp(ctx, grad):
        # n depends on v, so it is built from ops (differentiable).
        v = ctx.parents[1]
        norm = frobenius_norm(v, _reduced_axes(v.ndim, ctx.attrs["dim"]), keepdims=True)
        return _weight_norm_grads(ctx, grad, norm)

    @staticmethod
    def fast_vjp(ctx, grad):
        # Not recorded: the norm the forward saved is a constant here.
        return _weight_norm_grads(ctx, grad, Tensor._constant(ctx.saved))


def _weight_norm_grads(ctx, grad, norm):
    """The gradients of :class:`WeightNormalize` for g and v, given n = ||v|| per slice."""
    g, v = ctx.parents
    dim, eps = ctx.attrs["dim"], ctx.attrs["eps"]
    need_g, need_v = ctx.needs_input_grad
    s = _slice_dots(grad, v, dim)
    # Slices shorter than eps are divided by eps, and lose the projection term.
    active = None if v.dtype == object else norm._data >= eps
    if active is None or active.all():
        floored = safe = norm
    else:
        floored = ops.where(active, norm, eps)
        safe = ops.where(active, norm, 1.0)     # keeps 0/0 out of the unused branch
    grad_g = grad_v = None
    if need_g:
        grad_g = ops.unbroadcast(ops.div(s, floored), g.shape)
    if need_v:
        projection = ops.div(ops.div(s, safe), floored)  # s/n^2 without forming n^2
        if active is not None and not active.all():
            projection = ops.where(active, projection, 0.0)
        grad_v = ops.mul(ops.div(g, floored), ops.sub(grad, ops.mul(v, projection)))
    return grad_g, grad_v


def _slice_dots(grad: Tensor, v: Tensor, dim: int | None) -> Tensor:
    """sum(G * v) over every axis but ``dim``, keepdims-shaped, from engine ops.

    For dim 0 and None the slices are contiguous, so the sums are (batched) dot products
    through matmul: no temporary of v's size. Other dims (and SymPy data) use sum(G * v).
    """
    kept = _kept_shape(v.shape, _reduced_axes(v.ndim, dim))
    if v.dtype == object or v.size == 0 or dim not in (0, None):
        return ops.sum_(ops.mul(grad, v), _reduced_axes(v.ndim, dim), keepdims=True)
    if dim is None:
        dots = ops.matmul(ops.reshape(grad, (-1,)), ops.reshape(v, (-1,)))
    else:
        rows = v.shape[0]
        dots = ops.matmul(ops.reshape(grad, (rows, 1, -1)), ops.reshape(v, (rows, -1, 1)))
    return ops.reshape(dots, kept)


def _check_g(g: Tensor, v: Tensor, dim: int | None, function: str) -> None:
    expected = _g_shape(v.shape, dim)
    if g.shape != expected:
        raise ValueError(
            f"{function}: for v of shape {v.shape} and dim={dim}, g must have shape {expected} "
            f"(the norm over every axis but dim, keepdims), got {g.shape}."
        )


def weight_normalize(g, v, dim: int | None = 0, eps: float = DEFAULT_EPS) -> Tensor:
    """g * v / max(||v||, eps) as one fused node; ``dim`` as in :func:`weight_norm`."""
    v = lift(v)
    g = lift(g, v)
    dim = check_dim(dim, v.ndim, "weight_normalize", "a weight", whole_tensor=True)
    _check_g(g, v, dim, "weight_normalize")
    return apply(WeightNormalize, g, v, dim=dim, eps=float(eps))


def weight_normalize_composed(g, v, dim: int | None = 0, eps: float = DEFAULT_EPS) -> Tensor:
    """The same g * v / max(||v||, eps) from mul, sum, sqrt, maximum and div (the twin)."""
    v = lift(v)
    g = lift(g, v)
    dim = check_dim(dim, v.ndim, "weight_normalize_composed", "a weight", whole_tensor=True)
    _check_g(g, v, dim, "weight_normalize_composed")
    norm = ops.sqrt(ops.sum_(ops.mul(v, v), _reduced_axes(v.ndim, dim), keepdims=True))
    if v.dtype != object:
        norm = ops.maximum(norm, eps)
    return ops.mul(g, ops.div(v, norm))


# ---------------------------------------------------------------------------------------
# The module parametrization
# ---------------------------------------------------------------------------------------
class WeightNorm:
    """The forward pre-hook behind :func:`weight_norm`: ``<name> = g * v / ||v||`` each forward."""

    def __init__(self, name: str, dim: int | None, eps: float = DEFAULT_EPS):
        self.name = name
        self.dim = dim
        self.eps = eps

    def compute_weight(self, module: Module) -> Tensor:
        g = getattr(module, self.name + "_g")
        v = getattr(module, self.name + "_v")
        return weight_normalize(g, v, self.dim, self.eps)

    def __call__(self, module: Module, args) -> None:
        object.__setattr__(module, self.name, self.compute_weight(module))

    def remove(self, module: Module) -> None:
        with no_grad():
            weight = self.compute_weight(module)
        module.__dict__.pop(self.name, None)
        delattr(module, self.name + "_g")
        delattr(module, self.name + "_v")
        module.register_parameter(self.name, Parameter(weight.data.copy()))

    @staticmethod
    def register(module: Module, name: str, dim, eps: float = DEFAULT_EPS) -> "WeightNorm":
        """Check the arguments, then replace ``<name>`` by ``<name>_g``, ``<name>_v`` and the hook."""
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, WeightNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two weight_norm hooks on the same parameter {name}")
        if not isinstance(name, str):
            raise TypeError(f"weight_norm: name must be the str name of a parameter, got {name!r}")
        weight = module._parameters.get(name)
        if weight is None:
            raise AttributeError(
                f"weight_norm: {type(module).__name__} has no parameter {name!r}; its "
                f"parameters are {list(module._parameters)}"
            )
        dim = check_dim(dim, weight.ndim, "weight_norm", "a weight", whole_tensor=True)
        if weight.size == 0:
            raise ValueError(
                f"weight_norm: parameter {name!r} of shape {weight.shape} has no entries, so "
                f"there is no direction to normalise; give the layer at least one input and "
                f"one output feature."
            )
        fn = WeightNorm(name, dim, check_eps(eps, "weight_norm", "it is the floor in max(||v||, eps)", "1e-12"))
        # Everything is computed before the module changes, so a registration that raises
        # leaves the module as it was.
        g = Parameter(norm_except_dim(weight.data, dim))
        v = Parameter(weight.data.copy())
        first_weight = weight_normalize(g, v, dim, fn.eps)
        delattr(module, name)
        module.register_parameter(name + "_g", g)
        module.register_parameter(name + "_v", v)
        # PyTorch computes the weight once at registration, so module.<name> is usable at once.
        object.__setattr__(module, name, first_weight)
        module.register_forward_pre_hook(fn)
        return fn


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Reparametrise ``module.<name>`` as ``g * v / ||v||`` (PyTorch's ``weight_norm``).

    ``dim`` is the axis that keeps its own g: 0 gives one length per output unit of a
    Linear (g of shape (out, 1)); 1 one per input (g of shape (1, in)); None or -1 one
    length for the whole tensor (g of shape ()). Other negative dims count from the end.
    The parameter ``<name>`` is replaced by parameters ``<name>_g`` (the norms) and
    ``<name>_v`` (the weight itself); ``module.<name>`` is recomputed before every forward.
    Our addition: ||v|| is floored at 1e-12, so v = 0 gives w = 0, not NaN.
    """
    WeightNorm.register(module, name, dim)
    return module


def remove_weight_norm(module: Module, name: str = "weight") -> Module:
    """Undo :func:`weight_norm`: ``g * v / ||v||`` becomes the plain parameter ``<name>`` again."""
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, WeightNorm) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"weight_norm of '{name}' not found in {module}")


# ---------------------------------------------------------------------------------------
# Data-dependent initialisation
# ---------------------------------------------------------------------------------------
def _weight_norm_hook(module: Module):
    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, WeightNorm) and hook.name == "weight":
            return hook
    return None


def _init_layer(layer: Linear, hook: WeightNorm, x: Tensor, label: str) -> None:
    """Rescale one layer's g and b so that its pre-activations have mean 0, std 1 on ``x``."""
    if hook.dim != 0:
        raise ValueError(
            f"weight_norm_init: layer {label} uses weight_norm with dim={hook.dim}; the "
            f"per-unit initialisation needs dim=0 (one g per output unit)."
        )
    if layer.bias is None:
        raise ValueError(f"weight_norm_init: layer {label} has no bias; the initialisation sets b")
    t = layer(x).data                                   # (batch, out) pre-activations
    t2 = t.reshape(-1, t.shape[-1])
    mean = t2.mean(axis=0)
    std = t2.std(axis=0)        # the batch's own spread (ddof 0), as in the paper
    # A constant unit's std is rounding noise (about eps * |t|), not exactly 0: dividing g by
    # it would blow the unit up by 1e16, so anything at noise level counts as no spread.
    noise = 16 * np.finfo(t2.dtype).eps * np.max(np.abs(t2), axis=0)
    flat = np.flatnonzero(~(std > noise))
    if flat.size:
        raise ValueError(
            f"weight_norm_init: unit(s) {flat.tolist()} of layer {label} have zero spread on "
            f"this batch of shape {tuple(x.shape)} (std 0 cannot be scaled to 1); use a batch "
            f"with more than one distinct input."
        )
    # t = g * (v x)/||v|| + b; new g = g/std and new b = (b - mean)/std give (t - mean)/std.
    layer.weight_g.data = layer.weight_g.data / std.reshape(layer.weight_g.shape)
    layer.bias.data = (layer.bias.data - mean) / std


def weight_norm_init(module: Module, x) -> Module:
    """Data-dependent initialisation (Salimans & Kingma 2016, section 3), layer by layer.

    Runs the batch ``x`` through ``module`` (a Sequential, or a single Linear). At each
    Linear with ``weight_norm`` (dim=0) it measures every unit's pre-activation
    t = w x + b over the batch and sets

        g <- g / std(t),    b <- (b - mean(t)) / std(t)

    so that on this batch each unit's pre-activation has mean 0 and standard deviation 1
    (population std, ddof 0); then the batch continues through the rescaled layer to the
    next one. Modules without weight norm are run as they are. Returns the module.
    """
    x = lift(x)
    found = []

    def visit(current: Module, inputs: Tensor, label: str) -> Tensor:
        if isinstance(current, Sequential):
            for index, child in enumerate(current):
                inputs = visit(child, inputs, f"{label}.{index}" if label else str(index))
            return inputs
        hook = _weight_norm_hook(current)
        if isinstance(current, Linear) and hook is not None:
            _init_layer(current, hook, inputs, repr(label or type(current).__name__))
            found.append(label)
        return current(inputs)

    # The layers are rescaled one after another; if a later one raises, the earlier ones
    # get their values back, so a failed call changes no parameter.
    originals = [(param, param._data) for param in module.parameters()]
    try:
        with no_grad():
            visit(module, x, "")
    except BaseException:
        for param, data in originals:
            if param._data is not data:
                param.data = data
        raise
    if not found:
        raise ValueError(
            f"weight_norm_init: found no Linear with weight_norm in {type(module).__name__}; "
            f"apply norms.weight_norm to its Linear layers first."
        )
    return module
