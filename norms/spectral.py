"""Spectral normalisation of a module's weight (Miyato et al., 2018), PyTorch's old API.

    W_sn = W / sigma(W),   sigma(W) ~ u^T W v

where u and v come from power iteration: v = normalize(W^T u), u = normalize(W v). One
step per training forward is enough because W changes little between optimiser steps,
so u and v stay close to the top singular vectors ("warm start").

References
    T. Miyato, T. Kataoka, M. Koyama, Y. Yoshida, "Spectral Normalization for Generative
    Adversarial Networks", ICLR 2018, arXiv:1802.05957 (algorithm 1).
    PyTorch, torch/nn/utils/spectral_norm.py (the behaviour matched here).

What this module offers
    spectral_normalize(W, u, v, dim)           fused primitive W / (u^T W v), closed-form VJP
    spectral_normalize_composed(W, u, v, dim)  the same from engine ops (the check's twin)
    spectral_norm(module, ...)                 the parametrization, as a forward pre-hook
    remove_spectral_norm(module, name)         back to a plain parameter

Where we differ from PyTorch on purpose (each is tested):
    * a negative ``dim`` counts from the end (PyTorch fails on it inside ``permute``);
    * a weight that is all zero, or holds NaN/Inf, raises a clear error in the forward
      instead of silently writing NaN into the u and v buffers for ever after, and that
      forward leaves u and v as they were (they are committed only when it succeeds);
    * the arguments are checked at registration: ``n_power_iterations`` an int >= 1 (not a
      bool), ``eps`` finite and > 0, a weight with at least one entry, ``dim`` in range;
    * ``grad_through_power_iteration=True`` (ours) differentiates through the iteration.
"""
from __future__ import annotations

import numpy as np

from minigrad import ops
from minigrad.autograd import no_grad
from minigrad.nn.module import Module, Parameter
from minigrad.ops.registry import Primitive, apply, register
from minigrad.random import generator
from minigrad.tensor import Tensor, lift
from norms._validate import check_dim, check_eps
from norms.functional import _power_steps

__all__ = [
    "SpectralNorm", "SpectralNormalize", "spectral_normalize", "spectral_normalize_composed",
    "spectral_norm", "remove_spectral_norm",
]


# ---------------------------------------------------------------------------------------
# Weight <-> matrix: PyTorch's layout rule
# ---------------------------------------------------------------------------------------
def _axes_dim_first(ndim: int, dim: int) -> tuple:
    """The permutation that moves axis ``dim`` to the front, keeping the others in order."""
    return (dim,) + tuple(a for a in range(ndim) if a != dim)


def _as_matrix(weight: Tensor, dim: int) -> Tensor:
    """The weight as the (weight.shape[dim], rest) matrix whose spectrum is normalised.

    An axis ``dim != 0`` moves to the front and the remaining axes are flattened, so a
    ConvTranspose weight (in, out, kh, kw) with dim=1 becomes an (out, in*kh*kw) matrix.
    """
    if dim != 0:
        weight = ops.transpose(weight, _axes_dim_first(weight.ndim, dim))
    return ops.reshape(weight, (weight.shape[0], -1)) if weight.ndim != 2 else weight


def _from_matrix(matrix: Tensor, shape: tuple, dim: int) -> Tensor:
    """Inverse of :func:`_as_matrix`: a (shape[dim], rest) matrix back into ``shape``."""
    axes = _axes_dim_first(len(shape), dim)
    permuted = ops.reshape(matrix, tuple(shape[a] for a in axes))
    return ops.transpose(permuted, tuple(int(i) for i in np.argsort(axes))) if dim != 0 else permuted


def _matrix_array(weight: np.ndarray, dim: int) -> np.ndarray:
    """:func:`_as_matrix` on a raw array (the forward of the fused op works on arrays)."""
    return np.moveaxis(weight, dim, 0).reshape(weight.shape[dim], -1)


# ---------------------------------------------------------------------------------------
# The fused primitive
# ---------------------------------------------------------------------------------------
@register
class SpectralNormalize(Primitive):
    """W / sigma with sigma = u^T M v, M = W as a (W.shape[dim], -1) matrix.

    With c = <G, W> / sigma^2 (G the incoming gradient, <.,.> the entrywise inner product):

        grad_W = G / sigma - c * (u v^T, laid back out in W's shape)
        grad_u = -c * M v
        grad_v = -c * M^T u

    PyTorch treats u and v as constants, so only grad_W is used by ``spectral_norm``; the
    other two let ``grad_through_power_iteration=True`` differentiate through the power
    iteration that produced u and v. Derivation: d(u^T M v) = u^T dM v = <u v^T, dM>, then
    the quotient rule; see Miyato et al. (2018), section 2.2, and Giles (2008), 2.2.2.

    The forward keeps M v and sigma for the backward. A recorded backward
    (create_graph=True) rebuilds both from engine ops instead, so that they are
    differentiated as well.
    """

    name = "spectral_normalize"
    no_zero_d = "the weight is read as a matrix and u, v are vectors"
    formula = "c = <g,W>/sigma^2: grad_W = g/sigma - c*u v^T, grad_u = -c*W v, grad_v = -c*W^T u"
    # Positive entries keep sigma = u^T W v well away from 0 in the registry-wide checks.
    domain = "positive"
    examples = [
        (((2, 3), (2,), (3,)), {"dim": 0}),
        (((3, 2), (3,), (2,)), {"dim": 0}),
        (((2, 3, 2), (3,), (4,)), {"dim": 1}),
    ]

    @staticmethod
    def forward(ctx, weight, u, v, dim):
        # M v first (PyTorch's order): grad_u is a multiple of it, so the node keeps it.
        matrix_v = _matrix_array(weight, dim) @ v
        sigma = u @ matrix_v
        if weight.dtype != object and sigma == 0:
            raise ValueError(
                f"spectral_normalize: sigma = u^T W v is {float(sigma)} for a weight of shape "
                f"{weight.shape} (dim={dim}, max |W| = {float(np.max(np.abs(weight))):.3g}); an "
                f"all-zero weight, one so small that the power iteration's eps floor (1e-12 by "
                f"default) stops u and v from being unit vectors, or u, v orthogonal to its "
                f"range has no scale to divide by. Initialise the weight with non-zero values "
                f"of ordinary size (or rescale it)."
            )
        if ctx is not None:
            ctx.saved = (matrix_v, sigma)
        return weight / sigma

    @staticmethod
    def vjp(ctx, grad):
        # sigma and M v depend on W, u and v, so they are built from ops (differentiable).
        weight, u, v = ctx.parents
        matrix_v = ops.matmul(_as_matrix(weight, ctx.attrs["dim"]), v)
        return _spectral_grads(ctx, grad, matrix_v, ops.sum_(ops.mul(u, matrix_v)))

    @staticmethod
    def fast_vjp(ctx, grad):
        # Not recorded: the M v and sigma the forward saved are constants here.
        matrix_v, sigma = (Tensor._constant(np.asarray(a)) for a in ctx.saved)
        return _spectral_grads(ctx, grad, matrix_v, sigma)


def _spectral_grads(ctx, grad, matrix_v, sigma):
    """The three gradients of :class:`SpectralNormalize`, given M v and sigma."""
    weight, u, v = ctx.parents
    dim = ctx.attrs["dim"]
    need_w, need_u, need_v = ctx.needs_input_grad
    # c = <G, W> / sigma^2 is shared by all three gradients; <G, W/sigma> / sigma (the
    # forward's output) keeps huge weights from overflowing sigma^2 and <G, W>. The
    # inner product is a dot of the flattened arrays: no (rows, columns) temporary.
    c = ops.div(ops.matmul(ops.reshape(grad, (-1,)), ops.reshape(ctx.output, (-1,))), sigma)
    grad_w = grad_u = grad_v = None
    if need_w:
        # c u v^T as one broadcast product (c folded into the short vector first).
        scaled_u = ops.mul(c, u)
        outer = ops.mul(ops.reshape(scaled_u, (u.shape[0], 1)), ops.reshape(v, (1, v.shape[0])))
        grad_w = ops.sub(ops.div(grad, sigma), _from_matrix(outer, weight.shape, dim))
    if need_u:
        grad_u = ops.neg(ops.mul(c, matrix_v))
    if need_v:
        matrix_t = ops.transpose(_as_matrix(weight, dim), (1, 0))
        grad_v = ops.neg(ops.mul(c, ops.matmul(matrix_t, u)))
    return grad_w, grad_u, grad_v


def _check_iterations(n_power_iterations) -> int:
    """n_power_iterations as an int >= 1 (PyTorch's ValueError text for values <= 0)."""
    if isinstance(n_power_iterations, (bool, np.bool_)) or not isinstance(n_power_iterations, (int, np.integer)):
        raise TypeError(
            f"spectral_norm: n_power_iterations must be an int >= 1, got {n_power_iterations!r} "
            f"({type(n_power_iterations).__name__}); pass a whole number of power-iteration "
            f"steps per training forward, such as 1."
        )
    if n_power_iterations <= 0:
        raise ValueError(
            "Expected n_power_iterations to be positive, but "
            f"got n_power_iterations={n_power_iterations}"
        )
    return int(n_power_iterations)


def _check_vectors(weight: Tensor, u: Tensor, v: Tensor, dim: int, function: str) -> None:
    rows = weight.shape[dim]
    columns = weight.size // rows if rows else 0
    if u.shape != (rows,) or v.shape != (columns,):
        raise ValueError(
            f"{function}: for a weight of shape {weight.shape} with dim={dim}, u must have "
            f"shape ({rows},) and v shape ({columns},); got u {u.shape} and v {v.shape}."
        )


def spectral_normalize(weight, u, v, dim: int = 0) -> Tensor:
    """W / (u^T M v) as one fused node (M: W as a (W.shape[dim], -1) matrix).

    ``u`` and ``v`` are normally constants from a power iteration; if they require grad,
    gradients flow into them too (see :class:`SpectralNormalize` for all three formulas).
    """
    weight = lift(weight)
    u, v = lift(u, weight), lift(v, weight)
    if weight.ndim == 0:
        raise ValueError("spectral_normalize: the weight must have at least one dimension, got a scalar")
    dim = check_dim(dim, weight.ndim, "spectral_normalize", f"a weight of shape {weight.shape}")
    _check_vectors(weight, u, v, dim, "spectral_normalize")
    return apply(SpectralNormalize, weight, u, v, dim=dim)


def spectral_normalize_composed(weight, u, v, dim: int = 0) -> Tensor:
    """The same W / (u^T M v) built from transpose, reshape, matmul, mul, sum and div.

    Its gradient comes from those primitives' VJPs: the independent check of the fused one.
    """
    weight = lift(weight)
    u, v = lift(u, weight), lift(v, weight)
    dim = check_dim(dim, weight.ndim, "spectral_normalize_composed", f"a weight of shape {weight.shape}")
    sigma = ops.sum_(ops.mul(u, ops.matmul(_as_matrix(weight, dim), v)))
    return ops.div(weight, sigma)


# ---------------------------------------------------------------------------------------
# The module parametrization
# ---------------------------------------------------------------------------------------
class SpectralNorm:
    """The forward pre-hook behind :func:`spectral_norm` (one per normalised parameter).

    Before each forward it sets ``module.<name>`` to ``<name>_orig / sigma``. In training
    mode it first runs ``n_power_iterations`` steps of power iteration that update the
    buffers ``<name>_u`` and ``<name>_v`` in place; in eval mode u and v are reused.
    """

    def __init__(self, name: str = "weight", n_power_iterations: int = 1, dim: int = 0,
                 eps: float = 1e-12, grad_through_power_iteration: bool = False):
        self.name = name
        self.dim = dim
        self.n_power_iterations = _check_iterations(n_power_iterations)
        self.eps = check_eps(eps, "spectral_norm", "it is the floor in x / max(||x||, eps)", "1e-12")
        if not isinstance(grad_through_power_iteration, (bool, np.bool_)):
            raise TypeError(
                f"spectral_norm: grad_through_power_iteration must be True or False, got "
                f"{grad_through_power_iteration!r}"
            )
        self.grad_through_power_iteration = bool(grad_through_power_iteration)

    def compute_weight(self, module: Module, do_power_iteration: bool) -> Tensor:
        """weight_orig / (u^T M v), after a power iteration if ``do_power_iteration``."""
        weight = getattr(module, self.name + "_orig")
        u_buffer = getattr(module, self.name + "_u")
        v_buffer = getattr(module, self.name + "_v")
        if weight.dtype != object and not np.all(np.isfinite(weight.data)):
            # Checked before the iteration: NaN written into u and v would never wash out.
            raise ValueError(
                f"spectral_norm: parameter '{self.name}_orig' of shape {weight.shape} contains "
                f"NaN or Inf; the power iteration would store NaN in '{self.name}_u' and "
                f"'{self.name}_v'. Find where the weight went non-finite (a too large learning "
                f"rate?) or load a good checkpoint."
            )
        # Copies: the node keeps u and v, and the buffers change in place on the next forward.
        u = Tensor._constant(u_buffer.data.copy())
        v = Tensor._constant(v_buffer.data.copy())
        if do_power_iteration:
            # v first, as PyTorch's old spectral norm (norms.functional.power_iteration).
            if self.grad_through_power_iteration:
                u, v = _power_steps(_as_matrix(weight, self.dim), u, self.n_power_iterations, self.eps)
            else:
                with no_grad():
                    u, v = _power_steps(_as_matrix(weight, self.dim), u, self.n_power_iterations, self.eps)
        # The new u and v are temporaries until the weight has been computed from them: a
        # forward that raises (an all-zero weight has sigma = 0) leaves the buffers as they
        # were, so the module works again as soon as a good weight is restored.
        result = spectral_normalize(weight, u, v, dim=self.dim)
        if do_power_iteration:
            # The buffers hold values only: never a graph, whatever the mode.
            u_buffer.data = u.data.copy()
            v_buffer.data = v.data.copy()
        return result

    def __call__(self, module: Module, args) -> None:
        object.__setattr__(module, self.name, self.compute_weight(module, module.training))

    def remove(self, module: Module) -> None:
        with no_grad():
            weight = self.compute_weight(module, do_power_iteration=False)
        module.__dict__.pop(self.name, None)
        delattr(module, self.name + "_u")
        delattr(module, self.name + "_v")
        delattr(module, self.name + "_orig")
        module.register_parameter(self.name, Parameter(weight.data.copy()))

    @staticmethod
    def register(module: Module, name: str, n_power_iterations: int, dim: int, eps: float,
                 grad_through_power_iteration: bool = False) -> "SpectralNorm":
        """Check the arguments, then move ``<name>`` to ``<name>_orig`` and add u, v and the hook."""
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, SpectralNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two spectral_norm hooks on the same parameter {name}")
        if not isinstance(name, str):
            raise TypeError(f"spectral_norm: name must be the str name of a parameter, got {name!r}")
        weight = module._parameters.get(name)
        if weight is None:
            raise AttributeError(
                f"spectral_norm: {type(module).__name__} has no parameter {name!r}; its "
                f"parameters are {list(module._parameters)}"
            )
        if weight.ndim == 0:
            raise ValueError(f"spectral_norm: parameter {name!r} is a scalar; it needs at least one dimension")
        dim = check_dim(dim, weight.ndim, "spectral_norm", f"parameter {name!r} of shape {weight.shape}")
        if weight.size == 0:
            raise ValueError(
                f"spectral_norm: parameter {name!r} of shape {weight.shape} has no entries, so it "
                f"has no singular values to normalise by; give the layer at least one input and "
                f"one output feature."
            )
        fn = SpectralNorm(name, n_power_iterations, dim, eps, grad_through_power_iteration)
        rows = weight.shape[dim]
        columns = weight.size // rows
        rng = generator()
        # Random starts, normalised but not iterated: the first training forward iterates.
        u = rng.standard_normal(rows).astype(weight.dtype)
        v = rng.standard_normal(columns).astype(weight.dtype)
        u = u / max(float(np.linalg.norm(u)), eps)
        v = v / max(float(np.linalg.norm(v)), eps)

        delattr(module, name)
        module.register_parameter(name + "_orig", weight)   # the same Parameter object
        # Until the first forward, module.<name> is the raw values (as PyTorch's weight.data).
        object.__setattr__(module, name, Tensor._constant(weight.data))
        module.register_buffer(name + "_u", Tensor(u))
        module.register_buffer(name + "_v", Tensor(v))
        module.register_forward_pre_hook(fn)
        return fn


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1,
                  eps: float = 1e-12, dim: int | None = None,
                  grad_through_power_iteration: bool = False) -> Module:
    """Spectral-normalise ``module.<name>``: it becomes ``<name>_orig / sigma`` each forward.

    Parameters (PyTorch's ``torch.nn.utils.spectral_norm``, plus one of ours)
        name                the parameter to normalise
        n_power_iterations  power-iteration steps per training forward (must be >= 1)
        eps                 floor of the norms in normalize(x) = x / max(||x||, eps)
        dim                 the output axis; None means 0, or 1 for ConvTranspose modules
        grad_through_power_iteration
            False (PyTorch): u and v are constants in the gradient, so
                dL/dW = G/sigma - (<G, W>/sigma^2) u v^T.
            True: the power iteration of this forward is recorded and differentiated, so
                the gradient also has the terms through u(W) and v(W). It is the exact
                gradient of the function the forward computed, at the price of a longer
                graph; with many iterations u, v converge to the singular vectors and both
                gradients approach u1 v1^T's (the derivative of the exact sigma_1). Eval mode
                runs no iteration, so there the two options agree.

    After the call the module has parameter ``<name>_orig``, buffers ``<name>_u`` (length
    W.shape[dim]) and ``<name>_v`` (length W.size / W.shape[dim]), and a plain attribute
    ``<name>`` that each forward recomputes. Returns the module.
    """
    if dim is None:
        dim = 1 if type(module).__name__.startswith("ConvTranspose") else 0
    SpectralNorm.register(module, name, n_power_iterations, dim, eps, grad_through_power_iteration)
    return module


def remove_spectral_norm(module: Module, name: str = "weight") -> Module:
    """Undo :func:`spectral_norm`: the current normalised weight becomes parameter ``<name>``.

    The weight is computed from the stored u and v without another power iteration, so the
    module's output just before and just after removal is the same.
    """
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, SpectralNorm) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"spectral_norm of '{name}' not found in {module}")
